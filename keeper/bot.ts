/**
 * The keeper's loop. Each tick:
 *  1. index new engine events (checkpointed) and collect receipts of this keeper's earlier transactions;
 *  2. re-read the accounts the events touched and the markets, and screen every open account off-chain with the
 *     SDK's mirror of the engine, in priority order: touched accounts, then accounts in a market whose price moved,
 *     then the rest (every `fullQuoteEvery` ticks, everything is quoted on chain instead, as a cross-check);
 *  3. confirm the candidates on chain with `liquidationQuotes` (the chain is the final word);
 *  4. rank them by reward minus gas cost, pack them into transactions sized to a gas target, up to the block's
 *     budget, simulate each, and send them all at once at consecutive nonces (unless dry-run);
 *  5. replace transactions stuck for `replaceAfterBlocks`, run ADL where a market triggers it;
 *  6. settle the delayed orders whose ready time has passed and cancel the expired ones (`keeper/orders.ts`, when
 *     `orders` is configured), with the block gas the liquidations left; then the extra tasks (`tasks`: e.g. LP
 *     request settlement, see `keeper/lp-requests.ts`).
 * Liquidations always go first: they are planned against the whole block gas budget and sent at the lowest
 * nonces; tasks get what is left of the budget (`TickContext.gasBudget`).
 * Another keeper winning a race is an expected outcome: it is logged as `race_lost`, counted, and the loop goes on.
 * Nothing in a tick throws out of `tick()`; RPC reads back off and retry inside the adapter, and `run()` backs
 * off between ticks after a failed one.
 */
import { math } from "../sdk/index.js";
import type { Signer, TransactionReceipt } from "ethers";
import { decodeError, type EngineAdapter, type PositionView } from "./chain.js";
import { AccountIndexer } from "./indexer.js";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";
import { HealthMirror } from "./mirror.js";
import {
  DEFAULT_GAS_MODEL,
  batchGas,
  pack,
  rank,
  type Candidate,
  type GasModel,
  type Pricing,
  type Ranked,
} from "./planner.js";
import {
  OrderSettlementTask,
  emptyOrderReport,
  type OrderTaskOptions,
  type OrderTickReport,
} from "./orders.js";
import { backoffDelay } from "./rpc.js";
import { DEFAULT_FEES, TxManager, type FeeOptions, type PendingTx, type TxSpec } from "./txs.js";

const WAD = 10n ** 18n;

/** What the gas of a transaction costs against its reward this tick. */
export interface TickEconomics {
  /** Effective gas price (min(max fee, base fee + tip)) and USD per native token. */
  pricing: Pricing;
  /** The effective gas price is above `maxGasPriceWei`. */
  overGasCap: boolean;
  /** Profit floor in force (D18 USD): `minProfitD18`, or 0 above the gas cap; undefined: no floor. */
  floorD18?: bigint;
}

/** What a task sees of the keeper each tick. */
export interface TickContext {
  head: Head;
  chain: EngineAdapter;
  /** The shared transaction manager (nonces, fees). Send through `send` so that receipts come back to the task. */
  txs: TxManager;
  indexer: AccountIndexer;
  dryRun: boolean;
  log: Logger;
  metrics: Metrics;
  report: TickReport;
  /**
   * This keeper's gas budget for the block (`blockGasBudget`): `remaining()` is what liquidations, ADL and earlier
   * tasks left this tick (liquidations go first); `take(gas)` books what the task sends (or plans, in dry-run).
   */
  gasBudget: { total: bigint; remaining(): bigint; take(gas: bigint): void };
  /** gasLimit = estimate x this / 100 (default 150). */
  gasLimitPercent: bigint;
  /** Gas price, native token price and profit floor, read once per tick. */
  economics(): Promise<TickEconomics>;
  /**
   * Sends `spec` at the next nonce through the shared transaction manager, and routes its receipt to the task's
   * `onReceipt` and, if it gets stuck, the decision to the task's `onStuck`.
   */
  send(spec: TxSpec): Promise<PendingTx>;
  /** Logs `msg` at error level and counts an error; never throws. */
  fail(msg: string, error: unknown, fields?: Record<string, unknown>): void;
}

