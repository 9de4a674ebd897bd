/**
 * The dynamic-margin volatility estimator (contracts/risk/VolatilityOracle.sol), mirrored to the wei: the
 * series log-return, the winsorised EWMA of squared returns, the target multiplier and its bounded moves, and the
 * lagged MM multiplier. Proved equal to the contract by test/volatility.ts.
 */
import { WAD } from "./math.js";
import { sqrtUp } from "./portfolio.js";

const HOUR = 3600n;

export interface VolatilityParams {
  interval: bigint;
  lambdaD18: bigint;
  winsorD18: bigint;
  baseVolD18: bigint;
  capD18: bigint;
  risePerHourD18: bigint;
  fallPerHourD18: bigint;
}

export interface VolatilityState {
  lastPrice: bigint;
  lastSample: bigint;
  varianceD18: bigint;
  imMultiplierD18: bigint;
  previousImMultiplierD18: bigint;
}

const ceilDiv = (a: bigint, b: bigint) => (a === 0n ? 0n : (a - 1n) / b + 1n);
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** VolatilityOracle.lnRatio: ln(a / b) in D18 by the atanh series (Solidity's truncating signed division). */
export function lnRatio(a: bigint, b: bigint): bigint {
  const u = ((a - b) * WAD) / (a + b);
  const u2 = (u * u) / WAD;
  let term = u;
  let sum = u;
  for (let k = 3n; k <= 11n; k += 2n) {
    term = (term * u2) / WAD;
    sum += term / k;
  }
  return 2n * sum;
}

/** The state the first sample creates. */
export function initialState(p: VolatilityParams, priceD18: bigint, time: bigint): VolatilityState {
  return {
    lastPrice: priceD18,
    lastSample: time,
    varianceD18: ceilDiv(p.baseVolD18 * p.baseVolD18, WAD),
    imMultiplierD18: WAD,
    previousImMultiplierD18: WAD,
  };
}

/** VolatilityOracle.sample. */
export function sample(
  p: VolatilityParams,
  s: VolatilityState,
  priceD18: bigint,
  time: bigint,
): { state: VolatilityState; logReturnD18: bigint; targetD18: bigint } {
  const elapsed = time - s.lastSample;
  const intervals = elapsed / p.interval;
  const sigma = sqrtUp(s.varianceD18 * WAD);
  const cap = ceilDiv(p.winsorD18 * sigma, WAD);
  const logReturnD18 = lnRatio(priceD18, s.lastPrice);
  const w = logReturnD18 > cap ? cap : logReturnD18 < -cap ? -cap : logReturnD18;
  const sq = ceilDiv(w * w, WAD * intervals);
  const variance = ceilDiv(p.lambdaD18 * s.varianceD18, WAD) + ceilDiv((WAD - p.lambdaD18) * sq, WAD);
  const vol = sqrtUp(variance * WAD);
  const targetD18 = min(max(ceilDiv(vol * WAD, p.baseVolD18), WAD), p.capD18);
  const im = s.imMultiplierD18;
  let next: bigint;
  if (targetD18 > im) {
    next = min(targetD18, im + (p.risePerHourD18 * elapsed) / HOUR);
  } else {
    const down = (p.fallPerHourD18 * elapsed) / HOUR;
    next = max(targetD18, im > down ? im - down : 0n);
  }
  return {
    state: {
      lastPrice: priceD18,
      lastSample: time,
      varianceD18: variance,
      imMultiplierD18: next,
      previousImMultiplierD18: im,
    },
    logReturnD18,
    targetD18,
  };
}

/** The MM multiplier: the IM multiplier one sample behind on the way up. */
export function mmMultiplier(s: VolatilityState): bigint {
  return min(s.imMultiplierD18, s.previousImMultiplierD18);
}
