/**
 * Bulkhead's margin, pricing, funding and liquidation math in bigint, mirroring the contracts to the wei:
 * `contracts/libraries/MarginMath.sol` function by function, then the engine-level compositions of
 * `EngineBase.sol` (`_pendingFunding`, `_summary`, `_positionMargins`, `_rebase`, `_tradersNetPnl`),
 * `MarginEngine.sol` (views) and `LiquidationModule.sol` (`_plan`, `_fractionOf`, `_adlCloseSize`,
 * `liquidationPrice`), as changed by issue 8: positions marked at their exit fill, liquidation priced like a
 * trade, keeper reward = flat + fee x share (capped), ADL eligibility.
 *
 * Units: every price, USD amount and ratio is D18 (1e18 = 1.0); sizes are signed D18 base units; times are
 * unix seconds. Solidity's signed `/` and `%` truncate towards zero exactly like BigInt's, so `/` below is
 * Solidity's `/`; the directed divisions copy the contract's corrections literally (including their
 * behaviour for a negative divisor, where the contract uses them that way).
 *
 * Timestamps: views are evaluated at the timestamp of the block they run in. See `BulkheadClient.viewTimestamp`
 * for which timestamp an `eth_call` sees on Hardhat.
 */
import type { PortfolioLeg } from "./portfolio.js";
import { AccountMode } from "./types.js";
import type {
  AccountInfo,
  LiquidationQuote,
  MarginSummary,
  MarketParams,
  MarketSnapshot,
  MarketState,
  Markets,
  PositionInfo,
  RiskParams,
  TradeQuote,
} from "./types.js";

export const WAD = 10n ** 18n;
export const SWAD = WAD;
/** Funding rates are quoted per day (seconds). */
export const FUNDING_PERIOD = 86_400n;
/** Hard cap on the funding rate, 100% of notional per day (D18). */
export const MAX_FUNDING_RATE = WAD;
/** 2^256 - 1 (`type(uint256).max`): what `healthFactor` returns for an infinite health factor (no MM). */
export const MAX_UINT256 = 2n ** 256n - 1n;

/* ------------------------------------------------------------------------------------------------------------
                                             FIXED-POINT HELPERS
   ------------------------------------------------------------------------------------------------------------ */

/** a * b / WAD, rounded down (a, b >= 0). */
export function mulDown(a: bigint, b: bigint): bigint {
  return (a * b) / WAD;
}

/** a * b / WAD, rounded up (a, b >= 0). */
export function mulUp(a: bigint, b: bigint): bigint {
  const p = a * b;
  return p === 0n ? 0n : (p - 1n) / WAD + 1n;
}

/** MarginMath.divFloor: a / b rounded towards -inf for b > 0 (literal copy of the contract's correction). */
export function divFloor(a: bigint, b: bigint): bigint {
  let q = a / b;
  if (a % b !== 0n && a < 0n) q -= 1n;
  return q;
}

/** MarginMath.divCeil: a / b rounded towards +inf for b > 0 (literal copy of the contract's correction). */
export function divCeil(a: bigint, b: bigint): bigint {
  let q = a / b;
  if (a % b !== 0n && a > 0n) q += 1n;
  return q;
}

export function abs(x: bigint): bigint {
  return x >= 0n ? x : -x;
}

export function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/* ------------------------------------------------------------------------------------------------------------
                                                   MARGIN
   ------------------------------------------------------------------------------------------------------------ */

/** |size| x price, rounded up (D18 USD). */
export function notional(sizeD18: bigint, priceD18: bigint): bigint {
  return mulUp(abs(sizeD18), priceD18);
}

/** Size-scaled initial margin ratio: clamp(baseImr + |size| / skewScale x slope, baseImr, maxImr) (D18). */
export function imr(
  sizeD18: bigint,
  baseImrD18: bigint,
  maxImrD18: bigint,
  slopeD18: bigint,
  skewScaleD18: bigint,
): bigint {
  const p = abs(sizeD18) * slopeD18;
  const sizeTerm = p === 0n ? 0n : (p - 1n) / skewScaleD18 + 1n;
  const r = baseImrD18 + sizeTerm;
  return r > maxImrD18 ? maxImrD18 : r;
}