/**
 * Work a keeper does every tick after liquidations and ADL: order settlement (`keeper/orders.ts`, built in when
 * `orders` is configured) and any extra `tasks` (LP request settlement, `keeper/lp-requests.ts`). A task finds
 * what is due from the tick's `indexer` and chain reads, simulates, and sends through `ctx.send` unless
 * `ctx.dryRun`, within `ctx.gasBudget`. A task's error is logged and counted; it never stops the tick.
 */
export interface KeeperTask {
  name: string;
  run(ctx: TickContext): Promise<void>;
  /**
   * One of this task's transactions resolved: mined (`receipt`, any status), or its nonce consumed by a
   * transaction the keeper did not track (`receipt` null). A stuck transaction replaced by a cancellation arrives
   * with `tx.spec.kind === "cancel"`. Gas is already accounted for.
   */
  onReceipt?(tx: PendingTx, receipt: TransactionReceipt | null, ctx: TickContext): Promise<void>;
  /**
   * One of this task's transactions stayed unmined for `replaceAfterBlocks`: what to send at its nonce instead,
   * with higher fees (default: the same transaction), or "cancel" (a zero-value transfer to self).
   */
  onStuck?(tx: PendingTx, ctx: TickContext): Promise<TxSpec | "cancel">;
}

export interface KeeperOptions {
  chain: EngineAdapter;
  rewardReceiver: string;
  log: Logger;
  metrics: Metrics;
  startBlock: number;
  logRange: number;
  /** Most accounts per liquidation transaction (the gas target usually binds first). */
  batchSize: number;
  dryRun: boolean;
  /** Above this effective gas price, wait, except for accounts whose reward covers their gas. */
  maxGasPriceWei?: bigint;
  /** Accounts per `liquidationQuotes` call (default 200: ~30k gas each, under eth_call gas caps). */
  quoteBatchSize?: number;
  /** Gas per liquidation transaction (default 3M) and per block for this keeper (default 15M). */
  gasTargetPerTx?: bigint;
  blockGasBudget?: bigint;
  gasModel?: GasModel;
  /** gasLimit = estimate x this, in percent (default 150). */
  gasLimitPercent?: bigint;
  /** USD per native token, D18 (default 3000): prices gas against rewards. */
  nativeUsdD18?: bigint;
  /** Skip accounts whose reward minus gas is below this (D18 USD); default: no floor under the gas cap. */
  minProfitD18?: bigint;
  /** The mirror flags accounts within this many bps of maintenance margin for confirmation (default 200). */
  screenMarginBps?: number;
  /** Every this many ticks, quote every open account on chain instead of screening (default 20; 1 = always). */
  fullQuoteEvery?: number;
  fees?: Partial<FeeOptions>;
  /** Index checkpoint file: resume from it on start, save it after each refresh. */
  checkpointFile?: string;
  /**
   * Delayed-order settlement: settle every order whose ready time has passed with the price service's update,
   * cancel expired ones. Runs after liquidations and ADL, with the block gas they left. Unset: orders are ignored.
   */
  orders?: OrderTaskOptions;
  /** More tasks, run after the order task (e.g. LP request settlement, `keeper/lp-requests.ts`). */
  tasks?: KeeperTask[];
  /** Test seam: runs after the quotes and before the simulation (where a competing keeper can strike). */
  afterQuote?: (liquidatable: bigint[]) => Promise<void>;
}

export interface TickReport {
  block: number;
  accounts: number;
  /** Accounts health-checked this tick (off-chain or on chain). */
  screened: number;
  /** Accounts quoted on chain this tick. */
  quoted: number;
  liquidatable: bigint[];
  /** Accounts this keeper's transactions mined in this tick liquidated. */
  liquidated: bigint[];
  /** Accounts sent for liquidation this tick. */
  sent: bigint[];
  rewardD18: bigint;
  gasSpentWei: bigint;
  racesLost: number;
  adl: { accountId: bigint; marketId: number; closedSizeD18: bigint }[];
  /** Delayed orders: what was due, sent, settled and cancelled this tick. */
  orders: OrderTickReport;
  errors: number;
  failed: boolean;
}

