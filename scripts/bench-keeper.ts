/**
 * `npm run bench:keeper`: health-check throughput of the keeper's batch path at 1,000 and 10,000 accounts, on the
 * embedded Hardhat network, written to bench/keeper-report.json.
 *
 * For each size, on a quiet chain where every block moves both prices a little (so every account is re-checked):
 *  - accountsPerSecond: accounts health-checked per second of a whole keeper tick (keeper/bot.ts, dry-run):
 *    indexing, market snapshot, off-chain screening of every open account with the SDK's mirror, on-chain
 *    confirmation (`liquidationQuotes`) of the candidates near or under maintenance margin; median of the ticks;
 *  - onChainQuotesPerSecond: the same accounts through `liquidationQuotes` alone, in batches of 200 (what a tick
 *    costs when the mirror is bypassed: every `fullQuoteEvery` ticks, or for an unknown account);
 *  - coldStartSeconds: the first tick (index every event since the start block, read every account's state).
 *
 * Environment: BENCH_SIZES (default "1000,10000"), BENCH_TICKS (default 7), BENCH_OUT (default bench).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import path from "node:path";
import { toQuantity } from "ethers";
import { EngineAdapter } from "../keeper/chain.js";
import { Keeper } from "../keeper/bot.js";
import { jsonLogger } from "../keeper/log.js";
import { Metrics } from "../keeper/metrics.js";
import { BTC, ETH, createWorld, populate, priceOf } from "./lib/stress-world.js";

const sizes = (process.env.BENCH_SIZES ?? "1000,10000").split(",").map(Number);
const ticks = Number(process.env.BENCH_TICKS ?? 7);
const outDir = process.env.BENCH_OUT ?? "bench";
const started = Date.now();
const log = (msg: string) => console.log(`[bench ${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}`);

const world = await createWorld({ vaultUsd: "20000000000", insuranceUsd: "0" });
const { engine } = world.contracts;
const initial: Record<number, bigint> = {
  [ETH]: await priceOf(world, ETH),
  [BTC]: await priceOf(world, BTC),
};
const report: Record<string, unknown> = {
  generatedAt: new Date().toISOString(),
  network: "embedded Hardhat network (EDR), in-process",
  host: { cpus: cpus().length, loadAverage1m: Math.round(loadavg()[0] * 10) / 10 },
};

for (const size of sizes) {
  for (let round = 0; world.accounts.length < size; round++) {
    const missing = size - world.accounts.length;
    log(`opening ${missing} accounts`);
    await populate(world, missing, 1000 * size + round);
  }
  await world.provider.send("evm_setAutomine", [false]);
  const ids = world.accounts.map((a) => a.id);

  const metrics = new Metrics();
  const signer = world.signers.keepers[0];
  const keeper = new Keeper({
    chain: new EngineAdapter(engine.target as string, signer),
    rewardReceiver: signer.address,
    log: jsonLogger(() => undefined),
    metrics,
    startBlock: world.startBlock,
    logRange: 10_000,
    batchSize: 200,
    dryRun: true,
    fullQuoteEvery: 1_000_000,
  });
  let t = performance.now();
  await keeper.tick(); // tick 0: index from the start block, read every account, quote everything on chain
  const coldStartSeconds = (performance.now() - t) / 1000;
  log(`${size}: cold start ${coldStartSeconds.toFixed(2)} s`);

  const rates: number[] = [];
  const quoted: number[] = [];
  for (let i = 1; i <= ticks; i++) {
    // A small move every block (alternating +-0.05%): every market moved, so every account is re-checked.
    const bump = i % 2 === 0 ? 10_000n : 10_005n;
    for (const market of [ETH, BTC]) {
      await world.contracts.aggregators[market]
        .connect(world.signers.admin)
        .setAnswer((initial[market] * bump) / 10_000n / 10n ** 10n, { gasLimit: 300_000n });
    }
    await world.provider.send("evm_mine", []);
    t = performance.now();
    const r = await keeper.tick();
    const seconds = (performance.now() - t) / 1000;
    rates.push(r.screened / seconds);
    quoted.push(r.quoted);
    log(
      `${size}: tick ${i}: ${r.screened} checked, ${r.quoted} quoted on chain, ${(seconds * 1000).toFixed(0)} ms`,
    );
  }

  const chain = new EngineAdapter(engine.target as string, signer);
  const quoteRates: number[] = [];
  for (let i = 0; i < 3; i++) {
    t = performance.now();
    for (let j = 0; j < ids.length; j += 200) await chain.liquidationQuotes(ids.slice(j, j + 200));
    quoteRates.push(ids.length / ((performance.now() - t) / 1000));
  }
  report[`accounts${size}`] = {
    accounts: ids.length,
    accountsPerSecond: Math.round(median(rates)),
    tickMsMedian: Math.round((ids.length / median(rates)) * 1000),
    quotedOnChainPerTick: Math.round(median(quoted)),
    onChainQuotesPerSecond: Math.round(median(quoteRates)),
    coldStartSeconds: Math.round(coldStartSeconds * 100) / 100,
  };
  log(`${size}: ${JSON.stringify(report[`accounts${size}`])}`);
  await world.provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(10n ** 9n)]);
}

mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, "keeper-report.json");
writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
log(`wrote ${file}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
