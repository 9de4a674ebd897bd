/**
 * LiquidationModule.autoDeleverage brings a market back to its target: traders' net PnL <= t x vault cash
 * afterwards, also when the position owes funding. `_applyFill` settles the position's whole accrued funding F,
 * not f F, so the fraction must be (P + F - t (C + F)) / (U (1 - t)); the first version used f p with p = U - F
 * and missed the target by (1 - t)(1 - f) F. The SDK's `adlCloseSize` must predict the closed size to the wei.
 */
import { expect } from "chai";

import { networkHelpers, deployBulkhead, ETH } from "../helpers/fixture.js";
import { usd, wad, feedAnswer, DAY } from "../helpers/constants.js";
import * as math from "../../sdk/math.js";
import { clientFor, orderTrade } from "./harness.js";

describe("autoDeleverage target (NatSpec: traders' PnL <= target x vault cash afterwards)", () => {
  it("reaches the target when the deleveraged position owes funding", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, keeper } = d.signers;
    const { engine, ethAggregator } = d.contracts;
    const a = await clientFor(d, alice);
    const id = await a.createCrossAccount();
    await a.deposit(id, usd("2000000"));
    await orderTrade(a, id, ETH, wad("3000"), 100n);

    // Ten days of long skew: the position owes funding; then ETH rallies so that ADL triggers.
    await networkHelpers.time.increase(10n * DAY);
    await ethAggregator.setAnswer(feedAnswer("4000"));
    await d.contracts.btcAggregator.setAnswer(feedAnswer("60000"));
    const [triggered, pnlBefore] = await engine.adlStatus(ETH);
    expect(triggered).to.equal(true);
    const snap = await a.getProtocolSnapshot();
    const acct = await a.getAccountSnapshot(id);
    const summary = math.marginSummary(acct.info, acct.positions, snap.markets, snap.timestamp);
    expect(summary.accruedFundingD18 > 0n, "the position owes funding").to.equal(true);
    expect(pnlBefore).to.equal(math.tradersNetPnl(snap.markets.get(ETH)!, snap.timestamp));

    await networkHelpers.time.setNextBlockTimestamp(snap.timestamp + 1n);
    const planned = math.adlCloseSize(
      acct.positions[0],
      snap.markets.get(ETH)!,
      snap.vaultCashD18,
      snap.risk,
      snap.timestamp + 1n,
    );
    await (await engine.connect(keeper).autoDeleverage(id, ETH)).wait();
    const [ev] = await engine.queryFilter(engine.filters.AutoDeleveraged(id), "latest");
    expect(planned).to.deep.equal({ ok: true, closeSizeD18: ev.args.closedSizeD18 });
    const left = (await a.getPositions(id))[0].sizeD18;
    expect(left > 0n && left < wad("3000"), "a partial deleverage").to.equal(true);

    const pnlAfter = await engine.tradersNetPnl(ETH);
    const cashAfter = await engine.vaultCash();
    const target = math.divFloor(cashAfter * snap.risk.adlTargetD18, math.SWAD);
    expect(pnlAfter, "traders' net PnL after ADL <= target x vault cash").to.be.lte(target);
  });

  it("never deleverages a bystander: AdlNotEligible with the SDK's exact profit and minimum, the whale is eligible", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, bob, keeper } = d.signers;
    const { engine, ethAggregator } = d.contracts;
    const a = await clientFor(d, alice);
    const b = await clientFor(d, bob);
    const whale = await a.createCrossAccount();
    await a.deposit(whale, usd("2000000"));
    await orderTrade(a, whale, ETH, wad("3000"), 100n);
    const bystander = await b.createCrossAccount();
    await b.deposit(bystander, usd("1000"));
    await orderTrade(b, bystander, ETH, wad("0.01"), 100n);
    await ethAggregator.setAnswer(feedAnswer("4000"));
    await d.contracts.btcAggregator.setAnswer(feedAnswer("60000"));
    expect((await engine.adlStatus(ETH))[0], "market over the ADL trigger").to.equal(true);

    const snap = await a.getProtocolSnapshot();
    const now = snap.timestamp + 1n;
    const market = snap.markets.get(ETH)!;
    const small = (await b.getAccountSnapshot(bystander)).positions[0];
    const planned = math.adlCloseSize(small, market, snap.vaultCashD18, snap.risk, now);
    // The bystander is in profit (~10 USD) but far below 1% of the market's ~3M: not eligible.
    expect(planned.ok).to.equal(false);
    if (planned.ok) return;
    expect(planned.error).to.equal("AdlNotEligible");
    const [profit, minProfit] = planned.args!;
    expect(profit > 0n && profit < minProfit).to.equal(true);
    expect(minProfit).to.equal(math.mulUp(math.tradersNetPnl(market, now), snap.risk.adlMinShareD18));
    const before = await b.getAccountSnapshot(bystander);
    await networkHelpers.time.setNextBlockTimestamp(now);
    await expect(engine.connect(keeper).autoDeleverage(bystander, ETH, { gasLimit: 3_000_000 }))
      .to.be.revertedWithCustomError(engine, "AdlNotEligible")
      .withArgs(bystander, ETH, profit, minProfit);
    expect(await b.getAccountSnapshot(bystander)).to.deep.equal(before);

    // The whale carries the excess: the SDK plans its close to the wei.
    const big = (await a.getAccountSnapshot(whale)).positions[0];
    const snap2 = await a.getProtocolSnapshot();
    const at = snap2.timestamp + 1n;
    const plan = math.adlCloseSize(big, snap2.markets.get(ETH)!, snap2.vaultCashD18, snap2.risk, at);
    expect(plan.ok).to.equal(true);
    await networkHelpers.time.setNextBlockTimestamp(at);
    await (await engine.connect(keeper).autoDeleverage(whale, ETH)).wait();
    const [ev] = await engine.queryFilter(engine.filters.AutoDeleveraged(whale), "latest");
    expect(plan).to.deep.equal({ ok: true, closeSizeD18: ev.args.closedSizeD18 });
    expect((await b.getAccountSnapshot(bystander)).positions).to.deep.equal(before.positions);
  });
});
