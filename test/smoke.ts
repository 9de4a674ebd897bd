import { expect } from "chai";
import { ethers, networkHelpers, deployBulkhead, ETH, BTC } from "./helpers/fixture.js";
import { usd, wad, feedAnswer } from "./helpers/constants.js";
import { trade } from "./helpers/orders.js";

describe("smoke", () => {
  it("runs a cross account through trades and a liquidation", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, ethAggregator, token, vault } = contracts;
    const { alice, keeper } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("10000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
    await trade(engine.connect(alice), 1, BTC, wad("-0.5"), wad("59000"));
    console.log(await engine.marginSummary(1));
    console.log("liqPrice", await engine.liquidationPrice(1, ETH));
    await ethAggregator.setAnswer(feedAnswer("2000"));
    console.log(await engine.marginSummary(1), await engine.isLiquidatable(1));
    console.log(await engine.quoteLiquidation(1));
    await engine.connect(keeper).liquidate(1, keeper);
    console.log(await engine.marginSummary(1));
    console.log("vault", await vault.totalAssets(), await engine.vaultCash(), await engine.insuranceFund());
    const bal = await token.balanceOf(engine);
    console.log("bal", bal);
    expect(await engine.accountCount()).to.equal(1n);
  });
});
