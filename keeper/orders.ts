/**
 * Delayed-order settlement, the keeper's second task next to liquidation. Each tick, after liquidations and ADL:
 *
 *  1. take the pending orders from the index (`OrderCommitted` minus `OrderSettled`/`OrderCancelled`,
 *     checkpointed with the accounts) and the engine's order params: an order is **due** from
 *     `readyTime = commitTime + minDelay` while the next block can still be within `expiryTime = commitTime +
 *     maxDelay`, and **expired** once the head is past `expiryTime`;
 *  2. above the gas price cap, keep only settlements whose reward (fixed at commit, from the event) covers their
 *     gas plus `minProfitUsd` (expired orders, which pay nothing to clean up, wait); pack settlements (oldest
 *     ready time first), then cancellations, into the block gas the liquidations left (`ctx.gasBudget`):
 *     liquidations keep priority, what does not fit waits for the next block (failure reason `capacity`);
 *  3. for each settlement that fits, ask the price service for the update proving the market's price (the pull
 *     feed's Pyth price id) at the order's ready time: the first price published at or after it, which is what
 *     the engine accepts (one request per price id and ready time); the fee sent is the pull feed's `updateFee`
 *     for that data, exactly; without an update the order waits (`price_unavailable`);
 *  4. simulate each with `eth_call` (`settleOrder` / `cancelOrder` staticCall, and its gas estimate) and send
 *     what passes, one transaction per order (the engine has no batch entry point for orders) at consecutive
 *     nonces, through the keeper's transaction manager (fees, stuck-transaction replacement);
 *  5. from receipts: orders settled and the reward, the settlement latency in seconds from the ready time, the
 *     orders cancelled.
 *
 * Races are expected: an order another keeper (or a liquidation of its market) settled or cancelled first is a
 * lost race (`NoPendingOrder` in simulation, a reverted transaction whose order is gone, or gone before a
 * replacement), logged `order_race_lost` and counted in `keeper_order_races_lost_total`, never an error. An order
 * the engine refuses (slippage, margin, divergence from the mark...) stays until it settles or expires: the refusal
 * is counted once per order under the custom error's name in `keeper_order_failures_total{reason}`.
 */
import type { TransactionReceipt } from "ethers";
import type { PriceService, PriceUpdate } from "../sdk/pyth.js";
import type { KeeperTask, TickContext } from "./bot.js";
import { decodeError, type OrderParamsView } from "./chain.js";
import { orderKey, type IndexedOrder } from "./indexer.js";
import { gasCostD18 } from "./planner.js";
import type { PendingTx, TxSpec } from "./txs.js";

export interface OrderRef {
  accountId: bigint;
  marketId: number;
}

/** What the order task did in one tick. */
export interface OrderTickReport {
  /** Pending orders in the index. */
  pending: number;
  /** Ready for settlement (not already in one of this keeper's unmined transactions). */
  due: number;
  /** Past their expiry. */
  expired: number;
  /** Settlements sent this tick. */
  sent: OrderRef[];
  /** Cancellations sent this tick. */
  cancelSent: OrderRef[];
  /** Settled by this keeper's transactions mined this tick. */
  settled: OrderRef[];
  /** Cancelled by this keeper's transactions mined this tick. */
  cancelled: OrderRef[];
  /** Settlement rewards of `settled` (D18 USD). */
  rewardD18: bigint;
  racesLost: number;
  /** Did not fit in the block gas left by liquidations: next block. */
  deferred: number;
  /** Not settled (cancelled) this tick for any other reason (price, simulation, gas price, send). */
  failed: number;
}

export function emptyOrderReport(): OrderTickReport {
  return {
    pending: 0,
    due: 0,
    expired: 0,
    sent: [],
    cancelSent: [],
    settled: [],
    cancelled: [],
    rewardD18: 0n,
    racesLost: 0,
    deferred: 0,
    failed: 0,
  };
}

/**
 * Gas the planner books against the block budget: a settlement (`settle`, plus `open` when it opens the market's
 * position, plus `perPosition` for each other position of the account) and a cancellation. Planning only: each
 * transaction's gas limit comes from its own `eth_estimateGas` (x `gasLimitPercent`), made with the simulation.
 */
