/**
 * The stress harness's plots, PNG (and SVG) through scripts/lib/chart.ts (ECharts + resvg): per path, liquidatable vs liquidated
 * accounts, and the insurance fund and vault value. `scripts/stress-plot.ts` redraws them from a report.
 */
import path from "node:path";
import { writeChart } from "./chart.js";

export interface BlockRow {
  block: number;
  step: number;
  ethPrice: number;
  btcPrice: number;
  liquidatable: number;
  liquidated: number;
  liquidatedTotal: number;
  /** Liquidation episodes started so far (an account turning liquidatable; again after a partial liquidation). */
  becameLiquidatableTotal?: number;
  maxLatency: number;
  badDebtUsd: number;
  insuranceFundUsd: number;
  vaultValueUsd: number;
  adlEvents: number;
  baseFeeGwei: number;
  gasUsed: number;
}

export function writeStressCharts(
  outDir: string,
  name: string,
  rows: BlockRow[],
  meta: { accounts: number; blockGasLimit: number },
): void {
  const labelEvery = Math.max(1, Math.ceil(rows.length / 12));
  const xLabels = rows.map((r, i) => (i % labelEvery === 0 || i === rows.length - 1 ? String(i + 1) : ""));
  writeChart(path.join(outDir, "stress", `${name}-accounts`), {
    title: `${name}: liquidatable vs liquidated accounts`,
    subtitle: `${meta.accounts} accounts, two competing keepers, ${meta.blockGasLimit / 1e6}M gas blocks; max latency ${Math.max(...rows.map((r) => r.maxLatency))} blocks`,
    xLabels,
    xTitle: "block of the path",
    yTitle: "accounts",
    // Cumulative curves: the gap between them is the accounts waiting for a keeper; their horizontal distance,
    // the latency. Reports written before `becameLiquidatableTotal` existed fall back to liquidated + waiting.
    series: [
      {
        label: "turned liquidatable, cumulative",
        color: "#d62728",
        values: rows.map((r) => r.becameLiquidatableTotal ?? r.liquidatedTotal + r.liquidatable),
      },
      { label: "liquidated, cumulative", color: "#1f77b4", values: rows.map((r) => r.liquidatedTotal) },
      {
        label: "liquidatable at end of block",
        color: "#ff7f0e",
        dashed: true,
        values: rows.map((r) => r.liquidatable),
      },
    ],
    markers: [],
  });
  const v0 = rows[0].vaultValueUsd;
  writeChart(path.join(outDir, "stress", `${name}-funds`), {
    title: `${name}: insurance fund and vault value`,
    subtitle: `vault value at the start $${Math.round(v0).toLocaleString("en-US")}; bad debt $${Math.round(rows.at(-1)!.badDebtUsd).toLocaleString("en-US")}`,
    xLabels,
    xTitle: "block of the path",
    yTitle: "USD",
    series: [
      { label: "insurance fund", color: "#9467bd", values: rows.map((r) => Math.round(r.insuranceFundUsd)) },
      {
        label: "vault value - start",
        color: "#ff7f0e",
        values: rows.map((r) => Math.round(r.vaultValueUsd - v0)),
      },
      {
        label: "bad debt, cumulative",
        color: "#d62728",
        dashed: true,
        values: rows.map((r) => Math.round(r.badDebtUsd)),
      },
    ],
    markers: [],
  });
}
