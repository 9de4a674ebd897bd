/**
 * What every command needs: the chain (one JSON-RPC provider), the address book, a read-only or signing
 * `BulkheadClient`, and parsing of the user's markets and amounts.
 *
 * Keys never appear on the command line: a write command reads the private key from the environment variable
 * named by `--private-key-env` (default BULKHEAD_PRIVATE_KEY). Read commands need no key.
 */
import { readFileSync } from "node:fs";
import { JsonRpcProvider, Network, Wallet, getAddress, isAddress, parseUnits } from "ethers";

import { type AddressBook, addressBookSchema, loadAddressBook } from "../deploy/address-book.js";
import { BulkheadClient } from "../sdk/index.js";

export const DEFAULT_RPC = "http://127.0.0.1:8545";
export const DEFAULT_KEY_ENV = "BULKHEAD_PRIVATE_KEY";

/** Options every command accepts (defined on the program, usable before or after the subcommand). */
export interface GlobalOptions {
  rpc: string;
  addressBook?: string;
  privateKeyEnv: string;
  json?: boolean;
}

/** A mistake in the command line or the environment: shown as is, exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly errorName = "UsageError",
  ) {
    super(message);
  }
}

export interface Context {
  opts: GlobalOptions;
  provider: JsonRpcProvider;
  chainId: bigint;
  book: AddressBook;
  /** Read-only client (bound to the provider). */
  client: BulkheadClient;
  tokenDecimals: number;
}

export interface SignerContext extends Context {
  wallet: Wallet;
  /** The client bound to the wallet. */
  client: BulkheadClient;
}

/** eth_chainId with a timeout, so a wrong --rpc fails at once instead of ethers retrying forever. */
async function chainIdAt(url: string): Promise<bigint> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new CliError(
      `Cannot reach the node at ${url} (${cause}); start one or pass --rpc <url>`,
      "RpcError",
    );
  }
  const body = (await response.json().catch(() => undefined)) as { result?: string } | undefined;
  if (!response.ok || typeof body?.result !== "string") {
    throw new CliError(`${url} did not answer eth_chainId (HTTP ${response.status})`, "RpcError");
  }
  return BigInt(body.result);
}

/** The address book: `--address-book` (a .json file, or a folder of `<chainId>.json`), else the default folder. */
function readAddressBook(chainId: bigint, where?: string): AddressBook {
  if (where === undefined || !where.endsWith(".json")) {
    try {
      return loadAddressBook(chainId, where);
    } catch (error) {
      throw new CliError((error as Error).message, "AddressBookError");
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(where, "utf8"));
  } catch (error) {
    throw new CliError(
      `Cannot read the address book ${where}: ${(error as Error).message}`,
      "AddressBookError",
    );
  }
  const parsed = addressBookSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
    throw new CliError(
      `Malformed address book ${where}:\n  - ${problems.join("\n  - ")}`,
      "AddressBookError",
    );
  }
  if (BigInt(parsed.data.chainId) !== chainId) {
    throw new CliError(
      `Address book ${where} is for chain ${parsed.data.chainId}, but the node is chain ${chainId}`,
      "AddressBookError",
    );
  }
  return parsed.data;
}

export async function connect(opts: GlobalOptions): Promise<Context> {
  const chainId = await chainIdAt(opts.rpc);
  const book = readAddressBook(chainId, opts.addressBook);
  const provider = new JsonRpcProvider(opts.rpc, Network.from(chainId), {
    staticNetwork: true,
    pollingInterval: 250,
    // No response cache: two "pending" nonce reads in a row (approve, then the action) must both hit the node.
    cacheTimeout: -1,
  });
  const client = new BulkheadClient(provider, book);
  return { opts, provider, chainId, book, client, tokenDecimals: await client.tokenDecimals() };
}

