/**
 * The portfolio risk model: the SDK's mirror (sdk/portfolio.ts) against the Solidity library
 * (contracts/libraries/PortfolioRisk.sol) to the wei over random models and portfolios, the model's promises
 * (hedges need less than in cross, a naked position never less, a correlation break raises the requirement,
 * rounding up), and every bad parameter refused with its own error by both.
 */
import { expect } from "chai";
import { UNOPTIMIZED, ethers, networkHelpers } from "../helpers/fixture.js";
import { portfolio } from "../../sdk/index.js";
import type { RiskLeg, RiskModel, RiskRequirement } from "../../sdk/portfolio.js";
import { rng } from "../../scripts/lib/rng.js";
import { CALIBRATION, legFor, modelFor } from "../../scripts/lib/risk-model.js";

const WAD = 10n ** 18n;
const wadOf = (x: number) => BigInt(Math.round(x * 1e6)) * 10n ** 12n;

async function harness() {
  return ethers.deployContract("PortfolioRiskHarness");
}

type Harness = Awaited<ReturnType<typeof harness>>;

async function onChain(h: Harness, m: RiskModel, legs: RiskLeg[]): Promise<RiskRequirement> {
  const r = await h.requirement(m, legs);
  return {
    varD18: r.varD18,
    stressD18: r.stressD18,
    worstScenario: Number(r.worstScenario),
    floorMmD18: r.floorMmD18,
    floorImD18: r.floorImD18,
    addOnsD18: r.addOnsD18,
    mmD18: r.mmD18,
    imD18: r.imD18,
  };
}

/** A random valid model: K factors, S scenarios, a random lower-triangular L with a non-negative diagonal. */
function randomModel(next: () => number): RiskModel {
  const k = 1 + Math.floor(next() * 6);
  const s = Math.floor(next() * 17);
  const signed = (bound: bigint) => (BigInt(Math.floor(next() * 2 ** 52)) * 2n * bound) / 2n ** 52n - bound;
  const cholesky: bigint[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      if (j > i) cholesky.push(0n);
      else if (j === i)
        cholesky.push((BigInt(Math.floor(next() * 2 ** 52)) * portfolio.MAX_FACTOR_VOL) / 2n ** 52n);
      else cholesky.push(signed(portfolio.MAX_FACTOR_VOL));
    }
  }
  const scenarios = Array.from({ length: s * k }, () => signed(portfolio.MAX_SHOCK));
  return {
    factors: k,
    cholesky,
    scenarios,
    zD18:
      portfolio.MIN_Z + (BigInt(Math.floor(next() * 1e9)) * (portfolio.MAX_Z - portfolio.MIN_Z)) / 10n ** 9n,
    floorD18:
      portfolio.MIN_FLOOR + (BigInt(Math.floor(next() * 1e9)) * (WAD - portfolio.MIN_FLOOR)) / 10n ** 9n,
    imScalarD18: WAD + BigInt(Math.floor(next() * 3e9)) * 10n ** 9n,
  };
}

function randomLegs(next: () => number, k: number): RiskLeg[] {
  const n = 1 + Math.floor(next() * 16);
  const signed = (bound: bigint) => (BigInt(Math.floor(next() * 2 ** 52)) * 2n * bound) / 2n ** 52n - bound;
  return Array.from({ length: n }, () => {
    // Notionals across every scale, up to the library's bound; odd wei so that every rounding is exercised.
    const scale = 10n ** BigInt(Math.floor(next() * 31));
    const notionalD18 = (signed(portfolio.MAX_NOTIONAL) / (10n ** 31n / scale)) | 1n;
    const mm = BigInt(Math.floor(next() * 1e12)) * 10n ** 9n;
    return {
      notionalD18,
      loadingsD18: Array.from({ length: k }, () => signed(portfolio.MAX_LOADING)),
      idioVolD18: (BigInt(Math.floor(next() * 2 ** 52)) * portfolio.MAX_IDIO_VOL) / 2n ** 52n,
      standaloneMmD18: mm,
      standaloneImD18: mm * 2n + 7n,
      addOnD18: portfolio.sizeAddOn(notionalD18, BigInt(Math.floor(next() * 1e6)) * 10n ** 24n),
    };
  });
}

