/**
 * The keeper's loop. Each tick: refresh the account index, quote every account with a position in batches (one
 * eth_call per batch), simulate the liquidation of the liquidatable ones, send it (unless dry-run), then check
 * every market for auto-deleveraging. Another keeper winning a race is an expected outcome: it is logged as
 * `race_lost`, counted, and the loop goes on. Nothing in a tick throws out of `tick()`.
 */
import { math } from "../sdk/index.js";
import { decodeError, type EngineAdapter, type PositionView } from "./chain.js";
import { AccountIndexer } from "./indexer.js";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";

/** ADL closes one position per transaction; bound how many one tick may send. */
const MAX_ADL_PER_MARKET_PER_TICK = 10;

export interface KeeperOptions {
  chain: EngineAdapter;
  rewardReceiver: string;
  log: Logger;
  metrics: Metrics;
  startBlock: number;
  logRange: number;
  batchSize: number;
  dryRun: boolean;
  maxGasPriceWei?: bigint;
  /** Test seam: runs after the quotes and before the simulation (where a competing keeper can strike). */
  afterQuote?: (liquidatable: bigint[]) => Promise<void>;
}

export interface TickReport {
  block: number;
  accounts: number;
  quoted: number;
  liquidatable: bigint[];
  liquidated: bigint[];
  rewardD18: bigint;
  racesLost: number;
  adl: { accountId: bigint; marketId: number; closedSizeD18: bigint }[];
  errors: number;
}

export class Keeper {
  readonly indexer: AccountIndexer;

  constructor(private readonly o: KeeperOptions) {
    this.indexer = new AccountIndexer(o.chain, o.startBlock, o.logRange);
  }

  async tick(): Promise<TickReport> {
    const { log, metrics } = this.o;
    const report: TickReport = {
      block: this.indexer.lastIndexedBlock,
      accounts: 0,
      quoted: 0,
      liquidatable: [],
      liquidated: [],
      rewardD18: 0n,
      racesLost: 0,
      adl: [],
      errors: 0,
    };
    try {
      await this.indexer.refresh();
      report.block = this.indexer.lastIndexedBlock;
      report.accounts = this.indexer.accounts.size;
      metrics.set("keeper_accounts_indexed", report.accounts);

      const candidates = this.indexer.withPositions();
      report.quoted = candidates.length;
      for (const batch of chunks(candidates, this.o.batchSize)) {
        const quotes = await this.o.chain.liquidationQuotes(batch);
        report.liquidatable.push(...quotes.filter((q) => q.liquidatable).map((q) => q.accountId));
      }
      if (report.liquidatable.length > 0) {
        log("info", "liquidatable", { block: report.block, accounts: report.liquidatable });
      }
      for (const batch of chunks(report.liquidatable, this.o.batchSize)) await this.liquidate(batch, report);
      await this.deleverage(report);
    } catch (error) {
      this.fail("tick_failed", error, report);
    }
    metrics.inc("keeper_ticks_total");
    metrics.set("keeper_last_tick_timestamp", Math.floor(Date.now() / 1000));
    metrics.lastTick = {
      block: report.block,
      at: new Date().toISOString(),
      accounts: report.accounts,
      liquidatable: report.liquidatable.length,
      liquidated: report.liquidated.length,
      dryRun: this.o.dryRun,
    };
    log("info", "tick", {
      block: report.block,
      accounts: report.accounts,
      quoted: report.quoted,
      liquidatable: report.liquidatable.length,
      liquidated: report.liquidated.length,
      rewardD18: report.rewardD18,
      racesLost: report.racesLost,
      adl: report.adl.length,
      errors: report.errors,
      dryRun: this.o.dryRun,
    });
    return report;
  }

