/** cli/format: the CLI's human renderings of amounts, sizes and shares (pure functions, no chain). */
import { expect } from "chai";

import * as fmt from "../cli/format.js";

const D18 = 10n ** 18n;

describe("CLI formatting", () => {
  it("usd, signedUsd and tokenUsd print no sign on an amount that shows as zero", () => {
    expect(fmt.usd(-1n)).to.equal("$0.00");
    expect(fmt.usd(-(10n ** 16n) + 1n)).to.equal("$0.00");
    expect(fmt.usd(-(10n ** 16n))).to.equal("-$0.01");
    expect(fmt.usd(-12n * D18)).to.equal("-$12.00");
    expect(fmt.usd(1_234_560n * 10n ** 15n)).to.equal("$1,234.56");
    expect(fmt.usd(-1n, 4)).to.equal("$0.0000");

    expect(fmt.signedUsd(0n)).to.equal("$0.00");
    expect(fmt.signedUsd(-1n)).to.equal("$0.00");
    expect(fmt.signedUsd(1n)).to.equal("$0.00");
    expect(fmt.signedUsd(5n * D18)).to.equal("+$5.00");
    expect(fmt.signedUsd(-5n * D18)).to.equal("-$5.00");

    expect(fmt.tokenUsd(-1n, 6)).to.equal("$0.00");
    expect(fmt.tokenUsd(-9_999n, 6)).to.equal("$0.00");
    expect(fmt.tokenUsd(-10_000n, 6)).to.equal("-$0.01");
    expect(fmt.tokenUsd(1_000_000n, 6)).to.equal("$1.00");
  });

  it("size and percent print no sign on a value that shows as zero", () => {
    expect(fmt.size(1n)).to.equal("0.0000");
    expect(fmt.size(-1n)).to.equal("0.0000");
    expect(fmt.size(0n)).to.equal("0.0000");
    expect(fmt.size(5n * 10n ** 17n)).to.equal("+0.5000");
    expect(fmt.size(-5n * 10n ** 17n)).to.equal("-0.5000");
    expect(fmt.percent(-1n)).to.equal("0.00%");
    expect(fmt.percent(-(10n ** 14n))).to.equal("-0.01%");
  });
});