/** notional x imr + minPositionMargin, rounded up (D18 USD). */
export function initialMargin(notionalD18: bigint, imrD18: bigint, minPositionMarginD18: bigint): bigint {
  return mulUp(notionalD18, imrD18) + minPositionMarginD18;
}

/** notional x imr x mmScalar + minPositionMargin, each product rounded up (D18 USD). */
export function maintenanceMargin(
  notionalD18: bigint,
  imrD18: bigint,
  mmScalarD18: bigint,
  minPositionMarginD18: bigint,
): bigint {
  return mulUp(mulUp(notionalD18, imrD18), mmScalarD18) + minPositionMarginD18;
}

/** size x price - basis, the product rounded down (D18 USD). */
export function unrealisedPnl(sizeD18: bigint, priceD18: bigint, basisD18: bigint): bigint {
  return divFloor(sizeD18 * priceD18, SWAD) - basisD18;
}

/** Funding owed since the last settlement: size x (index - lastIndex), rounded up (D18 USD; > 0 pays). */
export function fundingOwed(sizeD18: bigint, indexD18: bigint, lastIndexD18: bigint): bigint {
  return divCeil(sizeD18 * (indexD18 - lastIndexD18), SWAD);
}

/* ------------------------------------------------------------------------------------------------------------
                                            PRICE IMPACT AND FEES
   ------------------------------------------------------------------------------------------------------------ */

/** oracle x (1 + (2 skew + delta) / (2 skewScale)); up when buying, down when selling; 0 at -100% (D18). */
export function fillPrice(
  oracleD18: bigint,
  skewD18: bigint,
  sizeDeltaD18: bigint,
  skewScaleD18: bigint,
): bigint {
  const num = oracleD18 * (2n * skewD18 + sizeDeltaD18);
  const den = 2n * skewScaleD18;
  const impact = sizeDeltaD18 > 0n ? divCeil(num, den) : divFloor(num, den);
  const fill = oracleD18 + impact;
  return fill > 0n ? fill : 0n;
}

/**
 * Maker fee on the skew-reducing part of the trade, taker fee on the rest, each part priced at its own
 * segment's fill (skew -> 0, then 0 -> skew + delta); fills, notionals and fees round against the trader.
 */
export function tradingFee(
  oracleD18: bigint,
  skewD18: bigint,
  sizeDeltaD18: bigint,
  skewScaleD18: bigint,
  makerFeeD18: bigint,
  takerFeeD18: bigint,
): bigint {
  let makerDelta = 0n;
  if ((skewD18 > 0n && sizeDeltaD18 < 0n) || (skewD18 < 0n && sizeDeltaD18 > 0n)) {
    makerDelta = abs(sizeDeltaD18) < abs(skewD18) ? sizeDeltaD18 : -skewD18;
  }
  const takerDelta = sizeDeltaD18 - makerDelta;
  let fee = 0n;
  if (makerDelta !== 0n) {
    const makerFill = fillPrice(oracleD18, skewD18, makerDelta, skewScaleD18);
    fee = mulUp(mulUp(abs(makerDelta), makerFill), makerFeeD18);
  }
  if (takerDelta !== 0n) {
    const takerFill = fillPrice(oracleD18, skewD18 + makerDelta, takerDelta, skewScaleD18);
    fee += mulUp(mulUp(abs(takerDelta), takerFill), takerFeeD18);
  }
  return fee;
}

/* ------------------------------------------------------------------------------------------------------------
                                                   FUNDING
   ------------------------------------------------------------------------------------------------------------ */

/** Funding rate (per day, D18) after `elapsed` seconds of drift at constant skew, clamped to +-100%/day. */
export function nextFundingRate(
  rateD18: bigint,
  elapsed: bigint,
  skewD18: bigint,
  skewScaleD18: bigint,
  maxVelocityD18: bigint,
): bigint {
  let proportionalSkew = (skewD18 * SWAD) / skewScaleD18;
  if (proportionalSkew > SWAD) proportionalSkew = SWAD;
  if (proportionalSkew < -SWAD) proportionalSkew = -SWAD;
  let nextRate = rateD18 + (maxVelocityD18 * proportionalSkew * elapsed) / (SWAD * FUNDING_PERIOD);
  if (nextRate > MAX_FUNDING_RATE) nextRate = MAX_FUNDING_RATE;
  if (nextRate < -MAX_FUNDING_RATE) nextRate = -MAX_FUNDING_RATE;
  return nextRate;
}

