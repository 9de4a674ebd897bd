/**
 * Mutation testing: `npm run mutation [-- options]`.
 *
 * Enumerates mutants of the production contracts (`contracts/` outside `contracts/test/`, see
 * scripts/mutation/mutants.ts for the operators), optionally samples them, and runs each against the tests in a
 * temporary copy of the repository: the working tree is never modified, even if the run is interrupted. A mutant
 * is killed when a stage fails or times out, survives when every stage passes, and is stillborn (not counted)
 * when it does not compile. Writes a JSON report (by default bench/mutation-report.json):
 *   {"mutants", "killed", "score", "survivors": [{"file", "line", "mutation"}], …}
 *
 * Options:
 *   --sample N          run N mutants drawn with --seed (default: all of them)
 *   --seed S            sample seed (default 1)
 *   --max N             alias of --sample
 *   --operators a,b     only these operators (default: all; see OPERATORS in mutants.ts)
 *   --files glob        only files whose path contains this substring (repeatable)
 *   --stages a,b        kill stages in order (default solidity,mocha): `solidity` runs `hardhat test solidity`,
 *                       `mocha` runs `hardhat test mocha`; each may be narrowed with --solidity-tests / --mocha-tests
 *   --solidity-tests f  Solidity test files for the `solidity` stage (repeatable; default: all)
 *   --mocha-tests f     mocha test files for the `mocha` stage (repeatable; default: all)
 *   --profile name      build profile for mutants (default `default`, the one the tests use)
 *   --out file          report path (default bench/mutation-report.json)
 *   --min-score x       exit 1 when the score is below x (default 0.9)
 *   --build-timeout m   minutes a mutant's build may take before it counts as stillborn (default 30)
 *   --list              print the mutants that would run and exit
 *
 * Equivalent mutants (no test can tell them apart from the original) are listed in bench/mutation-equivalent.json
 * as {"file", "source", "mutation", "reason"} (`source` is the trimmed line); they are skipped and reported apart.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  OPERATORS,
  apply,
  declaredFunctions,
  mutantsOf,
  sample,
  type Mutant,
  type Operator,
} from "./mutation/mutants.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const EQUIVALENTS = path.join(ROOT, "bench/mutation-equivalent.json");

const { values: opts } = parseArgs({
  options: {
    sample: { type: "string" },
    max: { type: "string" },
    seed: { type: "string", default: "1" },
    operators: { type: "string" },
    files: { type: "string", multiple: true },
    stages: { type: "string", default: "solidity,mocha" },
    "solidity-tests": { type: "string", multiple: true },
    "mocha-tests": { type: "string", multiple: true },
    profile: { type: "string", default: "default" },
    out: { type: "string", default: "bench/mutation-report.json" },
    "min-score": { type: "string", default: "0.9" },
    list: { type: "boolean", default: false },
    "build-timeout": { type: "string", default: "30" },
  },
});

interface Equivalent {
  file: string;
  source: string;
  mutation: string;
  reason: string;
}

type Status = "killed" | "survived" | "stillborn" | "equivalent";

interface Result {
  mutant: Mutant;
  status: Status;
  /** The stage that killed it, or why it is stillborn. */
  by?: string;
  seconds: number;
}

function productionSources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (rel !== "contracts/test") walk(rel);
      } else if (entry.name.endsWith(".sol")) files.push(rel);
    }
  };
  walk("contracts");
  return files.sort();
}

function enumerate(): Mutant[] {
  const files = productionSources();
  const sources = new Map(files.map((f) => [f, readFileSync(path.join(ROOT, f), "utf8")]));
  const functions = declaredFunctions(sources.values());
  const operators = opts.operators?.split(",") as Operator[] | undefined;
  for (const op of operators ?? []) if (!OPERATORS.includes(op)) throw new Error(`unknown operator ${op}`);
  let all = files.flatMap((f) => mutantsOf(f, sources.get(f)!, functions));
  if (operators) all = all.filter((m) => operators.includes(m.operator));
  if (opts.files) all = all.filter((m) => opts.files!.some((f) => m.file.includes(f)));
  return all;
}