describe("SDK portfolio risk model (mirror of PortfolioRisk.sol)", function () {
  it("agrees with the library to the wei on 150 random models and portfolios", async function () {
    const h = await networkHelpers.loadFixture(harness);
    const next = rng(2026);
    for (let i = 0; i < 150; i++) {
      const m = randomModel(next);
      const legs = randomLegs(next, m.factors);
      expect(portfolio.requirement(m, legs), `case ${i}`).to.deep.equal(await onChain(h, m, legs));
    }
  });

  it("takes the same integer square root, rounded up", async function () {
    for (const x of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, 10n ** 36n - 1n, 10n ** 36n, 2n ** 255n - 19n]) {
      const r = portfolio.sqrtUp(x);
      expect(r * r >= x && (r === 0n || (r - 1n) * (r - 1n) < x), String(x)).to.equal(true);
    }
    expect(portfolio.sqrtDown(2n ** 254n)).to.equal(2n ** 127n);
  });

  it("a hedged pair needs less than in a cross account; a naked position never less", function () {
    const m = modelFor(CALIBRATION);
    const eth = legFor(CALIBRATION, "ETH", wadOf(100_000));
    const shortBtc = legFor(CALIBRATION, "BTC", -wadOf(100_000));
    const pair = portfolio.requirement(m, [eth, shortBtc]);
    const crossIm = eth.standaloneImD18 + shortBtc.standaloneImD18;
    expect(pair.imD18 * 10n).to.be.lessThanOrEqual(crossIm * 6n);
    for (const leg of [eth, shortBtc, legFor(CALIBRATION, "SOL", wadOf(-3_000_000))]) {
      const naked = portfolio.requirement(m, [leg]);
      expect(naked.imD18).to.be.at.least(leg.standaloneImD18 + leg.addOnD18);
      expect(naked.mmD18).to.be.at.least(leg.standaloneMmD18 + leg.addOnD18);
    }
  });

  it("a correlation-break scenario raises a hedged pair's requirement, and names itself", function () {
    // Governance adds a break where the ETH/BTC hedge fails outright (the rotation factor moves 3%).
    const breaks = [
      { name: "break: hedge fails, ETH down", shocks: [0, -0.03] },
      { name: "break: hedge fails, ETH up", shocks: [0, 0.03] },
    ];
    const calm = modelFor({
      ...CALIBRATION,
      scenarios: CALIBRATION.scenarios.filter((x) => !x.name.startsWith("break")),
    });
    const stressed = { ...CALIBRATION, scenarios: [...CALIBRATION.scenarios, ...breaks] };
    const legs = [legFor(CALIBRATION, "ETH", wadOf(100_000)), legFor(CALIBRATION, "BTC", -wadOf(100_000))];
    const before = portfolio.requirement(calm, legs);
    const after = portfolio.requirement(modelFor(stressed), legs);
    expect(after.stressD18).to.be.greaterThan(before.stressD18);
    expect(after.mmD18).to.be.greaterThan(before.mmD18);
    expect(after.imD18).to.be.greaterThan(before.imD18);
    expect(stressed.scenarios[after.worstScenario - 1].name).to.equal("break: hedge fails, ETH down");
    // The pair's own directional risk is small: the break, not the crash, is what it must survive.
    expect(before.stressD18).to.be.lessThan(after.stressD18 / 2n);
  });

  it("rounds every part up: one wei of notional never lowers the requirement", function () {
    const m = modelFor(CALIBRATION);
    const next = rng(7);
    for (let i = 0; i < 200; i++) {
      const size = BigInt(Math.floor(next() * 1e15)) * 10n ** BigInt(Math.floor(next() * 8));
      const a = portfolio.requirement(m, [
        legFor(CALIBRATION, "ETH", size),
        legFor(CALIBRATION, "BTC", -size),
      ]);
      const b = portfolio.requirement(m, [
        legFor(CALIBRATION, "ETH", size + 1n),
        legFor(CALIBRATION, "BTC", -size),
      ]);
      expect(b.varD18 + 1n).to.be.at.least(a.varD18);
      expect(a.varD18 > 0n || size === 0n).to.equal(true);
    }
    // A single wei of exposure still costs a wei: nothing rounds to a free position.
    const dust = portfolio.requirement(m, [
      { ...legFor(CALIBRATION, "ETH", 1n), standaloneMmD18: 0n, standaloneImD18: 0n },
    ]);
    expect(dust.varD18).to.be.at.least(1n);
  });

  describe("bad parameters: each refused with its own error, by the library and the SDK alike", function () {
    const good = () => modelFor(CALIBRATION);
    const cases: [string, (m: RiskModel) => RiskModel, string][] = [
      ["no factor", (m) => ({ ...m, factors: 0, cholesky: [], scenarios: [] }), "TooManyFactors"],
      [
        "seven factors",
        (m) => ({ ...m, factors: 7, cholesky: Array(49).fill(0n), scenarios: [] }),
        "TooManyFactors",
      ],
      ["a ragged Cholesky factor", (m) => ({ ...m, cholesky: m.cholesky.slice(1) }), "ModelShape"],
      ["a ragged scenario", (m) => ({ ...m, scenarios: [...m.scenarios, 1n] }), "ModelShape"],
      ["17 scenarios", (m) => ({ ...m, scenarios: Array(17 * m.factors).fill(0n) }), "TooManyScenarios"],
      [
        "an entry above the diagonal (not a Cholesky factor)",
        (m) => ({ ...m, cholesky: m.cholesky.map((v, i) => (i === 1 ? 1n : v)) }),
        "CholeskyNotLowerTriangular",
      ],
      [
        "a negative diagonal (not PSD by construction)",
        (m) => ({ ...m, cholesky: m.cholesky.map((v, i) => (i === 0 ? -v : v)) }),
        "CholeskyDiagonalNegative",
      ],
      [
        "a factor volatility above 100%",
        (m) => ({ ...m, cholesky: m.cholesky.map((v, i) => (i === m.factors ? WAD + 1n : v)) }),
        "FactorVolOutOfBounds",
      ],
      [
        "a scenario shock above 100%",
        (m) => ({ ...m, scenarios: m.scenarios.map((v, i) => (i === 0 ? -WAD - 1n : v)) }),
        "ScenarioShockOutOfBounds",
      ],
      ["z below 1", (m) => ({ ...m, zD18: WAD - 1n }), "ConfidenceOutOfBounds"],
      ["z above 6", (m) => ({ ...m, zD18: 6n * WAD + 1n }), "ConfidenceOutOfBounds"],
      ["a floor below 10%", (m) => ({ ...m, floorD18: WAD / 10n - 1n }), "FloorOutOfBounds"],
      ["a floor above 100%", (m) => ({ ...m, floorD18: WAD + 1n }), "FloorOutOfBounds"],
      ["an IM scalar below 1", (m) => ({ ...m, imScalarD18: WAD - 1n }), "ImScalarOutOfBounds"],
      ["an IM scalar above 4", (m) => ({ ...m, imScalarD18: 4n * WAD + 1n }), "ImScalarOutOfBounds"],
    ];
    for (const [what, edit, error] of cases) {
      it(`${what}: ${error}`, async function () {
        const h = await networkHelpers.loadFixture(harness);
        const m = edit(good());
        await expect(h.validateModel(m)).to.be.revertedWithCustomError(h, error);
        expect(() => portfolio.validateModel(m)).to.throw(portfolio.RiskModelError, error);
      });
    }

    const k = CALIBRATION.factors.length;
    const marketCases: [string, bigint[], bigint, string][] = [
      ["too few loadings", Array(k - 1).fill(0n), 0n, "LoadingsShape"],
      ["a loading above 5", [5n * WAD + 1n, ...Array(k - 1).fill(0n)], 0n, "LoadingOutOfBounds"],
      ["a loading below -5", [...Array(k - 1).fill(0n), -5n * WAD - 1n], 0n, "LoadingOutOfBounds"],
      ["an idiosyncratic volatility above 100%", Array(k).fill(0n), WAD + 1n, "IdioVolOutOfBounds"],
    ];
    for (const [what, loadings, vol, error] of marketCases) {
      it(`a market with ${what}: ${error}`, async function () {
        const h = await networkHelpers.loadFixture(harness);
        await expect(h.validateMarket(loadings, vol, k)).to.be.revertedWithCustomError(h, error);
        expect(() => portfolio.validateMarket(loadings, vol, k)).to.throw(portfolio.RiskModelError, error);
      });
    }

    it("a notional beyond 10^13 USD, or more than 16 positions: NotionalOutOfBounds, TooManyLegs", async function () {
      const h = await networkHelpers.loadFixture(harness);
      const m = good();
      const huge = { ...legFor(CALIBRATION, "ETH", 1n), notionalD18: portfolio.MAX_NOTIONAL + 1n };
      await expect(h.requirement(m, [huge])).to.be.revertedWithCustomError(h, "NotionalOutOfBounds");
      expect(() => portfolio.requirement(m, [huge])).to.throw(
        portfolio.RiskModelError,
        "NotionalOutOfBounds",
      );
      const many = Array.from({ length: 17 }, () => legFor(CALIBRATION, "ETH", WAD));
      await expect(h.requirement(m, many)).to.be.revertedWithCustomError(h, "TooManyLegs");
      expect(() => portfolio.requirement(m, many)).to.throw(portfolio.RiskModelError, "TooManyLegs");
      expect(await h.sizeAddOn(-3n * WAD, 0n)).to.equal(0n);
    });
  });

  it("costs a bounded amount of gas: 16 positions, 6 factors, 16 scenarios", async function () {
    if (UNOPTIMIZED) this.skip(); // instrumented, unoptimised code: its gas says nothing about the shipped library
    const h = await networkHelpers.loadFixture(harness);
    const next = rng(11);
    const m = randomModel(next);
    const full: RiskModel = {
      ...m,
      factors: 6,
      cholesky: Array.from({ length: 36 }, (_, i) => (Math.floor(i / 6) >= i % 6 ? WAD / 50n : 0n)),
      scenarios: Array.from({ length: 96 }, (_, i) => (i % 2 === 0 ? WAD / 20n : -WAD / 30n)),
    };
    const legs = randomLegs(next, 6);
    while (legs.length < 16) legs.push(...randomLegs(next, 6));
    const [gas] = await h.requirementGas(full, legs.slice(0, 16));
    expect(gas).to.be.lessThan(400_000n);
  });
});
