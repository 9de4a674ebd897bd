import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";

/**
 * Bad-input completeness: every state-changing external function of the protocol's ABIs must have at least one
 * rejection case somewhere in the tests, so a new entry point cannot ship without one. A rejection case is a call
 * of the function inside `expect(…)` that ends in `.to.be.reverted…` (mocha; `expectEachRejected` tables count,
 * since their closures are `expect`ed), or the call right after a `vm.expectRevert` (Solidity tests).
 *
 * The check is by function name over the test sources, so it proves a case exists, not that it is thorough.
 */
const ENTRY_POINTS = ["IBulkhead", "LiquidityVault"];

/** Functions that take no input a caller could get wrong and have no access rule: nothing to reject. */
const NO_BAD_INPUT: Record<string, string> = {
  createCrossAccount: "no arguments, open to anyone",
  renounceRole: "OpenZeppelin AccessControl, tested upstream; only ever renounces the caller's own role",
  grantRole: "OpenZeppelin AccessControl, tested upstream",
  revokeRole: "OpenZeppelin AccessControl, tested upstream",
  approve: "OpenZeppelin ERC20 share token, tested upstream",
  transfer: "OpenZeppelin ERC20 share token, tested upstream",
  transferFrom: "OpenZeppelin ERC20 share token, tested upstream",
};

/** Entry points without a rejection case today. Remove a name when its case lands; never add one. */
const PENDING = new Set<string>([]);

function sources(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p, ext);
    return e.name.endsWith(ext) ? [readFileSync(p, "utf8")] : [];
  });
}

/** Names called inside `expect(…)` spans that end in `.to.be.reverted…`, and after `vm.expectRevert(…);`. */
function rejectedNames(): Set<string> {
  const names = new Set<string>();
  const called = (text: string) => {
    for (const m of text.matchAll(/\.(\w+)\s*\(/g)) names.add(m[1]);
  };
  for (const src of sources("test", ".ts")) {
    for (const m of src.matchAll(/\.to\.be\.(?:revertedWithCustomError|revertedWith|reverted)\b/g)) {
      const start = src.lastIndexOf("expect(", m.index);
      if (start >= 0) called(src.slice(start, m.index));
    }
    // expectEachRejected tables: the closures of a `RejectedCase[]` literal.
    for (const m of src.matchAll(/RejectedCase\[\]\s*=\s*\[/g)) {
      called(src.slice(m.index, src.indexOf("expectEachRejected(", m.index)));
    }
  }
  for (const src of sources("contracts/test", ".sol")) {
    for (const m of src.matchAll(/vm\.expectRevert\b[^;]*;/g)) {
      const end = src.indexOf(";", m.index + m[0].length);
      called(src.slice(m.index + m[0].length, end));
    }
  }
  return names;
}

describe("bad-input completeness", () => {
  it("every state-changing external function has a rejection case (or a reason it has none)", async () => {
    const rejected = rejectedNames();
    const entryPoints = new Set<string>();
    for (const name of ENTRY_POINTS) {
      const { abi } = await hre.artifacts.readArtifact(name);
      for (const f of abi) {
        if (f.type === "function" && f.stateMutability !== "view" && f.stateMutability !== "pure")
          entryPoints.add(f.name);
      }
    }
    const missing = [...entryPoints].filter(
      (f) => !rejected.has(f) && !(f in NO_BAD_INPUT) && !PENDING.has(f),
    );
    expect(
      missing,
      "entry points without a bad-input case: add one (an expectEachRejected table entry)",
    ).to.deep.equal([]);
    const stale = [...PENDING].filter((f) => rejected.has(f) || !entryPoints.has(f));
    expect(stale, "PENDING names that now have a case or no longer exist: remove them").to.deep.equal([]);
  });
});