/** Funding rate and index after `elapsed` seconds at constant skew and price (trapezoid on the rate). */
export function accrueFunding(
  rateD18: bigint,
  indexD18: bigint,
  elapsed: bigint,
  skewD18: bigint,
  skewScaleD18: bigint,
  maxVelocityD18: bigint,
  priceD18: bigint,
): { rateD18: bigint; indexD18: bigint } {
  if (elapsed === 0n) return { rateD18, indexD18 };
  const nextRate = nextFundingRate(rateD18, elapsed, skewD18, skewScaleD18, maxVelocityD18);
  const indexDelta = ((rateD18 + nextRate) * elapsed * priceD18) / (2n * FUNDING_PERIOD * SWAD);
  return { rateD18: nextRate, indexD18: indexD18 + indexDelta };
}

/* ------------------------------------------------------------------------------------------------------------
                                          ENGINE-LEVEL COMPOSITIONS
   ------------------------------------------------------------------------------------------------------------ */

/** Market skew = long OI - short OI (D18 base units). */
export function skewOf(state: MarketState): bigint {
  return state.longOiD18 - state.shortOiD18;
}

/** EngineBase._pendingFunding: rate and index as if accrued to `now` at `priceD18`, without writing. */
export function pendingFunding(
  state: MarketState,
  params: MarketParams,
  priceD18: bigint,
  now: bigint,
): { rateD18: bigint; indexD18: bigint } {
  if (now < state.lastFundingTime) throw new RangeError("pendingFunding: now is before lastFundingTime");
  return accrueFunding(
    state.fundingRateD18,
    state.fundingIndexD18,
    now - state.lastFundingTime,
    skewOf(state),
    params.skewScaleD18,
    params.maxFundingVelocityD18,
    priceD18,
  );
}

/** The volatility multipliers of a market (MarketState), absent meaning none. */
export type VolMultipliers = Pick<MarketState, "imVolMultiplierD18" | "mmVolMultiplierD18">;

/** EngineBase._volScaled: `ratio` x a volatility multiplier (a whole number of 1/64 above 1), rounded up, <= 1. */
export function volScaled(ratioD18: bigint, multiplierD18: bigint | undefined): bigint {
  const k = multiplierD18 === undefined ? 0n : ((multiplierD18 - WAD) * 64n) / WAD;
  const scaled = ratioD18 + divCeil(ratioD18 * k, 64n);
  return scaled > WAD ? WAD : scaled;
}

/**
 * EngineBase._positionMargins: notional, IM and MM of one position, all rounded up (D18 USD), the size-scaled
 * ratio scaled by the market's volatility multipliers (`vol`: its MarketState).
 */
export function positionMargins(
  params: MarketParams,
  sizeD18: bigint,
  priceD18: bigint,
  vol?: VolMultipliers,
): { notionalD18: bigint; imD18: bigint; mmD18: bigint } {
  const n = notional(sizeD18, priceD18);
  const ratio = imr(
    sizeD18,
    params.baseImrD18,
    params.maxImrD18,
    params.imrSizeSlopeD18,
    params.skewScaleD18,
  );
  return {
    notionalD18: n,
    imD18: initialMargin(n, volScaled(ratio, vol?.imVolMultiplierD18), params.minPositionMarginD18),
    mmD18: maintenanceMargin(
      n,
      volScaled(ratio, vol?.mmVolMultiplierD18),
      params.mmScalarD18,
      params.minPositionMarginD18,
    ),
  };
}

function marketOf(markets: Markets, marketId: number): MarketSnapshot {
  const m = markets.get(marketId);
  if (!m) throw new Error(`market ${marketId} missing from the snapshot`);
  return m;
}

/**
 * EngineBase._exitFill: the price a trade closing `sizeD18` now would get, i.e. the oracle with the close's skew
 * impact at the market's current skew, rounded against the position (D18).
 */
export function exitFill(
  market: Pick<MarketSnapshot, "params" | "state" | "priceD18">,
  sizeD18: bigint,
): bigint {
  return fillPrice(market.priceD18, skewOf(market.state), -sizeD18, market.params.skewScaleD18);
}