type Head = Awaited<ReturnType<EngineAdapter["head"]>>;

export class Keeper {
  readonly indexer: AccountIndexer;
  readonly mirror: HealthMirror;
  readonly txs: TxManager;
  /** The order-settlement task (when `orders` is configured). */
  readonly orders: OrderSettlementTask | undefined;
  private readonly tasks: KeeperTask[];
  /** Which task sent the transaction at each pending nonce. */
  private readonly taskOfNonce = new Map<number, KeeperTask>();
  /** Gas sent (or planned, in dry-run) in the current tick. */
  private gasSentThisTick = 0n;
  /** Transactions tasks sent in the current tick. */
  private taskSendsThisTick = 0;
  /** First block each currently liquidatable account was seen liquidatable. */
  private readonly firstSeen = new Map<bigint, number>();
  /** Accounts in this keeper's unmined transactions. */
  private readonly inFlight = new Set<bigint>();
  private readonly adlInFlight = new Set<number>();
  private ticks = 0;
  private failures = 0;
  private lastHead = -1;
  private gasScalePercent = 100n;

  constructor(private readonly o: KeeperOptions) {
    this.indexer = new AccountIndexer(
      o.chain,
      o.startBlock,
      o.logRange,
      o.checkpointFile === undefined ? undefined : { file: o.checkpointFile, engine: o.chain.address },
    );
    this.mirror = new HealthMirror(o.chain);
    this.txs = new TxManager(
      o.chain.runner as Signer,
      o.chain,
      { ...DEFAULT_FEES, ...o.fees },
      o.log,
      o.metrics,
    );
    this.orders = o.orders === undefined ? undefined : new OrderSettlementTask(o.orders);
    this.tasks = [...(this.orders === undefined ? [] : [this.orders]), ...(o.tasks ?? [])];
  }

  private get gasModel(): GasModel {
    return this.o.gasModel ?? DEFAULT_GAS_MODEL;
  }

  async tick(): Promise<TickReport> {
    const { log, metrics } = this.o;
    const started = performance.now();
    const report: TickReport = {
      block: this.indexer.lastIndexedBlock,
      accounts: 0,
      screened: 0,
      quoted: 0,
      liquidatable: [],
      liquidated: [],
      sent: [],
      rewardD18: 0n,
      gasSpentWei: 0n,
      racesLost: 0,
      adl: [],
      orders: emptyOrderReport(),
      errors: 0,
      failed: false,
    };
    this.gasSentThisTick = 0n;
    this.taskSendsThisTick = 0;
    try {
      const head = await this.o.chain.head();
      this.lastHead = head.number;
      await this.indexer.refresh(head.number);
      report.block = this.indexer.lastIndexedBlock;
      report.accounts = this.indexer.accounts.size;
      metrics.set("keeper_accounts_indexed", report.accounts);
      metrics.set("keeper_indexed_block", report.block);
      const economics = memo(() => this.economics(head));

      await this.collect(head, report, economics);
      const liquidatable = await this.findLiquidatable(head, report);
      if (liquidatable.length > 0) {
        log("info", "liquidatable", { block: head.number, accounts: liquidatable.map((c) => c.accountId) });
      }
      await this.liquidate(liquidatable, head, report, economics);
      await this.collect(head, report, economics); // automining nodes have mined what was just sent
      await this.deleverage(head, report);
      for (const task of this.tasks) {
        try {
          await task.run(this.contextFor(task, head, report, economics));
        } catch (error) {
          this.fail("task_failed", error, report, { task: task.name });
        }
      }
      if (this.taskSendsThisTick > 0) await this.collect(head, report, economics); // automining: mined already
      this.failures = 0;
      metrics.lastError = undefined;
    } catch (error) {
      report.failed = true;
      this.failures += 1;
      this.fail("tick_failed", error, report);
      metrics.lastError = decodeError(error).message;
    }
    this.ticks += 1;
    metrics.inc("keeper_ticks_total");
    metrics.set("keeper_last_tick_timestamp", Math.floor(Date.now() / 1000));
    metrics.observeTickSeconds((performance.now() - started) / 1000);
    metrics.lastTick = {
      block: report.block,
      at: new Date().toISOString(),
      accounts: report.accounts,
      liquidatable: report.liquidatable.length,
      liquidated: report.liquidated.length,
      ordersSettled: report.orders.settled.length,
      pendingTxs: this.txs.pending.size,
      dryRun: this.o.dryRun,
    };
    log("info", "tick", {
      block: report.block,
      accounts: report.accounts,
      screened: report.screened,
      quoted: report.quoted,
      liquidatable: report.liquidatable.length,
      sent: report.sent.length,
      liquidated: report.liquidated.length,
      rewardD18: report.rewardD18,
      gasSpentWei: report.gasSpentWei,
      racesLost: report.racesLost,
      adl: report.adl.length,
      ordersDue: report.orders.due,
      ordersSent: report.orders.sent.length,
      ordersSettled: report.orders.settled.length,
      ordersCancelled: report.orders.cancelled.length,
      pendingTxs: this.txs.pending.size,
      errors: report.errors,
      dryRun: this.o.dryRun,
      ms: Math.round(performance.now() - started),
    });
    return report;
  }