/** The context with a wallet from the environment variable `--private-key-env` names. */
export async function connectSigner(opts: GlobalOptions): Promise<SignerContext> {
  const key = process.env[opts.privateKeyEnv];
  if (key === undefined || key === "") {
    throw new CliError(
      `This command sends a transaction: set ${opts.privateKeyEnv} to the sender's private key` +
        (opts.privateKeyEnv === DEFAULT_KEY_ENV ? " (or name another variable with --private-key-env)" : ""),
      "MissingKey",
    );
  }
  const ctx = await connect(opts);
  let wallet: Wallet;
  try {
    wallet = new Wallet(key.startsWith("0x") ? key : `0x${key}`, ctx.provider);
  } catch {
    throw new CliError(`${opts.privateKeyEnv} does not hold a valid private key`, "MissingKey");
  }
  return { ...ctx, wallet, client: ctx.client.connect(wallet) };
}

/** The signer's address if a key is set, else undefined (for read commands that default to "my" data). */
export function keyAddress(opts: GlobalOptions): string | undefined {
  const key = process.env[opts.privateKeyEnv];
  if (key === undefined || key === "") return undefined;
  try {
    return new Wallet(key.startsWith("0x") ? key : `0x${key}`).address;
  } catch {
    return undefined;
  }
}

/* ------------------------------------------------------------------------------------------------------------
                                                  ARGUMENTS
   ------------------------------------------------------------------------------------------------------------ */

export type BookMarket = AddressBook["markets"][number];

/** A market by id ("1"), symbol ("ETH-USD") or base asset ("eth"). */
export function resolveMarket(book: AddressBook, arg: string): BookMarket {
  const want = arg.trim().toUpperCase();
  const found = /^\d+$/.test(want)
    ? book.markets.find((m) => m.id === Number(want))
    : book.markets.find(
        (m) => m.symbol.toUpperCase() === want || m.symbol.split("-")[0].toUpperCase() === want,
      );
  if (found === undefined) {
    const known = book.markets.map((m) => `${m.id} (${m.symbol})`).join(", ");
    throw new CliError(`Unknown market "${arg}"; markets: ${known}`);
  }
  return found;
}

export function marketSymbol(book: AddressBook, marketId: number): string {
  return book.markets.find((m) => m.id === marketId)?.symbol ?? `#${marketId}`;
}

/** A positive account id. */
export function parseAccountId(arg: string, what = "account id"): bigint {
  if (!/^\d+$/.test(arg.trim()) || BigInt(arg) === 0n) throw new CliError(`Invalid ${what} "${arg}"`);
  return BigInt(arg);
}

/** A decimal amount ("1,250.5", "$100") with at most `decimals` decimals, as base units. */
export function parseDecimal(arg: string, decimals: number, what: string, allowNegative = false): bigint {
  const clean = arg.trim().replace(/^\$/, "").replace(/_/g, "").replace(/,/g, "");
  const pattern = allowNegative ? /^[+-]?\d*\.?\d+$|^[+-]?\d+\.$/ : /^\+?\d*\.?\d+$|^\+?\d+\.$/;
  if (!pattern.test(clean)) throw new CliError(`Invalid ${what} "${arg}"`);
  try {
    return parseUnits(clean.replace(/^\+/, ""), decimals);
  } catch {
    throw new CliError(`Invalid ${what} "${arg}": at most ${decimals} decimals`);
  }
}

/** A USD amount as settlement-token units. */
export function parseUsdTokens(arg: string, decimals: number): bigint {
  const amount = parseDecimal(arg, decimals, "USD amount");
  if (amount === 0n) throw new CliError(`The USD amount must be positive, got "${arg}"`);
  return amount;
}

/** A non-zero signed size in base units (D18). */
export function parseSize(arg: string): bigint {
  const sizeD18 = parseDecimal(arg, 18, "size", true);
  if (sizeD18 === 0n) throw new CliError("The size must not be zero");
  return sizeD18;
}

export function parseAddress(arg: string, what = "address"): string {
  if (!isAddress(arg)) throw new CliError(`Invalid ${what} "${arg}"`);
  return getAddress(arg);
}

export function parseBps(arg: string): bigint {
  if (!/^\d+$/.test(arg.trim()) || BigInt(arg) > 10_000n) {
    throw new CliError(`Invalid basis points "${arg}" (0..10000)`);
  }
  return BigInt(arg);
}

export function parseBlock(arg: string): number {
  if (!/^\d+$/.test(arg.trim())) throw new CliError(`Invalid block number "${arg}"`);
  return Number(arg);
}
