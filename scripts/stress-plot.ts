/**
 * Redraws the stress harness's plots from a report, without rerunning it:
 *
 *   npx tsx scripts/stress-plot.ts [bench/stress-report.json]
 *
 * Writes <report's folder>/stress/<path>-accounts.png and <path>-funds.png (SVG beside each).
 */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { type BlockRow, writeStressCharts } from "./lib/stress-charts.js";

const file = process.argv[2] ?? "bench/stress-report.json";
const report = JSON.parse(readFileSync(file, "utf8")) as {
  accounts: number;
  blockGasLimit: number;
  perBlock: Record<string, BlockRow[]>;
};
const outDir = path.dirname(file);
mkdirSync(path.join(outDir, "stress"), { recursive: true });
for (const [name, rows] of Object.entries(report.perBlock)) {
  writeStressCharts(outDir, name, rows, { accounts: report.accounts, blockGasLimit: report.blockGasLimit });
  console.log(`${name}: ${path.join(outDir, "stress", `${name}-accounts.png`)}, ${name}-funds.png`);
}