  /** The context `task` runs with this tick; its sends are routed back to it. */
  private contextFor(
    task: KeeperTask,
    head: Head,
    report: TickReport,
    economics: () => Promise<TickEconomics>,
  ): TickContext {
    const total = this.o.blockGasBudget ?? 15_000_000n;
    const gasBudget = {
      total,
      remaining: () => (total > this.gasSentThisTick ? total - this.gasSentThisTick : 0n),
      take: (gas: bigint) => {
        this.gasSentThisTick += gas;
      },
    };
    return {
      head,
      chain: this.o.chain,
      txs: this.txs,
      indexer: this.indexer,
      dryRun: this.o.dryRun,
      log: this.o.log,
      metrics: this.o.metrics,
      report,
      gasBudget,
      gasLimitPercent: this.o.gasLimitPercent ?? 150n,
      economics,
      send: async (spec) => {
        const tx = await this.txs.send(spec, head);
        this.taskOfNonce.set(tx.nonce, task);
        this.taskSendsThisTick += 1;
        return tx;
      },
      fail: (msg, error, fields) => this.fail(msg, error, report, fields),
    };
  }

  /** Gas price against the cap and the profit floor, as liquidations and tasks price their transactions. */
  private async economics(head: Head): Promise<TickEconomics> {
    const fees = await this.txs.currentFees(head.baseFeePerGas);
    const gasPriceWei = min(fees.maxFeePerGas, head.baseFeePerGas + fees.maxPriorityFeePerGas);
    const overGasCap = this.o.maxGasPriceWei !== undefined && gasPriceWei > this.o.maxGasPriceWei;
    return {
      pricing: { gasPriceWei, nativeUsdD18: this.o.nativeUsdD18 ?? 3000n * WAD },
      overGasCap,
      floorD18: overGasCap ? (this.o.minProfitD18 ?? 0n) : this.o.minProfitD18,
    };
  }

  /**
   * Ticks on every new block (polled every `pollMs`) until `signal` aborts; the current tick always finishes
   * first. After a failed tick, waits with exponential backoff (capped at `maxBackoffMs`) instead.
   */
  async run(pollMs: number, signal: AbortSignal, maxBackoffMs = 60_000): Promise<void> {
    while (!signal.aborted) {
      let head: number | undefined;
      try {
        head = await this.o.chain.blockNumber();
      } catch (error) {
        this.failures += 1;
        this.o.log("warn", "rpc_unavailable", { error: decodeError(error).message, failures: this.failures });
      }
      if (head !== undefined && (head !== this.lastHead || this.txs.pending.size > 0)) await this.tick();
      const wait =
        this.failures > 0
          ? Math.max(pollMs, backoffDelay(this.failures, { baseMs: pollMs, maxMs: maxBackoffMs }))
          : pollMs;
      await sleep(wait, signal);
    }
  }

