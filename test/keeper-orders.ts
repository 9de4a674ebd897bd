import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { UNOPTIMIZED, ethers, networkHelpers, deployBulkhead, ETH, pythPriceId } from "./helpers/fixture.js";
import { feedAnswer, usd, wad } from "./helpers/constants.js";
import { makeKeeper, makePublisher, twoUnderwater, type Base } from "./helpers/keeper.js";
import { ANY_REWARD, priceUpdate } from "./helpers/orders.js";
import { LocalPriceService } from "../sdk/pyth.js";
import { MetricsServer } from "../keeper/metrics.js";
import { DEFAULT_GAS_MODEL, accountGas, batchGas } from "../keeper/planner.js";
import { DEFAULT_ORDER_GAS_MODEL, classifyOrders, packOrders } from "../keeper/orders.js";
import { HermesPriceService, parseHermesUpdate, pythToD18, type FetchLike } from "../keeper/prices.js";
import { mulberry32, pricePath, randomWalk, scriptedPath } from "../keeper/price-publisher.js";
import { loadConfig } from "../keeper/config.js";
import type { IndexedOrder } from "../keeper/indexer.js";

const { time } = networkHelpers;
const provider = ethers.provider;
const GWEI = 10n ** 9n;

/** What each settlement pays its keeper here: 2 USD, i.e. 2 USDC. */
const ORDER_REWARD = wad("2");

/** Orders ready 5 s after commit, expired after 60 s, paying 2 USD; alice (account 1) and carol (2) funded. */
async function ordersFixture(): Promise<Base> {
  const base = await deployBulkhead();
  const { engine } = base.contracts;
  const { admin, alice, carol } = base.signers;
  await engine
    .connect(admin)
    .setOrderParams({ minDelay: 5, maxDelay: 60, settlementRewardD18: ORDER_REWARD });
  for (const [i, trader] of [alice, carol].entries()) {
    await engine.connect(trader).createCrossAccount();
    await engine.connect(trader).deposit(i + 1, usd("10000"));
  }
  return base;
}

/** twoUnderwater (accounts 2 and 3 liquidatable at ETH 2920) with paid orders. */
async function underwaterWithOrders(): Promise<Base> {
  const base = await twoUnderwater();
  await base.contracts.engine
    .connect(base.signers.admin)
    .setOrderParams({ minDelay: 5, maxDelay: 60, settlementRewardD18: ORDER_REWARD });
  return base;
}

async function manualMining(body: () => Promise<void>): Promise<void> {
  await provider.send("evm_setAutomine", [false]);
  try {
    await body();
  } finally {
    await provider.send("evm_setAutomine", [true]);
  }
}
const mine = () => provider.send("evm_mine", []);

/** Mines the next transaction (or the block `fn` mines) at `t`. */
async function at<T>(t: bigint, fn: () => Promise<T>): Promise<T> {
  await time.setNextBlockTimestamp(t);
  return fn();
}

const ref = (accountId: bigint, marketId = ETH) => ({ accountId, marketId });

/**
 * A rival bot's settlement of `accountId`'s ETH order, at the mark, sent by carol with a fixed gas limit (no
 * estimate: it works while another settlement of the same order is pending) and tip.
 */
async function rivalSettle(base: Base, accountId: bigint, tipWei: bigint, maxFeePerGas = 100n * GWEI) {
  const { engine, ethFeed } = base.contracts;
  const order = await engine.getOrder(accountId, ETH);
  const { data, fee } = await priceUpdate(engine, ETH, await ethFeed.latestPrice(), order.readyTime);
  return engine.connect(base.signers.carol).settleOrder(accountId, ETH, data, {
    value: fee,
    gasLimit: 600_000n,
    maxPriorityFeePerGas: tipWei,
    maxFeePerGas,
  });
}

