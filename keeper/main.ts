/**
 * Keeper entry point.
 *
 *   npx hardhat run keeper/main.ts --network localhost     engine and startBlock from deployments/<chainId>.json
 *   KEEPER_ENGINE=0x... npx hardhat run keeper/main.ts --network localhost
 *   KEEPER_ADDRESS_BOOK=deployments/31337.json KEEPER_DRY_RUN=1 npx hardhat run keeper/main.ts --network localhost
 *   KEEPER_ONCE=1 ...   one tick, then exit (tests, cron)
 *   npx hardhat run keeper/main.ts --network localhost -- --config keeper.json
 *
 * Every setting is listed in keeper/config.ts and keeper/README.md. The key comes from KEEPER_PRIVATE_KEY (environment or Hardhat
 * configuration variable, e.g. the keystore); without it, on a local chain, the network's first signer is used.
 *
 * Orders: the keeper settles delayed orders with prices from `priceService`: `hermes` (Pyth's Hermes at a URL) or
 * `local` (the default on local chains): a local price publisher moves the mock Chainlink marks along a price
 * path from its own account (KEEPER_PUBLISHER_PRIVATE_KEY, else the last local signer) and records the same
 * prices in a LocalPriceService, which signs MockPyth updates for the settlements.
 */
import hre from "hardhat";
import { configVariable } from "hardhat/config";
import { Contract, JsonRpcProvider, Wallet, type Provider, type Signer } from "ethers";
import type { PriceService } from "../sdk/pyth.js";
import { EngineAdapter } from "./chain.js";
import {
  loadConfig,
  resolveEngineAddress,
  resolveStartBlock,
  withDefaultAddressBook,
  type KeeperConfig,
  type PriceServiceConfig,
} from "./config.js";
import { Keeper, type KeeperTask } from "./bot.js";
import { LpRequestTask } from "./lp-requests.js";
import { VolatilityTask } from "./volatility.js";
import { jsonLogger, type Logger } from "./log.js";
import { Metrics, MetricsServer } from "./metrics.js";
import { LocalPricePublisher, pricePath } from "./price-publisher.js";
import { HermesPriceService, PullFeedFees, withUpdateFee } from "./prices.js";

const LOCAL_CHAIN_IDS = new Set([31337n, 1337n]);

async function keeperSigner(config: KeeperConfig, log: Logger): Promise<Signer> {
  const key = await privateKey();
  if (config.rpcUrl !== undefined) {
    const provider = new JsonRpcProvider(config.rpcUrl);
    if (key !== undefined) return new Wallet(key, provider);
    const { chainId } = await provider.getNetwork();
    if (!LOCAL_CHAIN_IDS.has(chainId)) throw new Error(`KEEPER_PRIVATE_KEY is required on chain ${chainId}`);
    const [signer] = await provider.listAccounts();
    if (signer === undefined)
      throw new Error(`the node at ${config.rpcUrl} manages no account: set KEEPER_PRIVATE_KEY`);
    log("warn", "using_local_signer", { address: signer.address, chainId });
    return signer;
  }
  const { ethers } = await hre.network.getOrCreate();
  if (key !== undefined) return new Wallet(key, ethers.provider);
  const { chainId } = await ethers.provider.getNetwork();
  if (!LOCAL_CHAIN_IDS.has(chainId)) throw new Error(`KEEPER_PRIVATE_KEY is required on chain ${chainId}`);
  const [signer] = await ethers.getSigners();
  log("warn", "using_local_signer", { address: signer.address, chainId });
  return signer;
}

/** The env var wins; otherwise whatever configuration-variable provider Hardhat has (e.g. the keystore). */
async function privateKey(): Promise<string | undefined> {
  if (process.env.KEEPER_PRIVATE_KEY) return process.env.KEEPER_PRIVATE_KEY;
  try {
    return await hre.hooks.runHandlerChain(
      "configurationVariables",
      "fetchValue",
      [configVariable("KEEPER_PRIVATE_KEY")],
      async () => {
        throw new Error("unset");
      },
    );
  } catch {
    return undefined;
  }
}

/**
 * The local publisher's account: KEEPER_PUBLISHER_PRIVATE_KEY, else the last account the node (or Hardhat's
 * network) manages that is not the keeper's. Never the keeper's own: its nonces are assigned locally.
 */
async function publisherSigner(config: KeeperConfig, provider: Provider, keeper: string): Promise<Signer> {
  const key = process.env.KEEPER_PUBLISHER_PRIVATE_KEY;
  if (key) return new Wallet(key, provider);
  const signers: Signer[] =
    config.rpcUrl !== undefined
      ? await (provider as JsonRpcProvider).listAccounts()
      : await (await hre.network.getOrCreate()).ethers.getSigners();
  for (const signer of [...signers].reverse()) {
    if ((await signer.getAddress()).toLowerCase() !== keeper.toLowerCase()) return signer;
  }
  throw new Error("the local price publisher needs an account: set KEEPER_PUBLISHER_PRIVATE_KEY");
}