  /* ------------------------------------------- finding ------------------------------------------------- */

  private async findLiquidatable(head: Head, report: TickReport): Promise<Candidate[]> {
    const { chain, metrics, log } = this.o;
    const touched = this.indexer.takeTouched();
    const open = this.indexer.withPositions();
    const isOpen = new Set(open);
    const stale = new Set<bigint>();
    for (const id of touched.accounts) {
      if (isOpen.has(id)) stale.add(id);
      else this.mirror.states.delete(id);
    }
    for (const id of open) if (!this.mirror.states.has(id)) stale.add(id);
    const moved = await this.mirror.refresh(head.number, stale);
    for (const m of touched.markets) moved.add(m);

    // Priority: touched accounts, then accounts in a moved market, then the rest.
    const first: bigint[] = [];
    const second: bigint[] = [];
    const rest: bigint[] = [];
    for (const id of open) {
      if (touched.accounts.has(id)) first.push(id);
      else if ([...(this.indexer.accounts.get(id)?.sizes.keys() ?? [])].some((m) => moved.has(m)))
        second.push(id);
      else rest.push(id);
    }
    const ordered = [...first, ...second, ...rest].filter((id) => !this.inFlight.has(id));
    report.screened = ordered.length;
    metrics.inc("keeper_accounts_screened_total", ordered.length);

    const every = this.o.fullQuoteEvery ?? 20;
    const full = every <= 1 || this.ticks % every === 0;
    const margin = this.o.screenMarginBps ?? 200;
    const screened = this.mirror.screen(ordered, margin);
    const toQuote = full ? ordered : screened;
    report.quoted = toQuote.length;

    const size = this.o.quoteBatchSize ?? 200;
    const found: Candidate[] = [];
    const batches = chunks(toQuote, size);
    const quotes = await Promise.all(batches.map((ids) => chain.liquidationQuotes(ids, head.number)));
    for (const q of quotes.flat()) {
      if (!q.liquidatable) continue;
      if (!this.firstSeen.has(q.accountId)) this.firstSeen.set(q.accountId, head.number);
      found.push({
        accountId: q.accountId,
        rewardD18: q.keeperRewardD18,
        positions: this.mirror.positionCount(q.accountId),
        firstSeenBlock: this.firstSeen.get(q.accountId)!,
      });
    }
    if (full) {
      const flagged = new Set(screened);
      const missed = found.filter((c) => !flagged.has(c.accountId)).map((c) => c.accountId);
      if (missed.length > 0) {
        metrics.inc("keeper_mirror_mismatches_total", missed.length);
        log("warn", "mirror_mismatch", { block: head.number, accounts: missed });
      }
    }
    const live = new Set(found.map((c) => c.accountId));
    for (const id of this.firstSeen.keys())
      if (!live.has(id) && !this.inFlight.has(id)) this.firstSeen.delete(id);
    report.liquidatable = found.map((c) => c.accountId);
    return found;
  }

  /* ------------------------------------------- sending ------------------------------------------------- */

