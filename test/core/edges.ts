/**
 * Edges no ordinary scenario reaches, each found by a surviving mutant (scripts/mutate.ts): the smallest position
 * a trade can open (its funding checkpoint, its liquidation), a profit that equals the vault's cash to the wei, and
 * a sale whose skew impact takes the whole price.
 */
import { expect } from "chai";
import {
  deployBulkhead,
  deployProtocol,
  ETH,
  ethers,
  marketParams,
  networkHelpers,
} from "../helpers/fixture.js";
import { feedAnswer, usd, wad } from "../helpers/constants.js";
import { settleNext, trade, ANY_REWARD } from "../helpers/orders.js";

const { loadFixture, time } = networkHelpers;
const E9 = 10n ** 9n;
const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));

const smallVault = () => deployProtocol({ lpDeposit: "100000" });
const threeMarkets = () => deployProtocol({ extraMarkets: 1 });

describe("core: edges", () => {
  it("funding checkpoints round against the position at every size, one wei included", async () => {
    const { contracts, signers } = await loadFixture(deployBulkhead);
    const { engine } = contracts;
    const { alice, bob } = signers;
    // Skew the market so that funding accrues to an index that is no multiple of 1e-9.
    await engine.connect(bob).createCrossAccount(); // 1
    await engine.connect(bob).deposit(1, usd("100000"));
    await trade(engine.connect(bob), 1, ETH, wad("50"), ethers.MaxUint256);
    await time.increase(3 * 3600 + 17);
    await engine.connect(alice).createCrossAccount(); // 2
    await engine.connect(alice).deposit(2, usd("1000"));
    let checked = 0;
    for (const size of [1n, -1n, 2n, -2n]) {
      const tx = await trade(engine.connect(alice), 2, ETH, size, size > 0n ? ethers.MaxUint256 : 0n);
      const receipt = await tx.wait();
      const event = receipt!.logs
        .map((log) => engine.interface.parseLog(log))
        .find((e) => e?.name === "PositionModified")!;
      const index: bigint = event.args.fundingIndexD18;
      const newSize: bigint = event.args.newSizeD18;
      if (newSize === 0n || index % E9 === 0n) continue;
      const [p] = await engine.getPositions(2);
      // A long's checkpoint rounds down and a short's up: the position owes at least the exact funding.
      const expected = newSize > 0n ? floorDiv(index, E9) * E9 : -floorDiv(-index, E9) * E9;
      expect(p.lastFundingIndexD18, `size ${newSize}`).to.equal(expected);
      checked++;
    }
    expect(checked).to.be.gte(2); // the one-wei long and short at least
  });

  it("the smallest position there is, one wei worth one wei of notional, is still liquidated", async () => {
    const { contracts, signers } = await loadFixture(threeMarkets);
    const { engine, aggregators } = contracts;
    const { alice, keeper } = signers;
    const CHEAP = 3;
    // A market priced at half a dollar: a one-wei position's notional rounds up to exactly one wei.
    await aggregators[2].setAnswer(feedAnswer("0.5"));
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("25"));
    await trade(engine.connect(alice), 1, CHEAP, 1n, ethers.MaxUint256);
    const s0 = await engine.marginSummary(1);
    expect(s0.notionalD18).to.equal(1n);
    // Governance raises the minimum position margin above the account's equity: it is liquidatable, and is
    // liquidated like any other (the flat part of the reward pays the keeper).
    // (The market has open interest, so the raise ramps in: at most 10% an hour.)
    const params = await engine.getMarketParams(CHEAP);
    let minMargin = wad("20");
    while (minMargin < wad("30")) {
      minMargin = (minMargin * 11n) / 10n;
      await time.increase(3600);
      await engine.setMarketParams(CHEAP, {
        ...marketParams(params.feed, "ETH", params.pullFeed), // as the fixture listed it
        minPositionMarginD18: minMargin,
      });
    }
    expect(await engine.isLiquidatable(1)).to.equal(true);
    expect((await engine.quoteLiquidation(1)).liquidatable).to.equal(true);
    await expect(engine.connect(keeper).liquidate(1, keeper.address)).to.emit(engine, "Liquidated");
    expect((await engine.getAccount(1)).positionCount).to.equal(0n);
  });

  it("a profit exactly equal to the vault's cash is paid in full with no shortfall", async () => {
    const { contracts, signers } = await loadFixture(smallVault);
    const { engine, ethAggregator } = contracts;
    const { alice } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("50000"));
    await trade(engine.connect(alice), 1, ETH, wad("30"), ethers.MaxUint256);
    await ethAggregator.setAnswer(feedAnswer("4000")); // a profit of about 30,000
    await engine.connect(alice).commitOrder(1, ETH, wad("-30"), 0, ANY_REWARD);
    const order = await engine.getOrder(1, ETH);

    // A dry run of the close, to learn what it owes, then the same close with the vault's cash set to exactly
    // that (the fee's share included) in the ledger slot.
    const snapshot = await networkHelpers.takeSnapshot();
    const dry = await (await settleNext(engine, 1, ETH, { publishTime: order.readyTime })).wait();
    const modified = dry!.logs
      .map((l) => engine.interface.parseLog(l))
      .find((e) => e?.name === "PositionModified")!;
    const arg = (k: string) => BigInt(modified.args[k]);
    const owed = arg("realisedPnlD18") - arg("fundingPaidD18");
    const fee = arg("feeD18") - arg("feeToInsuranceD18");
    expect(owed).to.be.gt(0n);
    await snapshot.restore();

    const cash = await engine.vaultCash();
    const address = await engine.getAddress();
    const mask104 = (1n << 104n) - 1n;
    let slot = -1;
    for (let i = 0; i < 64 && slot < 0; i++) {
      const word = BigInt(await ethers.provider.getStorage(address, i));
      if (BigInt.asIntN(104, word & mask104) === cash && word !== 0n) slot = i;
    }
    expect(slot).to.be.gte(0);
    const word = BigInt(await ethers.provider.getStorage(address, slot));
    const target = owed - fee; // vault cash after the fee's share lands = owed
    const patched = (word & ~mask104) | (BigInt.asUintN(104, target) & mask104);
    await networkHelpers.setStorageAt(address, slot, patched);
    expect(await engine.vaultCash()).to.equal(target);

    const collateral = (await engine.getAccount(1)).collateralD18;
    const tx = await settleNext(engine, 1, ETH, { publishTime: order.readyTime });
    const receipt = await tx.wait();
    const names = receipt!.logs.map((l) => engine.interface.parseLog(l)?.name);
    expect(names).to.include("PositionModified");
    expect(names).to.not.include("ProfitShortfall");
    expect(await engine.vaultCash()).to.equal(0n);
    expect((await engine.getAccount(1)).collateralD18).to.equal(collateral + owed - arg("feeD18"));
  });

  it("a sale whose skew impact takes the whole price is refused, even with no price bound", async () => {
    const { contracts, signers } = await loadFixture(deployBulkhead);
    const { engine } = contracts;
    const { alice, bob } = signers;
    const base = marketParams(await contracts.ethFeed.getAddress(), "ETH");
    // A thin market: skew scale 1,000 ETH, open interest up to 1,000 a side (set before any position).
    await engine.setMarketParams(ETH, { ...base, skewScaleD18: wad("1000"), maxOiPerSideD18: wad("1000") });
    await engine.connect(alice).createCrossAccount(); // 1
    await engine.connect(alice).deposit(1, usd("100000"));
    await trade(engine.connect(alice), 1, ETH, wad("100"), ethers.MaxUint256);
    await engine.connect(bob).createCrossAccount(); // 2
    await engine.connect(bob).deposit(2, usd("4000000"));
    await trade(engine.connect(bob), 2, ETH, wad("-1000"), 0n); // skew -900
    // Governance thins the market further (a 5% step, within the ramp): now a sale of alice's 100 ETH moves the
    // price by 2 x (-900) - 100 over 2 x 950 = -100%: its fill is 0.
    await engine.setMarketParams(ETH, { ...base, skewScaleD18: wad("950"), maxOiPerSideD18: wad("950") });
    const q = await engine.quoteTrade(ETH, wad("-100"));
    expect(q.fillPriceD18).to.equal(0n);
    // Alice accepts any price (0 is no bound for a sale), yet the engine refuses to sell at nothing.
    await engine.connect(alice).commitOrder(1, ETH, wad("-100"), 0, ANY_REWARD);
    const before = await engine.getPositions(1);
    await expect(settleNext(engine, 1, ETH))
      .to.be.revertedWithCustomError(engine, "SlippageExceeded")
      .withArgs(0n, 0n);
    expect(await engine.getPositions(1)).to.deep.equal(before);
  });
});
