/**
 * `npm run bench:margin`: a backtest of the portfolio risk model (sdk/portfolio.ts, equal to the Solidity library
 * to the wei) against a market that is *not* the model's Gaussian, and the margin of sample portfolios under
 * isolated, cross and portfolio modes. Writes bench/margin-report.json and bench/margin/backtest.{svg,png}.
 *
 * The simulated market (seeded, hourly = one margin period of risk):
 *  - factor and idiosyncratic shocks are Student-t with 4 degrees of freedom (scaled to unit variance);
 *  - volatility regimes: a calm state and a turbulent one (every volatility x2.5), entered with probability 0.4%
 *    per hour and left with 4% (about a tenth of the time, in spells of a day);
 *  - correlation breaks: a state (0.2% per hour in, 10% out) where the rotation factor's volatility triples and
 *    BTC's loading on the common factor halves, so ETH/BTC hedges fail;
 *  - the model's margin follows the dynamic-margin rule of DESIGN.md through the on-chain estimator itself
 *    (VolatilityOracle.sol, mirrored to the wei by sdk/volatility.ts): an EWMA (lambda 0.9) of each market's
 *    hourly log-returns, winsorised at 4 sigma, gives a multiplier clamp(sigma_hat / sigma_base, 1, 3) that rises
 *    at most 0.3 per hour and falls at most 0.05; maintenance margin uses the MM multiplier, one sample behind.
 * Each hour, every portfolio's maintenance margin (at the lagged multiplier) is compared with the loss the next
 * hour brings; an exceedance is a loss above it. Portfolios: the hedged pair, the naked long, the basket, and
 * each of them reversed (both tails).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { portfolio, volatility } from "../sdk/index.js";
import type { RiskLeg } from "../sdk/portfolio.js";
import { writeChart } from "./lib/chart.js";
import { rng } from "./lib/rng.js";
import { CALIBRATION, legFor, marketOf, modelFor, wadOf } from "./lib/risk-model.js";

const HOURS = Number(process.env.MARGIN_BACKTEST_HOURS ?? 12_000);
const SEED = Number(process.env.MARGIN_BACKTEST_SEED ?? 2026);
const OUT = "bench/margin-report.json";
const CHART = "bench/margin/backtest";

const c = CALIBRATION;
const model = modelFor(c);
const symbols = c.markets.map((m) => m.symbol);
const usd = (d18: bigint) => Number(d18 / 10n ** 12n) / 1e6;

/* -------------------------------------------------- the market -------------------------------------------------- */

