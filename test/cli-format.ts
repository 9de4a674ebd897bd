/** cli/format: the CLI's human renderings of amounts, sizes and shares (pure functions, no chain). */
import { expect } from "chai";

import * as fmt from "../cli/format.js";
import { eventHuman } from "../cli/write.js";

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

describe("CLI formatting of vault shares", () => {
  it("shows shares in whole shares with the vault's decimals, separators and trimmed zeros", () => {
    expect(fmt.shares(999_000_999_000_000_000n, 12)).to.equal("999,000.999");
    expect(fmt.shares(4_995_000n * 10n ** 12n, 12)).to.equal("4,995,000");
    expect(fmt.shares(0n, 12)).to.equal("0");
    expect(fmt.shares(1_234_567_891_234_567n, 12)).to.equal("1,234.567891");
    // Less than the shown digits: every decimal, so a non-zero amount never reads 0.
    expect(fmt.shares(1n, 12)).to.equal("0.000000000001");
    expect(fmt.shares(1_500_000n, 18)).to.equal("0.0000000000015");
    expect(fmt.shares(1_000n, 0)).to.equal("1,000");
    expect(fmt.shares(123_450_000n, 6)).to.equal("123.45");
  });
});

describe("CLI event lines", () => {
  const vault = "0x" + "11".repeat(20);
  const lp = "0x" + "22".repeat(20);

  it("show the vault's share amounts in whole shares, everything else as before", () => {
    const settled = { controller: lp, assets: 999_000_000_000n, shares: 999_000_999_000_000_000n };
    expect(
      eventHuman({ contract: "vault", address: vault, name: "DepositSettled", args: settled }, 12),
    ).to.equal(`  vault.DepositSettled controller=${lp} assets=999000000000 shares=999,000.999`);
    const transfer = { from: vault, to: lp, value: 4_995_000n * 10n ** 12n };
    expect(eventHuman({ contract: "vault", address: vault, name: "Transfer", args: transfer }, 12)).to.equal(
      `  vault.Transfer from=${vault} to=${lp} value=4,995,000`,
    );
    // A token transfer's value is not shares; D18 figures keep four decimals.
    expect(eventHuman({ contract: "token", address: vault, name: "Transfer", args: transfer }, 12)).to.equal(
      `  token.Transfer from=${vault} to=${lp} value=4995000000000000000`,
    );
    const fill = { accountId: 1n, feeD18: 12_345_600_000_000_000n };
    expect(eventHuman({ contract: "engine", address: vault, name: "Fee", args: fill })).to.equal(
      "  engine.Fee accountId=1 feeD18=0.0123",
    );
  });
});