export interface OrderGasModel {
  settle: bigint;
  open: bigint;
  perPosition: bigint;
  cancel: bigint;
}

/**
 * Measured on the local deployment (MockPyth): a settlement changing an existing position ~175-190k, opening one
 * in a fresh account ~335k; bench/gas-report.json's settleOrder16 ~575k (~27k per further position); cancelOrder
 * ~35k. A real Pyth contract verifies the update too (tens of thousands more): raise `settle` there.
 */
export const DEFAULT_ORDER_GAS_MODEL: OrderGasModel = {
  settle: 190_000n,
  open: 150_000n,
  perPosition: 28_000n,
  cancel: 45_000n,
};

export interface OrderTaskOptions {
  /** Where settlement prices come from; without one, nothing is settled (expired orders are still cancelled). */
  priceService?: PriceService;
  /** Settle due orders (default true). */
  settle?: boolean;
  /** Cancel expired orders: fee-free clean-up, paid in gas only (default true). */
  cancelExpired?: boolean;
  gasModel?: OrderGasModel;
  /** Concurrent price-service requests (default 8). */
  concurrency?: number;
  /** Runs at the start of each tick's run, before prices are read (local mode: the price publisher's sync). */
  beforeRun?: () => Promise<void>;
  /** Test seam: after planning, before the simulation (where a competing keeper can strike). */
  beforeSimulate?: (orders: OrderRef[]) => Promise<void>;
}

/** A pending order with the times the engine derives from its params. */
export interface TimedOrder extends IndexedOrder {
  readyTime: bigint;
  expiryTime: bigint;
}

/**
 * Which orders to settle and to cancel with the head at `now`. Due: `readyTime <= now < expiryTime` (the
 * settling transaction lands in a later block, at most `expiryTime` if sent now). Expired: `now > expiryTime`
 * (`cancelOrder` needs `block.timestamp > expiryTime`, and is simulated at the head). Oldest ready time first.
 */
export function classifyOrders(
  orders: Iterable<IndexedOrder>,
  params: Pick<OrderParamsView, "minDelay" | "maxDelay">,
  now: bigint,
): { due: TimedOrder[]; expired: TimedOrder[]; waiting: number } {
  const due: TimedOrder[] = [];
  const expired: TimedOrder[] = [];
  let waiting = 0;
  for (const o of orders) {
    const timed = {
      ...o,
      readyTime: o.commitTime + params.minDelay,
      expiryTime: o.commitTime + params.maxDelay,
    };
    if (now > timed.expiryTime) expired.push(timed);
    else if (now >= timed.readyTime && now < timed.expiryTime) due.push(timed);
    else waiting += 1;
  }
  const byAge = (a: TimedOrder, b: TimedOrder) =>
    a.readyTime !== b.readyTime
      ? a.readyTime < b.readyTime
        ? -1
        : 1
      : a.accountId !== b.accountId
        ? a.accountId < b.accountId
          ? -1
          : 1
        : a.marketId - b.marketId;
  return { due: due.sort(byAge), expired: expired.sort(byAge), waiting };
}

/**
 * Takes items in order while their gas fits in `remaining`; the rest overflows to the next block. When nothing
 * was sent this tick (`remaining === total`), the first item goes even if it alone exceeds the budget.
 */
export function packOrders<T extends { gas: bigint }>(
  items: T[],
  remaining: bigint,
  total: bigint,
): { take: T[]; overflow: T[] } {
  const take: T[] = [];
  let left = remaining;
  let i = 0;
  for (; i < items.length; i++) {
    const fits = items[i].gas <= left || (take.length === 0 && remaining === total);
    if (!fits) break;
    take.push(items[i]);
    left = left > items[i].gas ? left - items[i].gas : 0n;
  }
  return { take, overflow: items.slice(i) };
}

interface SettlePlan {
  action: "settle";
  order: TimedOrder;
  gas: bigint;
  rewardD18: bigint;
}

interface CancelPlan {
  action: "cancel";
  order: TimedOrder;
  gas: bigint;
}

