/**
 * Portfolio accounts: a cross account whose requirement is the portfolio risk model's (contracts/risk/
 * PortfolioMargin.sol over contracts/libraries/PortfolioRisk.sol). The engine's figures are checked against the
 * module and against the SDK's mirror to the wei; the rules that differ from cross mode (a smaller leg can add
 * risk, ramps, proportional liquidation of the whole portfolio) each have a test.
 */
import { expect } from "chai";
import type { Signer } from "ethers";
import { ethers, networkHelpers, deployBulkhead, ETH, BTC, riskParams } from "../helpers/fixture.js";
import { TOKEN_SCALE, WAD, feedAnswer, usd, wad } from "../helpers/constants.js";
import { trade } from "../helpers/orders.js";
import { BulkheadClient } from "../../sdk/client.js";
import * as math from "../../sdk/math.js";
import * as portfolio from "../../sdk/portfolio.js";
import { CALIBRATION, portfolioConfigFor, wadOf } from "../../scripts/lib/risk-model.js";
import type { MarketParams } from "../../sdk/types.js";
import type { Context } from "../../cli/context.js";
import { marginCompare, status } from "../../cli/read.js";
import { CliError } from "../../cli/context.js";
import type { IBulkhead } from "../../types/ethers-contracts/index.js";
import { previewSettlement, settlementReward } from "../../sdk/preview.js";
import { EngineAdapter } from "../../keeper/chain.js";
import { HealthMirror } from "../../keeper/mirror.js";
import { clientFor, expectFields, settleAtReady } from "../sdk/harness.js";

const { loadFixture, time } = networkHelpers;
const HOUR = 3600n;
const limit = (size: bigint) => (size > 0n ? ethers.MaxUint256 : 0n);
/** Long ETH and short BTC of about 100,000 USD each at 3,000 and 60,000. */
const ETH_LEG = wad("33.3");
const BTC_LEG = wad("-1.665");

async function withPortfolioMargin() {
  const f = await loadFixture(deployBulkhead);
  const { admin } = f.signers;
  const { model, markets } = portfolioConfigFor(CALIBRATION, { ETH, BTC });
  const pm = await ethers.deployContract("PortfolioMargin", [admin, model, markets, HOUR]);
  await f.contracts.engine.setPortfolioMargin(pm);
  return { ...f, pm };
}

async function account(engine: IBulkhead, owner: Signer, mode: "cross" | "portfolio", collateral: string) {
  const e = engine.connect(owner);
  await (mode === "cross" ? e.createCrossAccount() : e.createPortfolioAccount());
  const id = await engine.accountCount();
  await e.deposit(id, usd(collateral));
  return id;
}

/** The engine's IM and MM of `accountId` recomputed from its positions by the module itself. */
async function moduleMargins(
  engine: IBulkhead,
  pm: Awaited<ReturnType<typeof withPortfolioMargin>>["pm"],
  id: bigint,
) {
  const positions = await engine.getPositions(id);
  const ids: number[] = [];
  const notionals: bigint[] = [];
  const ims: bigint[] = [];
  const mms: bigint[] = [];
  for (const p of positions) {
    const params = await engine.getMarketParams(p.marketId);
    const mark = await ethers.getContractAt("IPriceFeed", params.feed);
    const pmg = math.positionMargins(params as unknown as MarketParams, p.sizeD18, await mark.latestPrice());
    ids.push(Number(p.marketId));
    notionals.push(p.sizeD18 > 0n ? pmg.notionalD18 : -pmg.notionalD18);
    ims.push(pmg.imD18);
    mms.push(pmg.mmD18);
  }
  return pm.requirement(ids, notionals, ims, mms);
}

/** An SDK client on the engine (reads only). */
async function clientOf(engine: IBulkhead) {
  const [admin] = await ethers.getSigners();
  const vault = await (await ethers.getContractAt("MarginEngine", await engine.getAddress())).vault();
  return new BulkheadClient(admin, {
    engine: await engine.getAddress(),
    vault,
    token: await engine.settlementToken(),
  });
}

