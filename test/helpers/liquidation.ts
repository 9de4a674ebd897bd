/**
 * Helpers for the liquidation tests: an independent bigint model of the engine's health and liquidation plan
 * (mirroring MarginMath / EngineBase / LiquidationModule formula by formula, at a chosen block timestamp),
 * the custody identity, and fixture variants (blacklist token, small vault, 16 markets).
 */
import type { ContractTransactionReceipt } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { expect } from "chai";
import {
  UNOPTIMIZED,
  deployProtocol,
  ethers,
  networkHelpers,
  marketParams,
  riskParams,
  HEARTBEAT,
} from "./fixture.js";
import { DAY, TOKEN_SCALE, WAD, feedAnswer, usd, wad } from "./constants.js";
import type { IBulkhead, MockAggregatorV3 } from "../../types/ethers-contracts/index.js";

/* ------------------------------------------------------------------ math */

export const abs = (x: bigint): bigint => (x < 0n ? -x : x);
export const mulDown = (a: bigint, b: bigint): bigint => (a * b) / WAD;
export const mulUp = (a: bigint, b: bigint): bigint => {
  const p = a * b;
  return p === 0n ? 0n : (p - 1n) / WAD + 1n;
};
export const divFloor = (a: bigint, b: bigint): bigint => {
  let q = a / b;
  if (a % b !== 0n && a < 0n) q -= 1n;
  return q;
};
export const divCeil = (a: bigint, b: bigint): bigint => {
  let q = a / b;
  if (a % b !== 0n && a > 0n) q += 1n;
  return q;
};
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** Funding rate and index accrued over `elapsed` seconds (MarginMath.accrueFunding). */
export function accrue(
  rate: bigint,
  index: bigint,
  elapsed: bigint,
  skew: bigint,
  skewScale: bigint,
  maxVelocity: bigint,
  price: bigint,
): [bigint, bigint] {
  if (elapsed === 0n) return [rate, index];
  let ps = (skew * WAD) / skewScale;
  if (ps > WAD) ps = WAD;
  if (ps < -WAD) ps = -WAD;
  let next = rate + (maxVelocity * ps * elapsed) / (WAD * DAY);
  if (next > WAD) next = WAD;
  if (next < -WAD) next = -WAD;
  const delta = ((rate + next) * elapsed * price) / (2n * DAY * WAD);
  return [next, index + delta];
}

/* ----------------------------------------------------------------- model */

export interface MarketSnap {
  id: bigint;
  price: bigint;
  baseImr: bigint;
  maxImr: bigint;
  slope: bigint;
  mmScalar: bigint;
  maxVelocity: bigint;
  minMargin: bigint;
  skewScale: bigint;
  liqFee: bigint;
  makerFee: bigint;
  takerFee: bigint;
  longOi: bigint;
  shortOi: bigint;
  fundingIndex: bigint;
  fundingRate: bigint;
  lastFundingTime: bigint;
  netBasis: bigint;
  netFundingBasis: bigint;
  /** Pending funding at the model's timestamp. */
  rate: bigint;
  index: bigint;
}

export interface PosSnap {
  marketId: bigint;
  size: bigint;
  basis: bigint;
  lastIndex: bigint;
  m: MarketSnap;
  notional: bigint;
  imr: bigint;
  im: bigint;
  mm: bigint;
  upnl: bigint;
  funding: bigint;
}

export interface Model {
  accountId: bigint;
  t: bigint;
  collateral: bigint;
  positions: PosSnap[];
  upnl: bigint;
  funding: bigint;
  equity: bigint;
  im: bigint;
  mm: bigint;
  notional: bigint;
}

export async function feedPrice(feed: string): Promise<bigint> {
  const f = await ethers.getContractAt("ChainlinkPriceFeed", feed);
  return f.latestPrice();
}

