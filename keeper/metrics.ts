/**
 * Prometheus metrics (prom-client, one registry per keeper so that two keepers can share a process) and the
 * `/metrics` + `/health` HTTP endpoints, bound to 127.0.0.1 only.
 *
 * Counters and gauges are mirrored in a plain map so that the demo, the stress harness and tests can read them
 * synchronously with `get()`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

const COUNTERS = {
  keeper_ticks_total: "Ticks completed",
  keeper_liquidations_total: "Accounts liquidated by this keeper (from receipts)",
  keeper_rewards_usd_total: "Keeper rewards received, in USD",
  keeper_gas_used_total: "Gas used by this keeper's mined transactions",
  keeper_gas_spent_wei_total: "Fees paid for this keeper's mined transactions, in wei of the native token",
  keeper_gas_spent_usd_total:
    "Fees paid for this keeper's mined transactions, in USD at the configured native price",
  keeper_races_lost_total:
    "Liquidatable accounts another keeper closed first (at simulation, inclusion or replacement)",
  keeper_adl_total: "Positions auto-deleveraged by this keeper",
  keeper_errors_total: "Errors (failed calls, reverted transactions, failed ticks)",
  keeper_rpc_retries_total: "RPC calls retried after a transient error",
  keeper_txs_sent_total: "Transactions sent (replacements included)",
  keeper_txs_replaced_total: "Stuck transactions replaced with higher fees (or cancelled)",
  keeper_accounts_screened_total: "Account health checks (off-chain mirror or on-chain quote)",
  keeper_mirror_mismatches_total: "Accounts the off-chain screen and the on-chain quote disagreed on",
  keeper_orders_settled_total: "Delayed orders settled by this keeper (from receipts)",
  keeper_orders_cancelled_total: "Expired orders cancelled by this keeper (from receipts)",
  keeper_order_rewards_usd_total: "Order settlement rewards received, in USD",
  keeper_order_races_lost_total:
    "Orders another keeper (or a liquidation) settled or cancelled first (at simulation, inclusion or replacement)",
  keeper_lp_requests_settled_total:
    "LP requests settled by this keeper (the LP request task, when installed)",
  keeper_volatility_pokes_total: "Volatility estimator samples taken by this keeper (the volatility task)",
  keeper_volatility_syncs_total: "Engine volatility multipliers synced by this keeper (the volatility task)",
} as const;

const GAUGES = {
  keeper_accounts_indexed: "Accounts known to the indexer",
  keeper_indexed_block: "Last block whose events are indexed (the checkpoint)",
  keeper_pending_txs: "This keeper's transactions sent and not yet mined",
  keeper_last_tick_timestamp: "Unix time of the last completed tick, in seconds",
  keeper_orders_pending: "Pending delayed orders in the index",
} as const;

/** Why a confirmed liquidatable account was not sent this tick. */
export const MISSED_REASONS = ["gas_price", "unprofitable", "capacity", "send_failed"] as const;
export type MissedReason = (typeof MISSED_REASONS)[number];

/**
 * Why an order due for settlement (or expired, for cancellation) was not settled (cancelled) in the tick that saw
 * it: these are always present; a settlement the engine refuses in simulation is counted under its custom error's
 * name (`PriceDivergence`, `SlippageExceeded`, `InsufficientMargin`...).
 */
export const ORDER_FAILURE_REASONS = [
  "price_unavailable",
  "capacity",
  "gas_price",
  "unprofitable",
  "send_failed",
  "reverted",
] as const;

export type CounterName = keyof typeof COUNTERS;
export type GaugeName = keyof typeof GAUGES;
export type MetricName = CounterName | GaugeName;

export interface TickInfo {
  block: number;
  at: string;
  accounts: number;
  liquidatable: number;
  liquidated: number;
  ordersSettled: number;
  pendingTxs: number;
  dryRun: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  lastTick: TickInfo | undefined;
  /** The last tick's error, cleared by a tick that completes without one. */
  lastError: string | undefined;
  private readonly counters = new Map<CounterName, Counter>();
  private readonly gauges = new Map<GaugeName, Gauge>();
  private readonly values = new Map<MetricName, number>();
  private readonly missed: Counter<"reason">;
  private readonly missedValues = new Map<MissedReason, number>();
  private readonly latency: Histogram;
  private readonly tickSeconds: Histogram;
  private readonly orderFailures: Counter<"reason">;
  private readonly orderFailureValues = new Map<string, number>();
  private readonly orderLatency: Histogram;

