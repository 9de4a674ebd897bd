/**
 * The dynamic-margin volatility estimator (contracts/risk/VolatilityOracle.sol): sampling once per interval, a
 * manipulated print moving the multiplier at most at its bounded rate, MM lagging IM by one sample, the slow fall,
 * the SDK mirror to the wei along a random price path, and every bad input with its own error.
 */
import { expect } from "chai";
import { ethers, networkHelpers, HEARTBEAT } from "./helpers/fixture.js";
import { feedAnswer } from "./helpers/constants.js";
import { volatility } from "../sdk/index.js";
import type { VolatilityParams, VolatilityState } from "../sdk/volatility.js";
import { rng } from "../scripts/lib/rng.js";

const WAD = 10n ** 18n;
const HOUR = 3600;
const ETH = 1n;

const PARAMS: VolatilityParams = {
  interval: 3600n,
  lambdaD18: (WAD * 9n) / 10n,
  winsorD18: 3n * WAD,
  baseVolD18: WAD / 100n, // 1% per hour
  capD18: 3n * WAD,
  risePerHourD18: WAD / 4n,
  fallPerHourD18: WAD / 20n,
};

async function deploy() {
  const [admin, risk, stranger] = await ethers.getSigners();
  const aggregator = await ethers.deployContract("MockAggregatorV3", [8]);
  await aggregator.setAnswer(feedAnswer("3000"));
  const feed = await ethers.deployContract("ChainlinkPriceFeed", [
    aggregator,
    HEARTBEAT,
    ethers.ZeroAddress,
    0,
  ]);
  const oracle = await ethers.deployContract("VolatilityOracle", [admin, risk]);
  const params = { feed: await feed.getAddress(), ...PARAMS };
  await oracle.connect(risk).setParams(ETH, params);
  return { oracle, aggregator, feed, admin, risk, stranger, params };
}

type World = Awaited<ReturnType<typeof deploy>>;

async function pokeAt(w: World, price: string, at: number) {
  await w.aggregator.setAnswer(feedAnswer(price));
  await networkHelpers.time.setNextBlockTimestamp(at);
  return w.oracle.poke(ETH);
}

const asState = (s: Awaited<ReturnType<World["oracle"]["state"]>>): VolatilityState => ({
  lastPrice: s.lastPrice,
  lastSample: s.lastSample,
  varianceD18: s.varianceD18,
  imMultiplierD18: s.imMultiplierD18,
  previousImMultiplierD18: s.previousImMultiplierD18,
});

