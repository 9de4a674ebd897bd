/**
 * `npm run stress`: the crash stress harness. On the embedded Hardhat network it opens thousands of accounts
 * (cross, isolated and hedged cross, seeded mix of size, side and leverage), then drives prices along four paths,
 * each from the same starting state, mining one block per step with two competing keepers running the real
 * keeper code (keeper/bot.ts) between blocks:
 *
 *   crash30           both markets -30% in equal (geometric) steps, each no larger than a third of
 *                     (smallest maintenance ratio - liquidation fee ratio): an account that turns liquidatable at
 *                     block t and is closed by t+2 cannot reach negative equity
 *   gap15             both markets -15% in one block
 *   correlationBreak  ETH -5% and BTC +5% (a hedged pair's legs 10% apart), in steps under the same bound
 *   slowBleed         both markets -50% over 1,000 blocks
 *
 * Every block it records the accounts liquidatable at the end of the block (the ground truth: on-chain quotes of
 * every account the SDK mirror puts within 5% of maintenance margin, and of every open account every 25 blocks,
 * which verifies that the screen never leaves one out: `groundTruth.screenMisses` must stay 0),
 * the liquidations in it, latency (blocks from the first block an account is liquidatable to the block that
 * liquidates it), bad debt (BadDebt events: covered by the insurance fund / socialised), the insurance fund, the
 * vault's value and ADL events; per keeper, rewards against gas spent.
 *
 * Each step's price update is sent with the highest tip, so it executes first in its block: keepers' liquidations
 * based on the previous block run at the new, worse price (the worst case the bound above is about).
 *
 * Environment:
 *   STRESS_PROFILE          full (default: 1,000 accounts, every path) | ci (200 accounts, crash30)
 *   STRESS_ACCOUNTS         account count (overrides the profile)
 *   STRESS_PATHS            comma-separated paths (overrides the profile)
 *   STRESS_SEED             population seed (default 11)
 *   STRESS_BLOCK_GAS_LIMIT  block gas limit during the paths (default 30,000,000)
 *   STRESS_OUT              output folder (default: bench for full, out/stress for ci)
 *
 * Writes <out>/stress-report.json and, per path, <out>/stress/<path>-accounts.png (liquidatable vs liquidated)
 * and <out>/stress/<path>-funds.png (insurance fund and vault value). Exits 1 when a requirement fails (every
 * path: >= 1,000 accounts in the full profile, max latency <= 2 blocks; no bad debt on crash30 and slowBleed;
 * gap15's bad debt covered or socialised with an event), after writing the report.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { toQuantity } from "ethers";
import { EngineAdapter, TOPIC, decodeLog } from "../keeper/chain.js";
import { Keeper } from "../keeper/bot.js";
import { jsonLogger } from "../keeper/log.js";
import { Metrics } from "../keeper/metrics.js";
import { HealthMirror } from "../keeper/mirror.js";
import { type BlockRow, writeStressCharts } from "./lib/stress-charts.js";
import { BTC, ETH, createWorld, populate, priceOf } from "./lib/stress-world.js";

type PathName = "crash30" | "gap15" | "correlationBreak" | "slowBleed";

const started = Date.now();
const profile = process.env.STRESS_PROFILE === "ci" ? "ci" : "full";
const accountCount = Number(process.env.STRESS_ACCOUNTS ?? (profile === "ci" ? 200 : 1000));
const pathNames = (
  process.env.STRESS_PATHS ?? (profile === "ci" ? "crash30" : "crash30,gap15,correlationBreak,slowBleed")
)
  .split(",")
  .map((p) => p.trim()) as PathName[];
const seed = Number(process.env.STRESS_SEED ?? 11);
const blockGasLimit = BigInt(process.env.STRESS_BLOCK_GAS_LIMIT ?? 30_000_000);
const outDir = process.env.STRESS_OUT ?? (profile === "ci" ? "out/stress" : "bench");
const minAccounts = profile === "ci" ? 200 : 1000;
const SETTLE_BLOCKS = 6;
/** The harness quotes on chain every account the SDK mirror puts within 5% of maintenance margin... */
const SCREEN_MARGIN_BPS = 500;
/** ...and every open account every 25 blocks, counting any liquidatable account the screen left out. */
const FULL_EVERY = 25;
const WAD = 10n ** 18n;
const NATIVE_USD = 3000n * WAD;
const GWEI = 10n ** 9n;

