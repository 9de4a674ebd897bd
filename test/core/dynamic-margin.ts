/**
 * Dynamic margin in the engine: each market's IM and MM ratios scaled by the volatility oracle's multipliers,
 * copied in by the permissionless `syncVolatility` (rounded up to 1/64), MM lagging IM, and the SDK's summary
 * equal to the chain's with multipliers set.
 */
import { expect } from "chai";
import {
  deployBulkhead,
  ETH,
  BTC,
  ethers,
  marketParams,
  networkHelpers,
  withVolatilityOracle,
} from "../helpers/fixture.js";
import { feedAnswer, usd, wad } from "../helpers/constants.js";
import { trade } from "../helpers/orders.js";
import { BulkheadClient } from "../../sdk/client.js";
import * as math from "../../sdk/math.js";
import type { MarketParams } from "../../sdk/types.js";

const { loadFixture, time } = networkHelpers;
const WAD = 10n ** 18n;
const HOUR = 3600;

async function withOracle() {
  return withVolatilityOracle(await loadFixture(deployBulkhead));
}

/** Pokes ETH's estimator at `price`, one interval after the last sample. */
async function pokeAt(f: Awaited<ReturnType<typeof withOracle>>, price: string) {
  await f.contracts.ethAggregator.setAnswer(feedAnswer(price));
  const s = await f.oracle.state(ETH);
  if (s.lastSample !== 0n) await time.setNextBlockTimestamp(s.lastSample + BigInt(HOUR));
  await f.oracle.poke(ETH);
}