  private async liquidate(
    found: Candidate[],
    head: Head,
    report: TickReport,
    economics: () => Promise<TickEconomics>,
  ): Promise<void> {
    if (found.length === 0) return;
    const { chain, log, metrics, rewardReceiver } = this.o;
    await this.o.afterQuote?.(found.map((c) => c.accountId));

    const { pricing, overGasCap: overCap, floorD18: floor } = await economics();
    const gasPriceWei = pricing.gasPriceWei;
    let ranked = rank(found, this.gasModel, pricing);

    if (floor !== undefined) {
      const skipped = ranked.filter((r) => r.netD18 < floor);
      ranked = ranked.filter((r) => r.netD18 >= floor);
      if (skipped.length > 0) {
        metrics.missedOpportunity(overCap ? "gas_price" : "unprofitable", skipped.length);
        log("warn", overCap ? "gas_price_above_cap" : "unprofitable", {
          gasPriceWei,
          maxGasPriceWei: this.o.maxGasPriceWei,
          accounts: skipped.map((r) => r.accountId),
          waiting: skipped.length,
          sending: ranked.length,
        });
      }
    }

    const { batches, overflow } = pack(
      ranked,
      this.gasModel,
      this.o.gasTargetPerTx ?? 3_000_000n,
      this.o.blockGasBudget ?? 15_000_000n,
      this.o.batchSize,
    );
    if (overflow.length > 0) {
      metrics.missedOpportunity("capacity", overflow.length);
      log("info", "deferred", { reason: "block_gas_budget", accounts: overflow.map((r) => r.accountId) });
    }

    // Simulate every batch against the same state (they are disjoint), keep what is still ours to take.
    const simulated = await Promise.all(batches.map((batch) => this.simulate(batch, report)));
    for (const plan of simulated) {
      if (plan === undefined) continue;
      const { batch, liquidated, rewardD18 } = plan;
      const ids = batch.map((r) => r.accountId);
      this.gasSentThisTick += batchGas(this.gasModel, batch);
      if (this.o.dryRun) {
        log("info", "dry_run_would_liquidate", {
          accounts: ids,
          expectedLiquidated: liquidated,
          expectedRewardD18: rewardD18,
          rewardReceiver,
          gasEstimate: batchGas(this.gasModel, batch),
        });
        continue;
      }
      const gasEstimate = batchGas(this.gasModel, batch);
      let gasLimit = (gasEstimate * (this.o.gasLimitPercent ?? 150n) * this.gasScalePercent) / 10_000n;
      if (gasLimit > head.gasLimit) gasLimit = head.gasLimit;
      try {
        const tx = await this.txs.send(
          {
            kind: "liquidate",
            to: chain.address,
            data: chain.encodeLiquidateBatch(ids, rewardReceiver),
            gasLimit,
            accountIds: ids,
            gasEstimate,
          },
          head,
        );
        for (const id of ids) this.inFlight.add(id);
        report.sent.push(...ids);
        log("info", "sent", {
          nonce: tx.nonce,
          hash: tx.hashes[0],
          accounts: ids,
          gasLimit,
          expectedRewardD18: rewardD18,
        });
      } catch (error) {
        metrics.missedOpportunity("send_failed", ids.length);
        this.fail("send_failed", error, report, { accounts: ids });
      }
    }
  }

  /** Simulates one batch; drops accounts another keeper took since the quote (a lost race), then re-simulates. */
  private async simulate(
    batch: Ranked[],
    report: TickReport,
  ): Promise<{ batch: Ranked[]; liquidated: bigint; rewardD18: bigint } | undefined> {
    const { chain, rewardReceiver } = this.o;
    let ids = batch.map((r) => r.accountId);
    try {
      let sim = await chain.simulateLiquidateBatch(ids, rewardReceiver);
      if (sim.liquidated < BigInt(ids.length)) {
        const still = new Set(
          (await chain.liquidationQuotes(ids)).filter((q) => q.liquidatable).map((q) => q.accountId),
        );
        this.raceLost(
          ids.filter((id) => !still.has(id)),
          "simulation",
          report,
        );
        batch = batch.filter((r) => still.has(r.accountId));
        ids = batch.map((r) => r.accountId);
        if (ids.length === 0) return undefined;
        sim = await chain.simulateLiquidateBatch(ids, rewardReceiver);
      }
      return { batch, ...sim };
    } catch (error) {
      this.fail("simulation_failed", error, report, { accounts: ids });
      return undefined;
    }
  }

  /* ---------------------------------------- receipts and stuck txs -------------------------------------- */