type Plan = SettlePlan | CancelPlan;

/** A plan ready to simulate: a settlement with its price update, or a cancellation. */
type PricedPlan = (SettlePlan & { update: PriceUpdate }) | CancelPlan;

/** What a plan's simulation returned: its gas estimate and, for a settlement, the expected fill and fee. */
type Simulation = { gas: bigint } | { gas: bigint; fillPriceD18: bigint; feeD18: bigint };

/** An order in one of this keeper's unmined transactions. */
interface Sent {
  action: "settle" | "cancel";
  accountId: bigint;
  marketId: number;
  commitTime: bigint;
  readyTime: bigint;
  expiryTime: bigint;
}

const ref = (o: { accountId: bigint; marketId: number }): OrderRef => ({
  accountId: o.accountId,
  marketId: o.marketId,
});

/** D18 USD as a float, for the metrics only. */
const toUsd = (d18: bigint): number => Number(d18 / 10n ** 12n) / 1e6;

export class OrderSettlementTask implements KeeperTask {
  readonly name = "orders";
  /** Orders by the nonce of the transaction carrying them. */
  private readonly inFlight = new Map<number, Sent[]>();
  /** Keys of the orders in `inFlight`. */
  private readonly busy = new Set<string>();
  /** Failure reasons already counted, per order instance (`key@commitTime`). */
  private readonly counted = new Map<string, Set<string>>();

  constructor(private readonly o: OrderTaskOptions) {}

  private get gasModel(): OrderGasModel {
    return this.o.gasModel ?? DEFAULT_ORDER_GAS_MODEL;
  }

  async run(ctx: TickContext): Promise<void> {
    const { head, indexer, chain, metrics, report } = ctx;
    const r = report.orders;
    await this.o.beforeRun?.();
    r.pending = indexer.orders.size;
    metrics.set("keeper_orders_pending", r.pending);
    this.forgetGone(ctx);
    if (indexer.orders.size === 0) return;

    const params = await chain.orderParams(head.number);
    if (params.maxDelay === 0n) return; // orders not configured
    const idle = [...indexer.orders.values()].filter(
      (o) => !this.busy.has(orderKey(o.accountId, o.marketId)),
    );
    const { due, expired } = classifyOrders(idle, params, head.timestamp);
    r.due = due.length;
    r.expired = expired.length;
    const toSettle = this.o.settle === false || this.o.priceService === undefined ? [] : due;
    const toCancel = this.o.cancelExpired === false ? [] : expired;
    if (toSettle.length + toCancel.length === 0) return;

    let settlements = toSettle.map((order) => this.settlePlan(order, ctx));
    let cancels: CancelPlan[] = toCancel.map((order) => ({
      action: "cancel",
      order,
      gas: this.gasModel.cancel,
    }));

    const { pricing, overGasCap, floorD18 } = await ctx.economics();
    if (floorD18 !== undefined) {
      const reason = overGasCap ? "gas_price" : "unprofitable";
      settlements = settlements.filter((p) => {
        const netD18 = p.rewardD18 - gasCostD18(p.gas, pricing);
        if (netD18 >= floorD18) return true;
        this.failure(p, reason, ctx, { netD18, gasPriceWei: pricing.gasPriceWei });
        return false;
      });
    }
    if (overGasCap) {
      for (const p of cancels) this.failure(p, "gas_price", ctx, { gasPriceWei: pricing.gasPriceWei });
      cancels = [];
    }

    // Liquidations went first; settlements, then clean-up, get what they left of the block.
    const { take, overflow } = packOrders<Plan>(
      [...settlements, ...cancels],
      ctx.gasBudget.remaining(),
      ctx.gasBudget.total,
    );
    if (overflow.length > 0) {
      r.deferred += overflow.length;
      for (const p of overflow) this.failure(p, "capacity", ctx, {}, false);
      ctx.log("info", "orders_deferred", {
        reason: "block_gas_budget",
        orders: overflow.map((p) => `${p.order.accountId}:${p.order.marketId}`),
      });
    }
    // Prices only for what fits: a flood of due orders does not become a flood of price-service requests.
    const ready = await this.priced(take, ctx);
    if (ready.length === 0) return;
    await this.o.beforeSimulate?.(ready.map((p) => ref(p.order)));

    const simulated = await Promise.all(ready.map((p) => this.simulate(p, ctx)));
    for (const [i, plan] of ready.entries()) {
      const sim = simulated[i];
      if (sim === undefined) continue;
      await this.send(plan, sim, ctx);
    }
  }

