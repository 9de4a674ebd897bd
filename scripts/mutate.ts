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
 *   --profile name      build profile for mutants (default `coverage`: via-IR without the optimizer, which builds
 *                       in about half the time of the default profile and behaves the same; the tests know it and
 *                       skip their gas assertions, and the test network accepts its larger contracts)
 *   --out file          report path (default bench/mutation-report.json)
 *   --resume            continue the interrupted run whose report is at --out: same commit (checked out from git
 *                       into the workspace, whatever the working tree holds now), same options, skipping the
 *                       mutants it already ran; its minutes add up
 *   --min-score x       exit 1 when the score is below x (default 0.9)
 *   --build-timeout m   minutes a mutant's build may take before it counts as stillborn (default 30)
 *   --recheck           run the survivors of the report at --out again, on the working tree as it is now (its
 *                       tests and contracts; each survivor found again by file, source line, column and
 *                       operator): a survivor a new test kills becomes killed, marked with the commit that
 *                       killed it; one whose line changed stays a survivor (unless bench/mutation-equivalent.json
 *                       lists it: then it counts as equivalent). Works on an unfinished run too
 *                       (--resume still continues it afterwards)
 *   --jobs N            mutants tested at once, each in its own workspace (default 1; 2 on a 2-core machine
 *                       roughly halves a run, as compiling is single-threaded); results are the same
 *   --list              print the mutants that would run and exit
 *
 * The report lists every mutant run so far under `results` and is rewritten after each one, so a run of hours can
 * stop at any point and go on later with --resume.
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
    profile: { type: "string", default: "coverage" },
    out: { type: "string", default: "bench/mutation-report.json" },
    "min-score": { type: "string", default: "0.9" },
    list: { type: "boolean", default: false },
    "build-timeout": { type: "string", default: "30" },
    resume: { type: "boolean", default: false },
    recheck: { type: "boolean", default: false },
    jobs: { type: "string", default: "1" },
  },
});

/** The options that decide which mutants run and how; a resumed run takes them from the report. */
const RUN_OPTIONS = [
  "sample",
  "max",
  "seed",
  "operators",
  "files",
  "stages",
  "solidity-tests",
  "mocha-tests",
  "profile",
  "build-timeout",
] as const;

interface Equivalent {
  file: string;
  source: string;
  mutation: string;
  reason: string;
}

type Status = "killed" | "survived" | "stillborn" | "equivalent";

interface Result {
  mutant: Pick<Mutant, "id" | "file" | "line" | "operator" | "mutation" | "source">;
  status: Status;
  /** The stage that killed it, or why it is stillborn. */
  by?: string;
  seconds: number;
  /** For a survivor run again by --recheck: the commit whose tests it ran against. */
  recheck?: string;
}

function productionSources(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (rel !== "contracts/test") walk(rel);
      } else if (entry.name.endsWith(".sol")) files.push(rel);
    }
  };
  walk("contracts");
  return files.sort();
}

/** Every mutant of the production sources under `root` (the repository, or a resumed run's workspace). */
function enumerate(root: string): Mutant[] {
  const files = productionSources(root);
  const sources = new Map(files.map((f) => [f, readFileSync(path.join(root, f), "utf8")]));
  const functions = declaredFunctions(sources.values());
  const operators = opts.operators?.split(",") as Operator[] | undefined;
  for (const op of operators ?? []) if (!OPERATORS.includes(op)) throw new Error(`unknown operator ${op}`);
  let all = files.flatMap((f) => mutantsOf(f, sources.get(f)!, functions));
  if (operators) all = all.filter((m) => operators.includes(m.operator));
  if (opts.files) all = all.filter((m) => opts.files!.some((f) => m.file.includes(f)));
  return all;
}

/**
 * A throw-away copy of the repository sharing node_modules: the working tree's tracked and untracked-but-not-ignored
 * files, or (resuming) the tree of `commit` as git has it.
 */
function makeWorkspace(commit?: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "bulkhead-mutation-"));
  if (commit !== undefined) {
    execFileSync("sh", ["-c", `git archive ${commit} | tar -x -C "${dir}"`], { cwd: ROOT });
    symlinkSync(realpathSync(path.join(ROOT, "node_modules")), path.join(dir, "node_modules"));
    return dir;
  }
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

/** Another workspace with the same tree and build as `from` (a built workspace), for a parallel job. */
function cloneWorkspace(from: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "bulkhead-mutation-"));
  for (const entry of readdirSync(from)) {
    if (entry === "node_modules") continue;
    cpSync(path.join(from, entry), path.join(dir, entry), { recursive: true });
  }
  symlinkSync(realpathSync(path.join(ROOT, "node_modules")), path.join(dir, "node_modules"));
  const cache = path.join(dir, "cache/compile-cache.json");
  if (existsSync(cache))
    writeFileSync(cache, readFileSync(cache, "utf8").replaceAll(`"${from}/`, `"${dir}/`));
  return dir;
}

const children = new Set<ChildProcess>();
const workspaces: string[] = [];