/**
 * EngineBase._portfolioMargins' legs: each position's signed notional (rounded up in size) and its standalone
 * cross-mode IM and MM at the snapshot prices, with `override` (a market's size after a trade, at a price)
 * replacing or adding one position; a position of size 0 is left out.
 */
export function portfolioLegs(
  positions: readonly PositionInfo[],
  markets: Markets,
  override?: { marketId: number; sizeD18: bigint; priceD18: bigint },
): PortfolioLeg[] {
  const sizes = positions.map((p) => ({
    marketId: p.marketId,
    sizeD18: p.sizeD18,
    priceD18: marketOf(markets, p.marketId).priceD18,
  }));
  if (override !== undefined) {
    const held = sizes.find((p) => p.marketId === override.marketId);
    if (held === undefined) sizes.push({ ...override });
    else held.sizeD18 = override.sizeD18;
  }
  return sizes
    .filter((p) => p.sizeD18 !== 0n)
    .map((p) => {
      const m = marketOf(markets, p.marketId);
      const pm = positionMargins(m.params, p.sizeD18, p.priceD18, m.state);
      return {
        marketId: p.marketId,
        notionalD18: p.sizeD18 > 0n ? pm.notionalD18 : -pm.notionalD18,
        standaloneImD18: pm.imD18,
        standaloneMmD18: pm.mmD18,
      };
    });
}

/** A portfolio account's IM and MM for its legs (`portfolio.portfolioRequirement` on the model's state). */
export type PortfolioMargins = (legs: PortfolioLeg[]) => { imD18: bigint; mmD18: bigint };

/**
 * EngineBase._summary: every margin figure of an account at the snapshot prices, skews and funding accrued to
 * `now`. Each position is marked at its exit fill (`exitFill`): unrealised PnL = size x exitFill - basis, so an
 * entry premium is never margin. Notional, IM and MM use the oracle price; a portfolio account's IM and MM are
 * the risk model's (`portfolioMargins`, required for one).
 */
export function marginSummary(
  account: Pick<AccountInfo, "collateralD18"> & { mode?: AccountMode },
  positions: readonly PositionInfo[],
  markets: Markets,
  now: bigint,
  portfolioMargins?: PortfolioMargins,
): MarginSummary {
  const s: MarginSummary = {
    collateralD18: account.collateralD18,
    unrealisedPnlD18: 0n,
    accruedFundingD18: 0n,
    equityD18: 0n,
    initialMarginD18: 0n,
    maintenanceMarginD18: 0n,
    notionalD18: 0n,
  };
  for (const p of positions) {
    const m = marketOf(markets, p.marketId);
    const { indexD18 } = pendingFunding(m.state, m.params, m.priceD18, now);
    s.unrealisedPnlD18 += unrealisedPnl(p.sizeD18, exitFill(m, p.sizeD18), p.basisD18);
    s.accruedFundingD18 += fundingOwed(p.sizeD18, indexD18, p.lastFundingIndexD18);
    const pm = positionMargins(m.params, p.sizeD18, m.priceD18, m.state);
    s.notionalD18 += pm.notionalD18;
    s.initialMarginD18 += pm.imD18;
    s.maintenanceMarginD18 += pm.mmD18;
  }
  s.equityD18 = s.collateralD18 + s.unrealisedPnlD18 - s.accruedFundingD18;
  if (account.mode === AccountMode.Portfolio) {
    if (portfolioMargins === undefined) throw new Error("a portfolio account's summary needs its risk model");
    ({ imD18: s.initialMarginD18, mmD18: s.maintenanceMarginD18 } = portfolioMargins(
      portfolioLegs(positions, markets),
    ));
  }
  return s;
}

/** MarginEngine.freeCollateral: equity - IM (D18, may be negative). */
export function freeCollateral(s: MarginSummary): bigint {
  return s.equityD18 - s.initialMarginD18;
}

/**
 * MarginEngine.maxWithdrawable: min(collateral, equity - IM if any position), in token units, rounded down; 0
 * while an order of the account is pending (`collateralLocked`: the engine locks its collateral, see
 * `CollateralLockedByOrder`; the summary alone cannot tell, so the caller says).
 */
