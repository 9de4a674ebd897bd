/**
 * The portfolio risk model (contracts/libraries/PortfolioRisk.sol), mirrored to the wei: the factor-model VaR term,
 * the stress-scenario scan, the floor on the standalone margins and the size add-ons, with the same integer
 * square root and the same rounding (every rounding raises the requirement). Proved equal to the library by
 * test/sdk/portfolio.ts over random models and portfolios.
 */
import { WAD } from "./math.js";

export const MAX_FACTORS = 6;
export const MAX_SCENARIOS = 16;
export const MAX_LEGS = 16;
export const MAX_LOADING = 5n * WAD;
export const MAX_FACTOR_VOL = WAD;
export const MAX_IDIO_VOL = WAD;
export const MAX_SHOCK = WAD;
export const MIN_Z = WAD;
export const MAX_Z = 6n * WAD;
export const MIN_FLOOR = WAD / 10n;
export const MAX_FLOOR = WAD;
export const MIN_IM_SCALAR = WAD;
export const MAX_IM_SCALAR = 4n * WAD;
export const MAX_NOTIONAL = 10n ** 31n;

/** PortfolioRisk.Model: `cholesky` K x K row-major (lower triangular), `scenarios` S x K factor returns (D18). */
export interface RiskModel {
  factors: number;
  cholesky: bigint[];
  scenarios: bigint[];
  zD18: bigint;
  floorD18: bigint;
  imScalarD18: bigint;
}

/** PortfolioRisk.Leg: one position as the model sees it. */
export interface RiskLeg {
  notionalD18: bigint;
  loadingsD18: bigint[];
  idioVolD18: bigint;
  standaloneImD18: bigint;
  standaloneMmD18: bigint;
  addOnD18: bigint;
}

/** PortfolioRisk.Requirement (D18 USD); `worstScenario` 1-based, 0 when no scenario loses. */
export interface RiskRequirement {
  varD18: bigint;
  stressD18: bigint;
  worstScenario: number;
  floorMmD18: bigint;
  floorImD18: bigint;
  addOnsD18: bigint;
  mmD18: bigint;
  imD18: bigint;
}

/** A model or market parameter the library refuses, with the library's custom error. */
export class RiskModelError extends Error {
  constructor(
    readonly errorName: string,
    readonly args: (bigint | number)[],
  ) {
    super(`${errorName}(${args.join(", ")})`);
  }
}

const abs = (x: bigint) => (x < 0n ? -x : x);
const ceilDiv = (a: bigint, b: bigint) => (a === 0n ? 0n : (a - 1n) / b + 1n);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** floor(sqrt(x)), exact for every non-negative bigint: Newton's iteration down from a power of two above it. */
export function sqrtDown(x: bigint): bigint {
  if (x < 0n) throw new RangeError("sqrt of a negative number");
  if (x < 2n) return x;
  let r = 1n << BigInt(Math.ceil(x.toString(2).length / 2));
  for (;;) {
    const next = (r + x / r) >> 1n;
    if (next >= r) return r;
    r = next;
  }
}

/** OpenZeppelin Math.sqrt(x, Ceil): the smallest r with r * r >= x. */
export function sqrtUp(x: bigint): bigint {
  const r = sqrtDown(x);
  return r * r < x ? r + 1n : r;
}

/** PortfolioRisk.validateModel. */
export function validateModel(m: RiskModel): void {
  const k = m.factors;
  if (k === 0 || k > MAX_FACTORS) throw new RiskModelError("TooManyFactors", [k]);
  if (m.cholesky.length !== k * k || m.scenarios.length % k !== 0) {
    throw new RiskModelError("ModelShape", [m.cholesky.length, m.scenarios.length, k]);
  }
  if (m.scenarios.length / k > MAX_SCENARIOS) {
    throw new RiskModelError("TooManyScenarios", [m.scenarios.length / k]);
  }
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const v = m.cholesky[i * k + j];
      if (j > i && v !== 0n) throw new RiskModelError("CholeskyNotLowerTriangular", [i, j]);
      if (i === j && v < 0n) throw new RiskModelError("CholeskyDiagonalNegative", [i]);
      if (abs(v) > MAX_FACTOR_VOL) throw new RiskModelError("FactorVolOutOfBounds", [i, j, v]);
    }
  }
  m.scenarios.forEach((r, i) => {
    if (abs(r) > MAX_SHOCK)
      throw new RiskModelError("ScenarioShockOutOfBounds", [Math.floor(i / k), i % k, r]);
  });
  if (m.zD18 < MIN_Z || m.zD18 > MAX_Z) throw new RiskModelError("ConfidenceOutOfBounds", [m.zD18]);
  if (m.floorD18 < MIN_FLOOR || m.floorD18 > MAX_FLOOR)
    throw new RiskModelError("FloorOutOfBounds", [m.floorD18]);
  if (m.imScalarD18 < MIN_IM_SCALAR || m.imScalarD18 > MAX_IM_SCALAR) {
    throw new RiskModelError("ImScalarOutOfBounds", [m.imScalarD18]);
  }
}