describe("VolatilityOracle (dynamic margin)", function () {
  it("starts at the base volatility, then samples at most once per interval", async function () {
    const w = await networkHelpers.loadFixture(deploy);
    expect(await w.oracle.imMultiplier(ETH)).to.equal(WAD);
    const t0 = (await networkHelpers.time.latest()) + 10;
    await expect(pokeAt(w, "3000", t0)).to.emit(w.oracle, "VolatilitySampled");
    expect(await w.oracle.volatility(ETH)).to.equal(WAD / 100n);
    await expect(pokeAt(w, "3010", t0 + HOUR - 1))
      .to.be.revertedWithCustomError(w.oracle, "TooEarly")
      .withArgs(ETH, t0 + HOUR);
    await expect(pokeAt(w, "3010", t0 + HOUR)).to.emit(w.oracle, "VolatilitySampled");
  });

  it("a manipulated print moves the multiplier at most at its bounded rate, and MM lags IM by one sample", async function () {
    const w = await networkHelpers.loadFixture(deploy);
    const t0 = (await networkHelpers.time.latest()) + 10;
    await pokeAt(w, "3000", t0);
    // The price doubles for one print: +69% log-return, winsorised at 3 sigma (3%).
    await pokeAt(w, "6000", t0 + HOUR);
    const s = await w.oracle.state(ETH);
    // var' <= lambda var + (1 - lambda) (3 sigma)^2 = (0.9 + 0.9) var: sigma grows by at most sqrt(1.8).
    expect(s.varianceD18).to.be.at.most((18n * (WAD / 100n) ** 2n) / WAD / 10n + 1n);
    const im = await w.oracle.imMultiplier(ETH);
    expect(im).to.be.greaterThan(WAD);
    expect(im).to.be.at.most(WAD + PARAMS.risePerHourD18);
    expect(await w.oracle.mmMultiplier(ETH), "MM still at the previous IM").to.equal(WAD);
    // Back to normal: the next sample's MM takes the IM of the one before.
    await pokeAt(w, "6000", t0 + 2 * HOUR);
    expect(await w.oracle.mmMultiplier(ETH)).to.equal(
      [im, await w.oracle.imMultiplier(ETH)].reduce((a, b) => (a < b ? a : b)),
    );
  });

  it("rises at most risePerHour and falls at most fallPerHour per hour", async function () {
    const w = await networkHelpers.loadFixture(deploy);
    let t = (await networkHelpers.time.latest()) + 10;
    let price = 3000;
    await pokeAt(w, String(price), t);
    let previous = WAD;
    for (let i = 0; i < 12; i++) {
      price = i % 2 === 0 ? price * 1.08 : price / 1.08; // a turbulent day: 8% swings every hour
      t += HOUR;
      await pokeAt(w, price.toFixed(2), t);
      const im = await w.oracle.imMultiplier(ETH);
      expect(im - previous).to.be.at.most(PARAMS.risePerHourD18);
      previous = im;
    }
    expect(previous).to.be.greaterThan(2n * WAD);
    const peak = previous;
    for (let i = 0; i < 36; i++) {
      t += HOUR;
      await pokeAt(w, price.toFixed(2), t); // calm again: the price holds, the EWMA decays
      const im = await w.oracle.imMultiplier(ETH);
      expect(im).to.be.at.most(previous);
      expect(previous - im).to.be.at.most(PARAMS.fallPerHourD18);
      previous = im;
    }
    // Slower down than up: after a day and a half of calm it has not given back what half a day of turbulence added.
    expect(previous).to.be.lessThan(peak);
    expect(previous).to.be.greaterThan(WAD + (peak - WAD) / 4n);
  });

  it("the SDK mirrors every sample to the wei along a random path, late pokes included", async function () {
    const w = await networkHelpers.loadFixture(deploy);
    const next = rng(99);
    let t = (await networkHelpers.time.latest()) + 10;
    await pokeAt(w, "3000", t);
    let mirror = asState(await w.oracle.state(ETH));
    let price = 3000;
    for (let i = 0; i < 40; i++) {
      price *= Math.exp((next() - 0.5) * (next() < 0.1 ? 0.3 : 0.04));
      t += HOUR * (next() < 0.2 ? 1 + Math.floor(next() * 5) : 1);
      await pokeAt(w, price.toFixed(4), t);
      const priceD18 = (await w.feed.latestPrice()) as bigint;
      mirror = volatility.sample(PARAMS, mirror, priceD18, BigInt(t)).state;
      expect(asState(await w.oracle.state(ETH)), `sample ${i}`).to.deep.equal(mirror);
      expect(await w.oracle.mmMultiplier(ETH)).to.equal(volatility.mmMultiplier(mirror));
    }
  });

  it("takes log-returns within 2e-7 for moves up to a factor of two, exactly as the SDK", async function () {
    const w = await networkHelpers.loadFixture(deploy);
    for (const ratio of [0.5, 0.8, 0.99, 1, 1.0001, 1.05, 1.5, 2]) {
      const a = BigInt(Math.round(3000 * ratio * 1e6)) * 10n ** 12n;
      const b = 3000n * WAD;
      const onChain = await w.oracle.lnRatio(a, b);
      expect(onChain).to.equal(volatility.lnRatio(a, b));
      expect(Math.abs(Number(onChain) / 1e18 - Math.log(Number(a) / Number(b)))).to.be.lessThan(2e-7);
    }
  });

  it("refuses bad inputs, each with its own error, and changes nothing", async function () {
    const w = await networkHelpers.loadFixture(deploy);
    const bad = (edit: Partial<typeof w.params>) => ({ ...w.params, ...edit });
    const cases: [Partial<typeof w.params>, string, bigint][] = [
      [{ feed: ethers.ZeroAddress }, "feed", 0n],
      [{ interval: 3599n }, "interval", 3599n],
      [{ interval: 86401n }, "interval", 86401n],
      [{ lambdaD18: WAD / 2n - 1n }, "lambda", WAD / 2n - 1n],
      [{ lambdaD18: (WAD * 99n) / 100n + 1n }, "lambda", (WAD * 99n) / 100n + 1n],
      [{ winsorD18: 2n * WAD - 1n }, "winsor", 2n * WAD - 1n],
      [{ baseVolD18: 0n }, "baseVol", 0n],
      [{ baseVolD18: WAD / 2n + 1n }, "baseVol", WAD / 2n + 1n],
      [{ capD18: WAD - 1n }, "cap", WAD - 1n],
      [{ capD18: 5n * WAD + 1n }, "cap", 5n * WAD + 1n],
      [{ risePerHourD18: 0n }, "risePerHour", 0n],
      [{ fallPerHourD18: PARAMS.risePerHourD18 + 1n }, "fallPerHour", PARAMS.risePerHourD18 + 1n],
    ];
    for (const [edit, name, value] of cases) {
      await expect(w.oracle.connect(w.risk).setParams(2n, bad(edit)))
        .to.be.revertedWithCustomError(w.oracle, "VolatilityParamOutOfBounds")
        .withArgs(name, value);
    }
    expect((await w.oracle.params(2n)).feed).to.equal(ethers.ZeroAddress);
    await expect(w.oracle.connect(w.stranger).setParams(ETH, w.params))
      .to.be.revertedWithCustomError(w.oracle, "AccessControlUnauthorizedAccount")
      .withArgs(w.stranger.address, await w.oracle.RISK_ROLE());
    await expect(w.oracle.poke(7n)).to.be.revertedWithCustomError(w.oracle, "UnknownMarket").withArgs(7n);
    // A stale or missing price: the feed's own error, and no sample is taken.
    await networkHelpers.time.increase(Number(HEARTBEAT) + 1);
    await expect(w.oracle.poke(ETH)).to.be.revertedWithCustomError(w.feed, "StalePrice");
    await w.aggregator.setAnswer(0);
    await expect(w.oracle.poke(ETH)).to.be.revertedWithCustomError(w.feed, "InvalidPrice");
    expect((await w.oracle.state(ETH)).lastSample).to.equal(0n);
  });
});