const usdOf = (d18: bigint) => Number(d18 / 10n ** 12n) / 1e6;
const log = (msg: string) => console.log(`[stress ${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}`);

/* ------------------------------------------------------------------ setup */

const world = await createWorld({ vaultUsd: "2000000000", insuranceUsd: "250000" });
const { engine } = world.contracts;
log(`deployed; opening ${accountCount} accounts`);
await populate(world, accountCount, seed);
const mix = countBy(world.accounts.map((a) => a.mode));
log(`opened ${world.accounts.length} accounts: ${JSON.stringify(mix)}`);

// The step bound of the spec: a third of (smallest maintenance ratio - largest liquidation fee ratio).
let minMm = WAD;
let maxFee = 0n;
for (const id of [ETH, BTC]) {
  const p = await engine.getMarketParams(id);
  const mm = (BigInt(p.baseImrD18) * BigInt(p.mmScalarD18)) / WAD;
  if (mm < minMm) minMm = mm;
  if (BigInt(p.liquidationFeeD18) > maxFee) maxFee = BigInt(p.liquidationFeeD18);
}
const stepBound = Number(minMm - maxFee) / 1e18 / 3;
log(
  `step bound ${(stepBound * 100).toFixed(4)}% per block (MM ${Number(minMm) / 1e16}%, fee ${Number(maxFee) / 1e16}%)`,
);

const initial = { [ETH]: await priceOf(world, ETH), [BTC]: await priceOf(world, BTC) } as Record<
  number,
  bigint
>;
const snapshot = { id: (await world.provider.send("evm_snapshot", [])) as string };

/* ------------------------------------------------------------------ paths */

/** Multipliers per step for each market (1 = initial price). */
function pathSteps(name: PathName): { [market: number]: number }[] {
  const geometric = (total: number, n: number) => Array.from({ length: n }, (_, k) => total ** ((k + 1) / n));
  const stepsFor = (total: number) => Math.ceil(Math.log(total) / Math.log(1 - stepBound));
  switch (name) {
    case "crash30": {
      const n = stepsFor(0.7);
      return geometric(0.7, n).map((m) => ({ [ETH]: m, [BTC]: m }));
    }
    case "gap15":
      return [{ [ETH]: 0.85, [BTC]: 0.85 }];
    case "correlationBreak": {
      const n = Math.max(stepsFor(0.95), Math.ceil(Math.log(1.05) / Math.log(1 + stepBound)));
      const down = geometric(0.95, n);
      const up = geometric(1.05, n);
      return down.map((m, k) => ({ [ETH]: m, [BTC]: up[k] }));
    }
    case "slowBleed": {
      const n = Math.max(1000, stepsFor(0.5));
      return geometric(0.5, n).map((m) => ({ [ETH]: m, [BTC]: m }));
    }
  }
}