/** A throw-away copy of the repository (tracked and untracked-but-not-ignored files) sharing node_modules. */
function makeWorkspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "bulkhead-mutation-"));
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f !== "" && f !== "node_modules" && existsSync(path.join(ROOT, f)));
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    cpSync(path.join(ROOT, f), path.join(dir, f));
  }
  symlinkSync(realpathSync(path.join(ROOT, "node_modules")), path.join(dir, "node_modules"));
  // Hardhat's build cache is keyed by content hashes, so the repository's own build (if any) is safe to start
  // from: it makes the baseline build instant when the tree is built, and is ignored when it is not current. The
  // cache records absolute paths, which are moved to the workspace.
  for (const built of ["artifacts", "cache", "types"]) {
    if (existsSync(path.join(ROOT, built)))
      cpSync(path.join(ROOT, built), path.join(dir, built), { recursive: true });
  }
  const cache = path.join(dir, "cache/compile-cache.json");
  if (existsSync(cache))
    writeFileSync(cache, readFileSync(cache, "utf8").replaceAll(`"${ROOT}/`, `"${dir}/`));
  return dir;
}

let child: ChildProcess | undefined;
let workspace: string | undefined;

function cleanUp() {
  if (child?.pid !== undefined) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (workspace !== undefined) rmSync(workspace, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: removing the mutation workspace`);
    cleanUp();
    process.exit(130);
  });
}

/** Runs a command in the workspace; resolves with its exit code (null on timeout) and output tail. */
function run(args: string[], timeoutMs: number): Promise<{ code: number | null; tail: string }> {
  return new Promise((resolve) => {
    const bin = path.join(ROOT, "node_modules/.bin");
    child = spawn(path.join(bin, "hardhat"), args, {
      cwd: workspace,
      detached: true, // own process group, so a timeout kills the compiler and test workers too
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FORCE_COLOR: "0", CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let tail = "";
    const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-4000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const timer = setTimeout(() => {
      try {
        process.kill(-child!.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      child = undefined;
      resolve({ code: signal === null ? code : null, tail });
    });
  });
}

interface Stage {
  name: string;
  args: string[];
}

function stages(): Stage[] {
  const profile = ["--build-profile", opts.profile!];
  return opts.stages!.split(",").map((name) => {
    if (name === "solidity")
      return {
        name,
        args: ["test", "solidity", "--no-compile", ...profile, ...(opts["solidity-tests"] ?? [])],
      };
    if (name === "mocha")
      return {
        name,
        args: ["test", "mocha", "--no-compile", "--bail", ...profile, ...(opts["mocha-tests"] ?? [])],
      };
    throw new Error(`unknown stage ${name} (use solidity, mocha)`);
  });
}

const BUILD = () => ["build", "--build-profile", opts.profile!, "--quiet"];

function fmt(seconds: number): string {
  return seconds < 90 ? `${seconds.toFixed(0)}s` : `${(seconds / 60).toFixed(1)}min`;
}

async function main() {
  const all = enumerate();
  const count = opts.sample ?? opts.max;
  const seed = Number(opts.seed);
  const chosen = count === undefined ? all : sample(all, Number(count), seed);
  const equivalents: Equivalent[] = existsSync(EQUIVALENTS)
    ? JSON.parse(readFileSync(EQUIVALENTS, "utf8"))
    : [];
  const equivalentOf = (m: Mutant) =>
    equivalents.find((e) => e.file === m.file && e.source === m.source && e.mutation === m.mutation);

  const byOp = new Map<string, number>();
  for (const m of all) byOp.set(m.operator, (byOp.get(m.operator) ?? 0) + 1);
  console.log(
    `${all.length} mutants (${[...byOp].map(([k, v]) => `${k} ${v}`).join(", ")}); running ${chosen.length}`,
  );
  if (opts.list) {
    for (const m of chosen)
      console.log(`${m.file}:${m.line}  ${m.operator.padEnd(10)} ${m.mutation}   | ${m.source}`);
    return;
  }

  const started = Date.now();
  workspace = makeWorkspace();
  const stageList = stages();

  // Baseline: the unmutated contracts must build and pass every stage, or no mutant result means anything.
  // Its timings set each stage's timeout (a mutant that hangs, e.g. in an endless loop, counts as killed).
  console.log(
    `workspace ${workspace}; baseline build and stages (${stageList.map((s) => s.name).join(", ")})`,
  );
  let t = Date.now();
  const build = await run(BUILD(), Number(opts["build-timeout"]) * 60_000);
  if (build.code !== 0) throw new Error(`baseline build failed:\n${build.tail}`);
  console.log(`  build: ${fmt((Date.now() - t) / 1000)}`);
  const timeouts: number[] = [];
  for (const stage of stageList) {
    t = Date.now();
    const r = await run(stage.args, 60 * 60_000);
    if (r.code !== 0)
      throw new Error(`baseline stage ${stage.name} failed on the unmutated contracts:\n${r.tail}`);
    const seconds = (Date.now() - t) / 1000;
    timeouts.push(Math.max(3 * seconds, 300) * 1000);
    console.log(`  ${stage.name}: ${fmt(seconds)}`);
  }

  const results: Result[] = [];
  /** Writes the report; called after every mutant, so an interrupted run still leaves its results. */
  const writeReport = (complete: boolean) => {
    const counted = results.filter((r) => r.status === "killed" || r.status === "survived");
    const killed = counted.filter((r) => r.status === "killed").length;
    const score = counted.length === 0 ? 1 : killed / counted.length;
    const pick = (r: Result) => ({
      file: r.mutant.file,
      line: r.mutant.line,
      mutation: `${r.mutant.operator}: ${r.mutant.mutation}`,
      source: r.mutant.source,
    });
    const report = {
      complete,
      mutants: counted.length,
      killed,
      score: Number(score.toFixed(4)),
      survivors: results.filter((r) => r.status === "survived").map(pick),
      equivalent: results.filter((r) => r.status === "equivalent").map((r) => ({ ...pick(r), reason: r.by })),
      stillborn: results.filter((r) => r.status === "stillborn").length,
      run: {
        commit: execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim(),
        enumerated: all.length,
        sample: count === undefined ? null : Number(count),
        seed: count === undefined ? null : seed,
        operators: opts.operators ?? "all",
        stages: stageList.map((s) => s.args.join(" ")),
        profile: opts.profile,
        minutes: Number(((Date.now() - started) / 60_000).toFixed(1)),
      },
      killedBy: Object.fromEntries(
        stageList.map((s) => [
          s.name,
          results.filter((r) => r.status === "killed" && r.by?.startsWith(s.name)).length,
        ]),
      ),
    };
    mkdirSync(path.dirname(path.join(ROOT, opts.out!)), { recursive: true });
    writeFileSync(path.join(ROOT, opts.out!), JSON.stringify(report, null, 2) + "\n");
    return { report, killed, counted: counted.length, score };
  };
  for (const [index, m] of chosen.entries()) {
    const label = `[${index + 1}/${chosen.length}] ${m.file}:${m.line} ${m.operator} ${m.mutation}`;
    const equivalent = equivalentOf(m);
    if (equivalent) {
      results.push({ mutant: m, status: "equivalent", by: equivalent.reason, seconds: 0 });
      console.log(`${label}: equivalent (${equivalent.reason})`);
      continue;
    }
    const file = path.join(workspace, m.file);
    const original = readFileSync(file, "utf8");
    writeFileSync(file, apply(original, m));
    t = Date.now();
    let result: Result;
    try {
      const b = await run(BUILD(), Number(opts["build-timeout"]) * 60_000);
      if (b.code !== 0) {
        result = {
          mutant: m,
          status: "stillborn",
          by: b.code === null ? "build timed out" : "does not compile",
          seconds: 0,
        };
      } else {
        result = { mutant: m, status: "survived", seconds: 0 };
        for (const [i, stage] of stageList.entries()) {
          const r = await run(stage.args, timeouts[i]);
          if (r.code !== 0) {
            result = {
              mutant: m,
              status: "killed",
              by: r.code === null ? `${stage.name} (timeout)` : stage.name,
              seconds: 0,
            };
            break;
          }
        }
      }
    } finally {
      writeFileSync(file, original);
    }
    result.seconds = (Date.now() - t) / 1000;
    results.push(result);
    console.log(`${label}: ${result.status}${result.by ? ` by ${result.by}` : ""} (${fmt(result.seconds)})`);
    writeReport(false);
  }

  const { report, killed, counted, score } = writeReport(true);

  console.log(
    `\nscore ${killed}/${counted} = ${report.score} (${report.stillborn} stillborn, ${report.equivalent.length} equivalent); wrote ${opts.out}`,
  );
  for (const s of report.survivors)
    console.log(`  survivor ${s.file}:${s.line} ${s.mutation}   | ${s.source}`);
  if (score < Number(opts["min-score"])) {
    console.error(`score below ${opts["min-score"]}`);
    process.exitCode = 1;
  }
}

try {
  await main();
} finally {
  cleanUp();
}