/** PortfolioRisk.validateMarket. */
export function validateMarket(loadingsD18: bigint[], idioVolD18: bigint, factors: number): void {
  if (loadingsD18.length !== factors)
    throw new RiskModelError("LoadingsShape", [loadingsD18.length, factors]);
  loadingsD18.forEach((b, i) => {
    if (abs(b) > MAX_LOADING) throw new RiskModelError("LoadingOutOfBounds", [i, b]);
  });
  if (idioVolD18 > MAX_IDIO_VOL) throw new RiskModelError("IdioVolOutOfBounds", [idioVolD18]);
}

/** PortfolioRisk.sizeAddOn: notional^2 / depth, rounded up (0 without a depth). */
export function sizeAddOn(notionalD18: bigint, depthD18: bigint): bigint {
  if (depthD18 === 0n) return 0n;
  const n = abs(notionalD18);
  return ceilDiv(n * n, depthD18);
}

/** The factor exposure f = sum beta_m * e_m (D36, exact). */
export function factorExposure(factors: number, legs: RiskLeg[]): bigint[] {
  const f = new Array<bigint>(factors).fill(0n);
  for (const leg of legs) {
    for (let j = 0; j < factors; j++) f[j] += leg.loadingsD18[j] * leg.notionalD18;
  }
  return f;
}

/** PortfolioRisk.requirement (the model and legs validated). */
export function requirement(m: RiskModel, legs: RiskLeg[]): RiskRequirement {
  if (legs.length > MAX_LEGS) throw new RiskModelError("TooManyLegs", [legs.length]);
  const k = m.factors;
  let idioSq = 0n;
  for (const leg of legs) {
    if (abs(leg.notionalD18) > MAX_NOTIONAL)
      throw new RiskModelError("NotionalOutOfBounds", [leg.notionalD18]);
    if (leg.loadingsD18.length !== k) throw new RiskModelError("LoadingsShape", [leg.loadingsD18.length, k]);
    const s = ceilDiv(leg.idioVolD18 * abs(leg.notionalD18), WAD);
    idioSq += s * s;
  }
  const f = factorExposure(k, legs);
  let factorSq = 0n;
  for (let j = 0; j < k; j++) {
    let y = 0n;
    for (let i = j; i < k; i++) y += m.cholesky[i * k + j] * f[i];
    const yUp = ceilDiv(abs(y), WAD * WAD);
    factorSq += yUp * yUp;
  }
  const varD18 = ceilDiv(m.zD18 * sqrtUp(idioSq + factorSq), WAD);

  let stressD18 = 0n;
  let worstScenario = 0;
  for (let s = 0; s < m.scenarios.length / k; s++) {
    let pnl = 0n;
    for (let j = 0; j < k; j++) pnl += f[j] * m.scenarios[s * k + j];
    if (pnl >= 0n) continue;
    const loss = ceilDiv(-pnl, WAD * WAD);
    if (loss > stressD18) [stressD18, worstScenario] = [loss, s + 1];
  }

  let sumMm = 0n;
  let maxMm = 0n;
  let sumIm = 0n;
  let maxIm = 0n;
  let addOnsD18 = 0n;
  for (const leg of legs) {
    sumMm += leg.standaloneMmD18;
    sumIm += leg.standaloneImD18;
    maxMm = max(maxMm, leg.standaloneMmD18);
    maxIm = max(maxIm, leg.standaloneImD18);
    addOnsD18 += leg.addOnD18;
  }
  const floorMmD18 = max(ceilDiv(m.floorD18 * sumMm, WAD), maxMm);
  const floorImD18 = max(ceilDiv(m.floorD18 * sumIm, WAD), maxIm);
  const risk = max(varD18, stressD18);
  return {
    varD18,
    stressD18,
    worstScenario,
    floorMmD18,
    floorImD18,
    addOnsD18,
    mmD18: max(risk, floorMmD18) + addOnsD18,
    imD18: max(ceilDiv(m.imScalarD18 * risk, WAD), floorImD18) + addOnsD18,
  };
}

/*//////////////////////////////////////////////////////////////
          PortfolioMargin (contracts/risk/PortfolioMargin.sol)
//////////////////////////////////////////////////////////////*/

/** IPortfolioMargin.MarketRisk without its id: loadings, idiosyncratic volatility and add-on depth (D18). */
export interface MarketRisk {
  loadingsD18: bigint[];
  idioVolD18: bigint;
  depthD18: bigint;
}