async function runPath(name: PathName) {
  await world.provider.send("evm_revert", [snapshot.id]);
  snapshot.id = await world.provider.send("evm_snapshot", []);
  const { provider } = world;
  await provider.send("evm_setAutomine", [false]);
  await provider.send("evm_setBlockGasLimit", [toQuantity(blockGasLimit)]);
  await provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(GWEI)]);
  await provider.send("evm_mine", []);

  const keepers = world.signers.keepers.map((signer, i) => {
    const metrics = new Metrics();
    const chain = new EngineAdapter(world.contracts.engine.target as string, signer);
    const keeper = new Keeper({
      chain,
      rewardReceiver: signer.address,
      log: jsonLogger(() => undefined),
      metrics,
      startBlock: world.startBlock,
      logRange: 5000,
      batchSize: 200,
      dryRun: false,
      gasTargetPerTx: 3_000_000n,
      blockGasBudget: 14_000_000n,
      nativeUsdD18: NATIVE_USD,
      fees: { tipWei: (i === 0 ? 15n : 20n) * (GWEI / 10n), replaceAfterBlocks: 2 },
    });
    return { name: i === 0 ? "A" : "B", keeper, metrics };
  });
  for (const k of keepers) await k.keeper.tick(); // index and load every account before the path starts

  const admin = world.signers.admin;
  const ids = world.accounts.map((a) => a.id);
  const open = new Set(ids);
  const screen = new HealthMirror(new EngineAdapter(world.contracts.engine.target as string, admin));
  await screen.refresh(await world.ethers.provider.getBlockNumber(), ids);
  let fullChecks = 0;
  let screenMisses = 0;
  const since = new Map<bigint, number>();
  const latencies: number[] = [];
  let liquidatedTotal = 0;
  let becameLiquidatableTotal = 0;
  let coveredD18 = 0n;
  let socialisedD18 = 0n;
  let badDebtEvents = 0;
  let adlTotal = 0;
  let maxLatency = 0;
  const rows: BlockRow[] = [];
  const steps = pathSteps(name);
  const start = {
    insurance: usdOf(await engine.insuranceFund()),
    vaultValue: usdOf(await engine.vaultValue()),
  };

  const totalBlocks = steps.length + SETTLE_BLOCKS;
  for (let step = 0; step < totalBlocks; step++) {
    const target = steps[Math.min(step, steps.length - 1)];
    if (step < steps.length) {
      for (const market of [ETH, BTC]) {
        const price = (initial[market] * BigInt(Math.round(target[market] * 1e9))) / 10n ** 9n;
        await world.contracts.aggregators[market].connect(admin).setAnswer(price / 10n ** 10n, {
          gasLimit: 300_000n,
          maxFeePerGas: 1000n * GWEI,
          maxPriorityFeePerGas: 100n * GWEI,
        });
      }
    }
    await provider.send("evm_mine", []);
    const block = await world.ethers.provider.getBlock("latest");
    const number = block!.number;

    // Events of this block: liquidations, bad debt, ADL.
    const logs = await world.ethers.provider.getLogs({
      address: world.contracts.engine.target as string,
      fromBlock: number,
      toBlock: number,
      topics: [[TOPIC.Liquidated, TOPIC.BadDebt, TOPIC.AutoDeleveraged]],
    });
    let liquidated = 0;
    const touched: bigint[] = [];
    for (const l of logs) {
      const { name: event, args } = decodeLog(l)!;
      if (event === "Liquidated") {
        liquidated += 1;
        touched.push(args.accountId);
        const t0 = since.get(args.accountId);
        if (t0 !== undefined) {
          latencies.push(number - t0);
          maxLatency = Math.max(maxLatency, number - t0);
          since.delete(args.accountId);
        }
      } else if (event === "BadDebt") {
        badDebtEvents += 1;
        coveredD18 += args.coveredByInsuranceD18;
        socialisedD18 += args.socialisedD18;
      } else {
        adlTotal += 1;
        touched.push(args.accountId);
      }
    }
    liquidatedTotal += liquidated;
    const positions = await Promise.all(touched.map((id) => engine.getPositions(id)));
    touched.forEach((id, i) => positions[i].length === 0 && open.delete(id));

    // Ground truth at the end of the block: on-chain quotes of every account the SDK mirror puts within
    // SCREEN_MARGIN_BPS of maintenance margin (or cannot compute), and of every open account every FULL_EVERY
    // blocks and on the last one, which checks that the screen never left out a liquidatable account.
    const openIds = [...open];
    await screen.refresh(number, touched);
    const full = step % FULL_EVERY === 0 || step === totalBlocks - 1;
    const flagged = screen.screen(openIds, SCREEN_MARGIN_BPS);
    const quoteIds = full ? openIds : flagged;
    const quotes = (
      await Promise.all(
        chunks(quoteIds, 200).map((batch) => engine.liquidationQuotes(batch, { blockTag: number })),
      )
    ).flat();
    const liquidatableNow = new Set<bigint>();
    quotes.forEach((q, i) => q.liquidatable && liquidatableNow.add(quoteIds[i]));
    if (full) {
      fullChecks += 1;
      const inScreen = new Set(flagged);
      screenMisses += [...liquidatableNow].filter((id) => !inScreen.has(id)).length;
    }
    for (const id of liquidatableNow) {
      if (since.has(id)) continue;
      since.set(id, number);
      becameLiquidatableTotal += 1;
    }
    for (const id of [...since.keys()]) if (!liquidatableNow.has(id)) since.delete(id); // recovered unliquidated
    const openLatency = Math.max(0, ...[...since.values()].map((t0) => number - t0));

    const [insurance, vaultValue] = await Promise.all([
      engine.insuranceFund({ blockTag: number }),
      engine.vaultValue({ blockTag: number }),
    ]);
    rows.push({
      block: number,
      step,
      ethPrice: (Number(initial[ETH] / 10n ** 14n) / 1e4) * target[ETH],
      btcPrice: (Number(initial[BTC] / 10n ** 14n) / 1e4) * target[BTC],
      liquidatable: liquidatableNow.size,
      liquidated,
      liquidatedTotal,
      becameLiquidatableTotal,
      maxLatency: Math.max(maxLatency, openLatency),
      badDebtUsd: usdOf(coveredD18 + socialisedD18),
      insuranceFundUsd: usdOf(insurance),
      vaultValueUsd: usdOf(vaultValue),
      adlEvents: adlTotal,
      baseFeeGwei: Number(block!.baseFeePerGas ?? 0n) / 1e9,
      gasUsed: Number(block!.gasUsed),
    });

    for (const k of keepers) await k.keeper.tick();
    if (step % 50 === 0 || liquidatableNow.size > 0 || liquidated > 0) {
      const r = rows.at(-1)!;
      log(
        `${name} block ${step + 1}/${totalBlocks}: ETH ${r.ethPrice.toFixed(0)} liquidatable ${r.liquidatable} liquidated ${liquidated} (total ${liquidatedTotal}) latency<=${r.maxLatency} bad debt $${r.badDebtUsd.toFixed(0)} base fee ${r.baseFeeGwei.toFixed(2)} gwei gas ${(r.gasUsed / 1e6).toFixed(1)}M`,
      );
    }
  }
  const unresolved = [...since.keys()];
  const worst = Math.max(maxLatency, ...rows.map((r) => r.maxLatency));
  const last = rows.at(-1)!;
  // Blocks after the last price move until nothing is liquidatable (0: clear at the end of the last move's block).
  const afterMoves = rows.slice(steps.length - 1);
  const clearAt = afterMoves.findIndex((r) => r.liquidatable === 0);
  const keeperStats = Object.fromEntries(
    keepers.map((k) => [
      k.name,
      {
        liquidations: k.metrics.get("keeper_liquidations_total"),
        rewardUsd: round(k.metrics.get("keeper_rewards_usd_total")),
        gasSpentUsd: round(k.metrics.get("keeper_gas_spent_usd_total")),
        gasUsed: k.metrics.get("keeper_gas_used_total"),
        txsSent: k.metrics.get("keeper_txs_sent_total"),
        txsReplaced: k.metrics.get("keeper_txs_replaced_total"),
        racesLost: k.metrics.get("keeper_races_lost_total"),
        missedCapacity: k.metrics.missedOf("capacity"),
        errors: k.metrics.get("keeper_errors_total"),
      },
    ]),
  );
  const badDebtUsd = usdOf(coveredD18 + socialisedD18);
  return {
    summary: {
      accounts: world.accounts.length,
      maxLatencyBlocks: worst,
      badDebtUsd: round(badDebtUsd),
      liquidations: liquidatedTotal,
      blocks: rows.length,
      priceSteps: steps.length,
      maxStepPercent: round(maxStep(steps) * 100, 4),
      peakLiquidatable: Math.max(...rows.map((r) => r.liquidatable)),
      blocksWithLiquidatable: rows.filter((r) => r.liquidatable > 0).length,
      blocksToClearAfterLastMove: clearAt < 0 ? null : clearAt,
      unresolvedLiquidatable: unresolved.length,
      groundTruth: { fullOnChainChecks: fullChecks, screenMisses },
      latencyHistogram: countBy(latencies.map(String)),
      badDebt: {
        events: badDebtEvents,
        coveredByInsuranceUsd: round(usdOf(coveredD18)),
        socialisedUsd: round(usdOf(socialisedD18)),
        coveredBy:
          badDebtUsd === 0
            ? "none"
            : socialisedD18 === 0n
              ? "insuranceFund"
              : coveredD18 === 0n
                ? "socialised"
                : "insuranceFundThenSocialised",
      },
      adlEvents: adlTotal,
      insuranceFundUsd: { start: round(start.insurance), end: round(last.insuranceFundUsd) },
      vaultValueUsd: { start: round(start.vaultValue), end: round(last.vaultValueUsd) },
      keepers: keeperStats,
      keeperRewardUsd: round(Object.values(keeperStats).reduce((s, k) => s + k.rewardUsd, 0)),
      keeperGasSpentUsd: round(Object.values(keeperStats).reduce((s, k) => s + k.gasSpentUsd, 0)),
    },
    rows,
  };
}

