import { expect } from "chai";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ethers, networkHelpers, deployBulkhead, ETH, BTC, riskParams } from "../helpers/fixture.js";
import {
  TOKEN_SCALE,
  WAD,
  abs,
  accountState,
  deployBlacklistBulkhead,
  expectCustody,
  figures,
  feedAnswer,
  isLiquidatable,
  latest,
  liquidateModelled,
  model,
  postModel,
  rng,
  setPrice,
  usd,
  wad,
  withOiDelta,
  GAS,
} from "../helpers/liquidation.js";
import type { IBulkhead } from "../../types/ethers-contracts/index.js";
import { closeIsolated, openIsolated, trade } from "../helpers/orders.js";

const { loadFixture, takeSnapshot } = networkHelpers;
const FEED_UNIT = 10n ** 10n; // one unit of an 8-decimal answer, in D18

const bound = (size: bigint) => (size > 0n ? wad("1000000000") : 0n);

/** Opens an isolated account for `who` with `margin` USDC and a position of `size` in `marketId`. */
async function openIso(
  engine: IBulkhead,
  who: HardhatEthersSigner,
  marketId: number,
  margin: string,
  size: bigint,
) {
  await openIsolated(engine.connect(who), marketId, 0, usd(margin), size, bound(size));
  return await engine.accountCount();
}

/** Smallest feed answer at which the account is healthy at `t` (the account's equity - MM must increase
 *  with the price of `marketId`, i.e. it is net long there), found by bisection on the independent model. */
