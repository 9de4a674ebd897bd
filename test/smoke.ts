import { expect } from "chai";
import { networkHelpers, deployBulkhead, ETH, BTC } from "./helpers/fixture.js";
import { TOKEN_SCALE, usd, wad, feedAnswer } from "./helpers/constants.js";
import { expectCustodyIdentity } from "./helpers/invariants.js";
import { trade } from "./helpers/orders.js";

describe("smoke", () => {
  it("runs a cross account through trades and a liquidation", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, ethAggregator, token } = contracts;
    const { alice, keeper } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("10000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
    await trade(engine.connect(alice), 1, BTC, wad("-0.5"), wad("59000"));

    // Two positions, healthy at the opening prices: the margin rule held, and the long ETH leg has a
    // liquidation price below today's 3,000.
    const opened = await engine.getPositions(1);
    expect(opened.map((p) => [p.marketId, p.sizeD18])).to.deep.equal([
      [BigInt(ETH), wad("10")],
      [BigInt(BTC), wad("-0.5")],
    ]);
    const healthy = await engine.marginSummary(1);
    expect(healthy.equityD18).to.be.greaterThanOrEqual(healthy.initialMarginD18);
    expect(await engine.isLiquidatable(1)).to.equal(false);
    const liqPrice = await engine.liquidationPrice(1, ETH);
    expect(liqPrice).to.be.greaterThan(wad("2000"));
    expect(liqPrice).to.be.lessThan(wad("3000"));
    await expectCustodyIdentity(contracts);

    // ETH falls through the liquidation price: equity below maintenance margin, a full liquidation quoted
    // (50,000 USD of notional is under the partial threshold) with a positive keeper reward.
    await ethAggregator.setAnswer(feedAnswer("2000"));
    const underwater = await engine.marginSummary(1);
    expect(underwater.equityD18).to.be.lessThan(underwater.maintenanceMarginD18);
    expect(await engine.isLiquidatable(1)).to.equal(true);
    const quote = await engine.quoteLiquidation(1);
    expect(quote.liquidatable).to.equal(true);
    expect(quote.partial_).to.equal(false);
    expect(quote.keeperRewardD18).to.be.greaterThan(0n);

    // The liquidation closes both positions and pays the quoted reward to the keeper, in token units.
    const keeperBefore = await token.balanceOf(keeper);
    await expect(engine.connect(keeper).liquidate(1, keeper))
      .to.emit(engine, "Liquidated")
      .withArgs(
        1n,
        keeper.address,
        keeper.address,
        false,
        quote.closedNotionalD18,
        (fee: bigint) => fee >= quote.keeperRewardD18,
        quote.keeperRewardD18,
        (toInsurance: bigint) => toInsurance >= 0n,
      );
    expect(await engine.getPositions(1)).to.deep.equal([]);
    expect((await engine.getAccount(1)).positionCount).to.equal(0n);
    expect(await engine.isLiquidatable(1)).to.equal(false);
    expect((await token.balanceOf(keeper)) - keeperBefore).to.equal(quote.keeperRewardD18 / TOKEN_SCALE);
    const after = await engine.marginSummary(1);
    expect(after.notionalD18).to.equal(0n);
    expect(after.maintenanceMarginD18).to.equal(0n);
    expect(after.collateralD18).to.be.greaterThanOrEqual(0n);

    // Custody: the engine's token balance backs collateral + vault cash + insurance, to the wei.
    await expectCustodyIdentity(contracts);
    expect(await engine.accountCount()).to.equal(1n);
  });
});
