import { expect } from "chai";
import { ethers, networkHelpers, deployBulkhead, ETH, riskParams } from "./helpers/fixture.js";
import { feedAnswer, usd, wad } from "./helpers/constants.js";
import { EngineAdapter, decodeError } from "../keeper/chain.js";
import { Keeper, type KeeperOptions } from "../keeper/bot.js";
import { AccountIndexer } from "../keeper/indexer.js";
import { jsonLogger } from "../keeper/log.js";
import { Metrics, MetricsServer } from "../keeper/metrics.js";
import { loadConfig } from "../keeper/config.js";

/**
 * Keeper rewards here (issue 8: flat 5 + liquidation fee x 50% share, below the 1,000 cap), at ETH 2920:
 * bob's 10 ETH: 5 + 29,200 x 0.5% x 0.5 = 78; carol's 15 ETH: 5 + 43,800 x 0.5% x 0.5 = 114.5.
 */
const REWARD_BOB = usd("78");
const REWARD_CAROL = usd("114.5");
const REWARDS = REWARD_BOB + REWARD_CAROL; // 192.5 USDC

/**
 * Three accounts, then ETH 3000 -> 2920:
 *  1 alice, cross, 1 ETH long on 10,000      healthy
 *  2 bob, isolated, 10 ETH long on 1,000     equity ~180 < MM ~312: liquidatable
 *  3 carol, cross, 15 ETH long on 1,500      equity ~270 < MM ~470: liquidatable
 */
async function twoUnderwater() {
  const base = await deployBulkhead();
  const { engine, ethAggregator } = base.contracts;
  const { alice, bob, carol } = base.signers;
  await engine.connect(alice).createCrossAccount();
  await engine.connect(alice).deposit(1, usd("10000"));
  await engine.connect(alice).trade(1, ETH, wad("1"), wad("3100"));
  await engine.connect(bob).openIsolated(ETH, 0, usd("1000"), wad("10"), wad("3100"));
  await engine.connect(carol).createCrossAccount();
  await engine.connect(carol).deposit(3, usd("1500"));
  await engine.connect(carol).trade(3, ETH, wad("15"), wad("3100"));
  await ethAggregator.setAnswer(feedAnswer("2920"));
  return base;
}

function makeKeeper(
  base: Awaited<ReturnType<typeof deployBulkhead>>,
  overrides: Partial<KeeperOptions> = {},
  signer = base.signers.keeper,
) {
  const lines: Record<string, unknown>[] = [];
  const metrics = new Metrics();
  const chain = new EngineAdapter(base.contracts.engine.target as string, signer);
  const keeper = new Keeper({
    chain,
    rewardReceiver: signer.address,
    log: jsonLogger((line) => lines.push(JSON.parse(line))),
    metrics,
    startBlock: 0,
    logRange: 2000,
    batchSize: 50,
    dryRun: false,
    ...overrides,
  });
  return { keeper, metrics, lines, byMsg: (msg: string) => lines.filter((l) => l.msg === msg) };
}

