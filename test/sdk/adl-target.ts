/**
 * LiquidationModule.autoDeleverage's NatSpec: closing a fraction f "realises f p out of P and out of C", so with
 * f >= (P - t C) / (p (1 - t)) the market is back at its target afterwards: traders' net PnL <= t x vault cash.
 * But `_applyFill` settles the position's whole accrued funding F, not f F: P falls by f u - F and C by f u - F
 * (u the unrealised PnL), so P' - t C' = (P - t C) - (1 - t)(f u - F), which misses the target by
 * (1 - t)(1 - f) F when the position owes funding (F > 0). Computed here with the SDK's own figures.
 */
import { expect } from "chai";

import { networkHelpers, deployBulkhead, ETH } from "../helpers/fixture.js";
import { usd, wad, feedAnswer, DAY } from "../helpers/constants.js";
import * as math from "../../sdk/math.js";
import { clientFor } from "./harness.js";

describe("autoDeleverage target (NatSpec: traders' PnL <= target x vault cash afterwards)", () => {
  it("reaches the target when the deleveraged position owes funding", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, keeper } = d.signers;
    const { engine, ethAggregator } = d.contracts;
    const a = await clientFor(d, alice);
    const id = await a.createCrossAccount();
    await a.deposit(id, usd("2000000"));
    await (await a.trade(id, ETH, wad("3000"), 100n)).wait();

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
    await (await engine.connect(keeper).autoDeleverage(id, ETH)).wait();
    const left = (await a.getPositions(id))[0].sizeD18;
    expect(left > 0n && left < wad("3000"), "a partial deleverage").to.equal(true);

    const pnlAfter = await engine.tradersNetPnl(ETH);
    const cashAfter = await engine.vaultCash();
    const target = math.divFloor(cashAfter * snap.risk.adlTargetD18, math.SWAD);
    // The miss predicted by the diagnosis above: (1 - t) x (1 - f) x F, with f the closed fraction.
    const t = snap.risk.adlTargetD18;
    const closedFraction = ((wad("3000") - left) * math.WAD) / wad("3000");
    const predictedMiss =
      (((summary.accruedFundingD18 * (math.WAD - t)) / math.WAD) * (math.WAD - closedFraction)) / math.WAD;
    console.log(
      `      F=${summary.accruedFundingD18} f=${closedFraction} miss=${pnlAfter - target} predicted≈${predictedMiss}`,
    );
    expect(pnlAfter, "traders' net PnL after ADL <= target x vault cash").to.be.lte(target);
  });
});