/**
 * A portfolio account holding the hedged pair with `collateral` left: opened with enough for the first leg alone
 * (a naked leg needs the model's full stress loss), then the excess withdrawn down to the hedged requirement.
 */
async function hedgedWith(engine: IBulkhead, owner: Signer, collateral: string) {
  const id = await account(engine, owner, "portfolio", "20000");
  const e = engine.connect(owner);
  await trade(e, id, ETH, ETH_LEG, limit(ETH_LEG));
  await trade(e, id, BTC, BTC_LEG, limit(BTC_LEG));
  const s = await engine.marginSummary(id);
  await e.withdraw(id, (s.collateralD18 - wad(collateral)) / TOKEN_SCALE, await owner.getAddress());
  const after = await engine.marginSummary(id);
  expect(after.equityD18).to.be.gte(after.initialMarginD18);
  return id;
}

/** A read-only CLI context on the in-process engine (ETH-USD and BTC-USD). */
async function cliContext(engine: IBulkhead) {
  return {
    provider: ethers.provider,
    client: await clientOf(engine),
    tokenDecimals: 6,
    book: {
      markets: [
        { id: ETH, symbol: "ETH-USD" },
        { id: BTC, symbol: "BTC-USD" },
      ],
      startBlock: 0,
    },
  } as unknown as Context;
}