export function maxWithdrawable(s: MarginSummary, tokenScale: bigint, collateralLocked = false): bigint {
  if (collateralLocked) return 0n;
  let free = s.collateralD18;
  if (s.notionalD18 !== 0n) {
    const overIm = s.equityD18 - s.initialMarginD18;
    if (overIm < free) free = overIm;
  }
  return free > 0n ? free / tokenScale : 0n;
}

/**
 * ILiquidation.healthFactor: equity / MM (D18, 1e18 = at the maintenance boundary). Infinite health (no position,
 * MM == 0) is reported as `MAX_UINT256` = 2^256 - 1, exactly as the chain returns `type(uint256).max`; 0 when
 * equity <= 0.
 */
export function healthFactor(s: MarginSummary): bigint {
  if (s.maintenanceMarginD18 === 0n) return MAX_UINT256;
  if (s.equityD18 <= 0n) return 0n;
  return (s.equityD18 * WAD) / s.maintenanceMarginD18;
}

/** MarginEngine.isLiquidatable: some notional and equity < MM. */
export function isLiquidatable(s: MarginSummary): boolean {
  return s.notionalD18 !== 0n && s.equityD18 < s.maintenanceMarginD18;
}

/**
 * ILiquidation.liquidationPrice: the boundary oracle price of the position's market at which equity equals MM,
 * other prices and every skew fixed; beyond it (below for a long, above for a short) the account is liquidatable,
 * at it not yet. Equity is marked at the exit fill P x g with g = 1 + (2 skew - size) / (2 skewScale), so
 * d(E - MM)/dP x WAD = slope = trunc(size x (2 S + 2 skew - size) / (2 S)) - |size| x k (k = imr x mmScalar,
 * rounded up) and P = P0 + trunc((MM0 - E0) x WAD / slope) (D18; 0 if slope == 0 or the price is not positive).
 * The move from P0 truncates towards zero: a healthy position's price is reported slightly early.
 */
export function liquidationPrice(
  summary: MarginSummary,
  position: Pick<PositionInfo, "sizeD18">,
  market: Pick<MarketSnapshot, "params" | "state" | "priceD18">,
): bigint {
  const size = position.sizeD18;
  if (size === 0n) throw new Error("liquidationPrice: no position");
  const p = market.params;
  const k = mulUp(
    volScaled(
      imr(size, p.baseImrD18, p.maxImrD18, p.imrSizeSlopeD18, p.skewScaleD18),
      market.state.mmVolMultiplierD18,
    ),
    p.mmScalarD18,
  );
  const twiceScale = 2n * p.skewScaleD18;
  const slope = (size * (twiceScale + 2n * skewOf(market.state) - size)) / twiceScale - mulUp(abs(size), k);
  if (slope === 0n) return 0n;
  const gap = summary.maintenanceMarginD18 - summary.equityD18;
  const move = (gap * SWAD) / slope;
  const liq = market.priceD18 + move;
  return liq > 0n ? liq : 0n;
}

/** MarginEngine.quoteTrade at the snapshot's price and skew. */
export function quoteTrade(
  market: Pick<MarketSnapshot, "params" | "state" | "priceD18">,
  sizeDeltaD18: bigint,
): TradeQuote {
  const skew = skewOf(market.state);
  const fill = fillPrice(market.priceD18, skew, sizeDeltaD18, market.params.skewScaleD18);
  return {
    oraclePriceD18: market.priceD18,
    fillPriceD18: fill,
    feeD18: tradingFee(
      market.priceD18,
      skew,
      sizeDeltaD18,
      market.params.skewScaleD18,
      market.params.makerFeeD18,
      market.params.takerFeeD18,
    ),
  };
}