describe("keeper bot", () => {
  it("indexes accounts and open positions incrementally in bounded log ranges", async () => {
    const base = await networkHelpers.loadFixture(twoUnderwater);
    const calls: [number, number][] = [];
    const chain = new EngineAdapter(base.contracts.engine.target as string, base.signers.keeper);
    const indexer = new AccountIndexer(
      { blockNumber: () => chain.blockNumber(), events: (f, t) => (calls.push([f, t]), chain.events(f, t)) },
      0,
      7,
    );
    await indexer.refresh();
    const head = await ethers.provider.getBlockNumber();
    expect(indexer.lastIndexedBlock).to.equal(head);
    expect(calls.every(([f, t]) => t - f + 1 <= 7)).to.equal(true);
    expect(calls.length).to.equal(Math.ceil((head + 1) / 7));
    expect(indexer.withPositions()).to.deep.equal([1n, 2n, 3n]);
    expect(indexer.accounts.get(2n)!.isolated).to.equal(true);
    expect(indexer.accounts.get(3n)!.sizes.get(ETH)).to.equal(wad("15"));

    calls.length = 0;
    expect(await indexer.refresh()).to.equal(0);
    expect(calls).to.deep.equal([]);

    await base.contracts.engine.connect(base.signers.keeper).liquidate(2, base.signers.keeper);
    await base.contracts.engine.connect(base.signers.alice).trade(1, ETH, wad("-1"), 0);
    expect(await indexer.refresh()).to.equal(2);
    expect(indexer.withPositions()).to.deep.equal([3n]);
  });

  it("in dry-run logs the plan and sends nothing", async () => {
    const base = await networkHelpers.loadFixture(twoUnderwater);
    const { keeper: keeperSigner } = base.signers;
    const { token, engine } = base.contracts;
    const nonce = await ethers.provider.getTransactionCount(keeperSigner);
    const balance = await token.balanceOf(keeperSigner);
    const { keeper, byMsg, metrics } = makeKeeper(base, { dryRun: true });

    const report = await keeper.tick();

    expect(report.liquidatable).to.deep.equal([2n, 3n]);
    expect(report.liquidated).to.deep.equal([]);
    const [plan] = byMsg("dry_run_would_liquidate");
    expect(plan).to.deep.include({ accounts: ["2", "3"], expectedLiquidated: "2" });
    expect(plan.expectedRewardD18).to.equal(wad("192.5").toString());
    expect(await ethers.provider.getTransactionCount(keeperSigner)).to.equal(nonce);
    expect(await token.balanceOf(keeperSigner)).to.equal(balance);
    expect(await engine.isLiquidatable(2)).to.equal(true);
    expect(metrics.get("keeper_liquidations_total")).to.equal(0);
    expect(metrics.get("keeper_ticks_total")).to.equal(1);
  });

  it("liquidates exactly the liquidatable accounts and receives the reward", async () => {
    const base = await networkHelpers.loadFixture(twoUnderwater);
    const { token, engine } = base.contracts;
    const { keeper: keeperSigner } = base.signers;
    const balance = await token.balanceOf(keeperSigner);
    const { keeper, metrics, byMsg } = makeKeeper(base);

    const report = await keeper.tick();

    expect(report.liquidated).to.deep.equal([2n, 3n]);
    expect(report.rewardD18).to.equal(wad("192.5"));
    expect(await token.balanceOf(keeperSigner)).to.equal(balance + REWARDS);
    expect((await engine.getPositions(2)).length).to.equal(0);
    expect((await engine.getPositions(3)).length).to.equal(0);
    expect((await engine.getPositions(1)).length).to.equal(1);
    expect(metrics.get("keeper_liquidations_total")).to.equal(2);
    expect(metrics.get("keeper_rewards_usd_total")).to.equal(192.5);
    expect(metrics.get("keeper_errors_total")).to.equal(0);
    expect(byMsg("liquidated")[0].accounts).to.deep.equal(["2", "3"]);

    const again = await keeper.tick();
    expect(again.liquidatable).to.deep.equal([]);
    expect(metrics.get("keeper_liquidations_total")).to.equal(2);
  });

  it("counts a race lost to another keeper between quote and send, and takes what is left", async () => {
    const base = await networkHelpers.loadFixture(twoUnderwater);
    const { token, engine } = base.contracts;
    const { keeper: keeperSigner, admin } = base.signers;
    const balance = await token.balanceOf(keeperSigner);
    const { keeper, metrics, byMsg } = makeKeeper(base, {
      afterQuote: async () => {
        await engine.connect(admin).liquidate(2, admin);
      },
    });

    const report = await keeper.tick();

    expect(report.liquidatable).to.deep.equal([2n, 3n]);
    expect(report.liquidated).to.deep.equal([3n]);
    expect(report.racesLost).to.equal(1);
    expect(byMsg("race_lost")).to.have.length(1);
    expect(byMsg("race_lost")[0]).to.deep.include({ stage: "simulation", accounts: ["2"] });
    expect(metrics.get("keeper_races_lost_total")).to.equal(1);
    expect(metrics.get("keeper_errors_total")).to.equal(0);
    expect(await token.balanceOf(keeperSigner)).to.equal(balance + REWARD_CAROL);
  });

  it("sends nothing when a rival keeper took the whole batch first", async () => {
    const base = await networkHelpers.loadFixture(twoUnderwater);
    const { keeper: keeperSigner, carol } = base.signers;
    const rival = makeKeeper(base, {}, carol);
    const ours = makeKeeper(base, {
      afterQuote: async () => {
        await rival.keeper.tick();
      },
    });
    const nonce = await ethers.provider.getTransactionCount(keeperSigner);

    const report = await ours.keeper.tick();

    expect(rival.metrics.get("keeper_liquidations_total")).to.equal(2);
    expect(report.liquidated).to.deep.equal([]);
    expect(report.racesLost).to.equal(2);
    expect(ours.metrics.get("keeper_races_lost_total")).to.equal(2);
    expect(ours.metrics.get("keeper_errors_total")).to.equal(0);
    expect(await ethers.provider.getTransactionCount(keeperSigner)).to.equal(nonce);
  });

  it("auto-deleverages the most profitable position when ADL is triggered", async () => {
    const base = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, ethAggregator } = base.contracts;
    const { alice, bob, admin } = base.signers;
    // Trigger at 0.02% of 5M vault cash (1,000 USD of trader profit), target 0.01%.
    await engine
      .connect(admin)
      .setRiskParams({ ...riskParams, adlTriggerD18: wad("0.0002"), adlTargetD18: wad("0.0001") });
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("10000"));
    await engine.connect(alice).trade(1, ETH, wad("10"), wad("3100"));
    await engine.connect(bob).createCrossAccount();
    await engine.connect(bob).deposit(2, usd("10000"));
    await engine.connect(bob).trade(2, ETH, wad("2"), wad("3100"));
    await ethAggregator.setAnswer(feedAnswer("3200"));
    expect((await engine.adlStatus(ETH))[0]).to.equal(true);
    const { keeper, byMsg } = makeKeeper(base);

    const report = await keeper.tick();

    expect(report.adl.map((a) => a.accountId)).to.deep.equal([1n]);
    expect(byMsg("adl")).to.have.length(1);
    expect((await engine.adlStatus(ETH))[0]).to.equal(false);
    expect((await engine.getPositions(2))[0].sizeD18).to.equal(wad("2"));
    expect((await engine.getPositions(1))[0].sizeD18).to.be.lessThan(wad("10"));
  });

  it("serves Prometheus counters and /health on 127.0.0.1", async () => {
    const base = await networkHelpers.loadFixture(twoUnderwater);
    const { keeper, metrics } = makeKeeper(base);
    const server = new MetricsServer(metrics);
    const port = await server.start(0);
    try {
      await keeper.tick();
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).to.equal(200);
      const text = await res.text();
      for (const line of [
        "keeper_ticks_total 1",
        "keeper_accounts_indexed 3",
        "keeper_liquidations_total 2",
        "keeper_rewards_usd_total 192.5",
        "keeper_races_lost_total 0",
        "keeper_errors_total 0",
      ]) {
        expect(text).to.include(`\n${line}\n`);
      }
      expect(text).to.match(/\nkeeper_last_tick_timestamp \d{10}\n/);
      expect(text).to.include("# TYPE keeper_ticks_total counter");

      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).to.equal(200);
      const body = (await health.json()) as {
        status: string;
        lastTick: { liquidated: number; accounts: number };
      };
      expect(body.status).to.equal("ok");
      expect(body.lastTick).to.deep.include({ liquidated: 2, accounts: 3 });
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).to.equal(404);
    } finally {
      await server.close();
    }
  });

  it("decodes custom errors from the IBulkhead ABI", async () => {
    const base = await networkHelpers.loadFixture(twoUnderwater);
    const error = await base.contracts.engine
      .connect(base.signers.keeper)
      .liquidate.staticCall(1, base.signers.keeper)
      .catch((e: unknown) => e);
    expect(decodeError(error)).to.deep.include({ name: "NotLiquidatable", args: ["1"] });
  });

  it("validates its configuration", () => {
    const engine = "0x" + "11".repeat(20);
    const config = loadConfig({ KEEPER_ENGINE: engine, KEEPER_DRY_RUN: "1" }, [
      "--batch-size",
      "20",
      "--once",
    ]);
    expect(config).to.deep.include({ engine, dryRun: true, batchSize: 20, once: true, metricsPort: 9464 });
    expect(() => loadConfig({ KEEPER_ENGINE: engine, KEEPER_BATCH_SIZE: "51" }, [])).to.throw(/batchSize/);
    expect(() => loadConfig({}, [])).to.throw(/KEEPER_ENGINE/);
    expect(() => loadConfig({ KEEPER_ENGINE: "0x12" }, [])).to.throw(/not an address/);
    expect(
      loadConfig({ KEEPER_ENGINE: engine, KEEPER_MAX_GAS_PRICE_GWEI: "1.5" }, []).maxGasPriceWei,
    ).to.equal(1_500_000_000n);
  });
});
