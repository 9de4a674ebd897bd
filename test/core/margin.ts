import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { BTC, deployBulkhead, ETH, ethers, marketParams, networkHelpers } from "../helpers/fixture.js";
import { feedAnswer, MAX_UINT256, TOKEN_SCALE, usd, wad, WAD } from "../helpers/constants.js";
import {
  accountSnapshot,
  expectCustodyIdentity,
  expectedSummary,
  expectSummaryMatches,
  expectUnchanged,
} from "../helpers/invariants.js";
import { openIsolated, trade } from "../helpers/orders.js";

/** Oracle prices (D18) per market id, as the feeds report them. */
const prices = (eth: string, btc: string) =>
  new Map<bigint, bigint>([
    [BigInt(ETH), wad(eth)],
    [BigInt(BTC), wad(btc)],
  ]);

describe("core: margin", () => {
  it("cross margin lets a profit in one market offset a loss in another where split isolated accounts fail", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, ethAggregator, btcAggregator } = contracts;
    const { alice, bob } = signers;

    // Alice: one cross account with 2,000. Bob: the same two positions in two isolated accounts of 1,000 each.
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("2000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
    await trade(engine.connect(alice), 1, BTC, wad("-0.5"), wad("59000"));
    await openIsolated(engine.connect(bob), ETH, 0, usd("1000"), wad("10"), wad("3100"));
    await openIsolated(engine.connect(bob), BTC, 0, usd("1000"), wad("-0.5"), wad("59000"));

    // Both prices rise 10%: the ETH long gains about 3,000, the BTC short loses about 3,000.
    await ethAggregator.setAnswer(feedAnswer("3300"));
    await btcAggregator.setAnswer(feedAnswer("66000"));
    const now = prices("3300", "66000");

    const cross = await expectSummaryMatches(engine, 1n, now);
    expect(cross.equityD18 >= BigInt(cross.maintenanceMarginD18)).to.equal(true);
    expect(await engine.isLiquidatable(1)).to.equal(false);

    const isolatedEth = await expectSummaryMatches(engine, 2n, now);
    const isolatedBtc = await expectSummaryMatches(engine, 3n, now);
    expect(isolatedEth.equityD18 >= BigInt(isolatedEth.maintenanceMarginD18)).to.equal(true);
    expect(isolatedBtc.equityD18 < BigInt(isolatedBtc.maintenanceMarginD18)).to.equal(true);
    expect(await engine.isLiquidatable(2)).to.equal(false);
    expect(await engine.isLiquidatable(3)).to.equal(true);
    await expectCustodyIdentity(contracts);
  });

  it("an isolated account wiped out by liquidation leaves the owner's other accounts unchanged to the wei", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, ethAggregator, btcAggregator, ethFeed, token } = contracts;
    const { alice, keeper } = signers;
    // Funding is time-dependent; with no funding drift in ETH the other accounts' views are time-independent.
    await engine.setMarketParams(ETH, {
      ...marketParams(await ethFeed.getAddress(), "ETH"),
      maxFundingVelocityD18: 0n,
    });

    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("5000"));
    await trade(engine.connect(alice), 1, ETH, wad("5"), wad("3100"));
    await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad("-2"), wad("2900"));
    await openIsolated(engine.connect(alice), BTC, 0, usd("1000"), wad("0.5"), wad("61000"));

    const crossBefore = await accountSnapshot(engine, 1n);
    const isolatedBefore = await accountSnapshot(engine, 2n);
    const walletBefore = await token.balanceOf(alice);

    // BTC falls 5,000: the 0.5 BTC long loses 2,500, far more than its 1,000 of collateral.
    await btcAggregator.setAnswer(feedAnswer("55000"));
    const bad = await expectedSummary(engine, 3n, prices("3000", "55000"));
    expect(bad.equityD18 < 0n).to.equal(true);
    await expect(engine.connect(keeper).liquidate(3, keeper)).to.emit(engine, "BadDebt");

    expect((await engine.getAccount(3)).collateralD18).to.equal(0n);
    expect(await engine.getPositions(3)).to.deep.equal([]);
    expect(await accountSnapshot(engine, 1n)).to.deep.equal(crossBefore);
    expect(await accountSnapshot(engine, 2n)).to.deep.equal(isolatedBefore);
    expect(await token.balanceOf(alice)).to.equal(walletBefore);
    // The ETH price is untouched by the BTC crash: moving it still moves only the ETH accounts.
    await ethAggregator.setAnswer(feedAnswer("3000"));
    expect(await accountSnapshot(engine, 1n)).to.deep.equal(crossBefore);
    await expectCustodyIdentity(contracts);
  });

  it("withdrawals and transfers that would break initial margin revert with InsufficientMargin and change nothing", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine } = contracts;
    const { alice } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("1000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
    const s = await expectedSummary(engine, 1n, prices("3000", "60000"));
    const free = s.equityD18 - BigInt(s.initialMarginD18);
    const tooMuch = free / TOKEN_SCALE + 1n; // one token unit more than the free collateral

    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).withdraw(1, tooMuch, alice))
          .to.be.revertedWithCustomError(engine, "InsufficientMargin")
          .withArgs(anyValue, s.initialMarginD18),
      [alice.address],
    );
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).transferMargin(1, 2, tooMuch * TOKEN_SCALE)).to.be.revertedWithCustomError(
        engine,
        "InsufficientMargin",
      ),
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(
          openIsolated(engine.connect(alice), ETH, 1, tooMuch, wad("0.01"), wad("3100")),
        ).to.be.revertedWithCustomError(engine, "InsufficientMargin"),
      [alice.address],
    );
    // Just inside the limit all three work.
    await engine.connect(alice).transferMargin(1, 2, TOKEN_SCALE);
    await engine.connect(alice).withdraw(1, usd("1"), alice);
    await expectCustodyIdentity(contracts);
  });

  it("withdrawing more than realised collateral reverts with InsufficientCollateral even when equity covers it", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, ethAggregator } = contracts;
    const { alice } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("1000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
    await ethAggregator.setAnswer(feedAnswer("3500")); // about +5,000 of unrealised profit
    const collateral = (await engine.getAccount(1)).collateralD18;
    const s = await expectedSummary(engine, 1n, prices("3500", "60000"));
    expect(s.equityD18 - BigInt(s.initialMarginD18) > usd("2000") * TOKEN_SCALE).to.equal(true);

    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).withdraw(1, usd("2000"), alice))
          .to.be.revertedWithCustomError(engine, "InsufficientCollateral")
          .withArgs(collateral, usd("2000") * TOKEN_SCALE),
      [alice.address],
    );
    expect(await engine.maxWithdrawable(1)).to.equal(BigInt(collateral) / TOKEN_SCALE);
    await expectCustodyIdentity(contracts);
  });

  it("views agree with an independent computation and with each other", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine } = contracts;
    const { alice } = signers;
    await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad("5"), wad("3100"));
    await openIsolated(engine.connect(alice), BTC, 0, usd("500"), wad("-0.1"), wad("59000"));
    await engine.connect(alice).createCrossAccount();

    for (const id of [1n, 2n]) {
      const s = await expectSummaryMatches(engine, id, prices("3000", "60000"));
      expect(await engine.freeCollateral(id)).to.equal(s.equityD18 - BigInt(s.initialMarginD18));
      expect(await engine.healthFactor(id)).to.equal(
        (BigInt(s.equityD18) * WAD) / BigInt(s.maintenanceMarginD18),
      );
      expect(await engine.isLiquidatable(id)).to.equal(false);
    }
    // An empty account: infinite health, nothing to liquidate, all collateral withdrawable.
    expect(await engine.healthFactor(3)).to.equal(MAX_UINT256);
    expect(await engine.isLiquidatable(3)).to.equal(false);
    expect(await engine.maxWithdrawable(3)).to.equal(0n);
    await expect(engine.liquidationPrice(3, ETH))
      .to.be.revertedWithCustomError(engine, "NoPosition")
      .withArgs(3, ETH);
    await expectCustodyIdentity(contracts);
  });

  for (const side of [
    { name: "long", size: "5", accept: "3100" },
    { name: "short", size: "-5", accept: "2900" },
  ]) {
    it(`isLiquidatable flips at the liquidation price of an isolated ${side.name}`, async () => {
      const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
      const { engine, ethAggregator } = contracts;
      const { alice } = signers;
      await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad(side.size), wad(side.accept));
      const liq = await engine.liquidationPrice(1, ETH);
      expect(liq > 0n).to.equal(true);

      // One ten-thousandth of a dollar either side of the reported price (feed answers have 8 decimals).
      const step = 10n ** 10n;
      const tick = 10n ** 4n;
      const safe = side.name === "long" ? liq / step + tick : liq / step - tick;
      const unsafe = side.name === "long" ? liq / step - tick : liq / step + tick;
      await ethAggregator.setAnswer(safe);
      expect(await engine.isLiquidatable(1)).to.equal(false);
      await ethAggregator.setAnswer(unsafe);
      expect(await engine.isLiquidatable(1)).to.equal(true);
      const s = await expectedSummary(engine, 1n, new Map([[BigInt(ETH), unsafe * step]]));
      expect(s.equityD18 < BigInt(s.maintenanceMarginD18)).to.equal(true);
      await expectCustodyIdentity(contracts);
    });
  }

  it("maxWithdrawable can be withdrawn and one more token unit cannot", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine } = contracts;
    const { alice } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("3000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
    await trade(engine.connect(alice), 1, BTC, wad("0.2"), wad("61000"));
    const s = await expectedSummary(engine, 1n, prices("3000", "60000"));
    const expectedMax = (s.equityD18 - BigInt(s.initialMarginD18)) / TOKEN_SCALE;
    const max = await engine.maxWithdrawable(1);
    expect(max).to.equal(expectedMax);

    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).withdraw(1, max + 1n, alice)).to.be.revertedWithCustomError(
          engine,
          "InsufficientMargin",
        ),
      [alice.address],
    );
    await expect(engine.connect(alice).withdraw(1, max, alice)).to.changeTokenBalance(
      ethers,
      contracts.token,
      alice,
      max,
    );
    const free = await engine.freeCollateral(1);
    expect(free >= 0n && free < TOKEN_SCALE + 10n ** 9n).to.equal(true);
    await expectCustodyIdentity(contracts);
  });
});
