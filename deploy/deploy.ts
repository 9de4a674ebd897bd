/**
 * Deploys Bulkhead from a parameter file through the Ignition modules and writes `deployments/<chainId>.json`.
 *
 *   BULKHEAD_PARAMS=deploy/parameters/local.json npx hardhat run deploy/deploy.ts --network localhost
 *
 * Environment: BULKHEAD_PARAMS (default deploy/parameters/local.json), BULKHEAD_DEPLOYMENT_ID (Ignition journal,
 * default bulkhead-<chainId>: re-running resumes it, and a changed file is refused by Ignition's reconciliation;
 * use a new id for a second, independent deployment), BULKHEAD_DEPLOYMENTS_DIR (address book folder).
 *
 * Order: validate the file (schema + every contract bound) -> read-only checks of the addresses it names ->
 * Ignition deployment (resumable from its journal under ignition/deployments/<deploymentId> on live networks) ->
 * address book. Nothing is sent unless the first two steps pass.
 */
import { existsSync, readFileSync, renameSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type {} from "@nomicfoundation/hardhat-ignition-ethers";
import { Contract, type Provider } from "ethers";
import hre, { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { type AddressBook, loadAddressBook, writeAddressBook } from "./address-book.js";
import { buildBulkheadModule, marketKey } from "./ignition/BulkheadModule.js";
import {
  ENGINE_BOUNDS,
  FEED_BOUNDS,
  ParameterFileError,
  readParameterFile,
  type DeployParameters,
} from "./parameters/schema.js";

export interface DeployOptions {
  /** Where to write the address book; null to skip writing. Default: `<repo>/deployments`. */
  addressBookDir?: string | null;
  /** Ignition deployment id (journal folder on live networks). Default: `bulkhead-<chainId>`. */
  deploymentId?: string;
  /** Show Ignition's progress UI. */
  displayUi?: boolean;
}

export interface Deployment {
  parameters: DeployParameters;
  addressBook: AddressBook;
  /** The address book file written, if any. */
  addressBookFile?: string;
}

const DECIMALS_ABI = ["function decimals() view returns (uint8)"];

/**
 * Read-only checks of the contracts the file points at (token, aggregators, sequencer feeds, the Pyth contract):
 * they must exist on this chain and their decimals must be within the contracts' bounds. Sends nothing.
 */
export async function checkExternalContracts(provider: Provider, params: DeployParameters, source: string) {
  const problems: string[] = [];
  const readDecimals = async (where: string, target: string, max: number) => {
    if ((await provider.getCode(target)) === "0x") {
      problems.push(`${where}: no contract at ${target} on this chain`);
      return;
    }
    try {
      const decimals = Number(await new Contract(target, DECIMALS_ABI, provider).getFunction("decimals")());
      if (decimals > max) problems.push(`${where}: ${target} has ${decimals} decimals, more than ${max}`);
    } catch (error) {
      problems.push(`${where}: ${target} does not answer decimals(): ${(error as Error).message}`);
    }
  };
  if ("address" in params.token) {
    await readDecimals("token.address", params.token.address, ENGINE_BOUNDS.MAX_TOKEN_DECIMALS);
  }
  if ("address" in params.pyth && (await provider.getCode(params.pyth.address)) === "0x") {
    problems.push(`pyth.address: no contract at ${params.pyth.address} on this chain`);
  }
  for (const [i, market] of params.markets.entries()) {
    if ("aggregator" in market.feed) {
      await readDecimals(`markets[${i}].feed.aggregator`, market.feed.aggregator, FEED_BOUNDS.MAX_DECIMALS);
    }
    if (
      market.sequencerUptimeFeed !== undefined &&
      (await provider.getCode(market.sequencerUptimeFeed)) === "0x"
    ) {
      problems.push(
        `markets[${i}].sequencerUptimeFeed: no contract at ${market.sequencerUptimeFeed} on this chain`,
      );
    }
  }
  if (problems.length > 0) throw new ParameterFileError(source, problems);
}

/**
 * The block a contract was created in, by bisection over `eth_getCode` at past blocks. Falls back to `fallback`
 * when the node cannot serve old state (non-archive).
 */
async function creationBlock(provider: Provider, target: string, fallback: number): Promise<number> {
  try {
    let low = 0;
    let high = await provider.getBlockNumber();
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if ((await provider.getCode(target, mid)) === "0x") low = mid + 1;
      else high = mid;
    }
    return low;
  } catch {
    return fallback;
  }
}

/** Chains whose state a restart wipes: a journal there may describe contracts that no longer exist. */
const LOCAL_CHAIN_IDS = new Set([31337, 1337]);

/**
 * On a local chain, an Ignition journal whose contracts have no code belongs to a node that was restarted since:
 * resuming it would report "Nothing new to deploy" and hand back empty addresses. Such a journal is moved aside
 * (renamed with a timestamp, never deleted) so the deployment starts afresh. Returns the folder it was moved to.
 * Journals on live chains are never touched.
 */
export async function retireStaleLocalJournal(
  provider: Provider,
  chainId: number,
  journalDir: string,
): Promise<string | undefined> {
  if (!LOCAL_CHAIN_IDS.has(chainId)) return undefined;
  if (!existsSync(journalDir)) return undefined;
  const addressesFile = path.join(journalDir, "deployed_addresses.json");
  let addresses: string[] = [];
  try {
    addresses = Object.values(JSON.parse(readFileSync(addressesFile, "utf8")) as Record<string, string>);
  } catch {
    // A journal with no deployed address yet (interrupted before the first contract): nothing to check against.
  }
  const codes = await Promise.all(addresses.map((a) => provider.getCode(a)));
  if (addresses.length > 0 && codes.every((code) => code !== "0x")) return undefined;
  const retired = `${journalDir}.stale-${Date.now()}`;
  renameSync(journalDir, retired);
  return retired;
}

/** Validates `file`, deploys everything it describes on `connection`, and writes the address book. */
export async function deployFromFile(
  connection: NetworkConnection,
  file: string,
  options: DeployOptions = {},
): Promise<Deployment> {
  const parameters = await readParameterFile(file);
  const { ethers, ignition } = connection;
  if (ignition === undefined) {
    throw new Error(
      "connection.ignition is missing: register @nomicfoundation/hardhat-ignition-ethers in hardhat.config.ts",
    );
  }
  await checkExternalContracts(ethers.provider, parameters, file);

  const [deployer] = await ethers.getSigners();
  const chainId = Number((await ethers.provider.getNetwork()).chainId);
  const blockBefore = await ethers.provider.getBlockNumber();
  const deploymentId = options.deploymentId ?? `bulkhead-${chainId}`;
  if (connection.networkConfig.type !== "edr-simulated") {
    const journalDir = path.join(hre.config.paths.ignition, "deployments", deploymentId);
    const retired = await retireStaleLocalJournal(ethers.provider, chainId, journalDir);
    if (retired !== undefined) {
      console.log(
        `The local node no longer has the journaled contracts (restarted?): journal moved to ${retired}`,
      );
    }
  }

  const deployed = await ignition.deploy(buildBulkheadModule(parameters, deployer.address), {
    defaultSender: deployer.address,
    deploymentId,
    displayUi: options.displayUi ?? false,
  });

  const engine = await ethers.getContractAt("IBulkhead", await deployed.engine.getAddress());
  const feedSymbols = new Map<string, string>();
  for (const market of parameters.markets) {
    const feed = deployed[`feed_${marketKey(market.symbol)}`];
    feedSymbols.set((await feed.getAddress()).toLowerCase(), market.symbol);
  }
  const markets: AddressBook["markets"] = [];
  let pyth: string | undefined;
  const count = Number(await engine.marketCount());
  for (let id = 1; id <= count; id++) {
    const { feed, pullFeed } = await engine.getMarketParams(id);
    const symbol = feedSymbols.get(feed.toLowerCase());
    if (symbol === undefined)
      throw new Error(`market ${id} reads feed ${feed}, which this file did not deploy`);
    const adapter = await ethers.getContractAt("ChainlinkPriceFeed", feed);
    const pull = await ethers.getContractAt("PythPriceFeed", pullFeed);
    const expectedPull = await deployed[`pullFeed_${marketKey(symbol)}`].getAddress();
    if (pullFeed !== expectedPull) {
      throw new Error(
        `market ${id} settles on ${pullFeed}, not the pull feed this file deployed (${expectedPull})`,
      );
    }
    pyth ??= await pull.pyth();
    markets.push({
      id,
      symbol,
      feed,
      aggregator: await adapter.aggregator(),
      pullFeed,
      priceId: await pull.priceId(),
    });
  }
  if (pyth === undefined) throw new Error("the deployment lists no market");

  const engineAddress = await engine.getAddress();
  const dir = options.addressBookDir === null ? undefined : options.addressBookDir;
  let startBlock: number | undefined;
  try {
    const previous = loadAddressBook(chainId, dir);
    if (previous.engine === engineAddress) startBlock = previous.startBlock;
  } catch {
    // No previous book for this engine: find the creation block below.
  }
  startBlock ??= await creationBlock(ethers.provider, engineAddress, blockBefore);

  const addressBook: AddressBook = {
    chainId,
    engine: engineAddress,
    liquidationModule: await deployed.liquidationModule.getAddress(),
    governanceModule: await deployed.governanceModule.getAddress(),
    vault: await deployed.vault.getAddress(),
    token: await deployed.token.getAddress(),
    pyth,
    ...(deployed.timelock === undefined ? {} : { timelock: await deployed.timelock.getAddress() }),
    ...(deployed.portfolioMargin === undefined
      ? {}
      : { portfolioMargin: await deployed.portfolioMargin.getAddress() }),
    ...(deployed.volatilityOracle === undefined
      ? {}
      : { volatilityOracle: await deployed.volatilityOracle.getAddress() }),
    markets,
    startBlock,
    deployedAt: new Date().toISOString(),
  };
  const addressBookFile = options.addressBookDir === null ? undefined : writeAddressBook(addressBook, dir);
  return { parameters, addressBook, addressBookFile };
}

async function main() {
  const file = process.env.BULKHEAD_PARAMS ?? "deploy/parameters/local.json";
  const connection = await network.getOrCreate();
  // The in-process network vanishes with this process: an address book for it would point at nothing.
  const ephemeral = connection.networkConfig.type === "edr-simulated";
  console.log(`Deploying Bulkhead from ${file} to network "${connection.networkName}"...`);
  const { addressBook, addressBookFile } = await deployFromFile(connection, file, {
    displayUi: true,
    deploymentId: process.env.BULKHEAD_DEPLOYMENT_ID,
    addressBookDir: ephemeral ? null : undefined,
  });
  console.log(JSON.stringify(addressBook, null, 2));
  console.log(
    addressBookFile === undefined
      ? `In-process network: no address book written (use --network localhost with \`hardhat node\`).`
      : `Address book: ${addressBookFile}`,
  );
}

// Run only as `hardhat run deploy/deploy.ts`, not when imported (e.g. by test/deploy.ts).
const thisFile = fileURLToPath(import.meta.url);
if (process.argv.some((arg) => path.resolve(arg) === thisFile)) {
  main().catch((error: unknown) => {
    console.error(error instanceof ParameterFileError ? error.message : error);
    process.exitCode = 1;
  });
}
