/**
 * LiquidationModule's documented guarantees over seeded random cross accounts just past their liquidation price:
 * the SDK's plan equals the executed liquidation, a partial liquidation leaves equity >= (1 + buffer) x MM, and
 * the account never keeps a negative balance.
 */
import { expect } from "chai";

import { networkHelpers, deployBulkhead, ETH, BTC } from "../helpers/fixture.js";
import { usd, wad } from "../helpers/constants.js";
import * as math from "../../sdk/math.js";
import { previewLiquidation } from "../../sdk/preview.js";
import { Rng, clientFor, expectFields, orderTrade } from "./harness.js";

const SEED = Number(process.env.SDK_SEED ?? 0x11d);
const CASES = 40;

describe("liquidation guarantees (seeded)", function () {
  this.timeout(120_000);

  it(`holds over ${CASES} random accounts`, async () => {
    const rng = new Rng(SEED);
    let partials = 0;
    for (let i = 0; i < CASES; i++) {
      const d = await networkHelpers.loadFixture(deployBulkhead);
      const { alice, keeper } = d.signers;
      const { engine, ethAggregator, btcAggregator } = d.contracts;
      const a = await clientFor(d, alice);
      const id = await a.createCrossAccount();
      const margin = BigInt(rng.int(10_000, 150_000));
      await a.deposit(id, usd(margin.toString()));
      const leverage = BigInt(rng.int(8, 25));
      const long = rng.chance(0.5);
      const ethSize = (margin * leverage * wad("1")) / 3000n / (rng.chance(0.3) ? 2n : 1n);
      await orderTrade(a, id, ETH, long ? ethSize : -ethSize, 200n);
      if (rng.chance(0.4)) {
        const btcSize = ethSize / BigInt(rng.int(40, 120));
        await orderTrade(a, id, BTC, long ? -btcSize : btcSize, 200n);
      }

      // Move ETH just past the SDK's liquidation price (by 0-300 bps of it), on the feed's 8-decimal grid.
      const snap0 = await a.getProtocolSnapshot();
      const acct0 = await a.getAccountSnapshot(id);
      const s0 = math.marginSummary(acct0.info, acct0.positions, snap0.markets, snap0.timestamp);
      const ethPos = acct0.positions.find((p) => p.marketId === ETH)!;
      const liq = math.liquidationPrice(s0, ethPos, snap0.markets.get(ETH)!);
      const past = BigInt(rng.int(1, 300));
      const target = long ? (liq * (10_000n - past)) / 10_000n : (liq * (10_000n + past)) / 10_000n;
      await ethAggregator.setAnswer(target / 10n ** 10n);
      await btcAggregator.setAnswer(snap0.markets.get(BTC)!.priceD18 / 10n ** 10n);

      const snap = await a.getProtocolSnapshot();
      const acct = await a.getAccountSnapshot(id);
      const ts = snap.timestamp + 1n;
      const plan = math.liquidationPlan(
        acct.info,
        acct.positions,
        snap.markets,
        snap.risk,
        snap.tokenScale,
        ts,
      );
      expect(plan.liquidatable, `case ${i}: liquidatable past the liquidation price`).to.equal(true);
      const preview = previewLiquidation(snap, acct, ts);
      await networkHelpers.time.setNextBlockTimestamp(ts);
      await (await engine.connect(keeper).liquidate(id, keeper)).wait();
      // The SDK's replay of the whole liquidation: each leg (fill, fee, PnL, funding), then the ledger, to the wei.
      const legs = await engine.queryFilter(engine.filters.PositionLiquidated(id), "latest");
      expect(
        legs.map((l) => [
          Number(l.args.marketId),
          l.args.closedSizeD18,
          l.args.priceD18,
          l.args.realisedPnlD18,
          l.args.fundingPaidD18,
          l.args.tradingFeeD18,
        ]),
        `case ${i} legs`,
      ).to.deep.equal(
        preview.legs.map((l) => [
          l.marketId,
          l.closedSizeD18,
          l.priceD18,
          l.realisedPnlD18,
          l.fundingPaidD18,
          l.tradingFeeD18,
        ]),
      );
      expect((await a.getAccount(id)).collateralD18, `case ${i} collateral`).to.equal(
        preview.result.account.info.collateralD18,
      );
      expect(await engine.vaultCash(), `case ${i} vault cash`).to.equal(preview.result.snapshot.vaultCashD18);
      expect(await engine.insuranceFund(), `case ${i} insurance`).to.equal(
        preview.result.snapshot.insuranceFundD18,
      );
      expect(await a.getPositions(id), `case ${i} positions`).to.deep.equal(preview.result.account.positions);
      const [ev] = await engine.queryFilter(engine.filters.Liquidated(id), "latest");
      const charge = math.max(plan.feeD18, plan.rewardD18);
      expectFields(
        {
          partial: ev.args.partial_,
          closed: ev.args.closedNotionalD18,
          charge: ev.args.feeD18,
          reward: ev.args.keeperRewardD18,
        },
        { partial: plan.partial, closed: plan.closedNotionalD18, charge, reward: plan.rewardD18 },
        `case ${i} Liquidated`,
      );
      const after = await a.marginSummary(id);
      expect(
        after.collateralD18 >= 0n || after.notionalD18 !== 0n,
        `case ${i}: no debt left on a closed account`,
      ).to.equal(true);
      if (plan.partial) {
        partials++;
        expect(
          after.equityD18 * math.WAD,
          `case ${i}: equity >= (1 + buffer) x MM after a partial`,
        ).to.be.gte((math.WAD + snap.risk.liquidationBufferD18) * after.maintenanceMarginD18);
      }
    }
    console.log(`      partial liquidations: ${partials}/${CASES}`);
    expect(partials).to.be.greaterThan(2);
  });
});