/** Reads one market's parameters and state, and accrues its funding to `t` at `price` (default: the feed's). */
export async function marketAt(
  engine: IBulkhead,
  marketId: bigint,
  t: bigint,
  price?: bigint,
): Promise<MarketSnap> {
  const p = await engine.getMarketParams(marketId);
  const s = await engine.getMarketState(marketId);
  const px = price ?? (await feedPrice(p.feed));
  const [rate, index] = accrue(
    s.fundingRateD18,
    s.fundingIndexD18,
    t - s.lastFundingTime,
    s.longOiD18 - s.shortOiD18,
    p.skewScaleD18,
    p.maxFundingVelocityD18,
    px,
  );
  return {
    id: marketId,
    price: px,
    baseImr: p.baseImrD18,
    maxImr: p.maxImrD18,
    slope: p.imrSizeSlopeD18,
    mmScalar: p.mmScalarD18,
    maxVelocity: p.maxFundingVelocityD18,
    minMargin: p.minPositionMarginD18,
    skewScale: p.skewScaleD18,
    liqFee: p.liquidationFeeD18,
    makerFee: p.makerFeeD18,
    takerFee: p.takerFeeD18,
    longOi: s.longOiD18,
    shortOi: s.shortOiD18,
    fundingIndex: s.fundingIndexD18,
    fundingRate: s.fundingRateD18,
    lastFundingTime: s.lastFundingTime,
    netBasis: s.netBasisD18,
    netFundingBasis: s.netFundingBasisD18,
    rate,
    index,
  };
}

export function imrOf(m: MarketSnap, size: bigint): bigint {
  const p = abs(size) * m.slope;
  const sizeTerm = p === 0n ? 0n : (p - 1n) / m.skewScale + 1n;
  const r = m.baseImr + sizeTerm;
  return r > m.maxImr ? m.maxImr : r;
}

export function margins(m: MarketSnap, size: bigint, price = m.price) {
  const notional = mulUp(abs(size), price);
  const imr = imrOf(m, size);
  const im = mulUp(notional, imr) + m.minMargin;
  const mm = mulUp(mulUp(notional, imr), m.mmScalar) + m.minMargin;
  return { notional, imr, im, mm };
}

export const skewOf = (m: MarketSnap): bigint => m.longOi - m.shortOi;

/**
 * The average price of a trade of `delta` at the market's current skew: oracle x (1 + (skew + (skew + delta)) /
 * (2 skewScale)), the impact rounded against the trader (up for a buy, down for a sell), never below zero.
 */
export function fillAt(m: MarketSnap, delta: bigint, price = m.price, skew = skewOf(m)): bigint {
  const num = price * (skew + (skew + delta));
  const den = 2n * m.skewScale;
  const f = price + (delta > 0n ? divCeil(num, den) : divFloor(num, den));
  return f > 0n ? f : 0n;
}

/** The exit fill of a position: the price a trade closing all of it would get now. */
export const exitFillOf = (m: MarketSnap, size: bigint, price = m.price): bigint => fillAt(m, -size, price);

/**
 * Maker/taker fee of a trade of `delta` at the market's skew: the part that moves skew towards zero pays the
 * maker rate at its own segment's fill, the rest the taker rate at its segment's fill (each product rounded up).
 */
export function tradeFee(m: MarketSnap, delta: bigint): bigint {
  const skew = skewOf(m);
  let maker = 0n;
  if ((skew > 0n && delta < 0n) || (skew < 0n && delta > 0n)) maker = abs(delta) < abs(skew) ? delta : -skew;
  const taker = delta - maker;
  let fee = 0n;
  if (maker !== 0n) fee += mulUp(mulUp(abs(maker), fillAt(m, maker, m.price, skew)), m.makerFee);
  if (taker !== 0n) fee += mulUp(mulUp(abs(taker), fillAt(m, taker, m.price, skew + maker)), m.takerFee);
  return fee;
}

/** Recomputes the totals of a model from its positions (after editing prices or sizes). Positions are marked at
 *  their exit fill; notional and margins at the oracle price. */