  constructor() {
    const registers = [this.registry];
    for (const [name, help] of Object.entries(COUNTERS) as [CounterName, string][]) {
      this.counters.set(name, new Counter({ name, help, registers }));
      this.values.set(name, 0);
    }
    for (const [name, help] of Object.entries(GAUGES) as [GaugeName, string][]) {
      this.gauges.set(name, new Gauge({ name, help, registers }));
      this.values.set(name, 0);
    }
    this.missed = new Counter({
      name: "keeper_missed_opportunities_total",
      help: "Confirmed liquidatable accounts not sent in the tick that saw them, by reason",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of MISSED_REASONS) {
      this.missed.inc({ reason }, 0);
      this.missedValues.set(reason, 0);
    }
    this.latency = new Histogram({
      name: "keeper_liquidation_latency_blocks",
      help: "Blocks from the block an account was first seen liquidatable to the block that liquidated it",
      buckets: [0, 1, 2, 3, 5, 10, 20],
      registers,
    });
    this.tickSeconds = new Histogram({
      name: "keeper_tick_duration_seconds",
      help: "Wall time of one tick",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.orderFailures = new Counter({
      name: "keeper_order_failures_total",
      help: "Orders due (or expired) not settled (cancelled) in the tick that saw them, by reason (a reason is counted once per order)",
      labelNames: ["reason"],
      registers,
    });
    for (const reason of ORDER_FAILURE_REASONS) {
      this.orderFailures.inc({ reason }, 0);
      this.orderFailureValues.set(reason, 0);
    }
    this.orderLatency = new Histogram({
      name: "keeper_order_settlement_latency_seconds",
      help: "Seconds from an order's ready time to the timestamp of the block that settled it",
      buckets: [1, 2, 5, 10, 15, 30, 60, 120],
      registers,
    });
  }

  inc(name: CounterName, by = 1): void {
    if (by === 0) return;
    this.counters.get(name)!.inc(by);
    this.values.set(name, this.get(name) + by);
  }

  set(name: GaugeName, value: number): void {
    this.gauges.get(name)!.set(value);
    this.values.set(name, value);
  }

  get(name: MetricName): number {
    return this.values.get(name) ?? 0;
  }

  missedOpportunity(reason: MissedReason, by = 1): void {
    if (by === 0) return;
    this.missed.inc({ reason }, by);
    this.missedValues.set(reason, this.missedOf(reason) + by);
  }

  missedOf(reason: MissedReason): number {
    return this.missedValues.get(reason) ?? 0;
  }

  observeLatency(blocks: number): void {
    this.latency.observe(blocks);
  }

  orderFailure(reason: string, by = 1): void {
    if (by === 0) return;
    this.orderFailures.inc({ reason }, by);
    this.orderFailureValues.set(reason, this.orderFailureOf(reason) + by);
  }

  orderFailureOf(reason: string): number {
    return this.orderFailureValues.get(reason) ?? 0;
  }

  observeOrderLatency(seconds: number): void {
    this.orderLatency.observe(seconds);
  }

  observeTickSeconds(seconds: number): void {
    this.tickSeconds.observe(seconds);
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export class MetricsServer {
  private server: Server | undefined;

  /** `staleAfterMs`: /health answers 503 when the last tick completed longer ago than this (0 = never stale). */
  constructor(
    private readonly metrics: Metrics,
    private readonly staleAfterMs = 0,
  ) {}

  /** Listens on 127.0.0.1:`port` (0 = any free port) and resolves with the bound port. */
  async start(port: number): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method === "GET" && path === "/metrics") {
        this.metrics.render().then(
          (text) => res.writeHead(200, { "content-type": this.metrics.contentType }).end(text),
          (error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(String(error)),
        );
      } else if (req.method === "GET" && path === "/health") {
        const last = this.metrics.lastTick;
        const stale =
          this.staleAfterMs > 0 &&
          (last === undefined || Date.now() - Date.parse(last.at) > this.staleAfterMs);
        res.writeHead(stale ? 503 : 200, { "content-type": "application/json" }).end(
          JSON.stringify({
            status: stale ? "stale" : "ok",
            lastTick: last ?? null,
            lastError: this.metrics.lastError ?? null,
          }),
        );
      } else {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
