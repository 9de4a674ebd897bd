/**
 * The committed gas snapshot (bench/gas-snapshot.json), checked like `forge snapshot --check`: every operation
 * of the benchmark must be in the snapshot and cost at most TOLERANCE more than its figure there. The diff table
 * is printed either way. To accept a change in gas, regenerate the snapshot (`npm run gas:snapshot`) and commit
 * it with the change that moved it, so the new figures are reviewed as a diff.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const SNAPSHOT = "bench/gas-snapshot.json";
/** A regression above 2% of the snapshot figure fails; smaller drift (or any improvement) is reported only. */
export const TOLERANCE = 0.02;

export interface SnapshotRow {
  operation: string;
  snapshot: number | "-";
  gas: number | "-";
  delta: string;
  status: "" | "ok" | "REGRESSED" | "NEW" | "GONE" | "improved";
}

function percent(from: number, to: number): string {
  const d = ((to - from) / from) * 100;
  return `${to - from >= 0 ? "+" : ""}${to - from} (${d >= 0 ? "+" : ""}${d.toFixed(2)}%)`;
}

/** Compares `report` with `snapshot`; returns the rows and whether the check fails. */
export function compare(
  report: Record<string, number>,
  snapshot: Record<string, number>,
): { rows: SnapshotRow[]; failed: boolean } {
  const names = [...new Set([...Object.keys(snapshot), ...Object.keys(report)])].sort();
  const rows = names.map((operation): SnapshotRow => {
    const was = snapshot[operation];
    const now = report[operation];
    if (was === undefined) return { operation, snapshot: "-", gas: now, delta: "", status: "NEW" };
    if (now === undefined) return { operation, snapshot: was, gas: "-", delta: "", status: "GONE" };
    const status = now > was * (1 + TOLERANCE) ? "REGRESSED" : now < was ? "improved" : "ok";
    return { operation, snapshot: was, gas: now, delta: now === was ? "" : percent(was, now), status };
  });
  return {
    rows,
    failed: rows.some((r) => r.status === "REGRESSED" || r.status === "NEW" || r.status === "GONE"),
  };
}

/**
 * Prints the diff against the committed snapshot and sets a failing exit code on a regression, or rewrites the
 * snapshot when `update` is set (`GAS_SNAPSHOT_UPDATE=1`, i.e. `npm run gas:snapshot`).
 */
export function checkSnapshot(report: Record<string, number>, update: boolean): void {
  if (update) {
    writeFileSync(SNAPSHOT, JSON.stringify(report, null, 2) + "\n");
    console.log(`wrote ${SNAPSHOT}: commit it with the change that moved the figures`);
    return;
  }
  if (!existsSync(SNAPSHOT)) {
    console.error(`${SNAPSHOT} is missing: run npm run gas:snapshot and commit it`);
    process.exitCode = 1;
    return;
  }
  const { rows, failed } = compare(
    report,
    JSON.parse(readFileSync(SNAPSHOT, "utf8")) as Record<string, number>,
  );
  console.log(`gas against ${SNAPSHOT} (fails above +${TOLERANCE * 100}%):`);
  console.table(rows);
  if (failed) {
    const bad = rows.filter((r) => r.status === "REGRESSED" || r.status === "NEW" || r.status === "GONE");
    console.error(
      `gas snapshot check failed (${bad.map((r) => `${r.operation} ${r.status}`).join(", ")}). ` +
        `If the change is intended, run npm run gas:snapshot and commit ${SNAPSHOT} with it.`,
    );
    process.exitCode = 1;
  }
}