export function totals(
  accountId: bigint,
  t: bigint,
  collateral: bigint,
  raw: { marketId: bigint; size: bigint; basis: bigint; lastIndex: bigint; m: MarketSnap }[],
): Model {
  const positions: PosSnap[] = [];
  let upnl = 0n,
    funding = 0n,
    im = 0n,
    mm = 0n,
    notional = 0n;
  for (const r of raw) {
    const g = margins(r.m, r.size);
    const pu = divFloor(r.size * exitFillOf(r.m, r.size), WAD) - r.basis;
    const pf = divCeil(r.size * (r.m.index - r.lastIndex), WAD);
    positions.push({ ...r, ...g, upnl: pu, funding: pf });
    upnl += pu;
    funding += pf;
    im += g.im;
    mm += g.mm;
    notional += g.notional;
  }
  return {
    accountId,
    t,
    collateral,
    positions,
    upnl,
    funding,
    equity: collateral + upnl - funding,
    im,
    mm,
    notional,
  };
}

/** The account's margin summary at timestamp `t`, computed in TypeScript from raw storage views. */
export async function model(
  engine: IBulkhead,
  accountId: bigint | number,
  t: bigint,
  prices: Record<string, bigint> = {},
): Promise<Model> {
  const id = BigInt(accountId);
  const info = await engine.getAccount(id);
  const raw = [];
  for (const p of await engine.getPositions(id)) {
    const m = await marketAt(engine, p.marketId, t, prices[p.marketId.toString()]);
    raw.push({
      marketId: p.marketId,
      size: p.sizeD18,
      basis: p.basisD18,
      lastIndex: p.lastFundingIndexD18,
      m,
    });
  }
  return totals(id, t, info.collateralD18, raw);
}

/** The same model with one market's price replaced (funding index kept: fine for small what-ifs). */
export function withPrice(x: Model, marketId: bigint, price: bigint): Model {
  return totals(
    x.accountId,
    x.t,
    x.collateral,
    x.positions.map((p) => ({ ...p, m: p.marketId === marketId ? { ...p.m, price } : p.m })),
  );
}

/** The same model with one market's open interest moved by (dLong, dShort): other accounts' trades or closes
 *  move the skew, and with it every position's exit fill. */
export function withOiDelta(x: Model, marketId: bigint, dLong: bigint, dShort: bigint): Model {
  return totals(
    x.accountId,
    x.t,
    x.collateral,
    x.positions.map((p) => ({
      ...p,
      m:
        p.marketId === marketId ? { ...p.m, longOi: p.m.longOi + dLong, shortOi: p.m.shortOi + dShort } : p.m,
    })),
  );
}

/** The account-level figures of a model (without the market snapshots), for equality checks. */
export function figures(x: Model) {
  const { collateral, upnl, funding, equity, im, mm, notional } = x;
  return {
    collateral,
    upnl,
    funding,
    equity,
    im,
    mm,
    notional,
    positions: x.positions.map((p) => [
      p.marketId,
      p.size,
      p.basis,
      p.lastIndex,
      p.notional,
      p.im,
      p.mm,
      p.upnl,
      p.funding,
    ]),
  };
}

export const isLiquidatable = (x: Model) => x.notional !== 0n && x.equity < x.mm;

export interface Risk {
  keeperShare: bigint;
  buffer: bigint;
  flatReward: bigint;
  maxReward: bigint;
  partialNotional: bigint;
}

export const fixtureRisk: Risk = {
  keeperShare: riskParams.keeperShareD18,
  buffer: riskParams.liquidationBufferD18,
  flatReward: riskParams.flatKeeperRewardD18,
  maxReward: riskParams.maxKeeperRewardD18,
  partialNotional: riskParams.partialLiquidationNotionalD18,
};

export const fractionOf = (size: bigint, f: bigint): bigint => {
  if (f >= WAD) return size;
  let closed = mulUp(abs(size), f);
  if (closed > abs(size)) closed = abs(size);
  return size > 0n ? closed : -closed;
};

export interface Plan {
  liquidatable: boolean;
  partial: boolean;
  fraction: bigint;
  closedNotional: bigint;
  fee: bigint;
  reward: bigint;
  charge: bigint;
  toInsurance: bigint;
  minMargins: bigint;
  fullFee: bigint;
  /** Trading fees of the planned closes (as trades at the current skews). */
  tradingFee: bigint;
}

