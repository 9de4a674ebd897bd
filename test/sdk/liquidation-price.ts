/**
 * MarginEngine.liquidationPrice's rounding against its NatSpec: "Rounded down for longs (the price falls to it) and
 * up for shorts". For shorts the slope (size - |size| x k) is negative, and MarginMath.divFloor/divCeil are only
 * correct for a positive divisor, so the contract's result is checked here against exact rational rounding.
 * The SDK (sdk/math.liquidationPrice) mirrors the contract literally; these tests state the documented behaviour.
 */
import { expect } from "chai";

import { networkHelpers, deployBulkhead, ETH } from "../helpers/fixture.js";
import { usd, wad, feedAnswer } from "../helpers/constants.js";
import * as math from "../../sdk/math.js";
import { clientFor } from "./harness.js";

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
  const { accountId } = await client.openIsolated(ETH, usd("1000"), size, { toleranceBps: 100n });
  if (priceAfter) await d.contracts.ethAggregator.setAnswer(feedAnswer(priceAfter));
  const market = await client.getMarket(ETH);
  const summary = await client.marginSummary(accountId);
  const p = market.params;
  const k = math.mulUp(
    math.imr(size, p.baseImrD18, p.maxImrD18, p.imrSizeSlopeD18, p.skewScaleD18),
    p.mmScalarD18,
  );
  const slope = size - math.mulUp(math.abs(size), k);
  const num = (summary.maintenanceMarginD18 - summary.equityD18) * math.WAD;
  expect(num % slope, "the case must need rounding").to.not.equal(0n);
  return { d, accountId, price: market.priceD18, num, slope, summary };
}

describe("liquidationPrice rounding (NatSpec: down for longs, up for shorts)", () => {
  it("long, healthy: rounded down", async () => {
    const { d, accountId, price, num, slope } = await isolatedPosition(wad("3.3"));
    expect(await d.contracts.engine.liquidationPrice(accountId, ETH)).to.equal(price + floorDiv(num, slope));
  });

  it("short, healthy: rounded up", async () => {
    const { d, accountId, price, num, slope } = await isolatedPosition(-wad("3.3"));
    // Contract: divCeil(num, slope) with num < 0 and slope < 0 truncates, i.e. rounds the positive quotient down.
    expect(await d.contracts.engine.liquidationPrice(accountId, ETH)).to.equal(price + ceilDiv(num, slope));
  });

  it("short, already liquidatable: rounded up, not one wei past the ceiling", async () => {
    const { d, accountId, price, num, slope, summary } = await isolatedPosition(-wad("3.3"), "3290");
    expect(math.isLiquidatable(summary)).to.equal(true);
    // Contract: num > 0 and slope < 0, so truncation already rounds up and divCeil's +1 adds another wei.
    expect(await d.contracts.engine.liquidationPrice(accountId, ETH)).to.equal(price + ceilDiv(num, slope));
  });
});
