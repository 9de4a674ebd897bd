import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { toQuantity } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { UNOPTIMIZED, ethers, networkHelpers, ETH } from "./helpers/fixture.js";
import { feedAnswer, usd, wad } from "./helpers/constants.js";
import { makeKeeper, twoUnderwater, type Base } from "./helpers/keeper.js";
import {
  DEFAULT_GAS_MODEL,
  accountGas,
  batchGas,
  pack,
  rank,
  type Candidate,
  type GasModel,
} from "../keeper/planner.js";
import { backoffDelay, isTransient, withRetry } from "../keeper/rpc.js";
import { trade } from "./helpers/orders.js";

const GWEI = 10n ** 9n;
const provider = ethers.provider;

/** Runs `body` with automine off (transactions wait in the mempool until `mine()`), restoring it after. */
async function manualMining(body: () => Promise<void>): Promise<void> {
  await provider.send("evm_setAutomine", [false]);
  try {
    await body();
  } finally {
    await provider.send("evm_setAutomine", [true]);
  }
}
const mine = () => provider.send("evm_mine", []);

/** Alice opens account 4 (10 ETH long on 1,000 at 2920), then ETH falls to 2850: 2, 3 and 4 are liquidatable. */
async function thirdVictim(base: Base): Promise<void> {
  const { engine, ethAggregator } = base.contracts;
  await engine.connect(base.signers.alice).createCrossAccount();
  await engine.connect(base.signers.alice).deposit(4, usd("1000"));
  await trade(engine.connect(base.signers.alice), 4, ETH, wad("10"), wad("3000"));
  await ethAggregator.setAnswer(feedAnswer("2850"));
}

/**
 * The keeper's signer with an RPC that fails every `every`-th read with a transient error (what a load-balanced
 * endpoint does under load): provider reads and eth_call both.
 */
