/** The web app's formatting and input parsing (app/src/format.ts): what users type and read. */
import { expect } from "chai";
import { errorInterface } from "../sdk/index.js";
import { InputError, errorText, parseAmount, relative, shares, units } from "../app/src/format.js";

describe("web app formatting", () => {
  it("shows token amounts with separators, trimmed decimals, and no sign on zero", () => {
    expect(units(999_000_999_000_000_000_000_000n, 18)).to.equal("999,000.999");
    expect(units(1_234_567_890n, 6)).to.equal("1,234.5678");
    expect(units(5_000_000n, 6)).to.equal("5");
    expect(units(-1n, 18)).to.equal("0");
    expect(units(-1_500_000n, 6)).to.equal("-1.5");
    expect(shares(10n ** 12n, 12)).to.equal("1 shares");
  });

  it("says when, relative to the chain's clock", () => {
    expect(relative(112n, 100n)).to.equal("in 12 s");
    expect(relative(100n, 280n)).to.equal("3 min ago");
    expect(relative(100n + 7200n, 100n)).to.equal("in 2.0 h");
  });

  it("parses typed amounts and refuses what is not one, in words", () => {
    expect(parseAmount("10,000", 6)).to.equal(10_000_000_000n);
    expect(parseAmount(" $2.5 ", 18)).to.equal(2_500_000_000_000_000_000n);
    for (const bad of ["", "abc", "-1", "1e3", "0", "0.000"]) {
      expect(() => parseAmount(bad, 6), bad).to.throw(InputError);
    }
    expect(() => parseAmount("1.0000001", 6)).to.throw(/more than 6 decimals/);
  });

  it("turns failures into sentences: protocol errors, wallet refusals, an unreachable node", () => {
    const data = errorInterface.encodeErrorResult("InsufficientMargin", [10n ** 21n, 2n * 10n ** 21n]);
    expect(errorText({ data }, 6)).to.match(/^InsufficientMargin: /);
    expect(errorText({ code: "ACTION_REJECTED" }, 6)).to.equal("You rejected the request in your wallet.");
    expect(errorText({ code: 4001, message: "User denied" }, 6)).to.equal(
      "You rejected the request in your wallet.",
    );
    expect(errorText({ code: "NETWORK_ERROR" }, 6)).to.match(/did not answer/);
    expect(errorText(new InputError("Enter a number."), 6)).to.equal("Enter a number.");
    expect(errorText({ shortMessage: "execution reverted" }, 6)).to.equal("execution reverted");
  });
});