/** EngineBase._rebase: new cost basis and realised PnL of `oldSize` changed by `sizeDelta` at `price` (D18). */
export function rebase(
  oldSizeD18: bigint,
  oldBasisD18: bigint,
  sizeDeltaD18: bigint,
  priceD18: bigint,
): { newBasisD18: bigint; realisedPnlD18: bigint } {
  const newSize = oldSizeD18 + sizeDeltaD18;
  if (oldSizeD18 === 0n || oldSizeD18 > 0n === sizeDeltaD18 > 0n) {
    return { newBasisD18: oldBasisD18 + divCeil(sizeDeltaD18 * priceD18, SWAD), realisedPnlD18: 0n };
  }
  if (abs(sizeDeltaD18) <= abs(oldSizeD18)) {
    const released = newSize === 0n ? oldBasisD18 : divCeil(oldBasisD18 * abs(sizeDeltaD18), abs(oldSizeD18));
    return {
      newBasisD18: oldBasisD18 - released,
      realisedPnlD18: divFloor(-sizeDeltaD18 * priceD18, SWAD) - released,
    };
  }
  return {
    newBasisD18: divCeil(newSize * priceD18, SWAD),
    realisedPnlD18: divFloor(oldSizeD18 * priceD18, SWAD) - oldBasisD18,
  };
}

/** EngineBase._fundingBasis: size x index, rounded down. */
/**
 * The funding checkpoint a position of `sizeD18` stores when settled at `indexD18` (EngineBase._toCheckpointD9):
 * the index in 1e-9 USD per unit, rounded down for a long and up for a short, returned in D18.
 */
export function fundingCheckpoint(sizeD18: bigint, indexD18: bigint): bigint {
  const d9 = sizeD18 > 0n ? divFloor(indexD18, 10n ** 9n) : divCeil(indexD18, 10n ** 9n);
  return d9 * 10n ** 9n;
}

export function fundingBasis(sizeD18: bigint, indexD18: bigint): bigint {
  return divFloor(sizeD18 * indexD18, SWAD);
}

/**
 * EngineBase._tradersNetPnl: traders' net PnL in a market from aggregates (D18), what they could take out by
 * closing the whole skew: (skew x closeFill - netBasis) - (skew x index - netFundingBasis), where
 * closeFill = price + skew x price / (2 skewScale) (rounded up for a long skew, down for a short one) and the
 * unrealised part rounds up: the vault values itself low.
 */
export function tradersNetPnl(
  market: Pick<MarketSnapshot, "params" | "state" | "priceD18">,
  now: bigint,
): bigint {
  const { indexD18 } = pendingFunding(market.state, market.params, market.priceD18, now);
  const skew = skewOf(market.state);
  const price = market.priceD18;
  const impact = skew * price;
  const twiceScale = 2n * market.params.skewScaleD18;
  const closeFill = price + (skew > 0n ? divCeil(impact, twiceScale) : divFloor(impact, twiceScale));
  const unrealised = divCeil(skew * closeFill, SWAD) - market.state.netBasisD18;
  const funding = divFloor(skew * indexD18, SWAD) - market.state.netFundingBasisD18;
  return unrealised - funding;
}

/** MarginEngine.vaultValue: vault cash minus every market's traders' net PnL (markets without OI skipped). */
export function vaultValue(vaultCashD18: bigint, markets: Markets, now: bigint): bigint {
  let value = vaultCashD18;
  for (const m of markets.values()) {
    if (m.state.longOiD18 === 0n && m.state.shortOiD18 === 0n) continue;
    value -= tradersNetPnl(m, now);
  }
  return value;
}

/**
 * EngineBase._updateReserve's figure: max(long, short) x price x reserveRatio, each product rounded up, then up
 * to whole USD (the engine stores reserves in whole USD). Returned in D18 (a multiple of WAD), as
 * `getMarketState().reservedD18` and `totalReserved()` report it.
 */
export function marketReserve(market: Pick<MarketSnapshot, "params" | "state" | "priceD18">): bigint {
  const larger = max(market.state.longOiD18, market.state.shortOiD18);
  const reservedUsd = (mulUp(mulUp(larger, market.priceD18), market.params.reserveRatioD18) + WAD - 1n) / WAD;
  return reservedUsd * WAD;
}

/** EngineBase._settle's fee split: the insurance share rounds down. */
export function feeSplit(
  feeD18: bigint,
  insuranceFeeShareD18: bigint,
): { toVaultD18: bigint; toInsuranceD18: bigint } {
  const toInsuranceD18 = mulDown(feeD18, insuranceFeeShareD18);
  return { toVaultD18: feeD18 - toInsuranceD18, toInsuranceD18 };
}

/* ------------------------------------------------------------------------------------------------------------
                                                 LIQUIDATION
   ------------------------------------------------------------------------------------------------------------ */