function flakyRunner(signer: HardhatEthersSigner, every: number) {
  let calls = 0;
  const maybeFail = () => {
    if (++calls % every === 0) {
      throw Object.assign(new Error("ECONNRESET: socket hang up"), { code: "SERVER_ERROR" });
    }
  };
  const reads = new Set([
    "getBlock",
    "getBlockNumber",
    "getLogs",
    "getTransactionReceipt",
    "getTransactionCount",
    "getFeeData",
    "call",
  ]);
  const flakyProvider = new Proxy(signer.provider!, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (!reads.has(String(prop))) return value.bind(target);
      return async (...args: unknown[]) => {
        maybeFail();
        return value.apply(target, args);
      };
    },
  });
  const runner = new Proxy(signer, {
    get(target, prop) {
      if (prop === "provider") return flakyProvider;
      if (prop === "call") {
        return async (tx: Parameters<HardhatEthersSigner["call"]>[0]) => {
          maybeFail();
          return target.call(tx);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { runner, failures: () => Math.floor(calls / every) };
}

describe("keeper at scale", () => {
  // The keeper sizes its transactions from a gas model of the optimised contracts; coverage's instrumented build
  // costs several times more gas per statement, so these end-to-end runs are meaningful only without it (the
  // contract paths they drive are covered by the liquidation suites).
  before(function () {
    if (UNOPTIMIZED) this.skip();
  });

  describe("ranking and packing", () => {
    const pricing = { gasPriceWei: 10n * GWEI, nativeUsdD18: wad("3000") };
    const candidate = (id: bigint, reward: string, positions = 1, firstSeenBlock = 10): Candidate => ({
      accountId: id,
      rewardD18: wad(reward),
      positions,
      firstSeenBlock,
    });

    it("ranks by reward net of gas, then the longest waiting, then the lowest id", () => {
      const ranked = rank(
        [
          candidate(1n, "5"),
          candidate(2n, "20", 16), // 16 positions: 650k gas = 19.5 USD at 10 gwei, 3000 USD/ETH
          candidate(3n, "20"),
          candidate(4n, "20", 1, 8),
          candidate(5n, "20", 1, 8),
        ],
        DEFAULT_GAS_MODEL,
        pricing,
      );
      expect(ranked.map((r) => r.accountId)).to.deep.equal([4n, 5n, 3n, 1n, 2n]);
      const one = ranked[0];
      expect(one.gas).to.equal(accountGas(DEFAULT_GAS_MODEL, 1));
      expect(one.costD18).to.equal((one.gas * 10n * GWEI * 3000n * 10n ** 18n) / 10n ** 18n);
      expect(one.netD18).to.equal(wad("20") - one.costD18);
      expect(ranked.at(-1)!.netD18 < ranked.at(-2)!.netD18).to.equal(true);
    });

    it("packs transactions up to the gas target and stops at the block budget", () => {
      const model: GasModel = { perTx: 50_000n, perAccount: 10_000n, perPosition: 40_000n }; // 50k per account
      const ranked = rank(
        Array.from({ length: 200 }, (_, i) => candidate(BigInt(i + 1), "10")),
        model,
        pricing,
      );
      const { batches, overflow } = pack(ranked, model, 1_000_000n, 3_000_000n);
      // (1,000,000 - 50,000) / 50,000 = 19 accounts per transaction; three transactions fit in 3M.
      expect(batches.map((b) => b.length)).to.deep.equal([19, 19, 19]);
      expect(batches.every((b) => batchGas(model, b) <= 1_000_000n)).to.equal(true);
      expect(overflow.map((r) => r.accountId)).to.deep.equal(ranked.slice(57).map((r) => r.accountId));
      expect(batches.flat().map((r) => r.accountId)).to.deep.equal(
        ranked.slice(0, 57).map((r) => r.accountId),
      );

      expect(pack(ranked, model, 1_000_000n, 3_000_000n, 5).batches[0]).to.have.length(5);
      // An account heavier than the target travels alone, and the first one always goes.
      const heavy = rank([candidate(1n, "20", 30), candidate(2n, "20")], model, pricing);
      expect(pack(heavy, model, 500_000n, 2_000_000n).batches.map((b) => b.length)).to.deep.equal([1, 1]);
      expect(pack(heavy, model, 500_000n, 100_000n).batches.map((b) => b.length)).to.deep.equal([1]);
    });

    it("sends several gas-targeted transactions in one block, and they all land", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      await thirdVictim(base);
      const one = accountGas(DEFAULT_GAS_MODEL, 1);
      const { keeper, metrics } = makeKeeper(base, { gasTargetPerTx: DEFAULT_GAS_MODEL.perTx + one });
      await manualMining(async () => {
        const sent = await keeper.tick();
        expect(sent.sent).to.have.members([2n, 3n, 4n]);
        expect(keeper.txs.pending.size).to.equal(3);
        await mine();
        const mined = await keeper.tick();
        expect(mined.liquidated).to.have.members([2n, 3n, 4n]);
      });
      const block = await provider.getBlock("latest", true);
      expect(metrics.get("keeper_txs_sent_total")).to.equal(3);
      expect(metrics.get("keeper_liquidations_total")).to.equal(3);
      expect(block!.number).to.be.greaterThan(0);
    });
  });

  describe("races", () => {
    it("two keepers send the same batch into one block: one wins, the other logs a lost race and moves on", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const slow = makeKeeper(base, { fees: { tipWei: 1n * GWEI } });
      const fast = makeKeeper(base, { fees: { tipWei: 3n * GWEI } }, base.signers.carol);
      await manualMining(async () => {
        expect((await slow.keeper.tick()).sent).to.deep.equal([3n, 2n]);
        expect((await fast.keeper.tick()).sent).to.deep.equal([3n, 2n]);
        await mine(); // the higher tip is ordered first
        const lost = await slow.keeper.tick();
        const won = await fast.keeper.tick();
        expect(won.liquidated).to.deep.equal([3n, 2n]);
        expect(lost.liquidated).to.deep.equal([]);
        expect(lost.racesLost).to.equal(2);
        expect(slow.byMsg("race_lost")).to.deep.equal([
          { ...slow.byMsg("race_lost")[0], stage: "inclusion", accounts: ["3", "2"] },
        ]);
        expect(slow.metrics.get("keeper_races_lost_total")).to.equal(2);
        expect(slow.metrics.get("keeper_errors_total")).to.equal(0);
        // The loser paid for gas and is free again: nothing pending, nothing left to do.
        expect(slow.metrics.get("keeper_gas_spent_wei_total")).to.be.greaterThan(0);
        await mine();
        const next = await slow.keeper.tick();
        expect(next.liquidatable).to.deep.equal([]);
        expect(slow.keeper.txs.pending.size).to.equal(0);
      });
    });

    it("replaces a stuck transaction at the same nonce with higher fees", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const { keeper, metrics, byMsg } = makeKeeper(base, {
        fees: { tipWei: 1n * GWEI, replaceAfterBlocks: 2 },
      });
      await manualMining(async () => {
        expect((await keeper.tick()).sent).to.deep.equal([3n, 2n]);
        const [stuck] = keeper.txs.pending.values();
        const firstHash = stuck.hashes[0];
        const firstMaxFee = stuck.maxFeePerGas;
        for (let i = 0; i < 2; i++) {
          // The base fee jumps above what the transaction offers: it waits in the mempool.
          await provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(firstMaxFee + 1n)]);
          await mine();
        }
        const replaced = await keeper.tick();
        expect(replaced.liquidated).to.deep.equal([]);
        expect(metrics.get("keeper_txs_replaced_total")).to.equal(1);
        expect(stuck.hashes).to.have.length(2);
        expect(stuck.nonce).to.equal(keeper.txs.pending.get(stuck.nonce)!.nonce);
        expect(stuck.maxFeePerGas > firstMaxFee * 2n).to.equal(true);
        expect(byMsg("tx_replaced")[0]).to.deep.include({ nonce: stuck.nonce, accounts: ["3", "2"] });

        await mine();
        const done = await keeper.tick();
        expect(done.liquidated).to.deep.equal([3n, 2n]);
        expect(await provider.getTransactionReceipt(firstHash)).to.equal(null);
        expect(keeper.txs.pending.size).to.equal(0);
      });
    });

    it("cancels a stuck transaction whose accounts another keeper closed meanwhile", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const { engine } = base.contracts;
      const { keeper, metrics, byMsg } = makeKeeper(base, {
        fees: { tipWei: 1n * GWEI, replaceAfterBlocks: 1 },
      });
      await manualMining(async () => {
        await keeper.tick();
        const [stuck] = keeper.txs.pending.values();
        await provider.send("hardhat_setNextBlockBaseFeePerGas", [toQuantity(stuck.maxFeePerGas + 1n)]);
        await engine.connect(base.signers.admin).liquidateBatch([2n, 3n], base.signers.admin, {
          maxFeePerGas: stuck.maxFeePerGas * 4n,
          maxPriorityFeePerGas: 2n * GWEI,
        });
        await mine();
        const report = await keeper.tick();
        expect(report.racesLost).to.equal(2);
        expect(byMsg("race_lost")[0]).to.deep.include({ stage: "replacement", accounts: ["3", "2"] });
        expect(byMsg("tx_replaced")[0]).to.deep.include({ kind: "cancel", accounts: [] });
        await mine();
        await keeper.tick();
        expect(keeper.txs.pending.size).to.equal(0);
        expect(metrics.get("keeper_errors_total")).to.equal(0);
      });
    });
  });

  describe("restarts", () => {
    it("resumes from its checkpoint without rescanning, and misses nothing that happened while it was down", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const file = path.join(mkdtempSync(path.join(tmpdir(), "keeper-ckpt-")), "index.json");
      const before = makeKeeper(base, { checkpointFile: file, dryRun: true });
      await before.keeper.tick();
      const checkpoint = before.keeper.indexer.lastIndexedBlock;
      expect(JSON.parse(readFileSync(file, "utf8"))).to.deep.include({ lastIndexedBlock: checkpoint });

      // The keeper is down while a new account opens and the price falls further.
      await thirdVictim(base);

      const after = makeKeeper(base, { checkpointFile: file });
      expect(after.keeper.indexer.lastIndexedBlock).to.equal(checkpoint);
      expect(after.keeper.indexer.withPositions()).to.deep.equal([1n, 2n, 3n]);
      const ranges: [number, number][] = [];
      const events = after.chain.events.bind(after.chain);
      after.chain.events = (from, to) => (ranges.push([from, to]), events(from, to));
      const report = await after.keeper.tick();
      expect(ranges[0][0]).to.equal(checkpoint + 1);
      expect(report.liquidated).to.have.members([2n, 3n, 4n]);
      expect(JSON.parse(readFileSync(file, "utf8")).lastIndexedBlock).to.be.greaterThan(checkpoint);

      const foreign = { ...base, contracts: { ...base.contracts, engine: base.contracts.token } };
      expect(() => makeKeeper(foreign as unknown as Base, { checkpointFile: file })).to.throw(
        /is for engine/,
      );
    });
  });

  describe("RPC errors and gas prices", () => {
    it("retries reads that fail intermittently and still liquidates, without counting an error", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const flaky = flakyRunner(base.signers.keeper, 3);
      const { keeper, metrics, lines } = makeKeeper(base, {}, base.signers.keeper, { runner: flaky.runner });
      const report = await keeper.tick();
      expect(lines.filter((l) => l.level === "error")).to.deep.equal([]);
      expect(flaky.failures()).to.be.greaterThan(3);
      // One retry per failed read (a snapshot's concurrent calls can fail together and retry as one).
      expect(metrics.get("keeper_rpc_retries_total")).to.be.within(1, flaky.failures());
      expect(report.errors).to.equal(0);
      expect(report.liquidated).to.deep.equal([3n, 2n]);
    });

    it("backs off exponentially on transient errors, never retries a revert, and gives up after its attempts", async () => {
      expect(isTransient(Object.assign(new Error("boom"), { code: "SERVER_ERROR" }))).to.equal(true);
      expect(isTransient(new Error("429 Too Many Requests"))).to.equal(true);
      expect(isTransient(new Error("request timed out"))).to.equal(true);
      expect(isTransient(Object.assign(new Error("execution reverted"), { data: "0x12345678" }))).to.equal(
        false,
      );
      expect(isTransient(new Error("invalid address"))).to.equal(false);
      expect(
        [1, 2, 3, 4, 5, 6].map((r) => backoffDelay(r, { baseMs: 100, maxMs: 1000 }, () => 0.999)),
      ).to.deep.equal([99, 199, 399, 799, 999, 999]);

      let calls = 0;
      const retried: number[] = [];
      const flaky = () => {
        calls++;
        return calls < 3 ? Promise.reject(new Error("ECONNRESET")) : Promise.resolve("ok");
      };
      const options = { attempts: 5, baseMs: 1, maxMs: 2 };
      expect(await withRetry(flaky, options, (_e, retry) => retried.push(retry))).to.equal("ok");
      expect(retried).to.deep.equal([1, 2]);

      calls = 0;
      const down = () => (calls++, Promise.reject(new Error("ECONNREFUSED")));
      expect(await withRetry(down, options).catch((e: Error) => e.message)).to.equal("ECONNREFUSED");
      expect(calls).to.equal(5);

      calls = 0;
      const revert = () => (
        calls++,
        Promise.reject(Object.assign(new Error("reverted"), { data: "0xdeadbeef" }))
      );
      expect(await withRetry(revert, options).catch((e: Error) => e.message)).to.equal("reverted");
      expect(calls).to.equal(1);
    });

    it("above the maximum gas price waits, except for accounts whose reward covers their gas", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const nonce = await provider.getTransactionCount(base.signers.keeper);
      // Gas priced at 10^12 USD per native token: no reward covers it.
      const costly = makeKeeper(base, { maxGasPriceWei: 1n, nativeUsdD18: wad("1000000000000") });
      const waited = await costly.keeper.tick();
      expect(waited.liquidatable).to.deep.equal([2n, 3n]);
      expect(waited.sent).to.deep.equal([]);
      expect(costly.metrics.missedOf("gas_price")).to.equal(2);
      expect(costly.byMsg("gas_price_above_cap")[0]).to.deep.include({
        waiting: 2,
        sending: 0,
        maxGasPriceWei: "1",
      });
      expect(await provider.getTransactionCount(base.signers.keeper)).to.equal(nonce);

      // Under the cap the same prices do not stop it: the cap, not the price, is the operator's limit.
      const uncapped = makeKeeper(base, { nativeUsdD18: wad("1000000000000") });
      expect((await uncapped.keeper.tick()).sent).to.deep.equal([3n, 2n]);
    });

    it("above the maximum gas price still sends when the reward covers the gas", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const cheap = makeKeeper(base, { maxGasPriceWei: 1n, nativeUsdD18: 1n });
      const report = await cheap.keeper.tick();
      expect(report.liquidated).to.deep.equal([3n, 2n]);
      expect(cheap.metrics.missedOf("gas_price")).to.equal(0);
      expect(cheap.byMsg("gas_price_above_cap")).to.deep.equal([]);
    });
  });

  describe("off-chain screening", () => {
    it("screens with the SDK mirror and quotes on chain only the accounts near or under maintenance", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const { keeper, byMsg, metrics } = makeKeeper(base, { dryRun: true, fullQuoteEvery: 1000 });
      await keeper.tick(); // tick 0 quotes everything on chain (the cross-check)
      const report = await keeper.tick();
      expect(report.screened).to.equal(3);
      expect(report.quoted).to.equal(2); // alice (healthy, far from MM) was not quoted
      expect(report.liquidatable).to.deep.equal([2n, 3n]);
      expect(metrics.get("keeper_mirror_mismatches_total")).to.equal(0);
      expect(byMsg("dry_run_would_liquidate")).to.have.length(2);
    });

    it("lets the chain overrule a wrong mirror on the periodic full quote, and counts the disagreement", async () => {
      const base = await networkHelpers.loadFixture(twoUnderwater);
      const { keeper, byMsg, metrics } = makeKeeper(base, { dryRun: true, fullQuoteEvery: 2 });
      await keeper.tick(); // full quote, states loaded
      // The mirror now believes account 2 holds a million more than it does (e.g. a formula the SDK has not
      // caught up with): screening alone misses it...
      keeper.mirror.states.get(2n)!.info.collateralD18 += wad("1000000");
      expect((await keeper.tick()).liquidatable).to.deep.equal([3n]);
      // ...the next full on-chain quote finds it, and says so.
      expect((await keeper.tick()).liquidatable).to.deep.equal([2n, 3n]);
      expect(metrics.get("keeper_mirror_mismatches_total")).to.equal(1);
      expect(byMsg("mirror_mismatch")[0]).to.deep.include({ accounts: ["2"] });
    });
  });
});
