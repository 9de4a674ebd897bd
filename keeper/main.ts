/**
 * Keeper entry point.
 *
 *   KEEPER_ENGINE=0x... npx hardhat run keeper/main.ts --network localhost
 *   KEEPER_ADDRESS_BOOK=deployments/31337.json KEEPER_DRY_RUN=1 npx hardhat run keeper/main.ts --network localhost
 *   KEEPER_ONCE=1 ...   one tick, then exit (tests, cron)
 *
 * Every setting is listed in keeper/config.ts. The key comes from KEEPER_PRIVATE_KEY (environment or Hardhat
 * configuration variable, e.g. the keystore); without it, on a local chain, the network's first signer is used.
 */
import hre from "hardhat";
import { configVariable } from "hardhat/config";
import { JsonRpcProvider, Wallet, type Signer } from "ethers";
import { EngineAdapter } from "./chain.js";
import { loadConfig, resolveEngineAddress, type KeeperConfig } from "./config.js";
import { Keeper } from "./bot.js";
import { jsonLogger, type Logger } from "./log.js";
import { Metrics, MetricsServer } from "./metrics.js";

const LOCAL_CHAIN_IDS = new Set([31337n, 1337n]);

async function keeperSigner(config: KeeperConfig, log: Logger): Promise<Signer> {
  const key = await privateKey();
  if (config.rpcUrl !== undefined) {
    const provider = new JsonRpcProvider(config.rpcUrl);
    if (key === undefined) throw new Error("KEEPER_PRIVATE_KEY is required with KEEPER_RPC_URL");
    return new Wallet(key, provider);
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

async function main(): Promise<void> {
  const log = jsonLogger();
  const config = loadConfig();
  const signer = await keeperSigner(config, log);
  const keeperAddress = await signer.getAddress();
  const chain = new EngineAdapter(resolveEngineAddress(config), signer);
  if ((await chain.provider.getCode(chain.address)) === "0x")
    throw new Error(`no contract at ${chain.address}`);
  const metrics = new Metrics();
  const keeper = new Keeper({
    chain,
    rewardReceiver: config.rewardReceiver ?? keeperAddress,
    log,
    metrics,
    startBlock: config.startBlock,
    logRange: config.logRange,
    batchSize: config.batchSize,
    dryRun: config.dryRun,
    maxGasPriceWei: config.maxGasPriceWei,
  });
  log("info", "keeper_start", {
    engine: chain.address,
    keeper: keeperAddress,
    dryRun: config.dryRun,
    batchSize: config.batchSize,
    startBlock: config.startBlock,
  });

  if (config.once) {
    await keeper.tick();
    return;
  }
  const server = new MetricsServer(metrics);
  const port = await server.start(config.metricsPort);
  log("info", "metrics_listening", { url: `http://127.0.0.1:${port}/metrics` });
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log("info", "shutdown", { signal: sig });
      stop.abort();
    });
  }
  await keeper.run(config.pollMs, stop.signal);
  await server.close();
  log("info", "keeper_stopped", { ticks: metrics.get("keeper_ticks_total") });
}

await main();