describe("core: dynamic margin", () => {
  it("setVolatilityOracle and syncVolatility refuse bad callers and inputs", async () => {
    const f = await loadFixture(deployBulkhead);
    const { engine, engineImpl } = f.contracts;
    await expect(engine.syncVolatility(ETH)).to.be.revertedWithCustomError(engine, "VolatilityOracleUnset");
    await expect(
      engine.connect(f.signers.alice).setVolatilityOracle(f.contracts.ethFeed),
    ).to.be.revertedWithCustomError(engineImpl, "AccessControlUnauthorizedAccount");
    await expect(engine.setVolatilityOracle(ethers.ZeroAddress)).to.be.revertedWithCustomError(
      engine,
      "ZeroAddress",
    );
    const oracle = await ethers.deployContract("VolatilityOracle", [f.signers.admin, f.signers.admin]);
    await expect(engine.setVolatilityOracle(oracle)).to.emit(engine, "VolatilityOracleSet").withArgs(oracle);
    expect(await engine.volatilityOracle()).to.equal(await oracle.getAddress());
    await expect(engine.syncVolatility(99))
      .to.be.revertedWithCustomError(engine, "UnknownMarket")
      .withArgs(99);
    // Before any sample the multipliers are 1: a sync changes nothing.
    await expect(engine.syncVolatility(ETH))
      .to.emit(engine, "VolatilityMultipliersSynced")
      .withArgs(ETH, WAD, WAD);
  });

  it("a volatility rise raises IM at once and MM one sample later; the SDK's summary follows to the wei", async () => {
    const f = await withOracle();
    const { engine } = f.contracts;
    const { alice } = f.signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("10000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), ethers.MaxUint256);
    await trade(engine.connect(alice), 1, BTC, wad("-0.2"), 0n);
    const calm = await engine.marginSummary(1);

    await pokeAt(f, "3000"); // the first sample
    await pokeAt(f, "3300"); // +10% in an hour: the IM multiplier rises by at most 0.25 per hour
    const im = await f.oracle.imMultiplier(ETH);
    const mm = await f.oracle.mmMultiplier(ETH);
    expect(im).to.equal(wad("1.25"));
    expect(mm).to.equal(WAD); // lagged: still the previous sample's
    // Anyone may sync; stored as 1 + k / 64 rounded up: 1.25 exactly (k = 16).
    await expect(engine.connect(f.signers.keeper).syncVolatility(ETH))
      .to.emit(engine, "VolatilityMultipliersSynced")
      .withArgs(ETH, wad("1.25"), WAD);
    const state = await engine.getMarketState(ETH);
    expect([state.imVolMultiplierD18, state.mmVolMultiplierD18]).to.deep.equal([wad("1.25"), WAD]);

    const [admin] = await ethers.getSigners();
    const client = new BulkheadClient(admin, {
      engine: await engine.getAddress(),
      vault: await f.contracts.vault.getAddress(),
      token: await f.contracts.token.getAddress(),
    });
    const bn = await ethers.provider.getBlockNumber();
    const hot = await client.marginSummary(1n, { blockTag: bn });
    expect(await client.computeSummary(1n, { blockTag: bn })).to.deep.equal(hot);
    // The ETH leg's IM ratio grew by a quarter; BTC's and every MM did not move but for the new price.
    const params = (await engine.getMarketParams(ETH)) as unknown as MarketParams;
    const price = wad("3300");
    const plain = math.positionMargins(params, wad("10"), price);
    const scaled = math.positionMargins(params, wad("10"), price, state);
    expect(scaled.imD18 - params.minPositionMarginD18).to.be.closeTo(
      ((plain.imD18 - params.minPositionMarginD18) * 5n) / 4n,
      2n,
    );
    expect(scaled.mmD18).to.equal(plain.mmD18);
    expect(hot.initialMarginD18).to.be.gt(calm.initialMarginD18);

    // One sample later MM follows (the lag is the grace an account that met IM gets).
    await pokeAt(f, "3300");
    await engine.syncVolatility(ETH);
    const later = await engine.getMarketState(ETH);
    expect(later.mmVolMultiplierD18).to.equal(wad("1.25"));
    expect(later.imVolMultiplierD18).to.be.gte(later.mmVolMultiplierD18);
    const bn2 = await ethers.provider.getBlockNumber();
    expect(await client.computeSummary(1n, { blockTag: bn2 })).to.deep.equal(
      await client.marginSummary(1n, { blockTag: bn2 }),
    );
  });

  it("while a market has open interest, a margin raise ramps in at most 10% an hour; loosening is immediate", async () => {
    const f = await loadFixture(deployBulkhead);
    const { engine, ethFeed } = f.contracts;
    const base = marketParams(await ethFeed.getAddress(), "ETH");
    // No open interest yet: any change within bounds applies at once.
    await engine.setMarketParams(ETH, { ...base, baseImrD18: wad("0.05") });
    await engine.setMarketParams(ETH, base);
    await engine.connect(f.signers.alice).createCrossAccount();
    await engine.connect(f.signers.alice).deposit(1, usd("10000"));
    await trade(engine.connect(f.signers.alice), 1, ETH, wad("1"), ethers.MaxUint256);

    const name = (s: string) => ethers.encodeBytes32String(s);
    // A jump is refused, with the furthest value allowed now (one hour's worth: +10%).
    await expect(engine.setMarketParams(ETH, { ...base, baseImrD18: wad("0.05") }))
      .to.be.revertedWithCustomError(engine, "MarginParameterJump")
      .withArgs(name("baseImr"), wad("0.022"));
    await expect(engine.setMarketParams(ETH, { ...base, skewScaleD18: wad("500000") }))
      .to.be.revertedWithCustomError(engine, "MarginParameterJump")
      .withArgs(name("skewScale"), wad("900000"));
    await expect(engine.setMarketParams(ETH, { ...base, imrSizeSlopeD18: wad("1.2") }))
      .to.be.revertedWithCustomError(engine, "MarginParameterJump")
      .withArgs(name("imrSizeSlope"), wad("1.1"));
    // +10% goes through; right after it, a further raise has no room.
    await engine.setMarketParams(ETH, { ...base, baseImrD18: wad("0.022") });
    await expect(
      engine.setMarketParams(ETH, { ...base, baseImrD18: wad("0.0221") }),
    ).to.be.revertedWithCustomError(engine, "MarginParameterJump");
    // Half an hour later, half the step: 5% of 0.022.
    await time.increase(1800);
    await expect(
      engine.setMarketParams(ETH, { ...base, baseImrD18: wad("0.0232") }),
    ).to.be.revertedWithCustomError(engine, "MarginParameterJump");
    await engine.setMarketParams(ETH, { ...base, baseImrD18: wad("0.023") });
    // Loosening is never limited.
    await engine.setMarketParams(ETH, { ...base, baseImrD18: wad("0.015") });
    expect((await engine.getMarketParams(ETH)).baseImrD18).to.equal(wad("0.015"));
  });
});
