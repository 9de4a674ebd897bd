/**
 * Coverage figures and thresholds for the production contracts (`contracts/` outside `contracts/test/`), after
 * `hardhat test --coverage` (`npm run coverage` runs both).
 *
 * Lines come from coverage/lcov.info as Hardhat writes it. Hardhat 3's coverage records statements only (its lcov
 * has no BRDA records), so branches are derived here from the same data: the statement hits Hardhat keeps in
 * coverage/data/, and the statement map EDR's instrumenter produces for each source (its tags are deterministic).
 * A branch is each arm of an `if`:
 *   - the then-arm is covered when a statement inside it ran;
 *   - an explicit else-arm likewise;
 *   - an implicit else-arm (no `else`) is covered when the `if` was reported more often than its then-arm (some
 *     call ran the `if` without the arm), or when the next statement of the same block ran. If the then-arm falls
 *     through, the second test cannot tell and counts it as covered; for a guard (`if (c) revert …;`) it is exact.
 * Ternaries and `&&`/`||` short circuits are inside statements and not counted.
 *
 * Deliberately uncovered lines are listed in test/coverage-exclusions.json as {"file", "source", "reason"}, where
 * `source` is the trimmed text of the line (robust to edits above it): they leave both the line and the branch
 * figures. Fails below 95% of lines or 90% of branches; `--no-fail` only reports. Writes coverage/summary.json.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { tokenize } from "./mutation/mutants.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const LINES_MIN = 95;
const BRANCHES_MIN = 90;
const SOLC_VERSION = "0.8.28";
const EXCLUSIONS = path.join(ROOT, "test/coverage-exclusions.json");

interface Exclusion {
  file: string;
  source: string;
  reason: string;
}

interface Statement {
  tag: string;
  start: number;
  end: number;
}

// EDR's instrumenter, the one Hardhat's --coverage uses, resolved through hardhat's own dependencies.
const edr = createRequire(createRequire(import.meta.url).resolve("hardhat/package.json"))(
  "@nomicfoundation/edr",
) as {
  addStatementCoverageInstrumentation(
    src: string,
    sourceName: string,
    version: string,
  ): { metadata: { kind: string; tag: Uint8Array; startUtf16: number; endUtf16: number }[] };
};

function isProduction(file: string): boolean {
  return file.startsWith("contracts/") && !file.startsWith("contracts/test/") && file.endsWith(".sol");
}

/** lcov.info → file → line → hit. */
function readLcov(): Map<string, Map<number, boolean>> {
  const lcov = path.join(ROOT, "coverage/lcov.info");
  if (!existsSync(lcov)) throw new Error("coverage/lcov.info missing: run `npm run coverage`");
  const files = new Map<string, Map<number, boolean>>();
  let current: Map<number, boolean> | undefined;
  for (const line of readFileSync(lcov, "utf8").split("\n")) {
    if (line.startsWith("SF:")) {
      const file = path.relative(ROOT, path.resolve(ROOT, line.slice(3)));
      current = isProduction(file) ? new Map() : undefined;
      if (current) files.set(file, current);
    } else if (line.startsWith("DA:") && current) {
      const [n, count] = line.slice(3).split(",");
      current.set(Number(n), Number(count) > 0);
    }
  }
  return files;
}

/** Hit counts of every statement tag, summed over the test runs (coverage/data/<run>/<worker>.json: {tag: count}).
 *  A count is the number of hit reports EDR delivered for the tag (at most one per transaction or test call). */
function readHits(): Map<string, number> {
  const hits = new Map<string, number>();
  const dir = path.join(ROOT, "coverage/data");
  if (!existsSync(dir)) return hits;
  for (const run of readdirSync(dir)) {
    for (const f of readdirSync(path.join(dir, run))) {
      const data = JSON.parse(readFileSync(path.join(dir, run, f), "utf8")) as Record<string, number>;
      for (const [tag, count] of Object.entries(data)) {
        const key = tag.replace(/^0x/, "");
        hits.set(key, (hits.get(key) ?? 0) + count);
      }
    }
  }
  return hits;
}

interface Branch {
  line: number;
  arm: "then" | "else";
  covered: boolean;
}