/** The liquidation plan from the NatSpec formula of LiquidationModule, computed independently. */
export function plan(x: Model, r: Risk = fixtureRisk, forceFraction?: bigint): Plan {
  const out: Plan = {
    liquidatable: false,
    partial: false,
    fraction: 0n,
    closedNotional: 0n,
    fee: 0n,
    reward: 0n,
    charge: 0n,
    toInsurance: 0n,
    minMargins: 0n,
    fullFee: 0n,
    tradingFee: 0n,
  };
  if (!isLiquidatable(x)) return out;
  out.liquidatable = true;
  out.fraction = WAD;
  for (const p of x.positions) {
    out.minMargins += p.m.minMargin;
    out.fullFee += mulUp(p.notional, p.m.liqFee) + tradeFee(p.m, -p.size);
  }
  if (x.notional > r.partialNotional && x.equity > 0n) {
    const b1 = WAD + r.buffer;
    const mv = x.mm - out.minMargins;
    let den = mulDown(mv, b1);
    if (den > out.fullFee) {
      den -= out.fullFee;
      const num = mulUp(x.mm, b1) + r.flatReward - x.equity;
      const f = (num * WAD + den - 1n) / den;
      if (f < WAD) {
        out.partial = true;
        out.fraction = f;
      }
    }
  }
  if (forceFraction !== undefined) {
    out.fraction = forceFraction;
    out.partial = forceFraction < WAD;
  }
  for (const p of x.positions) {
    const closeSize = fractionOf(p.size, out.fraction);
    const c = mulUp(abs(closeSize), p.m.price);
    out.closedNotional += c;
    out.fee += mulUp(c, p.m.liqFee);
    out.tradingFee += tradeFee(p.m, -closeSize);
  }
  // A flat part plus the keeper's share of the liquidation fee, capped, in whole token units.
  let reward = r.flatReward + mulDown(out.fee, r.keeperShare);
  if (reward > r.maxReward) reward = r.maxReward;
  // A full close pays at most what the account has left after trading fees (the rest would be bad debt), but
  // always the flat part.
  if (!out.partial) {
    const left = x.equity - out.tradingFee;
    if (left < reward) reward = left > r.flatReward ? left : r.flatReward;
  }
  out.reward = (reward / TOKEN_SCALE) * TOKEN_SCALE;
  out.charge = out.fee > out.reward ? out.fee : out.reward;
  out.toInsurance = out.charge - out.reward;
  return out;
}

export interface ClosedPos {
  marketId: bigint;
  closeSize: bigint;
  /** The fill the close executed at (oracle with the close's skew impact). */
  price: bigint;
  realised: bigint;
  funding: bigint;
  tradingFee: bigint;
  newSize: bigint;
  newBasis: bigint;
  index: bigint;
}

export interface Sim {
  closed: ClosedPos[];
  collateral: bigint;
  vaultDelta: bigint;
  insuranceDelta: bigint;
  /** The netted result of the closes (sum of realised - funding). */
  pnl: bigint;
  tradingFees: bigint;
  shortfall: { fromVault: bigint; fromInsurance: bigint; haircut: bigint } | null;
  badDebt: { covered: bigint; socialised: bigint } | null;
}

/** The insurance fund's share of a trading fee (rounded down). */
export const insuranceShareOf = (fee: bigint) => mulDown(fee, riskParams.insuranceFeeShareD18);

/**
 * Simulates `_liquidate` given the insurance fund and vault cash before it: positions closed backwards, each as a
 * trade (fill with skew impact, maker/taker fee); the legs' results netted and settled once (fee first, then: a
 * profit beyond vault cash is paid by the vault's positive cash, then insurance, then haircut; anything else moves
 * whatever the cash); then the liquidation charge max(fee, reward), charge - reward to insurance; then bad debt.
 */