  /** A due order's settlement: the gas the planner books for it and the reward it pays. */
  private settlePlan(order: TimedOrder, ctx: TickContext): SettlePlan {
    const sizes = ctx.indexer.accounts.get(order.accountId)?.sizes;
    const opens = sizes?.has(order.marketId) !== true;
    const others = (sizes?.size ?? 0) - (opens ? 0 : 1);
    const { settle, open, perPosition } = this.gasModel;
    const gas = settle + (opens ? open : 0n) + perPosition * BigInt(others);
    return { action: "settle", order, gas, rewardD18: order.rewardD18 };
  }

  /**
   * Fetches the update of each settlement among `plans` (one request per price id and ready time); settlements
   * without one are dropped (`price_unavailable`: the order waits for a later tick). Cancellations pass through.
   */
  private async priced(plans: Plan[], ctx: TickContext): Promise<PricedPlan[]> {
    const { chain, log } = ctx;
    const due = plans.filter((p): p is SettlePlan => p.action === "settle").map((p) => p.order);
    const markets = new Map<number, Promise<{ pullFeed: string; priceId: string } | undefined>>();
    const marketOf = (id: number) => {
      if (!markets.has(id)) markets.set(id, chain.pullFeedOf(id));
      return markets.get(id)!;
    };
    const feeds = await Promise.all(due.map((o) => marketOf(o.marketId)));

    const groups = new Map<string, { priceId: string; readyTime: bigint }>();
    due.forEach((o, i) => {
      const feed = feeds[i];
      if (feed !== undefined)
        groups.set(`${feed.priceId}:${o.readyTime}`, { priceId: feed.priceId, readyTime: o.readyTime });
    });
    const updates = new Map<string, PriceUpdate | Error | undefined>();
    const entries = [...groups.entries()];
    const width = this.o.concurrency ?? 8;
    for (let i = 0; i < entries.length; i += width) {
      await Promise.all(
        entries.slice(i, i + width).map(async ([key, g]) => {
          try {
            updates.set(key, await this.o.priceService!.updateAt(g.priceId, g.readyTime));
          } catch (error) {
            updates.set(key, error as Error);
            log("warn", "price_service_error", {
              priceId: g.priceId,
              publishTime: g.readyTime,
              error: (error as Error).message?.split("\n")[0],
            });
          }
        }),
      );
    }

    const out: PricedPlan[] = [];
    let i = 0;
    for (const plan of plans) {
      if (plan.action === "cancel") {
        out.push(plan);
        continue;
      }
      const { order } = plan;
      const feed = feeds[i++];
      const update = feed === undefined ? undefined : updates.get(`${feed.priceId}:${order.readyTime}`);
      if (update === undefined || update instanceof Error) {
        this.failure({ action: "settle", order }, "price_unavailable", ctx, {
          readyTime: order.readyTime,
          detail:
            feed === undefined
              ? "market has no pull feed"
              : (update?.message ?? "no update for the ready time"),
        });
        continue;
      }
      out.push({ ...plan, update });
    }
    return out;
  }

  /** The eth_call and gas estimate of one plan (the expected fill for a settlement); undefined: drop it. */
  private async simulate(plan: PricedPlan, ctx: TickContext): Promise<Simulation | undefined> {
    const { chain, log } = ctx;
    const { accountId, marketId } = plan.order;
    try {
      if (plan.action === "cancel") {
        return await chain.simulateCancelOrder(accountId, marketId);
      }
      return await chain.simulateSettleOrder(accountId, marketId, plan.update.data, plan.update.feeWei);
    } catch (error) {
      const decoded = decodeError(error);
      if (decoded.name === "NoPendingOrder") {
        this.raceLost(plan.order, "simulation", ctx);
      } else if (["OrderExpired", "OrderNotReady", "OrderNotExpired"].includes(decoded.name)) {
        // A clock edge: the head's time moved the order across a boundary. The next tick sees it right.
        log("debug", "order_not_due", { accountId, marketId, error: decoded.name, args: decoded.args });
      } else {
        this.failure(plan, decoded.name, ctx, { args: decoded.args, detail: decoded.message });
      }
      return undefined;
    }
  }