describe("portfolio accounts", () => {
  it("cannot be created before governance sets the risk model, which only the admin can, once", async () => {
    const f = await loadFixture(deployBulkhead);
    const { engine } = f.contracts;
    const { admin, alice } = f.signers;
    await expect(engine.connect(alice).createPortfolioAccount()).to.be.revertedWithCustomError(
      engine,
      "PortfolioMarginUnset",
    );
    expect(await engine.portfolioMargin()).to.equal(ethers.ZeroAddress);
    const { model, markets } = portfolioConfigFor(CALIBRATION, { ETH, BTC });
    const pm = await ethers.deployContract("PortfolioMargin", [admin, model, markets, HOUR]);
    await expect(engine.connect(alice).setPortfolioMargin(pm)).to.be.revertedWithCustomError(
      f.contracts.engineImpl,
      "AccessControlUnauthorizedAccount",
    );
    await expect(engine.setPortfolioMargin(ethers.ZeroAddress)).to.be.revertedWithCustomError(
      engine,
      "ZeroAddress",
    );
    // An address that is not a risk model (the token) cannot be set: it would make every health check revert.
    await expect(engine.setPortfolioMargin(f.contracts.token)).to.be.revert(ethers);
    await expect(engine.setPortfolioMargin(pm)).to.emit(engine, "PortfolioMarginSet").withArgs(pm);
    await expect(engine.setPortfolioMargin(pm)).to.be.revertedWithCustomError(
      engine,
      "PortfolioMarginAlreadySet",
    );
    expect(await engine.portfolioMargin()).to.equal(await pm.getAddress());

    await expect(engine.connect(alice).createPortfolioAccount())
      .to.emit(engine, "AccountCreated")
      .withArgs(1, alice.address, false, 0, 2);
    const info = await engine.getAccount(1);
    expect([info.isolated, info.mode]).to.deep.equal([false, 2n]);
  });

  it("a hedged pair needs at most 60% of its cross margin; the engine's figures are the module's and the SDK's", async () => {
    const { contracts, signers, pm } = await withPortfolioMargin();
    const { engine } = contracts;
    const cross = await account(engine, signers.alice, "cross", "20000");
    const pf = await account(engine, signers.bob, "portfolio", "20000");
    for (const id of [cross, pf]) {
      const signer = id === cross ? signers.alice : signers.bob;
      await trade(engine.connect(signer), id, ETH, ETH_LEG, limit(ETH_LEG));
      await trade(engine.connect(signer), id, BTC, BTC_LEG, limit(BTC_LEG));
    }
    const c = await engine.marginSummary(cross);
    const p = await engine.marginSummary(pf);
    expect(p.initialMarginD18 * 10n).to.be.lte(c.initialMarginD18 * 6n);
    expect(p.maintenanceMarginD18).to.be.lt(c.maintenanceMarginD18);
    // Same positions, so the same notional, equity up to the two accounts' own fills.
    expect(p.notionalD18).to.equal(c.notionalD18);

    const r = await moduleMargins(engine, pm, pf);
    expect([p.initialMarginD18, p.maintenanceMarginD18]).to.deep.equal([r.imD18, r.mmD18]);
    const client = await clientOf(engine);
    const bn = await ethers.provider.getBlockNumber();
    expect(await client.computeSummary(pf, { blockTag: bn })).to.deep.equal(
      await client.marginSummary(pf, { blockTag: bn }),
    );
    // MM = max(VaR, stress, floor) + add-ons; here the VaR term binds, well under the cross requirement.
    expect(r.mmD18).to.equal(math.max(math.max(r.varD18, r.stressD18), r.floorMmD18) + r.addOnsD18);
    expect(r.varD18).to.be.gt(r.floorMmD18);
  });

  it("a naked position never needs less than in a cross account", async () => {
    const { contracts, signers } = await withPortfolioMargin();
    const { engine } = contracts;
    const cross = await account(engine, signers.alice, "cross", "20000");
    const pf = await account(engine, signers.bob, "portfolio", "20000");
    for (const [id, signer] of [
      [cross, signers.alice],
      [pf, signers.bob],
    ] as const) {
      await trade(engine.connect(signer), id, ETH, wad("33.3"), limit(1n));
    }
    const c = await engine.marginSummary(cross);
    const p = await engine.marginSummary(pf);
    expect(p.initialMarginD18).to.be.gte(c.initialMarginD18);
    expect(p.maintenanceMarginD18).to.be.gte(c.maintenanceMarginD18);
  });

  it("a smaller leg that adds risk is risk-increasing: IM at commit and settlement, refused while paused", async () => {
    const { contracts, signers } = await withPortfolioMargin();
    const { engine } = contracts;
    const pf = await hedgedWith(engine, signers.bob, "2700");
    const bob = engine.connect(signers.bob);

    // Closing the short BTC leg shrinks a position but leaves ETH naked: far more margin than the account has.
    await expect(bob.commitOrder(pf, BTC, -BTC_LEG, ethers.MaxUint256, 0)).to.be.revertedWithCustomError(
      engine,
      "InsufficientMargin",
    );
    // While paused: a tenth off the BTC hedge raises the portfolio's MM (refused, at commit and at settlement);
    // a tenth off the ETH leg lowers it (a reduce, allowed).
    await engine.pause();
    await expect(
      bob.commitOrder(pf, BTC, -BTC_LEG / 10n, ethers.MaxUint256, 0),
    ).to.be.revertedWithCustomError(engine, "EnforcedPause");
    await trade(bob, pf, ETH, -ETH_LEG / 10n, 0n);
    expect((await engine.getPositions(pf))[0].sizeD18).to.equal(ETH_LEG - ETH_LEG / 10n);
  });

  it("the SDK previews portfolio orders as the engine decides and settles them, to the wei", async () => {
    const d = await withPortfolioMargin();
    const { engine } = d.contracts;
    const pf = await hedgedWith(engine, d.signers.bob, "2700");
    const b = await clientFor(d, d.signers.bob);

    // Closing the BTC hedge leaves ETH naked: refused for margin, as the commit is.
    const naked = await b.previewOrder(pf, BTC, -BTC_LEG);
    expect([naked.allowed, naked.reason]).to.deep.equal([false, "InsufficientMargin"]);
    // While paused: trimming the hedge raises the portfolio's MM (EnforcedPause); trimming ETH lowers it.
    await engine.pause();
    expect((await b.previewOrder(pf, BTC, -BTC_LEG / 10n)).reason).to.equal("EnforcedPause");
    expect((await b.previewOrder(pf, ETH, -ETH_LEG / 10n)).allowed).to.equal(true);
    await engine.unpause();

    // Trim both legs by a fifth, each as an order settled one delay later: the preview's fill, fee and the
    // account's margin figures afterwards (the risk model's IM and MM) equal the chain's.
    for (const [market, size] of [
      [ETH, -ETH_LEG / 5n],
      [BTC, -BTC_LEG / 5n],
    ] as const) {
      await (await b.commitOrder(pf, market, size)).wait();
      const order = await b.getOrder(pf, market);
      const snap = await b.getProtocolSnapshot();
      expect(snap.portfolio).to.not.equal(undefined);
      const price = snap.markets.get(market)!.priceD18;
      const reward = settlementReward(order.settlementRewardD18, order.settlementRewardD18, snap.tokenScale);
      const preview = previewSettlement(
        snap,
        await b.getAccountSnapshot(pf),
        market,
        order,
        price,
        reward,
        order.readyTime,
      );
      expect(preview.allowed, preview.reason).to.equal(true);
      const tx = await settleAtReady(b, pf, market, { priceD18: price });
      const block = (await tx.wait())!.blockNumber;
      const [ev] = await engine.queryFilter(engine.filters.PositionModified(pf, market), block, block);
      expect([ev.args.fillPriceD18, ev.args.feeD18, ev.args.newSizeD18]).to.deep.equal([
        preview.fillPriceD18,
        preview.feeD18,
        preview.result!.account.positions.find((p) => p.marketId === market)!.sizeD18,
      ]);
      expectFields(await b.marginSummary(pf), preview.after.summary, `after trimming market ${market}`);
      expect(preview.after.positions.every((p) => p.liquidationPriceD18 === 0n)).to.equal(true);
    }
  });

  it("the keeper's health mirror screens a portfolio account with the risk model, as the chain judges it", async () => {
    const d = await withPortfolioMargin();
    const { engine, btcAggregator } = d.contracts;
    const pf = await hedgedWith(engine, d.signers.bob, "2700");
    const mirror = new HealthMirror(new EngineAdapter(await engine.getAddress(), d.signers.admin));
    const screened = async () => {
      await mirror.refresh(await ethers.provider.getBlockNumber(), [pf]);
      return mirror.screen([pf], 0);
    };
    // Hedged and healthy: not a candidate (no call to confirm it on chain).
    expect(await engine.isLiquidatable(pf)).to.equal(false);
    expect(await screened()).to.deep.equal([]);
    // BTC up 2%: the short leg's loss breaks the requirement, on chain and in the mirror.
    await btcAggregator.setAnswer(feedAnswer("61200"));
    expect(await engine.isLiquidatable(pf)).to.equal(true);
    expect(await screened()).to.deep.equal([pf]);
  });

  it("the same hedge in a cross account is refused at commit for lack of margin", async () => {
    const { contracts, signers } = await withPortfolioMargin();
    const { engine } = contracts;
    const cross = await account(engine, signers.alice, "cross", "2700");
    const alice = engine.connect(signers.alice);
    await trade(alice, cross, ETH, ETH_LEG, limit(ETH_LEG));
    await expect(alice.commitOrder(cross, BTC, BTC_LEG, 0, 0)).to.be.revertedWithCustomError(
      engine,
      "InsufficientMargin",
    );
  });

  it("a correlation-break scenario raises the requirement, ramping in over the set duration", async () => {
    const { contracts, signers, pm } = await withPortfolioMargin();
    const { engine } = contracts;
    const pf = await account(engine, signers.bob, "portfolio", "20000");
    await trade(engine.connect(signers.bob), pf, ETH, ETH_LEG, limit(ETH_LEG));
    await trade(engine.connect(signers.bob), pf, BTC, BTC_LEG, limit(BTC_LEG));
    const before = await engine.marginSummary(pf);

    // The hedge fails: ETH and the alts fall 6% against BTC while the market falls 4%.
    const hedgeFails = { name: "hedge fails", shocks: [-0.04, -0.06] };
    const broken = { ...CALIBRATION, scenarios: [...CALIBRATION.scenarios, hedgeFails] };
    const { model, markets } = portfolioConfigFor(broken, { ETH, BTC });
    await expect(pm.connect(signers.alice).setConfig(model, markets)).to.be.revertedWithCustomError(
      pm,
      "AccessControlUnauthorizedAccount",
    );
    const tx = await pm.setConfig(model, markets);
    const t0 = BigInt((await tx.getBlock())!.timestamp);
    await expect(tx).to.emit(pm, "ConfigSet");
    expect([await pm.rampStart(), await pm.rampEnd()]).to.deep.equal([t0, t0 + HOUR]);
    await expect(pm.setConfig(model, markets))
      .to.be.revertedWithCustomError(pm, "RampInProgress")
      .withArgs(t0 + HOUR);

    // Halfway through, the requirement is halfway (rounded up), as the SDK computes it from both configurations.
    await time.increaseTo(t0 + HOUR / 2n);
    const client = await clientOf(engine);
    const bn = await ethers.provider.getBlockNumber();
    const mid = await client.marginSummary(pf, { blockTag: bn });
    expect(await client.computeSummary(pf, { blockTag: bn })).to.deep.equal(mid);
    const state = (await client.getPortfolioState({ blockTag: bn }))!;
    expect(state.previous).to.not.equal(undefined);

    await time.increaseTo(t0 + HOUR);
    const after = await engine.marginSummary(pf);
    const r = await moduleMargins(engine, pm, pf);
    expect(r.worstScenario).to.equal(BigInt(broken.scenarios.length));
    expect(after.maintenanceMarginD18).to.equal(r.mmD18);
    expect(after.maintenanceMarginD18).to.be.gt(before.maintenanceMarginD18);
    expect(mid.maintenanceMarginD18).to.be.gt(before.maintenanceMarginD18);
    expect(mid.maintenanceMarginD18).to.be.lt(after.maintenanceMarginD18);
  });

  it("liquidation closes the same fraction of every leg, keeping the hedge ratio, and restores the buffer", async () => {
    const { contracts, signers } = await withPortfolioMargin();
    const { engine, ethAggregator, btcAggregator } = contracts;
    const pf = await hedgedWith(engine, signers.bob, "2700");
    // The hedge breaks step by step (ETH -0.1%, BTC +0.05% a step) until the account is just liquidatable.
    let eth = 3000_0000_0000n;
    let btc = 60000_0000_0000n;
    while (!(await engine.isLiquidatable(pf))) {
      eth -= eth / 1000n;
      btc += btc / 2000n;
      await ethAggregator.setAnswer(eth);
      await btcAggregator.setAnswer(btc);
    }
    const q = await engine.quoteLiquidation(pf);
    expect(q.partial_).to.equal(true);
    const [eth0, btc0] = (await engine.getPositions(pf)).map((p) => p.sizeD18);
    const health0 = await engine.healthFactor(pf);

    const tx = await engine.connect(signers.keeper).liquidate(pf, signers.keeper.address);
    const [eth1, btc1] = (await engine.getPositions(pf)).map((p) => p.sizeD18);
    // One fraction f for both legs (|closed| = |size| x f rounded up), so the hedge ratio is kept to the wei. The
    // liquidation runs a block after the quote, so f is the plan's at that block: read back from the ETH leg.
    const closedEth = eth0 - eth1;
    const closedBtc = btc1 - btc0;
    expect(closedEth * 10n).to.be.lt(eth0 * 5n); // a slice, not the whole
    expect(closedBtc * math.abs(eth0)).to.be.closeTo(
      closedEth * math.abs(btc0),
      math.abs(eth0) + math.abs(btc0),
    );
    await expect(tx).to.emit(engine, "PositionLiquidated");
    const s = await engine.marginSummary(pf);
    expect(s.equityD18 * WAD).to.be.gte(s.maintenanceMarginD18 * (WAD + riskParams.liquidationBufferD18));
    expect(await engine.healthFactor(pf)).to.be.gt(health0);
  });

  it("the CLI's status shows the requirement part by part, as the chain computes it", async () => {
    const { contracts, signers } = await withPortfolioMargin();
    const { engine } = contracts;
    const pf = await hedgedWith(engine, signers.bob, "5000");
    const ctx = await cliContext(engine);
    const out = await status(ctx, pf);
    const chain = await engine.marginSummary(pf);
    const json = out.json as { mode: string; portfolioRequirement: portfolio.RiskRequirement };
    expect(json.mode).to.equal("portfolio");
    expect(json.portfolioRequirement.mmD18).to.equal(chain.maintenanceMarginD18);
    expect(json.portfolioRequirement.imD18).to.equal(chain.initialMarginD18);
    for (const label of [
      "(portfolio,",
      "VaR/ES term",
      "stress term",
      "floor (MM / IM)",
      "size add-ons",
      "VOL IM/MM",
    ]) {
      expect(out.human).to.include(label);
    }
  });

  it("the CLI's margin compare shows IM under isolated, cross and portfolio side by side", async () => {
    const { contracts } = await withPortfolioMargin();
    const ctx = await cliContext(contracts.engine);
    const out = await marginCompare(ctx, "ETH:100000, BTC-USD:-100000");
    const json = out.json as { modes: { mode: string; imD18: bigint; mmD18: bigint }[] };
    const [isolated, cross, pf] = json.modes;
    expect([isolated.mode, cross.mode, pf.mode]).to.deep.equal(["isolated", "cross", "portfolio"]);
    expect(cross.imD18).to.equal(isolated.imD18);
    expect(pf.imD18 * 10n).to.be.lte(cross.imD18 * 6n); // the hedged pair, as in bench:margin
    expect(out.human).to.include("VaR/ES term");
    const naked = (await marginCompare(ctx, "ETH:100000")).json as typeof json;
    expect(naked.modes[2].imD18).to.be.gte(naked.modes[1].imD18);
    for (const bad of ["", "ETH", "ETH:0", "ETH:1,ETH:2", "DOGE:1", "ETH:1:2", "ETH:abc"]) {
      const error = await marginCompare(ctx, bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, bad).to.be.instanceOf(CliError);
    }
  });

  it("liquidationPrice is not defined for a portfolio account", async () => {
    const { contracts, signers } = await withPortfolioMargin();
    const { engine } = contracts;
    const pf = await account(engine, signers.bob, "portfolio", "5000");
    await trade(engine.connect(signers.bob), pf, ETH, wad("1"), ethers.MaxUint256);
    await expect(engine.liquidationPrice(pf, ETH))
      .to.be.revertedWithCustomError(engine, "WrongAccountMode")
      .withArgs(pf);
  });
});