export function simulate(x: Model, pl: Plan, insurance: bigint, vaultCash: bigint = 10n ** 40n): Sim {
  let collateral = x.collateral;
  const closed: ClosedPos[] = [];
  let remaining = x.positions.length;
  let pnl = 0n;
  let tradingFees = 0n;
  for (let i = x.positions.length - 1; i >= 0; i--) {
    const p = x.positions[i];
    const closeSize = fractionOf(p.size, pl.fraction);
    const newSize = p.size - closeSize;
    const fill = fillAt(p.m, -closeSize);
    const fee = tradeFee(p.m, -closeSize);
    const released = newSize === 0n ? p.basis : divCeil(p.basis * abs(closeSize), abs(p.size));
    const realised = divFloor(closeSize * fill, WAD) - released;
    const funding = divCeil(p.size * (p.m.index - p.lastIndex), WAD);
    pnl += realised - funding;
    tradingFees += fee;
    if (newSize === 0n) remaining--;
    closed.push({
      marketId: p.marketId,
      closeSize,
      price: fill,
      realised,
      funding,
      tradingFee: fee,
      newSize,
      newBasis: p.basis - released,
      index: p.m.index,
    });
  }
  // Settlement of the netted result.
  const feeToIns = insuranceShareOf(tradingFees);
  let cash = vaultCash + tradingFees - feeToIns;
  let ins = insurance + feeToIns;
  let credited = pnl;
  let shortfall = null;
  if (pnl > 0n && pnl > cash) {
    const fromVault = cash > 0n ? cash : 0n;
    const rest = pnl - fromVault;
    const fromInsurance = min(rest, ins);
    ins -= fromInsurance;
    credited = fromVault + fromInsurance;
    cash -= fromVault;
    shortfall = { fromVault, fromInsurance, haircut: rest - fromInsurance };
  } else {
    cash -= pnl;
  }
  collateral += credited - tradingFees;
  // The liquidation charge.
  collateral -= pl.charge;
  ins += pl.toInsurance;
  let badDebt = null;
  if (remaining === 0 && collateral < 0n) {
    const deficit = -collateral;
    const covered = min(deficit, ins);
    const socialised = deficit - covered;
    ins -= covered;
    cash -= socialised;
    collateral = 0n;
    badDebt = { covered, socialised };
  }
  return {
    closed,
    collateral,
    vaultDelta: cash - vaultCash,
    insuranceDelta: ins - insurance,
    pnl,
    tradingFees,
    shortfall,
    badDebt,
  };
}

/** The account after a simulated liquidation, at the same timestamp and prices (the closes moved the skews). */
export function postModel(x: Model, sim: Sim): Model {
  const raw = [];
  for (const p of x.positions) {
    const c = sim.closed.find((q) => q.marketId === p.marketId)!;
    if (c.newSize === 0n) continue;
    // The engine stores the funding checkpoint in D9, rounded against the position (down long, up short).
    const checkpoint =
      (c.newSize > 0n ? divFloor(c.index, 10n ** 9n) : divCeil(c.index, 10n ** 9n)) * 10n ** 9n;
    const m =
      p.size > 0n
        ? { ...p.m, longOi: p.m.longOi - c.closeSize }
        : { ...p.m, shortOi: p.m.shortOi + c.closeSize };
    raw.push({ marketId: p.marketId, size: c.newSize, basis: c.newBasis, lastIndex: checkpoint, m });
  }
  return totals(x.accountId, x.t, sim.collateral, raw);
}

/** Whether an account state meets the partial-liquidation target equity >= (1 + buffer) x MM. */
export const meetsBuffer = (x: Model, r: Risk = fixtureRisk) => x.equity * WAD >= x.mm * (WAD + r.buffer);

/**
 * Traders' net PnL in a market at the snapshot's price and pending funding (EngineBase._tradersNetPnl): what
 * closing the whole skew would realise, at closeFill = price x (1 + skew / (2 skewScale)) (rounded up for a long
 * skew, down for a short one: either way the traders' PnL comes out high, so the vault values itself low), minus
 * funding owed.
 */