/** The price service orders settle with, and the local publisher behind it (local mode). */
async function priceSetup(
  config: KeeperConfig,
  chain: EngineAdapter,
  keeper: string,
  log: Logger,
): Promise<{
  kind?: PriceServiceConfig["kind"];
  service?: PriceService;
  publisher?: LocalPricePublisher;
  everyMs: number;
}> {
  const { chainId } = await chain.provider.getNetwork();
  const settings: PriceServiceConfig | undefined =
    config.priceService ??
    (LOCAL_CHAIN_IDS.has(chainId) ? { kind: "local", publishEveryMs: 2000 } : undefined);
  const fees = new PullFeedFees(chain);
  if (settings === undefined) {
    log("warn", "no_price_service", { detail: "orders are not settled: set KEEPER_PRICE_SERVICE (hermes)" });
    return { everyMs: 0 };
  }
  if (settings.kind === "hermes") {
    const service = new HermesPriceService({
      url: settings.url,
      timeoutMs: settings.timeoutMs,
      updateFee: fees.read,
      apiKey: process.env.KEEPER_HERMES_API_KEY || undefined,
    });
    return { kind: "hermes", service, everyMs: 0 };
  }
  const publisher = new LocalPricePublisher({
    engine: chain.address,
    runner: chain.runner,
    signer: await publisherSigner(config, chain.provider, keeper),
    path: pricePath(settings.path ?? { kind: "hold" }),
    log,
  });
  return {
    kind: "local",
    service: withUpdateFee(publisher.service, fees.read),
    publisher,
    everyMs: settings.publishEveryMs,
  };
}

async function main(): Promise<void> {
  const log = jsonLogger();
  const loaded = loadConfig();
  const signer = await keeperSigner(loaded, log);
  const keeperAddress = await signer.getAddress();
  // No KEEPER_ADDRESS_BOOK: the chain's deployments/<chainId>.json, as the CLI reads it (engine, startBlock).
  if (signer.provider === null) throw new Error("the keeper's signer has no provider");
  const { chainId } = await signer.provider.getNetwork();
  const config = withDefaultAddressBook(loaded, chainId);
  if (config.addressBook !== loaded.addressBook) {
    log("info", "default_address_book", { file: config.addressBook, chainId });
  }
  const metrics = new Metrics();
  const chain = new EngineAdapter(resolveEngineAddress(config), signer, {
    onRetry: (error, retry, delayMs) => {
      metrics.inc("keeper_rpc_retries_total");
      log("warn", "rpc_retry", { retry, delayMs, error: (error as Error).message?.split("\n")[0] });
    },
  });
  if ((await chain.provider.getCode(chain.address)) === "0x")
    throw new Error(`no contract at ${chain.address}`);
  const startBlock = resolveStartBlock(config);
  const prices = await priceSetup(config, chain, keeperAddress, log);
  const publisher = prices.publisher;
  // LP request settlement (keeper/lp-requests.ts): the engine names its vault.
  const tasks: KeeperTask[] = [];
  if (config.settleLpRequests) {
    const engine = new Contract(chain.address, ["function vault() view returns (address)"], chain.runner);
    const vault = (await engine.vault()) as string;
    tasks.push(new LpRequestTask({ vault, maxRequestsPerTx: config.lpRequestsPerTx }));
    log("info", "lp_requests_enabled", { vault, maxRequestsPerTx: config.lpRequestsPerTx });
  }
  // Volatility upkeep (keeper/volatility.ts): only where the engine reads a volatility oracle.
  if (config.volatilityUpkeep) {
    const oracle = await chain.engine.volatilityOracle();
    if (BigInt(oracle) === 0n) log("info", "volatility_upkeep_off", { reason: "no volatility oracle" });
    else {
      tasks.push(new VolatilityTask({ oracle }));
      log("info", "volatility_upkeep_enabled", { oracle });
    }
  }
  const keeper = new Keeper({
    chain,
    rewardReceiver: config.rewardReceiver ?? keeperAddress,
    log,
    metrics,
    startBlock,
    checkpointFile: config.checkpointFile,
    logRange: config.logRange,
    batchSize: config.batchSize,
    quoteBatchSize: config.quoteBatchSize,
    gasTargetPerTx: config.gasTargetPerTx,
    blockGasBudget: config.blockGasBudget,
    dryRun: config.dryRun,
    maxGasPriceWei: config.maxGasPriceWei,
    minProfitD18: config.minProfitD18,
    nativeUsdD18: config.nativeUsdD18,
    screenMarginBps: config.screenMarginBps,
    fullQuoteEvery: config.fullQuoteEvery,
    fees: {
      tipWei: config.tipWei,
      replaceAfterBlocks: config.replaceAfterBlocks,
      bumpPercent: BigInt(config.feeBumpPercent),
    },
    orders: {
      priceService: prices.service,
      settle: config.settleOrders,
      cancelExpired: config.cancelExpiredOrders,
      beforeRun: publisher === undefined ? undefined : () => publisher.sync(),
    },
    tasks,
  });
  log("info", "keeper_start", {
    engine: chain.address,
    addressBook: config.addressBook ?? null,
    keeper: keeperAddress,
    dryRun: config.dryRun,
    batchSize: config.batchSize,
    startBlock,
    resumedFrom: keeper.indexer.lastIndexedBlock + 1,
    checkpointFile: config.checkpointFile ?? null,
    priceService: prices.kind ?? null,
    settleOrders: config.settleOrders && prices.service !== undefined,
    cancelExpiredOrders: config.cancelExpiredOrders,
  });

  if (config.once) {
    await keeper.tick();
    return;
  }
  const server = new MetricsServer(metrics, Math.max(60_000, config.pollMs * 10));
  const port = await server.start(config.metricsPort);
  log("info", "metrics_listening", { url: `http://127.0.0.1:${port}/metrics` });
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log("info", "shutdown", { signal: sig });
      stop.abort();
    });
  }
  const publishing = publisher === undefined ? Promise.resolve() : publisher.run(prices.everyMs, stop.signal);
  await keeper.run(config.pollMs, stop.signal);
  await publishing;
  await server.close();
  log("info", "keeper_stopped", { ticks: metrics.get("keeper_ticks_total") });
}

await main();