/** LiquidationModule._fractionOf: |size| x fraction rounded up, never more than all of it, with size's sign. */
export function fractionOf(sizeD18: bigint, fractionD18: bigint): bigint {
  if (fractionD18 >= WAD) return sizeD18;
  let closed = mulUp(abs(sizeD18), fractionD18);
  const all = abs(sizeD18);
  if (closed > all) closed = all;
  return sizeD18 > 0n ? closed : -closed;
}

/** LiquidationModule.Plan (without the summary's copy), plus what `_liquidate` derives from it. */
export interface LiquidationPlan {
  summary: MarginSummary;
  liquidatable: boolean;
  partial: boolean;
  /** Fraction of every position closed (D18, 1e18 = all). */
  fractionD18: bigint;
  /** Notional closed, at the oracle price (D18). */
  closedNotionalD18: bigint;
  /** Liquidation fee of the planned close: sum of closed notional x liquidationFee, each rounded up (D18). */
  feeD18: bigint;
  /**
   * Keeper reward: min(flatKeeperReward + fee x keeperShare (rounded down), maxKeeperReward), on a full close
   * capped at max(equity - trading fees, flatKeeperReward), truncated to whole token units (D18).
   */
  rewardD18: bigint;
  /** The liquidation charge to the account: max(fee, reward) (D18), on top of the trading fees. */
  chargeD18: bigint;
  /** charge - reward, credited to the insurance fund (D18). */
  toInsuranceD18: bigint;
  /** Maker/taker fees of the planned closes at the markets' current skews, as trades would pay them (D18). */
  tradingFeeD18: bigint;
}

/** LiquidationModule._plan: everything a liquidation of the account would do now. */
export function liquidationPlan(
  account: Pick<AccountInfo, "collateralD18">,
  positions: readonly PositionInfo[],
  markets: Markets,
  risk: RiskParams,
  tokenScale: bigint,
  now: bigint,
): LiquidationPlan {
  const s = marginSummary(account, positions, markets, now);
  const plan: LiquidationPlan = {
    summary: s,
    liquidatable: false,
    partial: false,
    fractionD18: 0n,
    closedNotionalD18: 0n,
    feeD18: 0n,
    rewardD18: 0n,
    chargeD18: 0n,
    toInsuranceD18: 0n,
    tradingFeeD18: 0n,
  };
  if (s.notionalD18 === 0n || s.equityD18 >= s.maintenanceMarginD18) return plan;
  plan.liquidatable = true;
  plan.fractionD18 = WAD;

  // F: the liquidation fee plus the trading fee of closing every position in full at the current skews.
  let minMargins = 0n;
  let fullFee = 0n;
  for (const p of positions) {
    const m = marketOf(markets, p.marketId);
    minMargins += m.params.minPositionMarginD18;
    fullFee +=
      mulUp(notional(p.sizeD18, m.priceD18), m.params.liquidationFeeD18) + quoteTrade(m, -p.sizeD18).feeD18;
  }

  if (s.notionalD18 > risk.partialLiquidationNotionalD18 && s.equityD18 > 0n) {
    const onePlusBuffer = WAD + risk.liquidationBufferD18;
    const variableMm = s.maintenanceMarginD18 - minMargins;
    let den = mulDown(variableMm, onePlusBuffer);
    if (den > fullFee) {
      den -= fullFee;
      const num = mulUp(s.maintenanceMarginD18, onePlusBuffer) + risk.flatKeeperRewardD18 - s.equityD18;
      if (num < 0n)
        throw new Error("liquidationPlan: unreachable negative numerator (the contract would revert)");
      const fraction = (num * WAD + den - 1n) / den;
      if (fraction < WAD) {
        plan.partial = true;
        plan.fractionD18 = fraction;
      }
    }
  }

  for (const p of positions) {
    const m = marketOf(markets, p.marketId);
    const closeSize = fractionOf(p.sizeD18, plan.fractionD18);
    const closed = notional(closeSize, m.priceD18);
    plan.closedNotionalD18 += closed;
    plan.feeD18 += mulUp(closed, m.params.liquidationFeeD18);
    plan.tradingFeeD18 += quoteTrade(m, -closeSize).feeD18;
  }
  let reward = min(
    risk.flatKeeperRewardD18 + mulDown(plan.feeD18, risk.keeperShareD18),
    risk.maxKeeperRewardD18,
  );
  // A full close: the reward beyond the equity left after trading fees would be bad debt, so it is capped there,
  // never below the flat part (a bankrupt account must still pay its liquidator).
  if (!plan.partial) {
    const left = s.equityD18 - plan.tradingFeeD18;
    if (left < reward) reward = max(left, risk.flatKeeperRewardD18);
  }
  plan.rewardD18 = (reward / tokenScale) * tokenScale;
  plan.chargeD18 = max(plan.feeD18, plan.rewardD18);
  plan.toInsuranceD18 = plan.chargeD18 - plan.rewardD18;
  return plan;
}