function cleanUp() {
  for (const child of children) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const dir of workspaces) rmSync(dir, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: removing the mutation workspace`);
    cleanUp();
    process.exit(130);
  });
}

/** Runs a command in a workspace; resolves with its exit code (null on timeout) and output tail. */
function run(
  workspace: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; tail: string }> {
  return new Promise((resolve) => {
    const bin = path.join(ROOT, "node_modules/.bin");
    const child = spawn(path.join(bin, "hardhat"), args, {
      cwd: workspace,
      detached: true, // own process group, so a timeout kills the compiler and test workers too
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        FORCE_COLOR: "0",
        CI: "true",
        BULKHEAD_BUILD: "mutation", // the test network accepts the unoptimised build's larger contracts
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let tail = "";
    const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-4000));
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
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

const pickMutant = ({ id, file, line, operator, mutation, source }: Mutant): Result["mutant"] => ({
  id,
  file,
  line,
  operator,
  mutation,
  source,
});

const BUILD = () => ["build", "--build-profile", opts.profile!, "--quiet"];

function fmt(seconds: number): string {
  return seconds < 90 ? `${seconds.toFixed(0)}s` : `${(seconds / 60).toFixed(1)}min`;
}

const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();

/** The run to continue (--resume): its options replace this invocation's, its results are kept. */
function resumeFrom(): { commit: string; results: Result[]; minutes: number; complete: boolean } {
  const out = path.join(ROOT, opts.out!);
  if (!existsSync(out)) throw new Error(`--resume: there is no report at ${opts.out}`);
  const report = JSON.parse(readFileSync(out, "utf8"));
  if (report.run?.options === undefined || !Array.isArray(report.results))
    throw new Error(`--resume: ${opts.out} records no options or results (an older report); start a new run`);
  if (report.run.dirty && !opts.recheck)
    throw new Error(`--resume: that run started from uncommitted changes, which git cannot give back`);
  for (const k of RUN_OPTIONS) (opts as Record<string, unknown>)[k] = report.run.options[k];
  const results = (report.results as (Result["mutant"] & Omit<Result, "mutant">)[]).map(
    ({ status, by, seconds, recheck, ...mutant }) => ({ mutant, status, by, seconds, recheck }),
  );
  return { commit: report.run.commit, results, minutes: report.run.minutes, complete: report.complete };
}

async function main() {
  if (opts.resume && opts.recheck) throw new Error("--resume and --recheck are separate runs");
  const resumed = opts.resume || opts.recheck ? resumeFrom() : undefined;
  const head = git("rev-parse", "HEAD");
  const commit = resumed?.commit ?? head;
  // A fresh run reads the working tree; a resumed one the tree of its commit, so both enumerate the same mutants.
  // A recheck reads the working tree: the survivors meet today's tests.
  const fromTree = resumed === undefined || opts.recheck;
  const treeDirty =
    git("status", "--porcelain", "--", "contracts", "test", "scripts", "hardhat.config.ts") !== "";
  const dirty = resumed === undefined ? treeDirty : false;
  if (!opts.list) workspaces.push(makeWorkspace(fromTree ? undefined : resumed!.commit));
  const all = enumerate(fromTree ? ROOT : workspaces[0]);
  const count = opts.sample ?? opts.max;
  const seed = Number(opts.seed);
  const equivalents: Equivalent[] = existsSync(EQUIVALENTS)
    ? JSON.parse(readFileSync(EQUIVALENTS, "utf8"))
    : [];
  const equivalentOf = (m: Pick<Mutant, "file" | "source" | "mutation">) =>
    equivalents.find((e) => e.file === m.file && e.source === m.source && e.mutation === m.mutation);
  /** --recheck: each survivor's mutant in today's sources, by file, source line, column and operator. */
  const rechecked = new Map<string, Result["mutant"]>();
  const column = (id: string) => id.split(":").slice(-3, -2)[0];
  if (opts.recheck) {
    for (const r of resumed!.results.filter((x) => x.status === "survived")) {
      const m = all.find(
        (x) =>
          x.file === r.mutant.file &&
          x.source === r.mutant.source &&
          x.operator === r.mutant.operator &&
          x.mutation === r.mutant.mutation &&
          column(x.id) === column(r.mutant.id),
      );
      const equivalent = equivalentOf(r.mutant);
      if (m === undefined && equivalent !== undefined) {
        // The line is gone or rewritten, and the mutant was listed as equivalent (with its reason) before.
        Object.assign(r, { status: "equivalent", by: equivalent.reason });
        console.log(`${r.mutant.file}:${r.mutant.line}: the line changed; listed as equivalent`);
      } else if (m === undefined)
        console.log(`${r.mutant.file}:${r.mutant.line}: the line changed, stays a survivor`);
      else rechecked.set(m.id, r.mutant);
    }
  }
  const chosen = opts.recheck
    ? all.filter((m) => rechecked.has(m.id))
    : count === undefined
      ? all
      : sample(all, Number(count), seed);

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
  const stageList = stages();

  // Baseline: the unmutated contracts must build and pass every stage, or no mutant result means anything.
  // Its timings set each stage's timeout (a mutant that hangs, e.g. in an endless loop, counts as killed).
  console.log(
    `workspace ${workspaces[0]}; baseline build and stages (${stageList.map((s) => s.name).join(", ")})`,
  );
  let t = Date.now();
  const build = await run(workspaces[0], BUILD(), Number(opts["build-timeout"]) * 60_000);
  if (build.code !== 0) throw new Error(`baseline build failed:\n${build.tail}`);
  console.log(`  build: ${fmt((Date.now() - t) / 1000)}`);
  const timeouts: number[] = [];
  for (const stage of stageList) {
    t = Date.now();
    const r = await run(workspaces[0], stage.args, 60 * 60_000);
    if (r.code !== 0)
      throw new Error(`baseline stage ${stage.name} failed on the unmutated contracts:\n${r.tail}`);
    const seconds = (Date.now() - t) / 1000;
    timeouts.push(Math.max(3 * seconds, 300) * 1000);
    console.log(`  ${stage.name}: ${fmt(seconds)}`);
  }

  const results: Result[] = [...(resumed?.results ?? [])].filter(
    (r) => !(opts.recheck && r.status === "survived" && [...rechecked.values()].includes(r.mutant)),
  );
  const done = new Set(opts.recheck ? [] : results.map((r) => r.mutant.id));
  if (resumed)
    console.log(`resuming run of ${commit.slice(0, 10)}: ${done.size} of ${chosen.length} already ran`);
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
        commit,
        dirty,
        enumerated: all.length,
        sample: count === undefined ? null : Number(count),
        seed: count === undefined ? null : seed,
        operators: opts.operators ?? "all",
        stages: stageList.map((s) => s.args.join(" ")),
        profile: opts.profile,
        minutes: Number(((resumed?.minutes ?? 0) + (Date.now() - started) / 60_000).toFixed(1)),
        options: Object.fromEntries(RUN_OPTIONS.map((k) => [k, opts[k] ?? null])),
      },
      killedBy: Object.fromEntries(
        stageList.map((s) => [
          s.name,
          results.filter((r) => r.status === "killed" && r.by?.startsWith(s.name)).length,
        ]),
      ),
      results: results.map((r) => ({
        ...r.mutant,
        status: r.status,
        by: r.by,
        seconds: Math.round(r.seconds),
        ...(r.recheck === undefined ? {} : { recheck: r.recheck }),
      })),
    };
    mkdirSync(path.dirname(path.join(ROOT, opts.out!)), { recursive: true });
    writeFileSync(path.join(ROOT, opts.out!), JSON.stringify(report, null, 2) + "\n");
    return { report, killed, counted: counted.length, score };
  };
  /** Tests one mutant in `workspace`, which it leaves as it found it. */
  const test = async (workspace: string, index: number, m: Mutant) => {
    const label = `[${index + 1}/${chosen.length}] ${m.file}:${m.line} ${m.operator} ${m.mutation}`;
    const equivalent = equivalentOf(m);
    if (equivalent) {
      results.push({
        mutant: rechecked.get(m.id) ?? pickMutant(m),
        status: "equivalent",
        by: equivalent.reason,
        seconds: 0,
      });
      console.log(`${label}: equivalent (${equivalent.reason})`);
      return;
    }
    const file = path.join(workspace, m.file);
    const original = readFileSync(file, "utf8");
    writeFileSync(file, apply(original, m));
    const t0 = Date.now();
    let result: Result;
    try {
      const b = await run(workspace, BUILD(), Number(opts["build-timeout"]) * 60_000);
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
          const r = await run(workspace, stage.args, timeouts[i]);
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
    result.seconds = (Date.now() - t0) / 1000;
    // A rechecked survivor keeps its original record (id and line in the run's commit), so --resume skips it.
    const firstRun = rechecked.get(m.id);
    results.push({ ...result, mutant: firstRun ?? pickMutant(m), recheck: firstRun && head.slice(0, 10) });
    console.log(`${label}: ${result.status}${result.by ? ` by ${result.by}` : ""} (${fmt(result.seconds)})`);
    writeReport(false);
  };
  const queue = [...chosen.entries()].filter(([, m]) => !done.has(m.id));
  const jobs = Math.max(1, Math.min(Number(opts.jobs), queue.length));
  while (workspaces.length < jobs) workspaces.push(cloneWorkspace(workspaces[0]));
  // Each job takes the next mutant when it is free; JavaScript's single thread makes the shift atomic.
  await Promise.all(
    workspaces.slice(0, jobs).map(async (workspace) => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await test(workspace, ...next);
    }),
  );
  // Parallel jobs finish out of order: the report lists a run's results in the order of its sample.
  if (!opts.recheck) {
    const order = new Map(chosen.map((m, i) => [m.id, i]));
    results.sort((a, b) => order.get(a.mutant.id)! - order.get(b.mutant.id)!);
  }

  const { report, killed, counted, score } = writeReport(opts.recheck ? resumed!.complete : true);

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
