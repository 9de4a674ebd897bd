import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { UNOPTIMIZED, ethers, networkHelpers, deployBulkhead, ETH, riskParams } from "./helpers/fixture.js";
import { feedAnswer, usd, wad } from "./helpers/constants.js";
import { REWARDS, REWARD_CAROL, makeKeeper, twoUnderwater } from "./helpers/keeper.js";
import { EngineAdapter, decodeError, decodeLog } from "../keeper/chain.js";
import { AccountIndexer } from "../keeper/indexer.js";
import { MetricsServer } from "../keeper/metrics.js";
import {
  loadConfig,
  resolveEngineAddress,
  resolveStartBlock,
  withDefaultAddressBook,
} from "../keeper/config.js";
import { settleNext, trade } from "./helpers/orders.js";

describe("keeper bot", () => {
  // The keeper sizes its transactions from a gas model of the optimised contracts; coverage's instrumented build
  // costs several times more gas per statement, so these end-to-end runs are meaningful only without it (the
  // contract paths they drive are covered by the liquidation suites).
  before(function () {
    if (UNOPTIMIZED) this.skip();
  });

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

    indexer.takeTouched();
    expect(indexer.orders.size).to.equal(0); // every fixture order was settled
    await base.contracts.engine.connect(base.signers.keeper).liquidate(2, base.signers.keeper);
    // Alice's close, committed: the index holds it as a pending order until it settles.
    const engine = base.contracts.engine.connect(base.signers.alice);
    await engine.commitOrder(1, ETH, wad("-1"), 0, ethers.MaxUint256);
    // PositionLiquidated, Liquidated, MarketUpdated, then OrderCommitted.
    expect(await indexer.refresh()).to.equal(4);
    const { commitTime, settlementRewardD18 } = await engine.getOrder(1, ETH);
    expect([...indexer.orders.values()]).to.deep.equal([
      {
        accountId: 1n,
        marketId: ETH,
        commitTime,
        sizeDeltaD18: wad("-1"),
        rewardD18: settlementRewardD18,
        kind: 0,
        block: await ethers.provider.getBlockNumber(),
      },
    ]);
    await settleNext(engine, 1, ETH);
    // PositionModified and OrderSettled: the position is closed and the order gone.
    expect(await indexer.refresh()).to.equal(2);
    expect(indexer.orders.size).to.equal(0);
    expect(indexer.withPositions()).to.deep.equal([3n]);
    expect(indexer.takeTouched()).to.deep.equal({ accounts: new Set([2n, 1n]), markets: new Set([ETH]) });
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
    expect(plan).to.deep.include({ accounts: ["3", "2"], expectedLiquidated: "2" });
    expect(plan.expectedRewardD18).to.equal((REWARDS * 10n ** 12n).toString());
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

    expect(report.liquidated).to.deep.equal([3n, 2n]);
    expect(report.rewardD18).to.equal(REWARDS * 10n ** 12n);
    expect(await token.balanceOf(keeperSigner)).to.equal(balance + REWARDS);
    expect((await engine.getPositions(2)).length).to.equal(0);
    expect((await engine.getPositions(3)).length).to.equal(0);
    expect((await engine.getPositions(1)).length).to.equal(1);
    expect(metrics.get("keeper_liquidations_total")).to.equal(2);
    expect(metrics.get("keeper_rewards_usd_total")).to.equal(192.5);
    expect(metrics.get("keeper_errors_total")).to.equal(0);
    expect(byMsg("liquidated")[0].accounts).to.deep.equal(["3", "2"]);

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
    await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
    await engine.connect(bob).createCrossAccount();
    await engine.connect(bob).deposit(2, usd("10000"));
    await trade(engine.connect(bob), 2, ETH, wad("2"), wad("3100"));
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
      // Both liquidated in the block after the one the keeper saw them in: latency 1 block.
      expect(text).to.include("# TYPE keeper_liquidation_latency_blocks histogram");
      expect(text).to.include('\nkeeper_liquidation_latency_blocks_bucket{le="0"} 0\n');
      expect(text).to.include('\nkeeper_liquidation_latency_blocks_bucket{le="1"} 2\n');
      expect(text).to.include("\nkeeper_liquidation_latency_blocks_count 2\n");
      for (const reason of ["gas_price", "unprofitable", "capacity", "send_failed"]) {
        expect(text).to.include(`\nkeeper_missed_opportunities_total{reason="${reason}"} 0\n`);
      }
      expect(text).to.match(/\nkeeper_gas_used_total [1-9]\d{4,}\n/);
      expect(text).to.match(/\nkeeper_gas_spent_wei_total [1-9]/);
      expect(text).to.include("\nkeeper_txs_sent_total 1\n");
      expect(text).to.include("\nkeeper_pending_txs 0\n");

      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).to.equal(200);
      const body = (await health.json()) as {
        status: string;
        lastTick: { liquidated: number; accounts: number };
      };
      expect(body.status).to.equal("ok");
      expect(res.headers.get("content-type")).to.match(/^text\/plain; version=0\.0\.4/);
      expect(body.lastTick).to.deep.include({ liquidated: 2, accounts: 3 });
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).to.equal(404);
    } finally {
      await server.close();
    }
  });

  it("decodes every engine log like ethers' parseLog, from a topic table built once", async () => {
    const base = await networkHelpers.loadFixture(twoUnderwater);
    await base.contracts.engine.connect(base.signers.keeper).liquidate(2, base.signers.keeper);
    const engine = base.contracts.engine;
    const logs = await ethers.provider.getLogs({ address: engine.target as string, fromBlock: 0 });
    const names = new Set<string>();
    for (const log of logs) {
      const expected = engine.interface.parseLog(log);
      if (expected === null) {
        expect(decodeLog(log)).to.equal(undefined); // e.g. AccessControl's RoleGranted: not in IBulkhead
        continue;
      }
      const decoded = decodeLog(log)!;
      expect(decoded.name).to.equal(expected.name);
      for (const input of expected.fragment.inputs) {
        expect(decoded.args[input.name], `${expected.name}.${input.name}`).to.deep.equal(
          expected.args.getValue(input.name),
        );
      }
      names.add(decoded.name);
    }
    expect([...names]).to.include.members([
      "AccountCreated",
      "PositionModified",
      "Liquidated",
      "PositionLiquidated",
    ]);
    expect(decodeLog({ topics: [ethers.ZeroHash], data: "0x" })).to.equal(undefined);
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
    expect(() => loadConfig({ KEEPER_ENGINE: engine, KEEPER_BATCH_SIZE: "501" }, [])).to.throw(/batchSize/);
    // Neither an engine nor an address book is an error once the chain's default book is known to be missing.
    const empty = mkdtempSync(path.join(tmpdir(), "keeper-nobook-"));
    expect(() => resolveEngineAddress(withDefaultAddressBook(loadConfig({}, []), 31337n, empty))).to.throw(
      /KEEPER_ENGINE/,
    );
    expect(() => loadConfig({ KEEPER_ENGINE: "0x12" }, [])).to.throw(/not an address/);
    expect(
      loadConfig({ KEEPER_ENGINE: engine, KEEPER_MAX_GAS_PRICE_GWEI: "1.5" }, []).maxGasPriceWei,
    ).to.equal(1_500_000_000n);
  });

  it("takes BULKHEAD_RPC_URL (the project-wide RPC setting) only when no keeper setting names a node", () => {
    const engine = "0x" + "11".repeat(20);
    const shared = "http://127.0.0.1:8546";
    expect(loadConfig({ KEEPER_ENGINE: engine }, []).rpcUrl).to.equal(undefined);
    expect(loadConfig({ KEEPER_ENGINE: engine, BULKHEAD_RPC_URL: shared }, []).rpcUrl).to.equal(shared);
    const own = "http://127.0.0.1:9999";
    expect(
      loadConfig({ KEEPER_ENGINE: engine, BULKHEAD_RPC_URL: shared, KEEPER_RPC_URL: own }, []).rpcUrl,
    ).to.equal(own);
    expect(
      loadConfig({ KEEPER_ENGINE: engine, BULKHEAD_RPC_URL: shared }, ["--rpc-url", own]).rpcUrl,
    ).to.equal(own);
    expect(() => loadConfig({ KEEPER_ENGINE: engine, BULKHEAD_RPC_URL: "not a url" }, [])).to.throw(/rpcUrl/);
  });

  it("reads a config file, overridden by the environment, overridden by flags; starts at the address book's block", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "keeper-config-"));
    const engine = "0x" + "22".repeat(20);
    const book = path.join(dir, "31337.json");
    writeFileSync(book, JSON.stringify({ chainId: 31337, engine, startBlock: 42 }));
    const file = path.join(dir, "keeper.json");
    writeFileSync(
      file,
      JSON.stringify({
        addressBook: book,
        batchSize: 30,
        quoteBatchSize: 700,
        gasTargetPerTx: 2_000_000,
        dryRun: true,
      }),
    );
    const config = loadConfig({ KEEPER_CONFIG: file, KEEPER_BATCH_SIZE: "40" }, [
      "--quote-batch-size",
      "800",
    ]);
    expect(config).to.deep.include({
      batchSize: 40,
      quoteBatchSize: 800,
      gasTargetPerTx: 2_000_000n,
      dryRun: true,
    });
    expect(resolveEngineAddress(config)).to.equal(engine);
    expect(resolveStartBlock(config)).to.equal(42);
    expect(resolveStartBlock({ ...config, startBlock: 7 })).to.equal(7);
    expect(loadConfig({}, ["--config", file]).nativeUsdD18).to.equal(wad("3000"));

    writeFileSync(file, JSON.stringify({ engine, batchSzie: 3 }));
    expect(() => loadConfig({ KEEPER_CONFIG: file }, [])).to.throw(/batchSzie/);
    expect(() => loadConfig({ KEEPER_CONFIG: path.join(dir, "missing.json") }, [])).to.throw(/cannot read/);
  });
});