/** The plan in ILiquidation.quoteLiquidation's shape. */
export function liquidationQuote(plan: LiquidationPlan): LiquidationQuote {
  return {
    liquidatable: plan.liquidatable,
    partial_: plan.partial,
    closeFractionD18: plan.fractionD18,
    closedNotionalD18: plan.closedNotionalD18,
    keeperRewardD18: plan.rewardD18,
  };
}

/* ------------------------------------------------------------------------------------------------------------
                                              AUTO-DELEVERAGING
   ------------------------------------------------------------------------------------------------------------ */

/** The outcome of LiquidationModule._adlCloseSize: the size ADL would close, or the error it would revert with. */
export type AdlCloseSize =
  | { ok: true; closeSizeD18: bigint }
  | {
      ok: false;
      error: "NoPosition" | "AdlNotTriggered" | "PositionNotProfitable" | "AdlNotEligible";
      /** The error's arguments after the ids: AdlNotTriggered (marketPnl, trigger), AdlNotEligible (profit, minProfit). */
      args?: bigint[];
    };

/**
 * LiquidationModule._adlCloseSize at `now` (funding accrued). With P the market's traders' net PnL, C vault cash,
 * F the position's accrued funding, U its gross unrealised PnL at its exit fill and t the target:
 * - AdlNotTriggered unless P > C x trigger and P > 0;
 * - PositionNotProfitable unless U > 0 and U - F > 0;
 * - AdlNotEligible unless U - F >= P x adlMinShare (rounded up): bystanders with small profits are never touched;
 * - closes f = (P + F - t (C + F)) / (U (1 - t)), rounded up and capped at all of it; AdlNotTriggered when
 *   P + F - t (C + F) <= 0 (settling the funding alone brings the market under the target).
 */
export function adlCloseSize(
  position: Pick<PositionInfo, "sizeD18" | "basisD18" | "lastFundingIndexD18">,
  market: Pick<MarketSnapshot, "params" | "state" | "priceD18">,
  vaultCashD18: bigint,
  risk: RiskParams,
  now: bigint,
): AdlCloseSize {
  const size = position.sizeD18;
  if (size === 0n) return { ok: false, error: "NoPosition" };
  const marketPnl = tradersNetPnl(market, now);
  const trigger = divFloor(vaultCashD18 * risk.adlTriggerD18, SWAD);
  if (marketPnl <= trigger || marketPnl <= 0n)
    return { ok: false, error: "AdlNotTriggered", args: [marketPnl, trigger] };
  const { indexD18 } = pendingFunding(market.state, market.params, market.priceD18, now);
  const gross = unrealisedPnl(size, exitFill(market, size), position.basisD18);
  const funding = fundingOwed(size, indexD18, position.lastFundingIndexD18);
  if (gross <= 0n || gross - funding <= 0n) return { ok: false, error: "PositionNotProfitable" };
  const minProfit = mulUp(marketPnl, risk.adlMinShareD18);
  if (gross - funding < minProfit)
    return { ok: false, error: "AdlNotEligible", args: [gross - funding, minProfit] };
  const target = divFloor((vaultCashD18 + funding) * risk.adlTargetD18, SWAD);
  const excess = marketPnl + funding - target;
  if (excess <= 0n) return { ok: false, error: "AdlNotTriggered", args: [marketPnl, trigger] };
  const den = mulDown(gross, WAD - risk.adlTargetD18);
  const fraction = den === 0n ? WAD : (excess * WAD + den - 1n) / den;
  return { ok: true, closeSizeD18: fractionOf(size, fraction) };
}
