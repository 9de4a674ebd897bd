/**
 * The first build's note: `npm test` and `npm run build` compile every contract with the WASM solc through
 * via-IR, minutes without output on a cold checkout. Their pre-scripts say so first, only when nothing was built
 * yet (no artifacts/build-info), and never fail.
 */
import { expect } from "chai";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Run, runProcess } from "./helpers/process.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const NOTE = /^Compiling contracts with solc 0\.8\.28 via-IR: the first build takes a few minutes/m;

function npmRun(script: string, cwd: string): Promise<Run> {
  return runProcess("npm", ["run", "--silent", script], { cwd });
}

describe("first-build note (npm pretest / prebuild)", function () {
  this.timeout(60_000);

  it("is printed before npm test and npm run build only while no contract was built", async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    // The commands themselves are unchanged.
    expect(pkg.scripts.test).to.equal("hardhat test");
    expect(pkg.scripts.build).to.equal("hardhat build");

    // A fresh checkout: the project's package.json and dependencies, nothing built.
    const fresh = await mkdtemp(path.join(tmpdir(), "bulkhead-fresh-"));
    try {
      await writeFile(path.join(fresh, "package.json"), JSON.stringify(pkg));
      await symlink(path.join(ROOT, "node_modules"), path.join(fresh, "node_modules"), "dir");
      for (const script of ["pretest", "prebuild"]) {
        const cold = await npmRun(script, fresh);
        expect(cold.code, cold.stderr).to.equal(0);
        expect(cold.stderr).to.match(NOTE);
        expect(cold.stdout).to.equal("");
      }
      // Once built, silent.
      await mkdir(path.join(fresh, "artifacts", "build-info"), { recursive: true });
      const warm = await npmRun("pretest", fresh);
      expect(warm.code).to.equal(0);
      expect(warm.stderr).to.not.match(NOTE);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }

    // This checkout was built before the tests ran.
    const here = await npmRun("pretest", ROOT);
    expect(here.code).to.equal(0);
    expect(here.stderr).to.not.match(NOTE);
  });
});
