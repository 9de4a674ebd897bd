/** Prometheus text exposition and a /health endpoint, hand-written on node:http, bound to 127.0.0.1 only. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const HELP = {
  keeper_ticks_total: ["counter", "Ticks completed"],
  keeper_accounts_indexed: ["gauge", "Accounts known to the indexer"],
  keeper_liquidations_total: ["counter", "Accounts liquidated by this keeper"],
  keeper_rewards_usd_total: ["counter", "Keeper rewards received, in USD"],
  keeper_races_lost_total: ["counter", "Liquidations another keeper got first"],
  keeper_adl_total: ["counter", "Positions auto-deleveraged by this keeper"],
  keeper_errors_total: ["counter", "Errors (failed calls, reverted transactions)"],
  keeper_last_tick_timestamp: ["gauge", "Unix time of the last completed tick, in seconds"],
} as const;

export type MetricName = keyof typeof HELP;

export interface TickInfo {
  block: number;
  at: string;
  accounts: number;
  liquidatable: number;
  liquidated: number;
  dryRun: boolean;
}

export class Metrics {
  private readonly values = new Map<MetricName, number>(Object.keys(HELP).map((k) => [k as MetricName, 0]));
  lastTick: TickInfo | undefined;

  inc(name: MetricName, by = 1): void {
    this.values.set(name, this.get(name) + by);
  }

  set(name: MetricName, value: number): void {
    this.values.set(name, value);
  }

  get(name: MetricName): number {
    return this.values.get(name) ?? 0;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, [type, help]] of Object.entries(HELP)) {
      lines.push(
        `# HELP ${name} ${help}`,
        `# TYPE ${name} ${type}`,
        `${name} ${this.get(name as MetricName)}`,
      );
    }
    return lines.join("\n") + "\n";
  }
}

export class MetricsServer {
  private server: Server | undefined;

  constructor(private readonly metrics: Metrics) {}

  /** Listens on 127.0.0.1:`port` (0 = any free port) and resolves with the bound port. */
  async start(port: number): Promise<number> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (req.method === "GET" && path === "/metrics") {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(this.metrics.render());
      } else if (req.method === "GET" && path === "/health") {
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ status: "ok", lastTick: this.metrics.lastTick ?? null }));
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