async function healthyBoundary(
  engine: IBulkhead,
  id: bigint,
  marketId: number,
  t: bigint,
  lo: bigint,
  hi: bigint,
) {
  const healthy = async (answer: bigint) =>
    !isLiquidatable(await model(engine, id, t, { [marketId]: answer * FEED_UNIT }));
  expect(await healthy(hi)).to.equal(true);
  expect(await healthy(lo)).to.equal(false);
  while (abs(hi - lo) > 1n) {
    const mid = (lo + hi) / 2n;
    if (await healthy(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

describe("liquidation: liquidate", () => {
  it("never liquidates a healthy account (seeded random prices and sizes): NotLiquidatable, nothing changes", async () => {
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator, token } = contracts;
    const { alice, keeper } = signers;
    const rand = rng(0xb01c);
    let checked = 0;
    let unhealthySeen = 0;
    for (let i = 0; i < 200 && checked < 50; i++) {
      await ethAggregator.setAnswer(feedAnswer("3000"));
      const margin = 100 + Math.floor(rand() * 4900);
      const maxSize = (margin - 25) / 65; // IM at 3000 is ~60 per ETH + 20
      const sizeMilli = BigInt(Math.max(1, Math.floor(rand() * maxSize * 1000)));
      const size = (rand() < 0.5 ? -1n : 1n) * sizeMilli * 10n ** 15n;
      const id = await openIso(engine, alice, ETH, String(margin), size);
      const price = BigInt(Math.floor(2400 + rand() * 1200));
      await ethAggregator.setAnswer(feedAnswer(String(price)));
      const t = (await latest()) + 5n;
      const m = await model(engine, id, t);
      if (isLiquidatable(m)) {
        unhealthySeen++;
        continue;
      }
      checked++;
      const before = await accountState(engine, id);
      const [vc, ins, kb] = [
        await engine.vaultCash(),
        await engine.insuranceFund(),
        await token.balanceOf(keeper),
      ];
      await networkHelpers.time.setNextBlockTimestamp(t);
      await expect(engine.connect(keeper).liquidate(id, keeper, GAS))
        .to.be.revertedWithCustomError(engine, "NotLiquidatable")
        .withArgs(id);
      expect(await accountState(engine, id)).to.deep.equal(before);
      expect(await engine.vaultCash()).to.equal(vc);
      expect(await engine.insuranceFund()).to.equal(ins);
      expect(await token.balanceOf(keeper)).to.equal(kb);
    }
    expect(checked).to.equal(50);
    expect(unhealthySeen).to.be.greaterThan(0); // the generator does reach both sides
    await expectCustody(engine);
  });

  for (const side of ["long", "short"] as const) {
    it(`boundary (${side}): one feed unit on the healthy side is not liquidatable, one past it is; liquidationPrice lies between`, async () => {
      const { signers, contracts } = await loadFixture(deployBulkhead);
      const { engine, ethAggregator } = contracts;
      const { alice, keeper } = signers;
      const size = side === "long" ? wad("10") : wad("-10");
      const id = await openIso(engine, alice, ETH, "1000", size);
      const t = (await latest()) + 20n;
      // For a long the unhealthy side is below; for a short above.
      const far = side === "long" ? feedAnswer("1000") : feedAnswer("5000");
      const a = await healthyBoundary(engine, id, ETH, t, far, feedAnswer("3000"));
      const past = side === "long" ? a - 1n : a + 1n;
      const liqPrice = await engine.liquidationPrice(id, ETH);
      // The engine's closed form must agree with the bisection to within one feed unit (plus rounding wei).
      const [lo, hi] = a < past ? [a, past] : [past, a];
      expect(liqPrice).to.be.gte(lo * FEED_UNIT - 1000n);
      expect(liqPrice).to.be.lte(hi * FEED_UNIT + 1000n);

      const snap = await takeSnapshot();
      await ethAggregator.setAnswer(a);
      await networkHelpers.time.setNextBlockTimestamp(t);
      await expect(engine.connect(keeper).liquidate(id, keeper, GAS))
        .to.be.revertedWithCustomError(engine, "NotLiquidatable")
        .withArgs(id);
      expect((await engine.getAccount(id)).positionCount).to.equal(1n);
      await snap.restore();
      await ethAggregator.setAnswer(past);
      await networkHelpers.time.setNextBlockTimestamp(t);
      await expect(engine.connect(keeper).liquidate(id, keeper, GAS)).to.emit(engine, "Liquidated");
      expect((await engine.getAccount(id)).positionCount).to.equal(0n);
    });
  }

  it("boundary: equity == maintenance margin exactly is not liquidatable; one wei less is", async () => {
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator } = contracts;
    const { alice, keeper } = signers;
    await engine.connect(alice).createCrossAccount(); // id 1, same owner: the source of exact top-ups
    await engine.connect(alice).deposit(1, usd("1000"));
    const id = await openIso(engine, alice, ETH, "1000", wad("10"));
    const t = (await latest()) + 20n;
    const a = await healthyBoundary(engine, id, ETH, t, feedAnswer("1000"), feedAnswer("3000"));
    await ethAggregator.setAnswer(a - 1n);
    const m = await model(engine, id, t);
    const gap = m.mm - m.equity;
    expect(gap > 0n).to.equal(true);

    const snap = await takeSnapshot();
    await engine.connect(alice).transferMargin(1, id, gap); // equity == MM at t, to the wei
    const exact = await model(engine, id, t);
    expect(exact.equity).to.equal(exact.mm);
    const before = await accountState(engine, id);
    await networkHelpers.time.setNextBlockTimestamp(t);
    await expect(engine.connect(keeper).liquidate(id, keeper, GAS))
      .to.be.revertedWithCustomError(engine, "NotLiquidatable")
      .withArgs(id);
    expect(await accountState(engine, id)).to.deep.equal(before);

    await snap.restore();
    await engine.connect(alice).transferMargin(1, id, gap - 1n); // one wei short
    await networkHelpers.time.setNextBlockTimestamp(t);
    await expect(engine.connect(keeper).liquidate(id, keeper, GAS)).to.emit(engine, "Liquidated");
  });

  for (const mode of ["isolated", "cross"] as const) {
    it(`liquidating just below the maintenance boundary leaves equity >= 0 and no bad debt (${mode})`, async () => {
      const { signers, contracts } = await loadFixture(deployBulkhead);
      const { engine, ethAggregator } = contracts;
      const { alice, keeper } = signers;
      let id: bigint;
      if (mode === "isolated") {
        id = await openIso(engine, alice, ETH, "3000", wad("25"));
      } else {
        await engine.connect(alice).createCrossAccount();
        id = 1n;
        await engine.connect(alice).deposit(id, usd("4000"));
        await trade(engine.connect(alice), id, ETH, wad("20"), bound(1n));
        await trade(engine.connect(alice), id, BTC, wad("-0.4"), 0n);
      }
      const t = (await latest()) + 20n;
      const a = await healthyBoundary(engine, id, ETH, t, feedAnswer("1000"), feedAnswer("3000"));
      await ethAggregator.setAnswer(a - 1n);
      const r = await liquidateModelled(engine, keeper, id, keeper.address, t);
      expect(r.t).to.equal(BigInt((await ethers.provider.getBlock(r.receipt.blockNumber))!.timestamp));
      expect(r.plan.liquidatable).to.equal(true);
      expect(r.plan.partial).to.equal(false);
      expect(r.before.equity).to.be.lt(r.before.mm);
      expect(r.before.mm - r.before.equity).to.be.lt(wad("1")); // really at the boundary
      const after = await engine.getAccount(id);
      expect(after.positionCount).to.equal(0n);
      expect(after.collateralD18).to.equal(r.sim.collateral);
      expect(after.collateralD18).to.be.gte(0n);
      expect(r.sim.badDebt).to.equal(null);
      await expect(r.tx).to.not.emit(engine, "BadDebt");
      await expectCustody(engine);
    });
  }

  it("seeded random accounts liquidated one feed unit past their boundary never leave bad debt", async () => {
    const rand = rng(0xdeb7);
    for (let i = 0; i < 16; i++) {
      const { signers, contracts } = await loadFixture(deployBulkhead);
      const { engine, ethAggregator } = contracts;
      const { alice, keeper } = signers;
      const ethSize = (rand() < 0.5 ? -1n : 1n) * BigInt(Math.floor(1 + rand() * 80000)) * 10n ** 15n; // 0.001..80
      const btcSize = (rand() < 0.5 ? -1n : 1n) * BigInt(Math.floor(rand() * 2000)) * 10n ** 15n;
      const cross = i % 2 === 1;
      const notional = (abs(ethSize) * 3000n + (cross ? abs(btcSize) * 60000n : 0n)) / WAD;
      const margin = (notional * BigInt(Math.floor(300 + rand() * 700))) / 10000n + 45n; // 3%..10% + mins
      let id: bigint;
      if (cross) {
        await engine.connect(alice).createCrossAccount();
        id = await engine.accountCount();
        await engine.connect(alice).deposit(id, usd(margin.toString()));
        await trade(engine.connect(alice), id, ETH, ethSize, bound(ethSize));
        if (btcSize !== 0n) await trade(engine.connect(alice), id, BTC, btcSize, bound(btcSize));
      } else {
        id = await openIso(engine, alice, ETH, margin.toString(), ethSize);
      }
      const t = (await latest()) + 20n;
      const far = ethSize > 0n ? 1n : feedAnswer("1000000");
      const a = await healthyBoundary(engine, id, ETH, t, far, feedAnswer("3000"));
      await ethAggregator.setAnswer(ethSize > 0n ? a - 1n : a + 1n);
      const r = await liquidateModelled(engine, keeper, id, keeper.address, t);
      expect(r.t).to.equal(t);
      expect(r.plan.liquidatable, `case ${i}`).to.equal(true);
      expect(r.before.equity, `case ${i}: equity before`).to.be.gt(0n);
      expect(r.sim.badDebt, `case ${i}: bad debt`).to.equal(null);
      await expect(r.tx).to.not.emit(engine, "BadDebt");
      const after = await model(engine, id, t);
      expect(after.collateral, `case ${i}: collateral after`).to.be.gte(0n);
      expect(after.equity, `case ${i}: equity after`).to.be.gte(0n);
      expect(figures(after)).to.deep.equal(figures(postModel(r.before, r.sim)));
      await expectCustody(engine);
    }
  });

  it("liquidating an isolated account leaves the same wallet's cross account untouched to the wei", async () => {
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator } = contracts;
    const { alice, keeper } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("50000"));
    await trade(engine.connect(alice), 1, ETH, wad("5"), bound(1n));
    await trade(engine.connect(alice), 1, BTC, wad("-0.3"), 0n);
    const iso = await openIso(engine, alice, ETH, "1000", wad("10"));
    await ethAggregator.setAnswer(feedAnswer("2930"));
    const t = (await latest()) + 10n;
    const crossBefore = await model(engine, 1, t);
    const stateBefore = await accountState(engine, 1);
    expect(isLiquidatable(crossBefore)).to.equal(false);
    const r = await liquidateModelled(engine, keeper, iso);
    expect(r.t).to.equal(t);
    expect((await engine.getAccount(iso)).positionCount).to.equal(0n);
    expect(await accountState(engine, 1)).to.deep.equal(stateBefore);
    // Same timestamp, after the liquidation: the cross account's storage is untouched, and its margin figures move
    // only because the isolated close took 10 ETH of long skew away, which moves the exit fill its ETH leg is
    // marked at (issue 8); notional, margins and funding are unchanged.
    const expected = withOiDelta(crossBefore, BigInt(ETH), -wad("10"), 0n);
    expect(expected.upnl).to.not.equal(crossBefore.upnl);
    expect([expected.im, expected.mm, expected.notional, expected.funding]).to.deep.equal([
      crossBefore.im,
      crossBefore.mm,
      crossBefore.notional,
      crossBefore.funding,
    ]);
    expect(figures(await model(engine, 1, t))).to.deep.equal(figures(expected));
    const s = await engine.marginSummary(1, { blockTag: r.receipt.blockNumber });
    expect([s.collateralD18, s.unrealisedPnlD18, s.accruedFundingD18, s.equityD18]).to.deep.equal([
      expected.collateral,
      expected.upnl,
      expected.funding,
      expected.equity,
    ]);
    expect([s.initialMarginD18, s.maintenanceMarginD18, s.notionalD18]).to.deep.equal([
      crossBefore.im,
      crossBefore.mm,
      crossBefore.notional,
    ]);
    await expectCustody(engine);
  });

  it("liquidating a cross account leaves the same wallet's isolated account untouched to the wei", async () => {
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator } = contracts;
    const { alice, keeper } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("1500"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), bound(1n));
    await trade(engine.connect(alice), 1, BTC, wad("0.1"), bound(1n));
    const iso = await openIso(engine, alice, ETH, "20000", wad("10"));
    await ethAggregator.setAnswer(feedAnswer("2880"));
    const t = (await latest()) + 10n;
    const isoBefore = await model(engine, iso, t);
    const stateBefore = await accountState(engine, iso);
    expect(isLiquidatable(isoBefore)).to.equal(false);
    const r = await liquidateModelled(engine, keeper, 1);
    expect(r.plan.liquidatable).to.equal(true);
    expect((await engine.getAccount(1)).positionCount).to.equal(0n);
    expect(await accountState(engine, iso)).to.deep.equal(stateBefore);
    // Storage untouched; the figures move only through the ETH skew the cross close removed (10 long), which
    // shifts the isolated position's exit fill.
    const expected = withOiDelta(isoBefore, BigInt(ETH), -wad("10"), 0n);
    expect(figures(await model(engine, iso, t))).to.deep.equal(figures(expected));
    const s = await engine.marginSummary(iso, { blockTag: r.receipt.blockNumber });
    expect(s.equityD18).to.equal(expected.equity);
    expect(s.maintenanceMarginD18).to.equal(isoBefore.mm);
    expect(s.accruedFundingD18).to.equal(isoBefore.funding);
    await expectCustody(engine);
  });

  it("does not liquidate a cross account whose profit in one market offsets its loss in another", async () => {
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator, btcAggregator } = contracts;
    const { alice, bob, keeper } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("2000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), bound(1n));
    await trade(engine.connect(alice), 1, BTC, wad("0.5"), bound(1n));
    const twin = await openIso(engine, bob, ETH, "2000", wad("10")); // the ETH leg alone, same margin
    await ethAggregator.setAnswer(feedAnswer("2700"));
    await btcAggregator.setAnswer(feedAnswer("68000"));
    const at = (await latest()) + 10n;
    const cross = await model(engine, 1, at);
    const ethLeg = cross.positions.find((p) => p.marketId === BigInt(ETH))!;
    const btcLeg = cross.positions.find((p) => p.marketId === BigInt(BTC))!;
    expect(ethLeg.upnl < 0n && btcLeg.upnl > 0n).to.equal(true);
    // Without the BTC profit the account would be liquidatable; with it it is healthy.
    expect(cross.equity - btcLeg.upnl + btcLeg.funding < cross.mm).to.equal(true);
    expect(isLiquidatable(cross)).to.equal(false);
    const before = await accountState(engine, 1);
    await networkHelpers.time.setNextBlockTimestamp(at);
    await expect(engine.connect(keeper).liquidate(1, keeper, GAS))
      .to.be.revertedWithCustomError(engine, "NotLiquidatable")
      .withArgs(1);
    expect(await accountState(engine, 1)).to.deep.equal(before);
    // The isolated twin holding only the losing leg is liquidated.
    expect(isLiquidatable(await model(engine, twin, at + 10n))).to.equal(true);
    await networkHelpers.time.setNextBlockTimestamp(at + 10n);
    await expect(engine.connect(keeper).liquidate(twin, keeper, GAS)).to.emit(engine, "Liquidated");
  });

  it("self-liquidation through a second wallet loses money versus closing", async () => {
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator, token } = contracts;
    const { alice, carol } = signers;
    const total = async () => (await token.balanceOf(alice)) + (await token.balanceOf(carol));
    const start = await total();
    const id = await openIso(engine, alice, ETH, "1000", wad("10"));
    const t = (await latest()) + 20n;
    const a = await healthyBoundary(engine, id, ETH, t, feedAnswer("1000"), feedAnswer("3000"));
    await ethAggregator.setAnswer(a - 1n);

    const snap = await takeSnapshot();
    // Path 1: alice closes herself at the same oracle price and takes her collateral back.
    await closeIsolated(engine.connect(alice), id, 0n, 0);
    const closePath = await total();
    await snap.restore();

    // Path 2: carol (alice's second wallet) liquidates it and collects the reward; alice takes the rest.
    const r = await liquidateModelled(engine, carol, id, carol.address, t);
    expect(r.plan.charge).to.be.gt(r.plan.reward);
    // Orders: a close order needs a position, and the liquidation closed it all, so alice withdraws the rest.
    expect(await engine.getPositions(id)).to.deep.equal([]);
    const returned = r.sim.collateral / TOKEN_SCALE;
    if (returned > 0n) await engine.connect(alice).withdraw(id, returned, alice);
    const liqPath = await total();
    // Exact: the wallets got back the reward plus what the account kept after the charge (rounded down).
    expect(liqPath).to.equal(start - usd("1000") + returned + r.plan.reward / TOKEN_SCALE);
    expect(liqPath).to.be.lt(start);
    expect(liqPath).to.be.lt(closePath);
    // And against the equity the account had: the pair lost charge - reward to the liquidation.
    expect((returned + r.plan.reward / TOKEN_SCALE) * TOKEN_SCALE).to.be.lt(r.before.equity);
  });

  it("a dust position is still liquidated and pays the flat keeper reward plus its share of the fee", async () => {
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator, token } = contracts;
    const { alice, keeper } = signers;
    const id = await openIso(engine, alice, ETH, "20.07", wad("0.001"));
    await ethAggregator.setAnswer(feedAnswer("2950"));
    const kb = await token.balanceOf(keeper);
    const ins = await engine.insuranceFund();
    const r = await liquidateModelled(engine, keeper, id);
    expect(r.plan.liquidatable).to.equal(true);
    // Notional 0.001 x 2950 = 2.95; fee 2.95 x 0.5% = 0.01475; reward = 5 (flat) + 0.01475 x 0.5 = 5.007375,
    // a whole number of 6-decimal units; the charge is max(fee, reward) = the reward, so nothing to insurance.
    expect(r.plan.fee).to.equal(wad("0.01475"));
    expect(r.plan.reward).to.equal(wad("5.007375"));
    expect(await token.balanceOf(keeper)).to.equal(kb + usd("5.007375"));
    await expect(r.tx)
      .to.emit(engine, "Liquidated")
      .withArgs(id, keeper.address, keeper.address, false, wad("2.95"), wad("5.007375"), wad("5.007375"), 0n);
    // The fund gets only its share of the close's trading fee.
    expect(await engine.insuranceFund()).to.equal(ins + r.sim.insuranceDelta);
    expect(r.sim.insuranceDelta).to.equal((r.sim.tradingFees * riskParams.insuranceFeeShareD18) / WAD);
    expect((await engine.getAccount(id)).collateralD18).to.equal(r.sim.collateral);
    expect(r.sim.collateral).to.be.gte(0n);
    await expectCustody(engine);
  });

  it("a blacklisted account owner cannot block its liquidation (nothing is sent to the owner)", async () => {
    const { signers, contracts } = await loadFixture(deployBlacklistBulkhead);
    const { engine, ethAggregator, token } = contracts;
    const { alice, keeper } = signers;
    const id = await openIso(engine, alice, ETH, "1000", wad("10"));
    await ethAggregator.setAnswer(feedAnswer("2930"));
    const bl = await ethers.getContractAt("BlacklistToken", await token.getAddress());
    await bl.setBlacklisted(alice, true);
    const ab = await token.balanceOf(alice);
    const kb = await token.balanceOf(keeper);
    const r = await liquidateModelled(engine, keeper, id);
    expect(r.plan.liquidatable).to.equal(true);
    expect((await engine.getAccount(id)).positionCount).to.equal(0n);
    expect(await token.balanceOf(alice)).to.equal(ab);
    expect(await token.balanceOf(keeper)).to.equal(kb + r.plan.reward / TOKEN_SCALE);
    await expectCustody(engine);
  });

  it("an account owned by a contract (no receive/fallback) is liquidated like any other", async () => {
    // No new contract may be added: ReentrantToken's arm() makes an existing contract call the engine.
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator } = contracts;
    const { alice, bob, keeper } = signers;
    const owner = await ethers.deployContract("ReentrantToken", ["R", "R", 18]);
    await owner.mint(bob, 10n);
    await owner.arm(engine, engine.interface.encodeFunctionData("createCrossAccount"));
    await owner.connect(bob).transfer(alice, 1n); // owner contract calls createCrossAccount
    const id = await engine.accountCount();
    expect((await engine.getAccount(id)).owner).to.equal(await owner.getAddress());
    await owner.arm(engine, engine.interface.encodeFunctionData("setOperator", [alice.address, true]));
    await owner.connect(bob).transfer(alice, 1n);
    await engine.connect(alice).deposit(id, usd("1000")); // deposits are permissionless
    await trade(engine.connect(alice), id, ETH, wad("10"), bound(1n)); // as operator
    await ethAggregator.setAnswer(feedAnswer("2930"));
    const r = await liquidateModelled(engine, keeper, id);
    expect(r.plan.liquidatable).to.equal(true);
    expect((await engine.getAccount(id)).positionCount).to.equal(0n);
    await expectCustody(engine);
  });

  it("emits Liquidated and one PositionLiquidated per position with exact arguments; reward + toInsurance == fee", async () => {
    const { signers, contracts } = await loadFixture(deployBulkhead);
    const { engine, ethAggregator, token } = contracts;
    const { alice, keeper, carol } = signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("3000"));
    await trade(engine.connect(alice), 1, ETH, wad("12"), bound(1n));
    await trade(engine.connect(alice), 1, BTC, wad("-0.6"), 0n);
    await networkHelpers.time.increase(3600); // some funding
    await ethAggregator.setAnswer(feedAnswer("2800"));
    const ins = await engine.insuranceFund();
    const vc = await engine.vaultCash();
    const cb = await token.balanceOf(carol);
    const r = await liquidateModelled(engine, keeper, 1, carol.address);
    const p = r.plan;
    expect(p.liquidatable && !p.partial).to.equal(true);
    expect(p.reward + p.toInsurance).to.equal(p.charge);
    // Closed notional 12 x 2800 + 0.6 x 60000 = 69,600; fee 0.5% = 348; reward = 5 + 348 x 0.5 = 179, below the
    // 1,000 cap (issue 8: the reward scales with the closed notional instead of clamping at 20).
    expect(p.closedNotional).to.equal(wad("69600"));
    expect(p.fee).to.equal(wad("348"));
    expect(p.reward).to.equal(wad("179"));
    await expect(r.tx)
      .to.emit(engine, "Liquidated")
      .withArgs(
        1n,
        keeper.address,
        carol.address,
        false,
        p.closedNotional,
        p.charge,
        p.reward,
        p.toInsurance,
      );
    for (const c of r.sim.closed) {
      await expect(r.tx)
        .to.emit(engine, "PositionLiquidated")
        .withArgs(1n, c.marketId, c.closeSize, c.price, c.realised, c.funding, c.tradingFee);
    }
    const events = r.receipt.logs
      .map((l) => {
        try {
          return engine.interface.parseLog(l);
        } catch {
          return null;
        }
      })
      .filter((e) => e !== null);
    const posEvents = events.filter((e) => e!.name === "PositionLiquidated");
    expect(posEvents.map((e) => e!.args.marketId)).to.deep.equal(r.sim.closed.map((c) => c.marketId));
    expect(events.filter((e) => e!.name === "Liquidated").length).to.equal(1);
    // The fund gets charge - reward plus its share of the closes' trading fees.
    expect(r.sim.insuranceDelta).to.equal(
      p.toInsurance + (r.sim.tradingFees * riskParams.insuranceFeeShareD18) / WAD,
    );
    expect(await engine.insuranceFund()).to.equal(ins + r.sim.insuranceDelta);
    expect(await engine.vaultCash()).to.equal(vc + r.sim.vaultDelta);
    expect(await token.balanceOf(carol)).to.equal(cb + p.reward / TOKEN_SCALE);
    expect((await engine.getAccount(1)).collateralD18).to.equal(r.sim.collateral);
    await expectCustody(engine);
  });

  describe("wrong inputs", () => {
    async function liquidatableAccount() {
      const f = await loadFixture(deployBulkhead);
      const { engine, ethAggregator } = f.contracts;
      const id = await openIso(engine, f.signers.alice, ETH, "1000", wad("10"));
      await ethAggregator.setAnswer(feedAnswer("2900"));
      return { ...f, id };
    }

    it("reverts ZeroAddress for a zero reward receiver, changing nothing", async () => {
      const { contracts, signers, id } = await liquidatableAccount();
      const { engine } = contracts;
      const before = await accountState(engine, id);
      await expect(
        engine.connect(signers.keeper).liquidate(id, ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(engine, "ZeroAddress");
      await expect(
        engine.connect(signers.keeper).liquidateBatch([id], ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(engine, "ZeroAddress");
      expect(await accountState(engine, id)).to.deep.equal(before);
    });

    it("reverts UnknownAccount for an account that does not exist", async () => {
      const { contracts, signers } = await liquidatableAccount();
      const { engine } = contracts;
      for (const bad of [0n, 2n, 999n]) {
        await expect(engine.connect(signers.keeper).liquidate(bad, signers.keeper))
          .to.be.revertedWithCustomError(engine, "UnknownAccount")
          .withArgs(bad);
      }
    });

    it("reverts OnlySelf when liquidateInBatch is called from outside", async () => {
      const { contracts, signers, id } = await liquidatableAccount();
      const { engine, module } = contracts;
      const before = await accountState(engine, id);
      const data = module.interface.encodeFunctionData("liquidateInBatch", [
        id,
        signers.keeper.address,
        signers.keeper.address,
      ]);
      await expect(
        signers.keeper.sendTransaction({ to: await engine.getAddress(), data }),
      ).to.be.revertedWithCustomError(module, "OnlySelf");
      expect(await accountState(engine, id)).to.deep.equal(before);
    });

    it("liquidation works while the engine is paused", async () => {
      const { contracts, signers, id } = await liquidatableAccount();
      const { engine } = contracts;
      await engine.connect(signers.admin).pause();
      await expect(
        trade(engine.connect(signers.alice), id, ETH, wad("1"), bound(1n)),
      ).to.be.revertedWithCustomError(contracts.engineImpl, "EnforcedPause");
      const r = await liquidateModelled(engine, signers.keeper, id);
      expect(r.plan.liquidatable).to.equal(true);
      expect((await engine.getAccount(id)).positionCount).to.equal(0n);
      await expectCustody(engine);
    });

    it("reverts with the feed's error when a held market has no valid price", async () => {
      const { contracts, signers, id } = await liquidatableAccount();
      const { engine, ethAggregator, ethFeed } = contracts;
      const before = await accountState(engine, id);
      await networkHelpers.time.increase(86_401); // past the one-day heartbeat
      await expect(
        engine.connect(signers.keeper).liquidate(id, signers.keeper),
      ).to.be.revertedWithCustomError(ethFeed, "StalePrice");
      await ethAggregator.setAnswer(0n);
      await expect(engine.connect(signers.keeper).liquidate(id, signers.keeper))
        .to.be.revertedWithCustomError(ethFeed, "InvalidPrice")
        .withArgs(0n);
      expect(await accountState(engine, id)).to.deep.equal(before);
    });
  });
});