  /** Ticks every `pollMs` until `signal` aborts; the current tick always finishes first. */
  async run(pollMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.tick();
      await sleep(pollMs, signal);
    }
  }

  private async liquidate(quoted: bigint[], report: TickReport): Promise<void> {
    const { chain, log, metrics, rewardReceiver } = this.o;
    await this.o.afterQuote?.(quoted);

    let ids = quoted;
    let simulated: { liquidated: bigint; rewardD18: bigint };
    try {
      simulated = await chain.simulateLiquidateBatch(ids, rewardReceiver);
    } catch (error) {
      return this.fail("simulation_failed", error, report, { accounts: ids });
    }
    if (simulated.liquidated < BigInt(ids.length)) {
      // Someone got there between our quote and now: keep only what is still ours to take.
      const still = (await chain.liquidationQuotes(ids))
        .filter((q) => q.liquidatable)
        .map((q) => q.accountId);
      this.raceLost(
        ids.filter((id) => !still.includes(id)),
        "simulation",
        report,
      );
      ids = still;
      if (ids.length === 0) return;
      try {
        simulated = await chain.simulateLiquidateBatch(ids, rewardReceiver);
      } catch (error) {
        return this.fail("simulation_failed", error, report, { accounts: ids });
      }
    }

    if (this.o.dryRun) {
      log("info", "dry_run_would_liquidate", {
        accounts: ids,
        expectedLiquidated: simulated.liquidated,
        expectedRewardD18: simulated.rewardD18,
        rewardReceiver,
      });
      return;
    }
    if (!(await this.gasPriceOk())) return;

    try {
      const outcome = await chain.liquidateBatch(ids, rewardReceiver);
      report.liquidated.push(...outcome.liquidatedIds);
      report.rewardD18 += outcome.rewardD18;
      metrics.inc("keeper_liquidations_total", outcome.liquidatedIds.length);
      metrics.inc("keeper_rewards_usd_total", toUsd(outcome.rewardD18));
      log("info", "liquidated", {
        tx: outcome.txHash,
        accounts: outcome.liquidatedIds,
        rewardD18: outcome.rewardD18,
        gasUsed: outcome.gasUsed,
      });
      const missed = ids.filter((id) => !outcome.liquidatedIds.includes(id));
      if (missed.length > 0) this.raceLost(missed, "inclusion", report);
    } catch (error) {
      // A batch skips healthy accounts instead of reverting, so a revert is not a lost race by itself:
      // re-quote to tell the two apart.
      const still = await chain.liquidationQuotes(ids).catch(() => undefined);
      if (still !== undefined && still.every((q) => !q.liquidatable))
        this.raceLost(ids, "send_reverted", report);
      else this.fail("send_failed", error, report, { accounts: ids });
    }
  }

  /**
   * ADL, per market whose traders' profit is over the trigger: close the most profitable indexed positions first
   * (PnL net of funding at the oracle price, as the engine computes it), re-checking the trigger after each.
   */
  private async deleverage(report: TickReport): Promise<void> {
    const { chain, log } = this.o;
    const markets = await chain.marketCount();
    for (let marketId = 1; marketId <= markets; marketId++) {
      let status = await chain.adlStatus(marketId);
      if (!status.triggered) continue;
      log("warn", "adl_triggered", {
        marketId,
        tradersPnlD18: status.tradersPnlD18,
        triggerD18: status.triggerD18,
      });

      const marks = await chain.marketMarks(marketId);
      const ranked: { accountId: bigint; pnlD18: bigint }[] = [];
      for (const accountId of this.indexer.inMarket(marketId)) {
        const position = (await chain.positions(accountId)).find((p) => p.marketId === marketId);
        if (position === undefined) continue;
        const pnlD18 = positionPnl(position, marks.priceD18, marks.fundingIndexD18);
        if (pnlD18 > 0n) ranked.push({ accountId, pnlD18 });
      }
      ranked.sort((a, b) => (a.pnlD18 > b.pnlD18 ? -1 : a.pnlD18 < b.pnlD18 ? 1 : 0));

      for (const { accountId, pnlD18 } of ranked.slice(0, MAX_ADL_PER_MARKET_PER_TICK)) {
        let closedSizeD18: bigint;
        try {
          closedSizeD18 = await chain.simulateAutoDeleverage(accountId, marketId);
        } catch (error) {
          const name = decodeError(error).name;
          // Below the engine's adlMinShare of the market's profit (issue 8): never eligible, not a race.
          if (name === "AdlNotEligible") continue;
          if (name === "AdlNotTriggered" || name === "PositionNotProfitable" || name === "NoPosition") {
            this.raceLost([accountId], "adl_simulation", report);
            continue;
          }
          this.fail("adl_simulation_failed", error, report, { accountId, marketId });
          continue;
        }
        if (this.o.dryRun) {
          log("info", "dry_run_would_adl", { accountId, marketId, pnlD18, closedSizeD18 });
          break; // without sending, the trigger would not move: one planned step is the honest plan
        }
        if (!(await this.gasPriceOk())) return;
        try {
          const tx = await chain.autoDeleverage(accountId, marketId);
          report.adl.push({ accountId, marketId, closedSizeD18 });
          this.o.metrics.inc("keeper_adl_total");
          log("info", "adl", { tx, accountId, marketId, pnlD18, closedSizeD18 });
        } catch (error) {
          this.fail("adl_send_failed", error, report, { accountId, marketId });
        }
        status = await chain.adlStatus(marketId);
        if (!status.triggered) break;
      }
    }
  }

  private async gasPriceOk(): Promise<boolean> {
    if (this.o.maxGasPriceWei === undefined) return true;
    const price = await this.o.chain.gasPrice();
    if (price === undefined || price <= this.o.maxGasPriceWei) return true;
    this.o.log("warn", "gas_price_above_cap", { gasPriceWei: price, maxGasPriceWei: this.o.maxGasPriceWei });
    return false;
  }

  private raceLost(accounts: bigint[], stage: string, report: TickReport): void {
    if (accounts.length === 0) return;
    report.racesLost += accounts.length;
    this.o.metrics.inc("keeper_races_lost_total", accounts.length);
    this.o.log("info", "race_lost", { stage, accounts });
  }

  private fail(msg: string, error: unknown, report: TickReport, fields: Record<string, unknown> = {}): void {
    report.errors += 1;
    this.o.metrics.inc("keeper_errors_total");
    const decoded = decodeError(error);
    this.o.log("error", msg, { ...fields, error: decoded.name, args: decoded.args, detail: decoded.message });
  }
}

/** Unrealised PnL minus funding owed, with the engine's rounding (the SDK's mirror of MarginMath). */
export function positionPnl(p: PositionView, priceD18: bigint, fundingIndexD18: bigint): bigint {
  return (
    math.unrealisedPnl(p.sizeD18, priceD18, p.basisD18) -
    math.fundingOwed(p.sizeD18, fundingIndexD18, p.lastFundingIndexD18)
  );
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** D18 USD as a float, for the metrics only (Prometheus values are floats). */
function toUsd(d18: bigint): number {
  return Number(d18 / 10n ** 12n) / 1e6;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