/** The `if` arms of one source and whether each ran. */
function branchesOf(file: string, src: string, hits: Map<string, number>): Branch[] {
  const statements: Statement[] = edr
    .addStatementCoverageInstrumentation(src, `project/${file}`, SOLC_VERSION)
    .metadata.filter((m) => m.kind === "statement")
    .map((m) => ({ tag: Buffer.from(m.tag).toString("hex"), start: m.startUtf16, end: m.endUtf16 }))
    .sort((a, b) => a.start - b.start);
  const tokens = tokenize(src);
  const lineOf = (offset: number) => src.slice(0, offset).split("\n").length;
  const count = (s: Statement | undefined) => (s === undefined ? 0 : (hits.get(s.tag) ?? 0));
  const hit = (s: Statement) => count(s) > 0;
  const ranIn = (from: number, to: number) =>
    statements.some((s) => s.start >= from && s.start < to && hit(s));
  const close = (i: number) => {
    const open = tokens[i].text;
    const shut = open === "(" ? ")" : "}";
    let depth = 0;
    for (let j = i; j < tokens.length; ++j) {
      if (tokens[j].text === open) ++depth;
      else if (tokens[j].text === shut && --depth === 0) return j;
    }
    return tokens.length - 1;
  };
  /** End token index of the statement starting at token i (a block, or up to its `;`). */
  const statementEnd = (i: number): number => {
    if (tokens[i].text === "{") return close(i);
    if (tokens[i].text === "if") {
      const thenEnd = statementEnd(close(i + 1) + 1);
      return tokens[thenEnd + 1]?.text === "else" ? statementEnd(thenEnd + 2) : thenEnd;
    }
    let depth = 0;
    for (let j = i; j < tokens.length; ++j) {
      const x = tokens[j].text;
      if (x === "(" || x === "[" || x === "{") ++depth;
      else if (x === ")" || x === "]" || x === "}") --depth;
      else if (x === ";" && depth === 0) return j;
    }
    return tokens.length - 1;
  };

  const branches: Branch[] = [];
  for (const s of statements) {
    // A statement's range may start with whitespace; find its first token.
    const i = tokens.findIndex((t) => t.start >= s.start);
    if (i < 0 || tokens[i].text !== "if") continue;
    const line = lineOf(tokens[i].start);
    const thenStart = close(i + 1) + 1;
    const thenEnd = statementEnd(thenStart);
    // A statement's range starts where the previous token ends (leading whitespace and comments included).
    const thenFrom = tokens[thenStart - 1].end;
    const thenRan = ranIn(thenFrom, tokens[thenEnd].end);
    branches.push({ line, arm: "then", covered: thenRan });
    if (tokens[thenEnd + 1]?.text === "else") {
      const elseEnd = statementEnd(thenEnd + 2);
      branches.push({ line, arm: "else", covered: ranIn(tokens[thenEnd + 1].end, tokens[elseEnd].end) });
      continue;
    }
    // Implicit else: the next statement of the same block, if any (no `}` closes the block before it).
    const ifEnd = tokens[thenEnd].end;
    const next = statements.find((n) => n.start >= ifEnd);
    let sameBlock = next !== undefined;
    if (next) {
      let depth = 0;
      for (let j = thenEnd + 1; j < tokens.length && tokens[j].start < next.start; ++j) {
        if (tokens[j].text === "{") ++depth;
        else if (tokens[j].text === "}" && --depth < 0) {
          sameBlock = false;
          break;
        }
      }
    }
    // More reports for the `if` than for its then-arm: some call ran the `if` without the arm.
    const thenFirst = statements.find((n) => n.start >= thenFrom);
    const skipped = count(s) > count(thenFirst);
    branches.push({ line, arm: "else", covered: hit(s) && (skipped || (sameBlock && hit(next!))) });
  }
  return branches;
}

const pct = (a: number, b: number) => (b === 0 ? 100 : (100 * a) / b);

const exclusions: Exclusion[] = existsSync(EXCLUSIONS) ? JSON.parse(readFileSync(EXCLUSIONS, "utf8")) : [];
const lcov = readLcov();
const hits = readHits();
if (hits.size === 0) console.warn("coverage/data has no statement hits: branch figures will read 0");

const rows = [];
const uncovered: string[] = [];
const unusedExclusions = new Set(exclusions);
let linesHit = 0;
let linesAll = 0;
let branchesHit = 0;
let branchesAll = 0;
for (const [file, lines] of [...lcov].sort()) {
  const src = readFileSync(path.join(ROOT, file), "utf8");
  const text = src.split("\n");
  const excluded = (n: number) => {
    const e = exclusions.find((x) => x.file === file && x.source === text[n - 1]?.trim());
    if (e) unusedExclusions.delete(e);
    return e !== undefined;
  };
  let lh = 0;
  let lf = 0;
  for (const [n, ran] of lines) {
    if (excluded(n)) continue;
    ++lf;
    if (ran) ++lh;
    else uncovered.push(`${file}:${n}  ${text[n - 1]?.trim()}`);
  }
  const branches = branchesOf(file, src, hits).filter((b) => !excluded(b.line));
  const bh = branches.filter((b) => b.covered).length;
  for (const b of branches.filter((x) => !x.covered))
    uncovered.push(`${file}:${b.line}  (${b.arm} branch) ${text[b.line - 1]?.trim()}`);
  linesHit += lh;
  linesAll += lf;
  branchesHit += bh;
  branchesAll += branches.length;
  rows.push({
    file,
    lines: `${pct(lh, lf).toFixed(1)}% (${lh}/${lf})`,
    branches: `${pct(bh, branches.length).toFixed(1)}% (${bh}/${branches.length})`,
  });
}
const summary = {
  lines: Number(pct(linesHit, linesAll).toFixed(2)),
  branches: Number(pct(branchesHit, branchesAll).toFixed(2)),
  linesHit,
  linesFound: linesAll,
  branchesHit,
  branchesFound: branchesAll,
  excluded: exclusions.length,
  uncovered,
};
rows.push({
  file: "total",
  lines: `${summary.lines}% (${linesHit}/${linesAll})`,
  branches: `${summary.branches}% (${branchesHit}/${branchesAll})`,
});
console.table(rows);
if (uncovered.length > 0)
  console.log(`uncovered (not in test/coverage-exclusions.json):\n  ${uncovered.join("\n  ")}`);
for (const e of unusedExclusions)
  console.warn(`stale exclusion (no such line any more): ${e.file}: ${e.source}`);
writeFileSync(path.join(ROOT, "coverage/summary.json"), JSON.stringify(summary, null, 2) + "\n");

const failed = summary.lines < LINES_MIN || summary.branches < BRANCHES_MIN;
console.log(
  `lines ${summary.lines}% (min ${LINES_MIN}%), branches ${summary.branches}% (min ${BRANCHES_MIN}%)${failed ? ": BELOW THRESHOLD" : ""}`,
);
if (failed && !process.argv.includes("--no-fail")) process.exitCode = 1;