  private async collect(
    head: Head,
    report: TickReport,
    economics: () => Promise<TickEconomics>,
  ): Promise<void> {
    const { resolved, stuck } = await this.txs.reconcile(head.number);
    for (const { tx, receipt } of resolved) {
      const task = this.taskOfNonce.get(tx.nonce);
      if (task === undefined) {
        await this.settle(tx, receipt, report);
        continue;
      }
      this.taskOfNonce.delete(tx.nonce);
      if (receipt !== null) this.accountGas(receipt, report);
      try {
        await task.onReceipt?.(tx, receipt, this.contextFor(task, head, report, economics));
      } catch (error) {
        this.fail("task_receipt_failed", error, report, { task: task.name, nonce: tx.nonce });
      }
    }
    for (const tx of stuck) {
      const task = this.taskOfNonce.get(tx.nonce);
      if (task === undefined) {
        await this.unstick(tx, head, report);
        continue;
      }
      try {
        const next =
          tx.spec.kind === "cancel"
            ? "cancel"
            : ((await task.onStuck?.(tx, this.contextFor(task, head, report, economics))) ?? tx.spec);
        await this.txs.replace(tx, next, head);
      } catch (error) {
        this.fail("replace_failed", error, report, { task: task.name, nonce: tx.nonce });
      }
    }
  }

  /** Gas of a mined transaction of this keeper, in the report and the metrics. */
  private accountGas(receipt: TransactionReceipt, report: TickReport): bigint {
    const { metrics } = this.o;
    const spentWei = receipt.gasUsed * receipt.gasPrice;
    report.gasSpentWei += spentWei;
    metrics.inc("keeper_gas_used_total", Number(receipt.gasUsed));
    metrics.inc("keeper_gas_spent_wei_total", Number(spentWei));
    metrics.inc("keeper_gas_spent_usd_total", toUsd((spentWei * (this.o.nativeUsdD18 ?? 3000n * WAD)) / WAD));
    return spentWei;
  }

  private async settle(tx: PendingTx, receipt: TransactionReceipt | null, report: TickReport): Promise<void> {
    const { chain, log, metrics } = this.o;
    for (const id of tx.spec.accountIds) this.inFlight.delete(id);
    if (tx.spec.marketId !== undefined) this.adlInFlight.delete(tx.spec.marketId);
    if (receipt === null) {
      log("warn", "tx_dropped", { nonce: tx.nonce, hashes: tx.hashes, accounts: tx.spec.accountIds });
      return;
    }
    const spentWei = this.accountGas(receipt, report);
    if (tx.spec.kind === "cancel") return;
    if (receipt.status !== 1) {
      this.fail("tx_reverted", new Error(`transaction ${receipt.hash} reverted`), report, {
        kind: tx.spec.kind,
        accounts: tx.spec.accountIds,
      });
      return;
    }
    if (tx.spec.kind === "adl") return;

    const outcome = chain.liquidationsIn(receipt);
    report.liquidated.push(...outcome.liquidatedIds);
    report.rewardD18 += outcome.rewardD18;
    metrics.inc("keeper_liquidations_total", outcome.liquidatedIds.length);
    metrics.inc("keeper_rewards_usd_total", toUsd(outcome.rewardD18));
    for (const id of outcome.liquidatedIds) {
      const seen = this.firstSeen.get(id);
      if (seen !== undefined) metrics.observeLatency(receipt.blockNumber - seen);
      this.firstSeen.delete(id);
    }
    // Calibrate gas limits on what full batches really used (a partly raced batch uses less: ignore it).
    const missed = tx.spec.accountIds.filter((id) => !outcome.liquidatedIds.includes(id));
    if (missed.length === 0 && tx.spec.gasEstimate > 0n) {
      const ratio = (receipt.gasUsed * 100n) / tx.spec.gasEstimate;
      this.gasScalePercent = clamp((this.gasScalePercent * 3n + ratio) / 4n, 100n, 400n);
    }
    log("info", "liquidated", {
      tx: receipt.hash,
      block: receipt.blockNumber,
      accounts: outcome.liquidatedIds,
      rewardD18: outcome.rewardD18,
      gasUsed: receipt.gasUsed,
      gasEstimate: tx.spec.gasEstimate,
      spentWei,
    });
    if (missed.length > 0) this.raceLost(missed, "inclusion", report);
  }

