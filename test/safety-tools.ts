import { expect } from "chai";
import { compare, TOLERANCE } from "../scripts/lib/gas-snapshot.js";
import { apply, declaredFunctions, mutantsOf, sample } from "../scripts/mutation/mutants.js";

describe("safety-net tools", () => {
  describe("gas snapshot check", () => {
    const snapshot = { trade: 100_000, liquidate: 200_000 };

    it("passes within the tolerance and on improvements, printing the delta", () => {
      const { rows, failed } = compare({ trade: 100_000 * (1 + TOLERANCE), liquidate: 150_000 }, snapshot);
      expect(failed).to.equal(false);
      expect(rows.map((r) => r.status)).to.deep.equal(["improved", "ok"]);
      expect(rows[0].delta).to.equal("-50000 (-25.00%)");
    });

    it("fails one gas unit above the tolerance, and on operations missing from either side", () => {
      expect(compare({ trade: 102_001, liquidate: 200_000 }, snapshot).failed).to.equal(true);
      expect(compare({ trade: 100_000, liquidate: 200_000, deposit: 1 }, snapshot).failed).to.equal(true);
      expect(compare({ trade: 100_000 }, snapshot).failed).to.equal(true);
    });
  });

  describe("mutation operators", () => {
    const src = [
      "pragma solidity >=0.8.0;",
      "library L {",
      "    uint256 internal constant WAD = 1e18; // a < b in a comment is not code",
      "    function mulUp(uint256 a, uint256 b) internal pure returns (uint256) { return a * b; }",
      "    function mulDown(uint256 a, uint256 b) internal pure returns (uint256) { return a * b; }",
      "    function f(int256 x, uint256 t) internal pure returns (int256) {",
      '        if (x < 0) revert("neg <");',
      "        if (t > 1 days) x = -x;",
      "        return x + int256(mulUp(t, WAD));",
      "    }",
      "}",
    ].join("\n");
    const mutants = mutantsOf("L.sol", src, declaredFunctions([src]));
    const described = mutants.map((m) => `${m.line} ${m.operator} ${m.mutation}`);

    it("mutates code only: no pragma, comment or string is touched", () => {
      expect(mutants.every((m) => m.line > 2)).to.equal(true);
      expect(described.filter((d) => d.startsWith("3 "))).to.deep.equal(["3 constant 1e18 → 1e18 - 1"]);
      expect(described.filter((d) => d.startsWith("7 "))).to.deep.equal([
        "7 guard if (…) revert deleted",
        "7 comparison < → <=",
        "7 constant 0 → 1",
      ]);
    });

    it("covers boundaries, signs, arithmetic, rounding (only to a declared counterpart) and units", () => {
      expect(described).to.include.members([
        "8 negate if condition negated",
        "8 comparison > → >=",
        "8 constant 1 days → 1 days - 1",
        "8 sign unary - deleted",
        "9 arithmetic + → -",
        "9 rounding mulUp → mulDown",
      ]);
      const days = mutants.find((m) => m.mutation === "1 days → 1 days - 1")!;
      expect(apply(src, days).split("\n")[7]).to.equal("        if (t > (1 days - 1)) x = -x;");
    });

    it("samples deterministically for a seed, in source order", () => {
      const a = sample(mutants, 4, 42);
      expect(a).to.deep.equal(sample(mutants, 4, 42));
      expect(a.map((m) => m.start)).to.deep.equal([...a.map((m) => m.start)].sort((x, y) => x - y));
      expect(sample(mutants, 4, 43)).to.not.deep.equal(a);
    });
  });
});
