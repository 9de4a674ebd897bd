/**
 * The reference calibration of the portfolio risk model (contracts/libraries/PortfolioRisk.sol, sdk/portfolio.ts)
 * and the helpers that turn it into the library's inputs. Used by `npm run bench:margin` (backtest and sample
 * portfolios) and by the model's tests; a deployment's parameter file will carry the same shape.
 *
 * Margin period of risk: one hour (keepers liquidate within blocks; the hour covers an oracle outage, a congested
 * chain and the slicing of a large portfolio). Two factors: `crypto` (the common move) and `rotation` (ETH and
 * the alts against BTC), hourly volatilities 0.9% and 0.3%, independent (L diagonal). z = 3.5 standard deviations
 * is the expected-shortfall multiplier we need against fat tails at 99%; the floor keeps at least 50% of the
 * standalone cross margins (and never less than the largest leg's); IM = 1.5 x the risk term.
 */
import { math, portfolio } from "../../sdk/index.js";
import type { RiskLeg, RiskModel } from "../../sdk/portfolio.js";

const WAD = 10n ** 18n;
export const wadOf = (x: number): bigint => BigInt(Math.round(x * 1e9)) * 10n ** 9n;

export interface MarketRisk {
  symbol: string;
  /** Loadings on the factors, in `factors` order. */
  loadings: number[];
  /** Idiosyncratic hourly volatility. */
  idioVol: number;
  /** Cross-mode parameters (as in the deployment's market params) for the standalone margins. */
  baseImr: number;
  maxImr: number;
  imrSizeSlope: number;
  mmScalar: number;
  minPositionMargin: number;
  skewScale: number;
  /** Reference price (USD) to turn notional into size for the size-scaled IMR. */
  price: number;
  /** Depth (USD) of the size add-on notional^2 / depth. */
  depth: number;
}

export interface Scenario {
  name: string;
  /** Factor returns over the margin period. */
  shocks: number[];
}

export interface Calibration {
  factors: string[];
  /** Hourly factor volatilities and their correlation matrix; L is its Cholesky factor. */
  factorVols: number[];
  correlation: number[][];
  z: number;
  floor: number;
  imScalar: number;
  markets: MarketRisk[];
  scenarios: Scenario[];
}

const cross = { baseImr: 0.02, maxImr: 0.5, imrSizeSlope: 1, mmScalar: 0.5, minPositionMargin: 20 };

export const CALIBRATION: Calibration = {
  factors: ["crypto", "rotation"],
  factorVols: [0.009, 0.003],
  correlation: [
    [1, 0],
    [0, 1],
  ],
  z: 3.5,
  floor: 0.5,
  imScalar: 1.5,
  markets: [
    {
      symbol: "ETH",
      loadings: [1.1, 0.6],
      idioVol: 0.002,
      ...cross,
      skewScale: 1_000_000,
      price: 3000,
      depth: 2e9,
    },
    {
      symbol: "BTC",
      loadings: [1.0, -0.6],
      idioVol: 0.0015,
      ...cross,
      skewScale: 50_000,
      price: 60_000,
      depth: 4e9,
    },
    {
      symbol: "SOL",
      loadings: [1.3, 0.9],
      idioVol: 0.004,
      ...cross,
      skewScale: 10_000_000,
      price: 150,
      depth: 5e8,
    },
    {
      symbol: "ARB",
      loadings: [1.4, 1.0],
      idioVol: 0.006,
      ...cross,
      skewScale: 100_000_000,
      price: 1,
      depth: 2e8,
    },
  ],
  scenarios: [
    { name: "crash", shocks: [-0.08, 0] },
    { name: "squeeze", shocks: [0.08, 0] },
    { name: "break: alts fall harder", shocks: [-0.05, -0.008] },
    { name: "break: alts rally harder", shocks: [0.05, 0.008] },
    { name: "break: BTC decouples up", shocks: [0.01, -0.01] },
    { name: "break: BTC decouples down", shocks: [-0.01, 0.01] },
    { name: "dampened extreme down (-15% at one third)", shocks: [-0.05, 0] },
    { name: "dampened extreme up (+15% at one third)", shocks: [0.05, 0] },
  ],
};

/** The lower-triangular Cholesky factor of diag(vols) x correlation x diag(vols), as numbers. */
export function cholesky(vols: number[], correlation: number[][]): number[][] {
  const k = vols.length;
  const cov = correlation.map((row, i) => row.map((c, j) => c * vols[i] * vols[j]));
  const l = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = cov[i][j];
      for (let p = 0; p < j; p++) s -= l[i][p] * l[j][p];
      l[i][j] = i === j ? Math.sqrt(Math.max(s, 0)) : s / l[j][j];
    }
  }
  return l;
}

export function modelFor(c: Calibration): RiskModel {
  const l = cholesky(c.factorVols, c.correlation);
  return {
    factors: c.factors.length,
    cholesky: l.flat().map(wadOf),
    scenarios: c.scenarios.flatMap((s) => s.shocks.map(wadOf)),
    zD18: wadOf(c.z),
    floorD18: wadOf(c.floor),
    imScalarD18: wadOf(c.imScalar),
  };
}

/** The market's cross-mode IM and MM of a position of `notionalD18` (signed) at its reference price. */
export function standaloneMargins(m: MarketRisk, notionalD18: bigint): { imD18: bigint; mmD18: bigint } {
  const n = notionalD18 < 0n ? -notionalD18 : notionalD18;
  const sizeD18 = (n * WAD) / wadOf(m.price);
  const imr = math.imr(sizeD18, wadOf(m.baseImr), wadOf(m.maxImr), wadOf(m.imrSizeSlope), wadOf(m.skewScale));
  return {
    imD18: math.initialMargin(n, imr, wadOf(m.minPositionMargin)),
    mmD18: math.maintenanceMargin(n, imr, wadOf(m.mmScalar), wadOf(m.minPositionMargin)),
  };
}

export function marketOf(c: Calibration, symbol: string): MarketRisk {
  const m = c.markets.find((x) => x.symbol === symbol);
  if (m === undefined) throw new Error(`no market ${symbol} in the calibration`);
  return m;
}

/** A position of `notionalD18` (signed USD) in `symbol` as a leg of the model. */
export function legFor(c: Calibration, symbol: string, notionalD18: bigint): RiskLeg {
  const m = marketOf(c, symbol);
  const { imD18, mmD18 } = notionalD18 === 0n ? { imD18: 0n, mmD18: 0n } : standaloneMargins(m, notionalD18);
  return {
    notionalD18,
    loadingsD18: m.loadings.map(wadOf),
    idioVolD18: wadOf(m.idioVol),
    standaloneImD18: imD18,
    standaloneMmD18: mmD18,
    addOnD18: portfolio.sizeAddOn(notionalD18, wadOf(m.depth)),
  };
}

/** A market of the calibration as `IPortfolioMargin.MarketRisk` for the market listed under `marketId`. */
export function marketRiskFor(c: Calibration, symbol: string, marketId: number) {
  const m = marketOf(c, symbol);
  return {
    marketId,
    loadingsD18: m.loadings.map(wadOf),
    idioVolD18: wadOf(m.idioVol),
    depthD18: wadOf(m.depth),
  };
}

/** The constructor / `setConfig` arguments of a `PortfolioMargin` for the calibration's markets listed at `ids`. */
export function portfolioConfigFor(c: Calibration, ids: Record<string, number>) {
  return {
    model: modelFor(c),
    markets: Object.entries(ids).map(([symbol, id]) => marketRiskFor(c, symbol, id)),
  };
}