describe("PortfolioMargin: bad configurations", () => {
  const good = () => portfolioConfigFor(CALIBRATION, { ETH, BTC });

  it("refuses each bad parameter with its own error and changes nothing", async () => {
    const { pm, signers } = await withPortfolioMargin();
    const version = await pm.version();
    const pointer = await pm.pointer();
    await time.increase(HOUR); // past the first configuration (no ramp) and any ramp
    const cases: [string, ReturnType<typeof good>][] = [];
    const m = good();
    // Not PSD-by-construction: an entry above the diagonal, a negative diagonal.
    cases.push(["CholeskyNotLowerTriangular", { ...m, model: { ...m.model, cholesky: [1n, 1n, 0n, 1n] } }]);
    cases.push(["CholeskyDiagonalNegative", { ...m, model: { ...m.model, cholesky: [-1n, 0n, 0n, 1n] } }]);
    cases.push(["FactorVolOutOfBounds", { ...m, model: { ...m.model, cholesky: [WAD + 1n, 0n, 0n, 1n] } }]);
    const seven = { ...m.model, factors: 7, cholesky: new Array(49).fill(0n), scenarios: [] };
    cases.push(["TooManyFactors", { ...m, model: seven }]);
    cases.push(["TooManyScenarios", { ...m, model: { ...m.model, scenarios: new Array(34).fill(0n) } }]);
    cases.push(["ModelShape", { ...m, model: { ...m.model, scenarios: [0n] } }]);
    cases.push(["ScenarioShockOutOfBounds", { ...m, model: { ...m.model, scenarios: [WAD + 1n, 0n] } }]);
    cases.push(["ConfidenceOutOfBounds", { ...m, model: { ...m.model, zD18: 6n * WAD + 1n } }]);
    cases.push(["FloorOutOfBounds", { ...m, model: { ...m.model, floorD18: wadOf(0.09) } }]);
    cases.push(["ImScalarOutOfBounds", { ...m, model: { ...m.model, imScalarD18: WAD - 1n } }]);
    const bad = (patch: object) => ({ ...m, markets: [{ ...m.markets[0], ...patch }, m.markets[1]] });
    cases.push(["LoadingOutOfBounds", bad({ loadingsD18: [5n * WAD + 1n, 0n] })]);
    cases.push(["LoadingsShape", bad({ loadingsD18: [WAD] })]);
    cases.push(["IdioVolOutOfBounds", bad({ idioVolD18: WAD + 1n })]);
    cases.push(["DepthOutOfBounds", bad({ depthD18: wad("999") })]);
    cases.push(["DepthOutOfBounds", bad({ depthD18: 10n ** 31n + 1n })]);
    cases.push(["MarketIdOutOfBounds", bad({ marketId: 64 })]);
    cases.push(["MarketIdOutOfBounds", bad({ marketId: BTC })]); // listed twice
    for (const [error, c] of cases) {
      await expect(pm.setConfig(c.model, c.markets), error).to.be.revertedWithCustomError(pm, error);
    }
    await expect(pm.connect(signers.alice).setRampDuration(HOUR)).to.be.revertedWithCustomError(
      pm,
      "AccessControlUnauthorizedAccount",
    );
    for (const d of [0n, HOUR - 1n, 7n * 24n * HOUR + 1n]) {
      await expect(pm.setRampDuration(d))
        .to.be.revertedWithCustomError(pm, "RampDurationOutOfBounds")
        .withArgs(d);
    }
    await expect(pm.requirement([ETH], [1n, 2n], [0n], [0n])).to.be.revertedWithCustomError(pm, "LegsShape");
    await expect(pm.marketRisk(64)).to.be.revertedWithCustomError(pm, "MarketIdOutOfBounds");
    expect([await pm.version(), await pm.pointer()]).to.deep.equal([version, pointer]);

    await expect(pm.setRampDuration(2n * HOUR))
      .to.emit(pm, "RampDurationSet")
      .withArgs(2n * HOUR);
  });

  it("stores the configuration it was given and treats an unlisted market conservatively", async () => {
    const { pm } = await withPortfolioMargin();
    const { model, markets } = good();
    const stored = await pm.model();
    expect(stored.factors).to.equal(BigInt(model.factors));
    expect(stored.cholesky).to.deep.equal(model.cholesky);
    expect(stored.scenarios).to.deep.equal(model.scenarios);
    const eth = await pm.marketRisk(ETH);
    expect(eth.loadingsD18).to.deep.equal(markets[0].loadingsD18);
    expect([eth.idioVolD18, eth.depthD18]).to.deep.equal([markets[0].idioVolD18, markets[0].depthD18]);
    const unlisted = await pm.marketRisk(7);
    expect(unlisted.loadingsD18).to.deep.equal([0n, 0n]);
    expect(unlisted.idioVolD18).to.equal(portfolio.MAX_IDIO_VOL);
    // An unlisted market is all idiosyncratic at 100% per period: its VaR term is z x notional.
    const r = await pm.requirement([7], [wad("1000")], [wad("40")], [wad("20")]);
    expect(r.varD18).to.equal((model.zD18 * wad("1000")) / WAD);
  });
});