export function tradersPnl(m: MarketSnap): bigint {
  const skew = skewOf(m);
  const imp = skew * m.price;
  const closeFill = m.price + (skew > 0n ? divCeil(imp, 2n * m.skewScale) : divFloor(imp, 2n * m.skewScale));
  const unrealised = divCeil(skew * closeFill, WAD) - m.netBasis;
  const funding = divFloor(skew * m.index, WAD) - m.netFundingBasis;
  return unrealised - funding;
}

/* ------------------------------------------------------------ timestamps */

export async function latest(): Promise<bigint> {
  return BigInt(await networkHelpers.time.latest());
}

/** Fixes the timestamp of the next block and returns it. */
export async function nextAt(delta = 10n): Promise<bigint> {
  const t = (await latest()) + delta;
  await networkHelpers.time.setNextBlockTimestamp(t);
  return t;
}

/** Liquidates at a fixed timestamp, returning the model of the account at that timestamp (before), the
 *  independent plan and simulation, and the receipt. */
export async function liquidateModelled(
  engine: IBulkhead,
  keeper: HardhatEthersSigner,
  accountId: bigint | number,
  receiver: string = keeper.address,
  at?: bigint,
) {
  const t = at ?? (await latest()) + 10n;
  const before = await model(engine, accountId, t);
  const pl = plan(before);
  const sim = simulate(before, pl, await engine.insuranceFund(), await engine.vaultCash());
  await networkHelpers.time.setNextBlockTimestamp(t);
  const tx = await engine.connect(keeper).liquidate(accountId, receiver, GAS);
  const receipt = (await tx.wait()) as ContractTransactionReceipt;
  return { t, before, plan: pl, sim, tx, receipt };
}

/* --------------------------------------------------------------- custody */

/** Token custody identity: balance x TOKEN_SCALE == sum(collateral) + vaultCash + insurance. */
export async function expectCustody(engine: IBulkhead, tokenAddr?: string) {
  const token = await ethers.getContractAt("MockERC20", tokenAddr ?? (await engine.settlementToken()));
  const n = await engine.accountCount();
  let sum = 0n;
  for (let i = 1n; i <= n; i++) sum += (await engine.getAccount(i)).collateralD18;
  const bal = await token.balanceOf(await engine.getAddress());
  expect(bal * TOKEN_SCALE).to.equal(sum + (await engine.vaultCash()) + (await engine.insuranceFund()));
}

/** Everything observable about one account (storage views only, block-independent). */
export async function accountState(engine: IBulkhead, id: bigint | number) {
  const a = await engine.getAccount(id);
  const ps = await engine.getPositions(id);
  return {
    account: [a.owner, a.isolated, a.marketId, a.positionCount, a.collateralD18],
    positions: ps.map((p) => [p.marketId, p.sizeD18, p.basisD18, p.lastFundingIndexD18]),
  };
}

/** Sets an aggregator's answer from a D18 price (must be a multiple of 1e10). */
export async function setPrice(agg: MockAggregatorV3, priceD18: bigint) {
  if (priceD18 % 10n ** 10n !== 0n) throw new Error("price not representable with 8 decimals");
  await agg.setAnswer(priceD18 / 10n ** 10n);
}

/* -------------------------------------------------------------- variants */

/** Gas limit for liquidations in the tests (skips estimation, so a revert surfaces as the call's error); coverage's
 *  instrumented code needs far more. */
export const GAS = { gasLimit: UNOPTIMIZED ? 100_000_000 : 3_000_000 };
/** A price bound that never binds for a buy (and 0 for a sell): trades in setup are not about slippage. */
export const up = (size: bigint) => (size > 0n ? wad("1000000000") : 0n);

export const deployBlacklistBulkhead = () => deployProtocol({ tokenKind: "BlacklistToken" });
export const deploySmallVaultBulkhead = () => deployProtocol({ lpDeposit: "100000" });
export const deploySixteenMarketBulkhead = () => deployProtocol({ extraMarkets: 14 });

export { WAD, TOKEN_SCALE, usd, wad, feedAnswer };
export { rng } from "../../scripts/lib/rng.js";