describe("keeper: order settlement", () => {
  // Gas-budget assertions assume the optimised build (see test/keeper.ts).
  before(function () {
    if (UNOPTIMIZED) this.skip();
  });

  describe("end to end (local price service)", () => {
    it("settles committed orders after the delay at the price published for their ready time, and earns the reward", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine, token } = base.contracts;
      const { alice, carol, keeper: keeperSigner } = base.signers;
      const publisher = makePublisher(base, scriptedPath(new Map([[ETH, [wad("3010"), wad("3020")]]])));
      const { keeper, metrics, byMsg } = makeKeeper(base, { prices: publisher });
      const balance = await token.balanceOf(keeperSigner);

      const t0 = BigInt(await time.latest()) + 10n;
      await at(t0, () => engine.connect(alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD));
      await at(t0 + 1n, () => engine.connect(carol).commitOrder(2, ETH, wad("-2"), wad("2900"), ANY_REWARD));
      // ETH moves to 3010 before either order is ready: that is the price in force at both ready times.
      await at(t0 + 3n, () => publisher.step());

      const early = await keeper.tick();
      expect(early.orders).to.deep.include({ pending: 2, due: 0, expired: 0 });
      expect(early.orders.sent).to.deep.equal([]);

      // ETH moves on to 3020 after both ready times; the orders still fill at 3010.
      await at(t0 + 8n, () => publisher.step());
      const ethId = pythPriceId(ETH).toLowerCase();
      expect(publisher.service.priceAt(ethId, t0 + 5n)).to.equal(wad("3010"));
      expect(publisher.service.priceAt(ethId, t0 + 8n)).to.equal(wad("3020"));

      const report = await keeper.tick();
      expect(report.orders).to.deep.include({ pending: 2, due: 2, racesLost: 0, failed: 0, deferred: 0 });
      expect(report.orders.sent).to.deep.equal([ref(1n), ref(2n)]);
      expect(report.orders.settled).to.deep.equal([ref(1n), ref(2n)]);
      expect(report.orders.rewardD18).to.equal(2n * ORDER_REWARD);
      expect(report.errors).to.equal(0);

      expect((await engine.getPositions(1))[0].sizeD18).to.equal(wad("1"));
      expect((await engine.getPositions(2))[0].sizeD18).to.equal(wad("-2"));
      expect((await engine.getOrder(1, ETH)).commitTime).to.equal(0n);
      expect(await token.balanceOf(keeperSigner)).to.equal(balance + usd("4"));

      const settled = byMsg("order_settled");
      expect(settled.map((l) => [l.accountId, l.priceD18, l.publishTime, l.rewardD18])).to.deep.equal([
        ["1", wad("3010").toString(), (t0 + 5n).toString(), ORDER_REWARD.toString()],
        ["2", wad("3010").toString(), (t0 + 6n).toString(), ORDER_REWARD.toString()],
      ]);
      // Latency: the settling block's timestamp minus the ready time.
      for (const [i, line] of settled.entries()) {
        const block = await provider.getBlock(line.block as number);
        expect(line.latencySeconds).to.equal(block!.timestamp - Number(t0 + 5n + BigInt(i)));
      }
      expect(metrics.get("keeper_orders_settled_total")).to.equal(2);
      expect(metrics.get("keeper_order_rewards_usd_total")).to.equal(4);
      expect(metrics.get("keeper_errors_total")).to.equal(0);

      const server = new MetricsServer(metrics);
      const port = await server.start(0);
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(text).to.include("\nkeeper_orders_settled_total 2\n");
        expect(text).to.include("\nkeeper_order_settlement_latency_seconds_count 2\n");
        const sum = settled.reduce((s, l) => s + (l.latencySeconds as number), 0);
        expect(text).to.include(`\nkeeper_order_settlement_latency_seconds_sum ${sum}\n`);
        expect(text).to.include('\nkeeper_order_failures_total{reason="price_unavailable"} 0\n');
        expect(text).to.include("\nkeeper_orders_pending 2\n"); // as the tick found them
      } finally {
        await server.close();
      }

      const after = await keeper.tick();
      expect(after.orders).to.deep.include({ pending: 0, due: 0 });
      expect(metrics.get("keeper_orders_pending")).to.equal(0);
    });

    it("in dry-run logs the settlement it would send and sends nothing", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine } = base.contracts;
      const { keeper, byMsg } = makeKeeper(base, { prices: makePublisher(base), dryRun: true });
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      await time.increase(6);
      const nonce = await provider.getTransactionCount(base.signers.keeper);

      const report = await keeper.tick();

      expect(report.orders.due).to.equal(1);
      expect(report.orders.sent).to.deep.equal([]);
      const [plan] = byMsg("dry_run_would_settle");
      expect(plan).to.deep.include({
        accountId: "1",
        marketId: ETH,
        priceD18: wad("3000").toString(),
        feeWei: "1",
      });
      expect(BigInt(plan.expectedFillD18 as string) > wad("3000")).to.equal(true); // a buy pays the skew premium
      expect(await provider.getTransactionCount(base.signers.keeper)).to.equal(nonce);
      expect((await engine.getOrder(1, ETH)).commitTime).to.not.equal(0n);
    });

    it("resumes pending orders from its checkpoint and settles them after a restart", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine } = base.contracts;
      const file = path.join(mkdtempSync(path.join(tmpdir(), "keeper-orders-")), "index.json");
      const publisher = makePublisher(base);
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      const before = makeKeeper(base, { prices: publisher, checkpointFile: file });
      expect((await before.keeper.tick()).orders).to.deep.include({ pending: 1, due: 0 });
      const saved = JSON.parse(readFileSync(file, "utf8")) as { version: number; orders: unknown[][] };
      expect(saved.version).to.equal(2);
      expect(saved.orders.map((o) => o.slice(0, 2))).to.deep.equal([["1", ETH]]);

      await time.increase(6);
      const after = makeKeeper(base, { prices: publisher, checkpointFile: file });
      expect([...after.keeper.indexer.orders.keys()]).to.deep.equal([`1:${ETH}`]);
      expect((await after.keeper.tick()).orders.settled).to.deep.equal([ref(1n)]);

      // A version-1 checkpoint has no orders: it is ignored and the index rebuilt from the start block.
      writeFileSync(
        file,
        JSON.stringify({ version: 1, engine: engine.target, lastIndexedBlock: 5, accounts: [] }),
      );
      expect(makeKeeper(base, { checkpointFile: file }).keeper.indexer.lastIndexedBlock).to.equal(-1);
    });
  });

  describe("races", () => {
    it("another keeper settling first (before our simulation) is a lost race, not an error", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine, token } = base.contracts;
      const { alice, carol, keeper: keeperSigner } = base.signers;
      const publisher = makePublisher(base);
      const rival = makeKeeper(base, { prices: publisher }, carol);
      const ours = makeKeeper(base, {
        prices: publisher,
        orders: { beforeSimulate: async () => void (await rival.keeper.tick()) },
      });
      await engine.connect(alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      await engine.connect(carol).commitOrder(2, ETH, wad("-1"), wad("2900"), ANY_REWARD);
      await time.increase(6);
      const nonce = await provider.getTransactionCount(keeperSigner);
      const balance = await token.balanceOf(keeperSigner);

      const report = await ours.keeper.tick();

      expect(rival.metrics.get("keeper_orders_settled_total")).to.equal(2);
      expect(report.orders).to.deep.include({ due: 2, racesLost: 2, failed: 0 });
      expect(report.orders.sent).to.deep.equal([]);
      expect(ours.byMsg("order_race_lost").map((l) => [l.stage, l.accountId])).to.deep.equal([
        ["simulation", "1"],
        ["simulation", "2"],
      ]);
      expect(ours.metrics.get("keeper_order_races_lost_total")).to.equal(2);
      expect(ours.metrics.get("keeper_errors_total")).to.equal(0);
      expect(ours.lines.filter((l) => l.level === "error")).to.deep.equal([]);
      expect(await provider.getTransactionCount(keeperSigner)).to.equal(nonce);
      expect(await token.balanceOf(keeperSigner)).to.equal(balance);
    });

    it("a rival's settlement included before ours is a lost race at inclusion, not an error", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine, token } = base.contracts;
      const { alice, carol } = base.signers;
      const ours = makeKeeper(base, { prices: makePublisher(base), fees: { tipWei: 1n * GWEI } });
      await engine.connect(alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      await engine.connect(carol).commitOrder(2, ETH, wad("-1"), wad("2900"), ANY_REWARD);
      await time.increase(6);
      const rivalBalance = await token.balanceOf(carol);
      await manualMining(async () => {
        expect((await ours.keeper.tick()).orders.sent).to.deep.equal([ref(1n), ref(2n)]);
        // A rival bot broadcasts the same settlements after our simulation, with a higher tip.
        for (const id of [1n, 2n]) await rivalSettle(base, id, 3n * GWEI);
        await mine(); // the higher tip goes first: ours revert with NoPendingOrder
        const lost = await ours.keeper.tick();
        expect(lost.orders.settled).to.deep.equal([]);
        expect(lost.orders.racesLost).to.equal(2);
        expect(ours.byMsg("order_race_lost").map((l) => [l.stage, l.accountId])).to.deep.equal([
          ["inclusion", "1"],
          ["inclusion", "2"],
        ]);
        expect(ours.metrics.get("keeper_errors_total")).to.equal(0);
        expect(ours.metrics.orderFailureOf("reverted")).to.equal(0);
        expect(ours.metrics.get("keeper_gas_spent_wei_total")).to.be.greaterThan(0);
        // Free again: nothing pending, nothing due.
        await mine();
        expect((await ours.keeper.tick()).orders).to.deep.include({ pending: 0, due: 0 });
        expect(ours.keeper.txs.pending.size).to.equal(0);
      });
      expect(await token.balanceOf(carol)).to.equal(rivalBalance + usd("4"));
    });

    it("a second keeper sees a settlement already pending in the mempool and stands down", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine } = base.contracts;
      const publisher = makePublisher(base);
      const first = makeKeeper(base, { prices: publisher });
      const second = makeKeeper(base, { prices: publisher }, base.signers.carol);
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      await time.increase(6);
      await manualMining(async () => {
        expect((await first.keeper.tick()).orders.sent).to.deep.equal([ref(1n)]);
        // Hardhat estimates gas against the pending block, where the order is already settled.
        const report = await second.keeper.tick();
        expect(report.orders).to.deep.include({ racesLost: 1, failed: 0 });
        expect(report.orders.sent).to.deep.equal([]);
        await mine();
        expect((await first.keeper.tick()).orders.settled).to.deep.equal([ref(1n)]);
      });
      expect(second.metrics.get("keeper_errors_total")).to.equal(0);
    });
  });

  describe("expiry and refusals", () => {
    it("cancels expired orders (fee-free clean-up), returning an unfilled isolated margin; not when told not to", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine, token } = base.contracts;
      const { alice, bob, keeper: keeperSigner } = base.signers;
      const publisher = makePublisher(base);
      await engine.connect(alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      const walletBefore = await token.balanceOf(bob);
      await engine.connect(bob).commitIsolatedOrder(ETH, 0, usd("1000"), wad("1"), wad("3100"), ANY_REWARD);
      expect(await token.balanceOf(bob)).to.equal(walletBefore - usd("1000"));
      await time.increase(70); // nobody settled them in their window
      const keeperBalance = await token.balanceOf(keeperSigner);
      const collateral = (await engine.getAccount(1)).collateralD18;

      const idle = makeKeeper(base, { prices: publisher, orders: { cancelExpired: false } });
      const skipped = await idle.keeper.tick();
      expect(skipped.orders).to.deep.include({ pending: 2, due: 0, expired: 2 });
      expect(skipped.orders.cancelSent).to.deep.equal([]);

      const { keeper, metrics, byMsg } = makeKeeper(base, { prices: publisher });
      const report = await keeper.tick();
      expect(report.orders.cancelSent).to.deep.equal([ref(1n), ref(3n)]);
      expect(report.orders.cancelled).to.deep.equal([ref(1n), ref(3n)]);
      expect(byMsg("order_cancelled")).to.have.length(2);
      expect(metrics.get("keeper_orders_cancelled_total")).to.equal(2);
      expect(metrics.get("keeper_orders_settled_total")).to.equal(0);
      expect((await engine.getOrder(1, ETH)).commitTime).to.equal(0n);
      expect((await engine.getOrder(3, ETH)).commitTime).to.equal(0n);
      // No fee and no reward: the trader keeps everything, the keeper only paid gas.
      expect((await engine.getAccount(1)).collateralD18).to.equal(collateral);
      expect(await token.balanceOf(bob)).to.equal(walletBefore);
      expect(await token.balanceOf(keeperSigner)).to.equal(keeperBalance);
      expect((await keeper.tick()).orders.pending).to.equal(0);
    });

    it("an order the engine refuses is counted once under the error's name, retried, and cancelled after expiry", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine } = base.contracts;
      // ETH jumps to 3050 before the ready time: a buy limited at 3005 cannot fill.
      const publisher = makePublisher(base, scriptedPath(new Map([[ETH, [wad("3050")]]])));
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("1"), wad("3005"), ANY_REWARD);
      await publisher.step();
      await time.increase(6);
      const { keeper, metrics, byMsg } = makeKeeper(base, { prices: publisher });

      for (let i = 0; i < 2; i++) {
        const report = await keeper.tick();
        expect(report.orders).to.deep.include({ due: 1, failed: 1, racesLost: 0 });
        expect(report.orders.sent).to.deep.equal([]);
        await publisher.step(); // a new block: the same order, the same refusal
      }
      expect(metrics.orderFailureOf("SlippageExceeded")).to.equal(1);
      expect(byMsg("order_failed").filter((l) => l.level === "warn")).to.have.length(1);
      expect(byMsg("order_failed")[0]).to.deep.include({ reason: "SlippageExceeded", accountId: "1" });
      expect(metrics.get("keeper_errors_total")).to.equal(0);

      await time.increase(60);
      expect((await keeper.tick()).orders.cancelled).to.deep.equal([ref(1n)]);
    });

    it("without a price for the ready time it waits, counting price_unavailable once", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine } = base.contracts;
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      await time.increase(6);
      const { keeper, metrics } = makeKeeper(base, { orders: { priceService: new LocalPriceService() } });
      for (let i = 0; i < 2; i++) expect((await keeper.tick()).orders).to.deep.include({ due: 1, failed: 1 });
      expect(metrics.orderFailureOf("price_unavailable")).to.equal(1);
      expect(metrics.get("keeper_errors_total")).to.equal(0);
    });

    it("above the gas price cap settles only orders whose reward covers their gas", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine } = base.contracts;
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      await time.increase(6);
      const publisher = makePublisher(base);
      const costly = makeKeeper(base, {
        prices: publisher,
        maxGasPriceWei: 1n,
        nativeUsdD18: wad("1000000000000"),
      });
      const waited = await costly.keeper.tick();
      expect(waited.orders.sent).to.deep.equal([]);
      expect(costly.metrics.orderFailureOf("gas_price")).to.equal(1);

      const cheap = makeKeeper(base, { prices: publisher, maxGasPriceWei: 1n, nativeUsdD18: 1n });
      expect((await cheap.keeper.tick()).orders.settled).to.deep.equal([ref(1n)]);
    });
  });

  describe("priority", () => {
    it("liquidations take the block gas budget first; the settlement waits for the next block", async () => {
      const base = await networkHelpers.loadFixture(underwaterWithOrders);
      const { engine } = base.contracts;
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("-0.5"), 0, ANY_REWARD);
      await time.increase(6);
      // Exactly the liquidation batch of accounts 2 and 3 (one position each).
      const budget = batchGas(DEFAULT_GAS_MODEL, [
        { gas: accountGas(DEFAULT_GAS_MODEL, 1) },
        { gas: accountGas(DEFAULT_GAS_MODEL, 1) },
      ]);
      const { keeper, metrics, byMsg } = makeKeeper(base, {
        prices: makePublisher(base),
        blockGasBudget: budget,
      });

      const first = await keeper.tick();
      expect(first.liquidated).to.deep.equal([3n, 2n]);
      expect(first.orders).to.deep.include({ due: 1, deferred: 1 });
      expect(first.orders.sent).to.deep.equal([]);
      expect(metrics.orderFailureOf("capacity")).to.equal(1);
      expect(byMsg("orders_deferred")[0]).to.deep.include({
        reason: "block_gas_budget",
        orders: [`1:${ETH}`],
      });

      const second = await keeper.tick();
      expect(second.orders.settled).to.deep.equal([ref(1n)]);
      expect((await engine.getPositions(1))[0].sizeD18).to.equal(wad("0.5"));
      expect(metrics.get("keeper_errors_total")).to.equal(0);
    });

    it("sends liquidations before settlements when both fit: lower nonces, earlier in the block", async () => {
      const base = await networkHelpers.loadFixture(underwaterWithOrders);
      const { engine } = base.contracts;
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("-0.5"), 0, ANY_REWARD);
      await time.increase(6);
      const { keeper } = makeKeeper(base, { prices: makePublisher(base) });
      await manualMining(async () => {
        const sent = await keeper.tick();
        expect(sent.sent).to.deep.equal([3n, 2n]);
        expect(sent.orders.sent).to.deep.equal([ref(1n)]);
        const byKind = [...keeper.txs.pending.values()].map((tx) => [tx.spec.kind, tx.nonce]);
        expect(byKind.map(([kind]) => kind)).to.deep.equal(["liquidate", "settleOrder"]);
        expect(byKind[0][1]).to.be.lessThan(byKind[1][1] as number);
        const hashes = [...keeper.txs.pending.values()].map((tx) => tx.hashes[0]);
        await mine();
        const block = await provider.getBlock("latest");
        expect(block!.transactions).to.deep.equal(hashes);
        const mined = await keeper.tick();
        expect(mined.liquidated).to.deep.equal([3n, 2n]);
        expect(mined.orders.settled).to.deep.equal([ref(1n)]);
      });
    });

    it("replaces a stuck settlement while its order is pending, and cancels it once the order is gone", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const { engine } = base.contracts;
      await engine.connect(base.signers.alice).commitOrder(1, ETH, wad("1"), wad("3100"), ANY_REWARD);
      await time.increase(6);
      const publisher = makePublisher(base);
      await publisher.sync();
      const { keeper, metrics, byMsg } = makeKeeper(base, {
        prices: publisher,
        fees: { tipWei: 1n * GWEI, replaceAfterBlocks: 1 },
      });
      await manualMining(async () => {
        expect((await keeper.tick()).orders.sent).to.deep.equal([ref(1n)]);
        const [stuck] = keeper.txs.pending.values();
        await provider.send("hardhat_setNextBlockBaseFeePerGas", [
          ethers.toQuantity(stuck.maxFeePerGas + 1n),
        ]);
        await mine();
        await keeper.tick(); // still pending on chain: resent with higher fees
        expect(byMsg("tx_replaced")[0]).to.deep.include({ kind: "settleOrder", accounts: ["1"] });
        expect(stuck.hashes).to.have.length(2);

        // A rival settles it meanwhile, paying enough to be included where ours is not.
        await rivalSettle(base, 1n, 50n * GWEI, stuck.maxFeePerGas * 4n + 50n * GWEI);
        await provider.send("hardhat_setNextBlockBaseFeePerGas", [
          ethers.toQuantity(stuck.maxFeePerGas + 1n),
        ]);
        await mine();
        const report = await keeper.tick();
        expect(report.orders.racesLost).to.equal(1);
        expect(byMsg("order_race_lost")[0]).to.deep.include({ stage: "replacement", accountId: "1" });
        expect(byMsg("tx_replaced").at(-1)).to.deep.include({ kind: "cancel" });
        await mine();
        await keeper.tick();
        expect(keeper.txs.pending.size).to.equal(0);
      });
      expect(metrics.get("keeper_txs_replaced_total")).to.equal(2);
      expect(metrics.get("keeper_errors_total")).to.equal(0);
    });
  });

  describe("planning", () => {
    const order = (accountId: bigint, commitTime: bigint): IndexedOrder => ({
      accountId,
      marketId: ETH,
      commitTime,
      sizeDeltaD18: wad("1"),
      rewardD18: ORDER_REWARD,
      kind: 0,
      block: 1,
    });

    it("classifies orders as waiting, due (while the next block is within expiry) or expired", () => {
      const params = { minDelay: 5n, maxDelay: 60n };
      const orders = [order(1n, 100n), order(2n, 90n), order(3n, 50n), order(4n, 45n), order(5n, 41n)];
      // now 105: 1 ready at 105 (due), 2 ready at 95 (due), 3 expires at 110 (due), 4 at 105 (not yet expired:
      // cancelOrder needs a later timestamp; settling too late), 5 expired at 101.
      const { due, expired, waiting } = classifyOrders(orders, params, 105n);
      expect(due.map((o) => o.accountId)).to.deep.equal([3n, 2n, 1n]); // oldest ready time first
      expect(expired.map((o) => o.accountId)).to.deep.equal([5n]);
      expect(waiting).to.equal(1);
      expect(due[0]).to.deep.include({ readyTime: 55n, expiryTime: 110n });
      expect(classifyOrders([order(1n, 100n)], params, 104n).waiting).to.equal(1);
    });

    it("packs settlements then cancellations into the gas left, the first always when nothing else was sent", () => {
      const items = [{ gas: 170n }, { gas: 170n }, { gas: 45n }];
      expect(packOrders(items, 380n, 1000n)).to.deep.equal({
        take: items.slice(0, 2),
        overflow: items.slice(2),
      });
      expect(packOrders(items, 100n, 1000n)).to.deep.equal({ take: [], overflow: items });
      expect(packOrders(items, 100n, 100n).take).to.deep.equal(items.slice(0, 1));
      expect(DEFAULT_ORDER_GAS_MODEL.settle > DEFAULT_ORDER_GAS_MODEL.cancel).to.equal(true);
    });
  });

  describe("price paths", () => {
    it("a seeded random walk is reproducible and moves at most its volatility per step", () => {
      const walk = (seed: number) => {
        const path = randomWalk(seed, 50);
        const prices = [wad("3000")];
        for (let i = 0; i < 20; i++) prices.push(path.next(ETH, prices.at(-1)!)!);
        return prices;
      };
      expect(walk(7)).to.deep.equal(walk(7));
      expect(walk(7)).to.not.deep.equal(walk(8));
      const prices = walk(7);
      for (let i = 1; i < prices.length; i++) {
        const move = prices[i] > prices[i - 1] ? prices[i] - prices[i - 1] : prices[i - 1] - prices[i];
        expect(move * 10_000n <= prices[i - 1] * 50n).to.equal(true);
      }
      expect(mulberry32(1)()).to.equal(mulberry32(1)());
    });

    it("a scripted path walks each market's list, then holds (or loops); configs build paths", () => {
      const path = scriptedPath(new Map([[ETH, [1n, 2n]]]));
      expect([path.next(ETH, 0n), path.next(ETH, 0n), path.next(ETH, 0n)]).to.deep.equal([1n, 2n, 2n]);
      expect(path.next(2, 5n)).to.equal(undefined);
      const loop = scriptedPath(new Map([[ETH, [1n, 2n]]]), true);
      expect([loop.next(ETH, 0n), loop.next(ETH, 0n), loop.next(ETH, 0n)]).to.deep.equal([1n, 2n, 1n]);
      const fromConfig = pricePath({ kind: "scripted", prices: { "1": ["3010.5", 3020] } });
      expect([fromConfig.next(ETH, 0n), fromConfig.next(ETH, 0n)]).to.deep.equal([
        wad("3010.5"),
        wad("3020"),
      ]);
      expect(pricePath({ kind: "hold" }).next(ETH, 42n)).to.equal(42n);
    });

    it("the publisher records prices written to the aggregators by anyone, from their block time", async () => {
      const base = await networkHelpers.loadFixture(ordersFixture);
      const publisher = makePublisher(base);
      const t = BigInt(await time.latest()) + 5n;
      await at(t, () => base.contracts.ethAggregator.setAnswer(feedAnswer("3123.45")));
      await publisher.sync();
      const id = pythPriceId(ETH).toLowerCase();
      expect(publisher.service.priceAt(id, t - 1n)).to.equal(wad("3000"));
      expect(publisher.service.priceAt(id, t)).to.equal(wad("3123.45"));
      const written = await publisher.step(); // hold: republishes
      expect(written.get(ETH)).to.equal(wad("3123.45"));
    });
  });

  describe("Hermes price service (stubbed fetch)", () => {
    const id = "0x" + "ab".repeat(32);
    const body = (
      over: Record<string, unknown> = {},
      meta: Record<string, unknown> = { prev_publish_time: 1_699_999_990 },
    ) => ({
      binary: { encoding: "hex", data: ["504e4155deadbeef"] },
      parsed: [
        {
          id: "ab".repeat(32),
          price: { price: "300012345678", conf: "1000000", expo: -8, publish_time: 1_700_000_001, ...over },
          ema_price: { price: "300000000000", conf: "1000000", expo: -8, publish_time: 1_700_000_001 },
          metadata: { slot: 1, proof_available_time: 1_700_000_002, ...meta },
        },
      ],
    });
    const stub = (status: number, json: unknown) => {
      const calls: { url: string; headers?: Record<string, string> }[] = [];
      const fetcher: FetchLike = async (url, init) => {
        calls.push({ url, headers: init?.headers });
        return { ok: status < 400, status, json: async () => json, text: async () => JSON.stringify(json) };
      };
      return { fetcher, calls };
    };

    it("builds the timestamp URL and returns the 0x-prefixed update with the pull feed's fee", async () => {
      const { fetcher, calls } = stub(200, body());
      const fees: string[][] = [];
      const hermes = new HermesPriceService({
        url: "https://hermes.example/",
        fetch: fetcher,
        apiKey: "k",
        updateFee: async (priceId, data) => (fees.push([priceId, ...data]), 7n),
      });
      expect(hermes.updateUrl(id.toUpperCase().replace("0X", "0x"), 1_700_000_000n)).to.equal(
        `https://hermes.example/v2/updates/price/1700000000?ids[]=${"ab".repeat(32)}&encoding=hex`,
      );
      const update = await hermes.updateAt(id, 1_700_000_000n);
      expect(update).to.deep.equal({
        data: ["0x504e4155deadbeef"],
        priceD18: wad("3000.12345678"),
        publishTime: 1_700_000_001n,
        feeWei: 7n,
      });
      expect(calls[0].url).to.equal(hermes.updateUrl(id, 1_700_000_000n));
      expect(calls[0].headers).to.deep.include({ authorization: "Bearer k" });
      expect(fees).to.deep.equal([[id, "0x504e4155deadbeef"]]);
    });

    it("answers undefined while Hermes has nothing (404), throws on errors and on an update the engine would refuse", async () => {
      const updateFee = async () => 0n;
      expect(
        await new HermesPriceService({ url: "http://h", fetch: stub(404, {}).fetcher, updateFee }).updateAt(
          id,
          1n,
        ),
      ).to.equal(undefined);
      const failing = new HermesPriceService({
        url: "http://h",
        fetch: stub(503, { error: "busy" }).fetcher,
        updateFee,
      });
      expect(await failing.updateAt(id, 1n).catch((e: Error) => e.message)).to.match(/^hermes 503 .*busy/);

      const min = 1_700_000_000n;
      expect(parseHermesUpdate(body(), id, min).publishTime).to.equal(1_700_000_001n);
      expect(() => parseHermesUpdate(body(), "0x" + "cd".repeat(32), min)).to.throw(/no parsed price/);
      expect(() => parseHermesUpdate(body(), id, 1_700_000_002n)).to.throw(/before 1700000002/);
      expect(() => parseHermesUpdate(body({}, { prev_publish_time: 1_700_000_000 }), id, min)).to.throw(
        /not the first/,
      );
      expect(() =>
        parseHermesUpdate({ ...body(), binary: { encoding: "base64", data: ["UE5BVQ=="] } }, id, min),
      ).to.throw(/hex/);
      expect(() => parseHermesUpdate({ ...body(), binary: { encoding: "hex", data: [] } }, id, min)).to.throw(
        /no binary/,
      );
      expect(() => parseHermesUpdate(body({ price: "-1" }), id, min)).to.throw(/non-positive/);
      expect(pythToD18(5n, 2)).to.equal(500n * 10n ** 18n);
      expect(pythToD18(123456789n, -20)).to.equal(1234567n);
    });
  });

  describe("configuration", () => {
    const engine = "0x" + "11".repeat(20);

    it("reads the price service from the file, the environment and flags", () => {
      expect(loadConfig({ KEEPER_ENGINE: engine }, []).priceService).to.equal(undefined);
      const hermes = loadConfig(
        {
          KEEPER_ENGINE: engine,
          KEEPER_PRICE_SERVICE: "hermes",
          KEEPER_HERMES_URL: "https://hermes.pyth.network",
        },
        [],
      );
      expect(hermes.priceService).to.deep.equal({
        kind: "hermes",
        url: "https://hermes.pyth.network",
        timeoutMs: 5000,
      });
      expect(hermes).to.deep.include({ settleOrders: true, cancelExpiredOrders: true });

      const dir = mkdtempSync(path.join(tmpdir(), "keeper-prices-"));
      const file = path.join(dir, "keeper.json");
      writeFileSync(
        file,
        JSON.stringify({
          engine,
          cancelExpiredOrders: false,
          priceService: {
            kind: "local",
            path: { kind: "randomWalk", seed: 7, volatilityBps: 30 },
            publishEveryMs: 500,
          },
        }),
      );
      const local = loadConfig({ KEEPER_CONFIG: file }, []);
      expect(local.priceService).to.deep.equal({
        kind: "local",
        path: { kind: "randomWalk", seed: 7, volatilityBps: 30 },
        publishEveryMs: 500,
      });
      expect(local.cancelExpiredOrders).to.equal(false);
      // The environment overrides the file's fields; another kind starts from nothing.
      const path2 = loadConfig(
        { KEEPER_CONFIG: file, KEEPER_PRICE_PATH: '{"kind":"scripted","prices":{"1":["3000","3010"]}}' },
        [],
      );
      expect(path2.priceService).to.deep.include({
        publishEveryMs: 500,
        path: { kind: "scripted", prices: { "1": ["3000", "3010"] } },
      });
      expect(
        loadConfig({ KEEPER_CONFIG: file }, [
          "--price-service",
          "hermes",
          "--hermes-url",
          "http://127.0.0.1:1",
        ]).priceService,
      ).to.deep.equal({ kind: "hermes", url: "http://127.0.0.1:1", timeoutMs: 5000 });

      expect(() => loadConfig({ KEEPER_ENGINE: engine, KEEPER_PRICE_SERVICE: "hermes" }, [])).to.throw(
        /priceService.url/,
      );
      expect(() => loadConfig({ KEEPER_ENGINE: engine, KEEPER_PRICE_SERVICE: "chainlink" }, [])).to.throw(
        /priceService/,
      );
      expect(() =>
        loadConfig(
          { KEEPER_ENGINE: engine, KEEPER_PRICE_SERVICE: "local", KEEPER_PRICE_PATH: '{"kind":"walk"}' },
          [],
        ),
      ).to.throw(/priceService.path/);
      expect(loadConfig({ KEEPER_ENGINE: engine, KEEPER_SETTLE_ORDERS: "0" }, []).settleOrders).to.equal(
        false,
      );
      // A path alone means local prices, a Hermes URL alone means Hermes.
      expect(
        loadConfig({ KEEPER_ENGINE: engine, KEEPER_PRICE_PATH: '{"kind":"randomWalk","seed":7}' }, [])
          .priceService,
      ).to.deep.equal({ kind: "local", path: { kind: "randomWalk", seed: 7 }, publishEveryMs: 2000 });
      expect(
        loadConfig({ KEEPER_ENGINE: engine }, ["--hermes-url", "https://hermes.example"]).priceService,
      ).to.deep.include({ kind: "hermes", url: "https://hermes.example" });
    });
  });
});