/** One configuration of the portfolio risk model: the model and the listed markets by id. */
export interface PortfolioConfig {
  model: RiskModel;
  markets: Map<number, MarketRisk>;
}

/** What `PortfolioMargin.requirement` evaluates: the configuration in force and, during a ramp, the one before. */
export interface PortfolioState {
  current: PortfolioConfig;
  previous?: PortfolioConfig;
  rampStart: bigint;
  rampEnd: bigint;
}

/** One position as the engine hands it to the model (`EngineBase._portfolioMargins`). */
export interface PortfolioLeg {
  marketId: number;
  notionalD18: bigint;
  standaloneImD18: bigint;
  standaloneMmD18: bigint;
}

const HEADER_WORDS = 6;

/**
 * Decodes a configuration from the code of its data contract (`PortfolioMargin.pointer`): a STOP byte, then
 * 32-byte words [K, S, z, floor, imScalar, listed bitmap, L (K x K), scenarios (S x K), then K loadings,
 * idiosyncratic volatility and depth per market id up to the highest listed one].
 */
export function decodeConfig(code: string): PortfolioConfig {
  const hex = code.startsWith("0x") ? code.slice(2) : code;
  if (hex.length < 2 + HEADER_WORDS * 64 || !hex.startsWith("00"))
    throw new Error("not a portfolio configuration");
  const word = (i: number) => BigInt("0x" + hex.slice(2 + i * 64, 2 + (i + 1) * 64));
  const int = (i: number) => BigInt.asIntN(256, word(i));
  const k = Number(word(0));
  const s = Number(word(1));
  const listed = word(5);
  const ints = (from: number, n: number) => Array.from({ length: n }, (_, i) => int(from + i));
  const model: RiskModel = {
    factors: k,
    cholesky: ints(HEADER_WORDS, k * k),
    scenarios: ints(HEADER_WORDS + k * k, s * k),
    zD18: word(2),
    floorD18: word(3),
    imScalarD18: word(4),
  };
  const base = HEADER_WORDS + k * k + s * k;
  const markets = new Map<number, MarketRisk>();
  for (let id = 0; id < 64; id++) {
    if (((listed >> BigInt(id)) & 1n) === 0n) continue;
    const at = base + id * (k + 2);
    markets.set(id, { loadingsD18: ints(at, k), idioVolD18: word(at + k), depthD18: word(at + k + 1) });
  }
  return { model, markets };
}

/** PortfolioMargin._readMarket: a market that is not listed loads on no factor with the largest idiosyncratic vol. */
export function marketRiskOf(config: PortfolioConfig, marketId: number): MarketRisk {
  return (
    config.markets.get(marketId) ?? {
      loadingsD18: new Array<bigint>(config.model.factors).fill(0n),
      idioVolD18: MAX_IDIO_VOL,
      depthD18: 0n,
    }
  );
}

/** PortfolioMargin._evaluate: the requirement of `legs` under one configuration. */
export function configRequirement(config: PortfolioConfig, legs: PortfolioLeg[]): RiskRequirement {
  return requirement(
    config.model,
    legs.map((leg) => {
      const r = marketRiskOf(config, leg.marketId);
      return {
        notionalD18: leg.notionalD18,
        loadingsD18: r.loadingsD18,
        idioVolD18: r.idioVolD18,
        standaloneImD18: leg.standaloneImD18,
        standaloneMmD18: leg.standaloneMmD18,
        addOnD18: sizeAddOn(leg.notionalD18, r.depthD18),
      };
    }),
  );
}

/** PortfolioMargin._towards: `from` moved elapsed / span of the way to `to`, rounded up. */
function towards(from: bigint, to: bigint, elapsed: bigint, span: bigint): bigint {
  return to >= from ? from + ceilDiv((to - from) * elapsed, span) : from - ((from - to) * elapsed) / span;
}

/** PortfolioMargin.requirement at time `now`: during a ramp every figure is interpolated, rounded up. */
export function portfolioRequirement(
  state: PortfolioState,
  legs: PortfolioLeg[],
  now: bigint,
): RiskRequirement {
  const r = configRequirement(state.current, legs);
  if (now >= state.rampEnd || state.previous === undefined) return r;
  const old = configRequirement(state.previous, legs);
  const elapsed = now - state.rampStart;
  const span = state.rampEnd - state.rampStart;
  const t = (key: "varD18" | "stressD18" | "floorMmD18" | "floorImD18" | "addOnsD18" | "mmD18" | "imD18") =>
    towards(old[key], r[key], elapsed, span);
  return {
    ...r,
    varD18: t("varD18"),
    stressD18: t("stressD18"),
    floorMmD18: t("floorMmD18"),
    floorImD18: t("floorImD18"),
    addOnsD18: t("addOnsD18"),
    mmD18: t("mmD18"),
    imD18: t("imD18"),
  };
}