const next = rng(SEED);
function normal(): number {
  const u = Math.max(next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}
/** Student-t with 4 degrees of freedom, scaled to unit variance (its variance is 2). */
function studentT4(): number {
  let chi = 0;
  for (let i = 0; i < 4; i++) chi += normal() ** 2;
  return normal() / Math.sqrt(chi / 4) / Math.SQRT2;
}

interface Hour {
  returns: Map<string, number>;
  turbulent: boolean;
  broken: boolean;
}

function simulate(hours: number): Hour[] {
  const out: Hour[] = [];
  let turbulent = false;
  let broken = false;
  for (let t = 0; t < hours; t++) {
    turbulent = turbulent ? next() > 0.04 : next() < 0.004;
    broken = broken ? next() > 0.1 : next() < 0.002;
    const scale = turbulent ? 2.5 : 1;
    const factors = c.factorVols.map((v, k) => v * scale * (broken && k === 1 ? 3 : 1) * studentT4());
    const returns = new Map<string, number>();
    for (const m of c.markets) {
      const loadings = m.loadings.map((b, k) => (broken && m.symbol === "BTC" && k === 0 ? b / 2 : b));
      const r = loadings.reduce((s, b, k) => s + b * factors[k], 0) + m.idioVol * scale * studentT4();
      returns.set(m.symbol, Math.max(r, -0.95));
    }
    out.push({ returns, turbulent, broken });
  }
  return out;
}

/* ------------------------------------------------ dynamic margin ------------------------------------------------ */

/** The estimator's parameters (VolatilityOracle.Params without the feed); baseVol is each market's model volatility. */
const VOL = {
  interval: 3600n,
  lambdaD18: wadOf(0.9),
  winsorD18: wadOf(4),
  capD18: wadOf(3),
  risePerHourD18: wadOf(0.3),
  fallPerHourD18: wadOf(0.05),
};

/** The model's own hourly volatility of a market: the base the multiplier is measured against. */
function baseVol(symbol: string): number {
  const m = marketOf(c, symbol);
  const factorVar = m.loadings.reduce((s, b, k) => s + (b * c.factorVols[k]) ** 2, 0);
  return Math.sqrt(factorVar + m.idioVol ** 2);
}

/**
 * Per market, the MM multiplier in force during each hour t+1, i.e. after the sample at the end of hour t: the
 * contract's own estimator (sdk/volatility.ts, equal to VolatilityOracle.sol to the wei) run on the price path.
 */
function mmMultipliers(path: Hour[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const symbol of symbols) {
    const params = { ...VOL, baseVolD18: wadOf(baseVol(symbol)) };
    let price = wadOf(marketOf(c, symbol).price);
    let state = volatility.initialState(params, price, 0n);
    const series: number[] = [];
    path.forEach((h, t) => {
      price = (price * wadOf(1 + h.returns.get(symbol)!)) / 10n ** 18n;
      state = volatility.sample(params, state, price, BigInt((t + 1) * 3600)).state;
      series.push(Number(volatility.mmMultiplier(state)) / 1e18);
    });
    out.set(symbol, series);
  }
  return out;
}

/* -------------------------------------------------- portfolios -------------------------------------------------- */

type Book = [symbol: string, notionalUsd: number][];
const PORTFOLIOS: Record<string, Book> = {
  hedgedPair: [
    ["ETH", 100_000],
    ["BTC", -100_000],
  ],
  directional: [["ETH", 100_000]],
  basket: [
    ["ETH", 50_000],
    ["BTC", 50_000],
    ["SOL", 50_000],
    ["ARB", 50_000],
  ],
};

function legs(book: Book, mult: (symbol: string) => number = () => 1): RiskLeg[] {
  return book.map(([s, n]) => legFor(c, s, wadOf(n * mult(s))));
}

function modes(book: Book) {
  const l = legs(book);
  const crossIm = l.reduce((s, x) => s + x.standaloneImD18, 0n);
  // An isolated account per position needs each position's own IM: the same sum under this margin formula.
  return {
    isolatedIM: usd(crossIm),
    crossIM: usd(crossIm),
    portfolioIM: usd(portfolio.requirement(model, l).imD18),
  };
}

/* --------------------------------------------------- backtest --------------------------------------------------- */

const path = simulate(HOURS + 1);
const mults = mmMultipliers(path);
const books = Object.entries(PORTFOLIOS).flatMap(([name, book]) => [
  [name, book] as const,
  [`${name} (reversed)`, book.map(([s, n]) => [s, -n]) as Book] as const,
]);
const perPortfolio: Record<string, { samples: number; exceedances: number }> = {};
let samples = 0;
let exceedances = 0;
const chartRows: { mm: number; loss: number }[] = [];
for (let t = 0; t < HOURS; t++) {
  const lagged = (s: string) => mults.get(s)![t];
  const nextHour = path[t + 1];
  for (const [name, book] of books) {
    const mm = usd(portfolio.requirement(model, legs(book, lagged)).mmD18);
    const loss = -book.reduce((sum, [s, n]) => sum + n * nextHour.returns.get(s)!, 0);
    const entry = (perPortfolio[name] ??= { samples: 0, exceedances: 0 });
    entry.samples += 1;
    samples += 1;
    if (loss > mm) {
      entry.exceedances += 1;
      exceedances += 1;
    }
    if (name === "hedgedPair") chartRows.push({ mm, loss });
  }
}

const report = {
  backtest: {
    samples,
    periods: HOURS,
    confidence: 0.99,
    exceedances,
    exceedanceRate: Number((exceedances / samples).toFixed(6)),
    perPortfolio: Object.fromEntries(
      Object.entries(perPortfolio).map(([k, v]) => [
        k,
        { ...v, rate: Number((v.exceedances / v.samples).toFixed(6)) },
      ]),
    ),
    process: {
      marginPeriod: "1 hour",
      shocks: "Student-t, 4 degrees of freedom",
      turbulentShare: Number((path.filter((h) => h.turbulent).length / path.length).toFixed(4)),
      correlationBreakShare: Number((path.filter((h) => h.broken).length / path.length).toFixed(4)),
      seed: SEED,
    },
  },
  portfolios: Object.fromEntries(Object.entries(PORTFOLIOS).map(([name, book]) => [name, modes(book)])),
  model: {
    factors: c.factors,
    factorVols: c.factorVols,
    z: c.z,
    floor: c.floor,
    imScalar: c.imScalar,
    scenarios: c.scenarios.map((s) => s.name),
    dynamicMargin: {
      estimator: "VolatilityOracle (sdk/volatility.ts)",
      lambda: 0.9,
      winsor: 4,
      cap: 3,
      risePerHour: 0.3,
      fallPerHour: 0.05,
      mmLag: "one sample (min of the IM multiplier now and an hour ago)",
    },
  },
};

const { hedgedPair, directional } = report.portfolios;
const checks: [string, boolean][] = [
  [`exceedance rate ${report.backtest.exceedanceRate} <= 0.01`, report.backtest.exceedanceRate <= 0.01],
  [
    `hedgedPair portfolio IM ${hedgedPair.portfolioIM} <= 0.6 x cross IM ${hedgedPair.crossIM}`,
    hedgedPair.portfolioIM <= 0.6 * hedgedPair.crossIM,
  ],
  [
    `directional portfolio IM ${directional.portfolioIM} >= cross IM ${directional.crossIM}`,
    directional.portfolioIM >= directional.crossIM,
  ],
];

writeFileSync(OUT, JSON.stringify(report, null, 2) + "\n");
mkdirSync("bench/margin", { recursive: true });
const window = chartRows.slice(0, 2000);
writeChart(CHART, {
  title: "Hedged pair (long ETH, short BTC, 100k each): margin vs next hour's loss",
  subtitle: `first 2,000 of ${HOURS} simulated hours: Student-t shocks, volatility regimes, correlation breaks; ${report.backtest.exceedances} exceedances in ${samples} portfolio-hours`,
  xLabels: window.map((_, i) => (i % 250 === 0 ? String(i) : "")),
  xTitle: "hour",
  yTitle: "USD",
  series: [
    { label: "maintenance margin", color: "#d62728", values: window.map((r) => r.mm) },
    { label: "realised loss over the next hour", color: "#1f77b4", values: window.map((r) => r.loss) },
  ],
  markers: [],
});
console.log(JSON.stringify(report.backtest, null, 2));
console.log(JSON.stringify(report.portfolios, null, 2));
for (const [text, ok] of checks) console.log(`${ok ? "ok  " : "FAIL"} ${text}`);
console.log(`Report: ${OUT}; chart: ${CHART}.png`);
if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