/* ------------------------------------------------------------------ run, report, plots */

const report: {
  generatedAt: string;
  profile: string;
  seed: number;
  accounts: number;
  mix: Record<string, number>;
  blockGasLimit: number;
  stepBoundPercent: number;
  nativeUsd: number;
  paths: Record<string, Awaited<ReturnType<typeof runPath>>["summary"]>;
  perBlock: Record<string, BlockRow[]>;
  requirements: { path: string; requirement: string; ok: boolean; value: unknown }[];
  wallSeconds?: number;
} = {
  generatedAt: new Date().toISOString(),
  profile,
  seed,
  accounts: world.accounts.length,
  mix,
  blockGasLimit: Number(blockGasLimit),
  stepBoundPercent: round(stepBound * 100, 4),
  nativeUsd: 3000,
  paths: {},
  perBlock: {},
  requirements: [],
};
mkdirSync(path.join(outDir, "stress"), { recursive: true });
for (const name of pathNames) {
  log(`path ${name}`);
  const { summary, rows } = await runPath(name);
  report.paths[name] = summary;
  report.perBlock[name] = rows;
  log(`${name}: ${JSON.stringify({ ...summary, keepers: undefined, latencyHistogram: undefined })}`);
  writeStressCharts(outDir, name, rows, { accounts: report.accounts, blockGasLimit: Number(blockGasLimit) });

  const req = (requirement: string, ok: boolean, value: unknown) =>
    report.requirements.push({ path: name, requirement, ok, value });
  req(`accounts >= ${minAccounts}`, summary.accounts >= minAccounts, summary.accounts);
  req("maxLatencyBlocks <= 2", summary.maxLatencyBlocks <= 2, summary.maxLatencyBlocks);
  req(
    "ground truth: the screen never left out a liquidatable account",
    summary.groundTruth.screenMisses === 0,
    summary.groundTruth,
  );
  if (name === "crash30" || name === "slowBleed")
    req("badDebtUsd == 0", summary.badDebtUsd === 0, summary.badDebtUsd);
  if (name === "gap15") {
    req(
      "bad debt covered by the insurance fund or socialised with an event",
      summary.badDebtUsd === 0 || summary.badDebt.events > 0,
      summary.badDebt,
    );
  }
}
report.wallSeconds = Math.round((Date.now() - started) / 1000);
const file = path.join(outDir, "stress-report.json");
writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
log(`wrote ${file}`);
const failed = report.requirements.filter((r) => !r.ok);
for (const r of report.requirements)
  log(`${r.ok ? "ok  " : "FAIL"} ${r.path}: ${r.requirement} (${JSON.stringify(r.value)})`);
if (failed.length > 0) process.exitCode = 1;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function maxStep(steps: { [market: number]: number }[]): number {
  let prev: { [market: number]: number } = { [ETH]: 1, [BTC]: 1 };
  let worst = 0;
  for (const s of steps) {
    for (const m of [ETH, BTC]) worst = Math.max(worst, Math.abs(s[m] / prev[m] - 1));
    prev = s;
  }
  return worst;
}