  private async send(plan: PricedPlan, sim: Simulation, ctx: TickContext): Promise<void> {
    const { chain, head, log, report } = ctx;
    const { accountId, marketId } = plan.order;
    ctx.gasBudget.take(sim.gas);
    const fields =
      plan.action === "settle" && "fillPriceD18" in sim
        ? {
            accountId,
            marketId,
            readyTime: plan.order.readyTime,
            priceD18: plan.update.priceD18,
            publishTime: plan.update.publishTime,
            feeWei: plan.update.feeWei,
            expectedFillD18: sim.fillPriceD18,
            expectedRewardD18: plan.rewardD18,
            gasEstimate: sim.gas,
          }
        : { accountId, marketId, expiryTime: plan.order.expiryTime, gasEstimate: sim.gas };
    if (ctx.dryRun) {
      log("info", plan.action === "settle" ? "dry_run_would_settle" : "dry_run_would_cancel_order", fields);
      return;
    }
    let gasLimit = (sim.gas * ctx.gasLimitPercent) / 100n;
    if (gasLimit > head.gasLimit) gasLimit = head.gasLimit;
    const spec: TxSpec =
      plan.action === "settle"
        ? {
            kind: "settleOrder",
            to: chain.address,
            data: chain.encodeSettleOrder(accountId, marketId, plan.update.data),
            value: plan.update.feeWei,
            gasLimit,
            accountIds: [accountId],
            marketId,
            gasEstimate: sim.gas,
          }
        : {
            kind: "cancelOrder",
            to: chain.address,
            data: chain.encodeCancelOrder(accountId, marketId),
            gasLimit,
            accountIds: [accountId],
            marketId,
            gasEstimate: sim.gas,
          };
    try {
      const tx = await ctx.send(spec);
      this.inFlight.set(tx.nonce, [
        {
          action: plan.action,
          accountId,
          marketId,
          commitTime: plan.order.commitTime,
          readyTime: plan.order.readyTime,
          expiryTime: plan.order.expiryTime,
        },
      ]);
      this.busy.add(orderKey(accountId, marketId));
      (plan.action === "settle" ? report.orders.sent : report.orders.cancelSent).push(ref(plan.order));
      log("info", plan.action === "settle" ? "order_settle_sent" : "order_cancel_sent", {
        nonce: tx.nonce,
        hash: tx.hashes[0],
        gasLimit,
        ...fields,
      });
    } catch (error) {
      this.failure(plan, "send_failed", ctx, { detail: decodeError(error).message });
      ctx.fail("send_failed", error, { task: this.name, accountId, marketId });
    }
  }

