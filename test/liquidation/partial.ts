import { expect } from "chai";
import { ethers, networkHelpers, deployBulkhead, ETH, BTC, riskParams } from "../helpers/fixture.js";
import {
  WAD,
  abs,
  accountState,
  expectCustody,
  feedAnswer,
  fillAt,
  figures,
  isLiquidatable,
  latest,
  liquidateModelled,
  meetsBuffer,
  model,
  mulDown,
  plan,
  postModel,
  rng,
  simulate,
  tradeFee,
  usd,
  wad,
  GAS,
  up,
} from "../helpers/liquidation.js";
import type { Model } from "../helpers/liquidation.js";
import { openIsolated, trade } from "../helpers/orders.js";

const { loadFixture } = networkHelpers;

/** The smallest fraction (to 1e-12) whose close (like a trade: fill with impact, trading fee) meets the buffer,
 *  by bisection. */
function minimalFraction(x: Model): bigint {
  const ok = (f: bigint) => meetsBuffer(postModel(x, simulate(x, plan(x, undefined, f), 0n)));
  let lo = 0n;
  let hi = WAD;
  expect(ok(hi) || true).to.equal(true);
  while (hi - lo > 10n ** 6n) {
    const mid = (lo + hi) / 2n;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

const b1 = WAD + riskParams.liquidationBufferD18;
const denOf = (x: Model) => {
  const minMargins = BigInt(x.positions.length) * wad("20");
  // F: the liquidation fee (0.5% of notional, rounded up) plus the trading fee of closing the whole position at the
  // current skew, as a trade would pay it.
  const fullFee = x.positions.reduce(
    (s, p) => s + (p.notional * wad("0.005") + WAD - 1n) / WAD + tradeFee(p.m, -p.size),
    0n,
  );
  return mulDown(x.mm - minMargins, b1) - fullFee;
};
/** f = ((1+b) MM - E + R) / ((1+b) Mv - F), rounded up (LiquidationModule NatSpec), from the fixture's numbers. */
function closedForm(x: Model): bigint {
  const num = (x.mm * b1 + WAD - 1n) / WAD + riskParams.flatKeeperRewardD18 - x.equity;
  const den = denOf(x);
  return (num * WAD + den - 1n) / den;
}

describe("liquidation: partial", () => {
  async function bigCross(eth: string, btc: string, collateral: string) {
    const f = await loadFixture(deployBulkhead);
    const { engine } = f.contracts;
    const { alice } = f.signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd(collateral));
    await trade(engine.connect(alice), 1, ETH, wad(eth), up(wad(eth)));
    await trade(engine.connect(alice), 1, BTC, wad(btc), up(wad(btc)));
    return f;
  }

  it("closes every position by the NatSpec closed-form fraction and restores equity >= (1 + buffer) x MM", async () => {
    const { contracts, signers } = await bigCross("40", "-0.5", "5000");
    const { engine, ethAggregator } = contracts;
    await ethAggregator.setAnswer(feedAnswer("2910"));
    const bn = await ethers.provider.getBlockNumber();
    const t0 = await latest(); // the latest block's timestamp: views at blockTag bn run at t0
    const x = await model(engine, 1, t0);
    expect(x.notional).to.be.gt(riskParams.partialLiquidationNotionalD18);
    expect(isLiquidatable(x) && x.equity > 0n).to.equal(true);

    // The fraction, computed here from the NatSpec formula: f >= ((1+b) MM - E + R) / ((1+b) Mv - F), rounded up.
    const b1 = WAD + riskParams.liquidationBufferD18;
    const f = closedForm(x);
    expect(f > 0n && f < WAD).to.equal(true);

    const q = await engine.quoteLiquidation(1, { blockTag: bn });
    expect(q.liquidatable && q.partial_).to.equal(true);
    expect(q.closeFractionD18).to.equal(f);

    const sizes = (await engine.getPositions(1)).map((p) => [p.marketId, p.sizeD18] as const);
    const r = await liquidateModelled(engine, signers.keeper, 1);
    // The liquidation runs 10 s later (a little more funding): the same formula on that state.
    const f1 = closedForm(r.before);
    expect(r.plan.fraction).to.equal(f1);
    expect(abs(f1 - f)).to.be.lt(wad("0.000001"));
    expect(r.plan.partial).to.equal(true);
    await expect(r.tx)
      .to.emit(engine, "Liquidated")
      .withArgs(
        1n,
        signers.keeper.address,
        signers.keeper.address,
        true,
        r.plan.closedNotional,
        r.plan.charge,
        r.plan.reward,
        r.plan.toInsurance,
      );

    // Pro rata: each position closed by ceil(|size| x f), same sign; the rest stays open.
    const after = await engine.getPositions(1);
    expect(after.length).to.equal(2);
    for (const [marketId, size] of sizes) {
      const closed = ((abs(size) * f1 + WAD - 1n) / WAD) * (size > 0n ? 1n : -1n);
      const p = after.find((q) => q.marketId === marketId)!;
      expect(p.sizeD18).to.equal(size - closed);
      // Closed like a trade: at the fill of -closed at the market's skew, with its maker/taker fee.
      const leg = r.sim.closed.find((c) => c.marketId === marketId)!;
      const m = r.before.positions.find((q) => q.marketId === marketId)!.m;
      expect(leg.price).to.equal(fillAt(m, -closed));
      expect(leg.tradingFee).to.equal(tradeFee(m, -closed));
      await expect(r.tx)
        .to.emit(engine, "PositionLiquidated")
        .withArgs(1n, marketId, closed, leg.price, leg.realised, leg.funding, leg.tradingFee);
      // The closed share of every position is f up to one wei of size.
      expect(abs(closed) * WAD >= abs(size) * f1).to.equal(true);
      expect((abs(closed) - 1n) * WAD < abs(size) * f1).to.equal(true);
    }

    // Afterwards, at the same timestamp: the buffer holds, per the engine's own summary and the model.
    const s = await engine.marginSummary(1, { blockTag: r.receipt.blockNumber });
    expect(s.equityD18 * WAD >= s.maintenanceMarginD18 * b1).to.equal(true);
    const post = await model(engine, 1, r.t);
    expect(figures(post)).to.deep.equal(figures(postModel(r.before, r.sim)));
    expect(s.equityD18).to.equal(post.equity);
    expect(meetsBuffer(post)).to.equal(true);
    expect(isLiquidatable(post)).to.equal(false);

    // No more than needed: the exact minimal fraction is within the NatSpec's stated slack (reward floor and
    // the IMR's fall) of f, and a fraction meaningfully below f (f minus R / den, i.e. without the reward
    // floor term, minus 1%) would not restore the buffer.
    const fMin = minimalFraction(r.before);
    expect(fMin).to.be.lte(f1);
    const slack = (riskParams.flatKeeperRewardD18 * WAD) / denOf(r.before);
    expect(f1 - fMin).to.be.lte(slack + wad("0.01"));
    const tooSmall = f1 - slack - wad("0.01");
    const short = postModel(r.before, simulate(r.before, plan(r.before, undefined, tooSmall), 0n));
    expect(meetsBuffer(short)).to.equal(false);

    // And it stays healthy: a second liquidation is refused.
    await expect(engine.connect(signers.keeper).liquidate(1, signers.keeper))
      .to.be.revertedWithCustomError(engine, "NotLiquidatable")
      .withArgs(1n);
    await expectCustody(engine);
  });

  it("partially liquidates a large isolated account pro rata too", async () => {
    const f = await loadFixture(deployBulkhead);
    const { engine, ethAggregator } = f.contracts;
    await openIsolated(engine.connect(f.signers.alice), ETH, 0, usd("4000"), wad("-50"), 0n);
    await ethAggregator.setAnswer(feedAnswer("3050"));
    const r = await liquidateModelled(engine, f.signers.keeper, 1);
    expect(r.plan.liquidatable && r.plan.partial).to.equal(true);
    const [p] = await engine.getPositions(1);
    expect(p.sizeD18).to.equal(wad("-50") + (wad("50") * r.plan.fraction + WAD - 1n) / WAD);
    expect(meetsBuffer(await model(engine, 1, r.t))).to.equal(true);
    await expectCustody(engine);
  });

  it("closes small accounts (notional <= partialLiquidationNotional) fully", async () => {
    const { contracts, signers } = await bigCross("10", "0.5", "1500");
    const { engine, ethAggregator } = contracts;
    await ethAggregator.setAnswer(feedAnswer("2850"));
    const r = await liquidateModelled(engine, signers.keeper, 1);
    expect(r.before.notional).to.be.lte(riskParams.partialLiquidationNotionalD18);
    expect(r.plan.fraction).to.equal(WAD);
    expect(r.plan.partial).to.equal(false);
    const q = r.sim.closed;
    expect(q.every((c) => c.newSize === 0n)).to.equal(true);
    expect((await engine.getAccount(1)).positionCount).to.equal(0n);
    expect(await engine.getPositions(1)).to.deep.equal([]);
    await expectCustody(engine);
  });

  it("closes a large account fully when its equity is not positive", async () => {
    const { contracts, signers } = await bigCross("40", "0.5", "5000");
    const { engine, ethAggregator } = contracts;
    await ethAggregator.setAnswer(feedAnswer("2840"));
    const t = (await latest()) + 10n;
    const x = await model(engine, 1, t);
    expect(x.notional).to.be.gt(riskParams.partialLiquidationNotionalD18);
    expect(x.equity).to.be.lte(0n);
    const q = await engine.quoteLiquidation(1);
    expect(q.partial_).to.equal(false);
    expect(q.closeFractionD18).to.equal(WAD);
    const r = await liquidateModelled(engine, signers.keeper, 1);
    expect((await engine.getAccount(1)).positionCount).to.equal(0n);
    expect((await engine.getAccount(1)).collateralD18).to.equal(0n);
    expect(r.sim.badDebt).to.not.equal(null);
    await expectCustody(engine);
  });

  it("a quote on a healthy large account is not liquidatable, and liquidate is refused", async () => {
    const { contracts, signers } = await bigCross("40", "-0.5", "5000");
    const { engine } = contracts;
    const before = await accountState(engine, 1);
    const q = await engine.quoteLiquidation(1);
    expect([
      q.liquidatable,
      q.partial_,
      q.closeFractionD18,
      q.closedNotionalD18,
      q.keeperRewardD18,
    ]).to.deep.equal([false, false, 0n, 0n, 0n]);
    await expect(
      engine.connect(signers.keeper).liquidate(1, signers.keeper, GAS),
    ).to.be.revertedWithCustomError(engine, "NotLiquidatable");
    expect(await accountState(engine, 1)).to.deep.equal(before);
  });

  it("seeded random accounts: every liquidation matches the independent model to the wei, partial ones restore the buffer", async () => {
    const rand = rng(0x5eed);
    let partials = 0;
    let fulls = 0;
    for (let i = 0; i < 24; i++) {
      const { contracts, signers } = await loadFixture(deployBulkhead);
      const { engine, ethAggregator } = contracts;
      const { alice, keeper } = signers;
      const ethSize = (rand() < 0.5 ? -1n : 1n) * BigInt(Math.floor(5 + rand() * 55)) * 10n ** 18n;
      const btcSize = (rand() < 0.5 ? -1n : 1n) * BigInt(Math.floor(rand() * 1500)) * 10n ** 15n;
      const notional = (abs(ethSize) * 3000n + abs(btcSize) * 60000n) / WAD;
      const collateral = (notional * BigInt(Math.floor(250 + rand() * 300))) / 10000n + 60n; // 2.5%..5.5%
      await engine.connect(alice).createCrossAccount();
      await engine.connect(alice).deposit(1, usd(collateral.toString()));
      await trade(engine.connect(alice), 1, ETH, ethSize, up(ethSize));
      if (btcSize !== 0n) await trade(engine.connect(alice), 1, BTC, btcSize, up(btcSize));
      const t = (await latest()) + 10n;
      // Walk ETH against the position until liquidatable, then a random extra step.
      const dir = ethSize > 0n ? -1n : 1n;
      let price = 3000n * 10n ** 8n;
      const healthyAt = async (p: bigint) =>
        !isLiquidatable(await model(engine, 1, t, { [ETH]: p * 10n ** 10n }));
      const step = 10n ** 9n; // 10 USD
      while (await healthyAt(price)) price += dir * step;
      price += dir * BigInt(Math.floor(rand() * 4000)) * 10n ** 6n; // up to 40 USD more
      await ethAggregator.setAnswer(price);
      const ins = await engine.insuranceFund();
      const vc = await engine.vaultCash();
      const r = await liquidateModelled(engine, keeper, 1);
      expect(r.plan.liquidatable).to.equal(true);
      const post = await model(engine, 1, r.t);
      expect(figures(post)).to.deep.equal(figures(postModel(r.before, r.sim)));
      expect(await engine.insuranceFund()).to.equal(ins + r.sim.insuranceDelta);
      expect(await engine.vaultCash()).to.equal(vc + r.sim.vaultDelta);
      if (r.plan.partial) {
        partials++;
        expect(meetsBuffer(post), `case ${i}: buffer after partial`).to.equal(true);
        expect(post.positions.length).to.equal(r.before.positions.length);
      } else {
        fulls++;
        expect(post.positions.length).to.equal(0);
      }
      await expectCustody(engine);
    }
    expect(partials).to.be.gt(0);
    expect(fulls).to.be.gt(0);
  });
});