describe("keeper configuration: the default address book", () => {
  /** A folder holding `<chainId>.json` for chain 31337, as a deployment writes it (the fields the keeper reads). */
  function deployments(engine: string, startBlock: number): string {
    const dir = mkdtempSync(path.join(tmpdir(), "keeper-deployments-"));
    writeFileSync(path.join(dir, "31337.json"), JSON.stringify({ chainId: 31337, engine, startBlock }));
    return dir;
  }

  it("without KEEPER_ADDRESS_BOOK, finds deployments/<chainId>.json and starts at its startBlock", () => {
    const engine = "0x" + "33".repeat(20);
    const dir = deployments(engine, 1234);
    const loaded = loadConfig({}, []);
    expect(loaded.addressBook).to.equal(undefined);
    expect(resolveStartBlock(loaded)).to.equal(0);

    const config = withDefaultAddressBook(loaded, 31337n, dir);
    expect(config.addressBook).to.equal(path.join(dir, "31337.json"));
    expect(resolveEngineAddress(config)).to.equal(engine);
    expect(resolveStartBlock(config)).to.equal(1234);
    // KEEPER_START_BLOCK still wins; another chain has no book here.
    expect(
      resolveStartBlock(withDefaultAddressBook(loadConfig({ KEEPER_START_BLOCK: "7" }, []), 31337, dir)),
    ).to.equal(7);
    expect(withDefaultAddressBook(loaded, 1n, dir).addressBook).to.equal(undefined);
  });

  it("reads the folder BULKHEAD_DEPLOYMENTS_DIR names, as the CLI does", () => {
    const engine = "0x" + "44".repeat(20);
    const dir = deployments(engine, 99);
    const saved = process.env.BULKHEAD_DEPLOYMENTS_DIR;
    process.env.BULKHEAD_DEPLOYMENTS_DIR = dir;
    try {
      const config = withDefaultAddressBook(loadConfig({}, []), 31337n);
      expect(resolveEngineAddress(config)).to.equal(engine);
      expect(resolveStartBlock(config)).to.equal(99);
    } finally {
      if (saved === undefined) delete process.env.BULKHEAD_DEPLOYMENTS_DIR;
      else process.env.BULKHEAD_DEPLOYMENTS_DIR = saved;
    }
  });

  it("with KEEPER_ENGINE, uses the default book only if it names the same engine; an explicit book wins", () => {
    const engine = "0x" + "55".repeat(20);
    const dir = deployments(engine, 500);
    const same = withDefaultAddressBook(loadConfig({ KEEPER_ENGINE: engine }, []), 31337n, dir);
    expect(resolveStartBlock(same)).to.equal(500);
    // Another deployment's start block could skip this engine's first events: index from 0 instead.
    const other = withDefaultAddressBook(
      loadConfig({ KEEPER_ENGINE: "0x" + "66".repeat(20) }, []),
      31337n,
      dir,
    );
    expect(other.addressBook).to.equal(undefined);
    expect(resolveStartBlock(other)).to.equal(0);

    const explicit = path.join(deployments(engine, 8), "31337.json");
    const configured = withDefaultAddressBook(loadConfig({ KEEPER_ADDRESS_BOOK: explicit }, []), 31337n, dir);
    expect(configured.addressBook).to.equal(explicit);
    expect(resolveStartBlock(configured)).to.equal(8);
  });
});