  async onReceipt(tx: PendingTx, receipt: TransactionReceipt | null, ctx: TickContext): Promise<void> {
    const { chain, log, metrics, report } = ctx;
    const sent = this.inFlight.get(tx.nonce) ?? [];
    this.inFlight.delete(tx.nonce);
    for (const s of sent) this.busy.delete(orderKey(s.accountId, s.marketId));
    if (receipt === null) {
      log("warn", "tx_dropped", { nonce: tx.nonce, hashes: tx.hashes, orders: sent.map(keyOf) });
      return;
    }
    if (tx.spec.kind === "cancel") return; // replaced by a transfer to self: nothing was left to do
    if (receipt.status !== 1) {
      for (const s of sent) {
        const now = await chain.order(s.accountId, s.marketId, receipt.blockNumber);
        if (now.commitTime !== s.commitTime) {
          this.raceLost(s, "inclusion", ctx);
        } else {
          this.failure({ action: s.action, order: s }, "reverted", ctx, { tx: receipt.hash });
          ctx.fail("tx_reverted", new Error(`transaction ${receipt.hash} reverted`), {
            kind: tx.spec.kind,
            order: keyOf(s),
          });
        }
      }
      return;
    }
    const outcome = chain.ordersIn(receipt);
    const timestamp = outcome.settled.length > 0 ? await chain.blockTimestamp(receipt.blockNumber) : 0n;
    for (const e of outcome.settled) {
      const s = sent.find((x) => x.accountId === e.accountId && x.marketId === e.marketId);
      const latencySeconds = s === undefined ? undefined : Number(timestamp - s.readyTime);
      if (latencySeconds !== undefined) metrics.observeOrderLatency(latencySeconds);
      metrics.inc("keeper_orders_settled_total");
      metrics.inc("keeper_order_rewards_usd_total", toUsd(e.rewardD18));
      report.orders.settled.push(ref(e));
      report.orders.rewardD18 += e.rewardD18;
      log("info", "order_settled", {
        tx: receipt.hash,
        block: receipt.blockNumber,
        accountId: e.accountId,
        marketId: e.marketId,
        priceD18: e.priceD18,
        publishTime: e.publishTime,
        rewardD18: e.rewardD18,
        latencySeconds,
        gasUsed: receipt.gasUsed,
      });
    }
    for (const e of outcome.cancelled) {
      metrics.inc("keeper_orders_cancelled_total");
      report.orders.cancelled.push(ref(e));
      log("info", "order_cancelled", {
        tx: receipt.hash,
        block: receipt.blockNumber,
        accountId: e.accountId,
        marketId: e.marketId,
      });
    }
  }

  /** Resend a stuck settlement or cancellation while its order is still pending (and, to settle, not expired). */
  async onStuck(tx: PendingTx, ctx: TickContext): Promise<TxSpec | "cancel"> {
    const sent = this.inFlight.get(tx.nonce) ?? [];
    let live = sent.length > 0;
    for (const s of sent) {
      const now = await ctx.chain.order(s.accountId, s.marketId);
      if (now.commitTime !== s.commitTime) {
        this.raceLost(s, "replacement", ctx);
        live = false;
      } else if (s.action === "settle" && ctx.head.timestamp + 1n > s.expiryTime) {
        live = false; // too late to settle; a later tick cancels it
      }
    }
    return live ? tx.spec : "cancel";
  }

  private raceLost(o: OrderRef, stage: string, ctx: TickContext): void {
    ctx.report.orders.racesLost += 1;
    ctx.metrics.inc("keeper_order_races_lost_total");
    ctx.log("info", "order_race_lost", { stage, accountId: o.accountId, marketId: o.marketId });
  }

  /**
   * An order not settled (cancelled) this tick: counted in the report every time, in the metric and at warn once
   * per order and reason (a refused order is retried every tick until it settles or expires).
   */
  private failure(
    plan: { action: "settle" | "cancel"; order: Pick<IndexedOrder, "accountId" | "marketId" | "commitTime"> },
    reason: string,
    ctx: TickContext,
    fields: Record<string, unknown> = {},
    countInReport = true,
  ): void {
    const { order } = plan;
    if (countInReport) ctx.report.orders.failed += 1;
    const instance = `${orderKey(order.accountId, order.marketId)}@${order.commitTime}`;
    const reasons = this.counted.get(instance) ?? new Set<string>();
    const first = !reasons.has(reason);
    reasons.add(reason);
    this.counted.set(instance, reasons);
    if (first) ctx.metrics.orderFailure(reason);
    ctx.log(first ? "warn" : "debug", "order_failed", {
      action: plan.action,
      reason,
      accountId: order.accountId,
      marketId: order.marketId,
      ...fields,
    });
  }

  /** Forgets the counted failures of orders no longer pending. */
  private forgetGone(ctx: TickContext): void {
    for (const instance of this.counted.keys()) {
      const [key, commitTime] = instance.split("@");
      if (ctx.indexer.orders.get(key)?.commitTime.toString() !== commitTime) this.counted.delete(instance);
    }
  }
}

const keyOf = (o: OrderRef) => orderKey(o.accountId, o.marketId);
