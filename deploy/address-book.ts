/**
 * The address book `deployments/<chainId>.json`: what a deployment wrote and what the SDK, CLI and keeper read.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getAddress, isAddress } from "ethers";
import { z } from "zod";

const address = z
  .string()
  .refine((value) => isAddress(value), { message: "is not an address" })
  .transform((value) => getAddress(value));

export const addressBookSchema = z
  .object({
    chainId: z.number().int().positive(),
    engine: address,
    liquidationModule: address,
    /** The GovernanceModule the engine delegates listing, parameters, pause and sweep to. */
    governanceModule: address,
    vault: address,
    token: address,
    /** Present when the parameter file deployed a TimelockController. */
    timelock: address.optional(),
    /** Present when the parameter file deployed the portfolio risk model (PortfolioMargin). */
    portfolioMargin: address.optional(),
    /** Present when the parameter file deployed the volatility oracle. */
    volatilityOracle: address.optional(),
    /** The Pyth contract the markets' pull feeds read (a MockPyth on local networks). */
    pyth: address,
    markets: z.array(
      z
        .object({
          /** The engine's market id. */
          id: z.number().int().positive(),
          symbol: z.string(),
          /** The ChainlinkPriceFeed adapter the engine reads. */
          feed: address,
          /** The Chainlink aggregator (or mock) behind the adapter. */
          aggregator: address,
          /** The PythPriceFeed the market's orders settle on. */
          pullFeed: address,
          /** Its Pyth price id: what a settler asks the price service for. */
          priceId: z.string().regex(/^0x[0-9a-f]{64}$/, "is not a bytes32 price id"),
        })
        .strict(),
    ),
    /** The block the engine was created in: where event indexers start. */
    startBlock: z.number().int().nonnegative(),
    /** ISO-8601 time the address book was written. */
    deployedAt: z.string().datetime(),
  })
  .strict();

export type AddressBook = z.infer<typeof addressBookSchema>;

/** `<repo>/deployments`, unless BULKHEAD_DEPLOYMENTS_DIR says otherwise. */
export function defaultAddressBookDir(): string {
  return (
    process.env.BULKHEAD_DEPLOYMENTS_DIR ??
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "deployments")
  );
}

export function addressBookPath(chainId: number | bigint, dir = defaultAddressBookDir()): string {
  return path.join(dir, `${chainId}.json`);
}

/** Reads and validates `deployments/<chainId>.json`; throws naming the file when it is missing or malformed. */
export function loadAddressBook(chainId: number | bigint, dir = defaultAddressBookDir()): AddressBook {
  const file = addressBookPath(chainId, dir);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`No Bulkhead address book for chain ${chainId} at ${file}: ${(error as Error).message}`);
  }
  const result = addressBookSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
    throw new Error(`Malformed address book ${file}:\n  - ${problems.join("\n  - ")}`);
  }
  if (result.data.chainId !== Number(chainId)) {
    throw new Error(`Address book ${file} is for chain ${result.data.chainId}, not ${chainId}`);
  }
  return result.data;
}

/** Validates and writes the address book; returns the file written. */
export function writeAddressBook(book: AddressBook, dir = defaultAddressBookDir()): string {
  const file = addressBookPath(book.chainId, dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(addressBookSchema.parse(book), null, 2)}\n`);
  return file;
}
