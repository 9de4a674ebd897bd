/**
 * ILiquidation.liquidationPrice's rounding against its NatSpec: "The move from P0 rounds towards zero, so a healthy
 * position's boundary is reported slightly early (up for longs, down for shorts)", checked against exact rational
 * rounding, with the exit-fill slope of issue 8. (Before the fix, shorts went through MarginMath.divFloor/divCeil with a negative divisor,
 * which those helpers do not support: healthy shorts and liquidatable shorts were each off by one wei.)
 */
import { expect } from "chai";

import { networkHelpers, deployBulkhead, ETH } from "../helpers/fixture.js";
import { usd, wad, feedAnswer } from "../helpers/constants.js";
import * as math from "../../sdk/math.js";
import { clientFor, orderOpenIsolated } from "./harness.js";

/** Exact floor / ceil of a / b for any signs. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}
function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n === b < 0n ? q + 1n : q;
}

async function isolatedPosition(size: bigint, priceAfter?: string) {
  const d = await networkHelpers.loadFixture(deployBulkhead);
  const { alice } = d.signers;
  const client = await clientFor(d, alice);
  const { accountId } = await orderOpenIsolated(client, ETH, usd("1000"), size, { toleranceBps: 100n });
  if (priceAfter) await d.contracts.ethAggregator.setAnswer(feedAnswer(priceAfter));
  const market = await client.getMarket(ETH);
  const summary = await client.marginSummary(accountId);
  const p = market.params;
  const k = math.mulUp(
    math.imr(size, p.baseImrD18, p.maxImrD18, p.imrSizeSlopeD18, p.skewScaleD18),
    p.mmScalarD18,
  );
  // Equity is marked at the exit fill P x (1 + (2 skew - size) / (2 S)), so d(E - MM)/dP x WAD is
  // size x (2 S + 2 skew - size) / (2 S) (truncated, as the NatSpec's formula) minus |size| x k.
  const twiceScale = 2n * p.skewScaleD18;
  const skew = market.state.longOiD18 - market.state.shortOiD18;
  expect(skew, "the position is the whole skew").to.equal(size);
  const slope = (size * (twiceScale + 2n * skew - size)) / twiceScale - math.mulUp(math.abs(size), k);
  const num = (summary.maintenanceMarginD18 - summary.equityD18) * math.WAD;
  expect(num % slope, "the case must need rounding").to.not.equal(0n);
  return { d, accountId, price: market.priceD18, num, slope, summary };
}

describe("liquidationPrice rounding (NatSpec: the move from the price rounds towards zero)", () => {
  it("long, healthy: rounded up (early)", async () => {
    const { d, accountId, price, num, slope } = await isolatedPosition(wad("3.3"));
    expect(await d.contracts.engine.liquidationPrice(accountId, ETH)).to.equal(price + ceilDiv(num, slope));
  });

  it("short, healthy: rounded down (early)", async () => {
    const { d, accountId, price, num, slope } = await isolatedPosition(-wad("3.3"));
    expect(await d.contracts.engine.liquidationPrice(accountId, ETH)).to.equal(price + floorDiv(num, slope));
  });

  it("short, already liquidatable: the move rounds towards zero, not one wei past it", async () => {
    const { d, accountId, price, num, slope, summary } = await isolatedPosition(-wad("3.3"), "3290");
    expect(math.isLiquidatable(summary)).to.equal(true);
    expect(await d.contracts.engine.liquidationPrice(accountId, ETH)).to.equal(price + ceilDiv(num, slope));
  });
});