  /** A transaction unmined for `replaceAfterBlocks`: resend what is still liquidatable with higher fees, or cancel. */
  private async unstick(tx: PendingTx, head: Head, report: TickReport): Promise<void> {
    const { chain, rewardReceiver } = this.o;
    try {
      if (tx.spec.kind !== "liquidate") {
        await this.txs.replace(tx, tx.spec.kind === "cancel" ? "cancel" : tx.spec, head);
        return;
      }
      const quotes = await chain.liquidationQuotes(tx.spec.accountIds);
      const still = quotes.filter((q) => q.liquidatable).map((q) => q.accountId);
      const gone = tx.spec.accountIds.filter((id) => !still.includes(id));
      for (const id of gone) this.inFlight.delete(id);
      if (gone.length > 0) this.raceLost(gone, "replacement", report);
      await this.txs.replace(
        tx,
        still.length === 0
          ? "cancel"
          : { ...tx.spec, data: chain.encodeLiquidateBatch(still, rewardReceiver), accountIds: still },
        head,
      );
    } catch (error) {
      this.fail("replace_failed", error, report, { nonce: tx.nonce });
    }
  }

  /* ------------------------------------------------ ADL ------------------------------------------------ */

  /**
   * ADL, per market whose traders' profit is over the trigger: simulate the most profitable indexed positions
   * first (PnL net of funding at the oracle price, as the engine computes it) and send the first that succeeds.
   * One per market per tick: the next tick sees its effect on the trigger.
   */
  private async deleverage(head: Head, report: TickReport): Promise<void> {
    const { chain, log } = this.o;
    const markets = await chain.marketCount();
    for (let marketId = 1; marketId <= markets; marketId++) {
      if (this.adlInFlight.has(marketId)) continue;
      const status = await chain.adlStatus(marketId);
      if (!status.triggered) continue;
      log("warn", "adl_triggered", {
        marketId,
        tradersPnlD18: status.tradersPnlD18,
        triggerD18: status.triggerD18,
      });

      const marks = await chain.marketMarks(marketId);
      const ranked: { accountId: bigint; pnlD18: bigint }[] = [];
      for (const accountId of this.indexer.inMarket(marketId)) {
        const position = this.mirror.states.get(accountId)?.positions.find((p) => p.marketId === marketId);
        if (position === undefined) continue;
        const pnlD18 = positionPnl(position, marks.priceD18, marks.fundingIndexD18);
        if (pnlD18 > 0n) ranked.push({ accountId, pnlD18 });
      }
      ranked.sort((a, b) => (a.pnlD18 > b.pnlD18 ? -1 : a.pnlD18 < b.pnlD18 ? 1 : 0));

      for (const { accountId, pnlD18 } of ranked.slice(0, 10)) {
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
          break;
        }
        try {
          const tx = await this.txs.send(
            {
              kind: "adl",
              to: chain.address,
              data: chain.encodeAutoDeleverage(accountId, marketId),
              gasLimit: 500_000n,
              accountIds: [accountId],
              marketId,
              gasEstimate: 150_000n,
            },
            head,
          );
          this.adlInFlight.add(marketId);
          this.gasSentThisTick += 150_000n;
          report.adl.push({ accountId, marketId, closedSizeD18 });
          this.o.metrics.inc("keeper_adl_total");
          log("info", "adl", { tx: tx.hashes[0], accountId, marketId, pnlD18, closedSizeD18 });
        } catch (error) {
          this.fail("adl_send_failed", error, report, { accountId, marketId });
        }
        break;
      }
    }
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

/** `fn` called at most once; later calls get the first call's promise. */
function memo<T>(fn: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= fn());
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function clamp(v: bigint, lo: bigint, hi: bigint): bigint {
  return v < lo ? lo : v > hi ? hi : v;
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
