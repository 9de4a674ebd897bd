/**
 * A populated Bulkhead for the crash stress harness and the keeper benchmark, on the embedded Hardhat network:
 * the local deployment (Ignition, deploy/parameters/local.json), a deep vault, and thousands of accounts of both
 * modes with a seeded, realistic mix of size, side and leverage. Transactions are sent in bulk with explicit
 * nonces and gas limits and mined hundreds per block (automine off), so that 10,000 accounts take minutes.
 * Positions open as the protocol opens them: orders committed, then settled one block later with a MockPyth
 * update published after the commits (the market's mark price), in rounds short enough for every order's window.
 */
import { Interface, MaxUint256, parseUnits, type JsonRpcApiProvider } from "ethers";
import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { BTC, ETH, deployProtocol, feedAnswer, usd, wad } from "./protocol.js";
import { rng } from "./rng.js";
import { encodeMockPythUpdate } from "../../sdk/pyth.js";
import { lpDepositNow } from "../../test/helpers/vault.js";

export { BTC, ETH, feedAnswer, usd, wad };

export type Mode = "cross" | "isolated" | "hedged";

export interface AccountSpec {
  id: bigint;
  mode: Mode;
  /** Signed size per market (base units, D18). */
  legs: { marketId: number; sizeD18: bigint }[];
  leverage: number;
  notionalUsd: number;
}

export const PRICES: Record<number, number> = { [ETH]: 3000, [BTC]: 60000 };

/** A block gas limit large enough to set up thousands of accounts quickly; paths set their own. */
const SETUP_BLOCK_GAS_LIMIT = 1_000_000_000n;
const TXS_PER_BLOCK = 400;
/** Accounts per commit-then-settle round: a round's orders must all be settled inside their window (60 s). */
const PLANS_PER_ROUND = 100;
/** minPositionMargin of deploy/parameters/local.json: added to every position's IM and MM. */
const MIN_POSITION_MARGIN_USD = 20;
const SETUP_FEES = { maxFeePerGas: parseUnits("100", "gwei"), maxPriorityFeePerGas: parseUnits("1", "gwei") };

export type World = Awaited<ReturnType<typeof createWorld>>;

export async function createWorld(opts: { vaultUsd: string; insuranceUsd: string }) {
  const connection: NetworkConnection = await network.create();
  const { ethers } = connection;
  const provider = ethers.provider as unknown as JsonRpcApiProvider;
  const { signers, contracts } = await deployProtocol(connection);
  const all = await ethers.getSigners();
  const { admin, lp } = signers;
  const { token, engine, vault, ethAggregator, btcAggregator } = contracts;
  const startBlock = await ethers.provider.getBlockNumber();

  // Traders: every signer not otherwise used; a keeper pair for the harness.
  const keepers = [all[4], all[19]];
  const owners = all.filter((s, i) => i >= 5 && i < 19);
  for (const owner of owners) {
    await token.mint(owner, usd("1000000000"));
    await token.connect(owner).approve(engine, ethers.MaxUint256);
  }
  await token.mint(lp, usd(opts.vaultUsd));
  await token.connect(lp).approve(vault, ethers.MaxUint256);
  await lpDepositNow(vault, lp, usd(opts.vaultUsd));
  if (opts.insuranceUsd !== "0") {
    await token.mint(admin, usd(opts.insuranceUsd));
    await token.connect(admin).approve(engine, ethers.MaxUint256);
    await engine.connect(admin).fundInsurance(usd(opts.insuranceUsd));
  }

  return {
    connection,
    ethers,
    provider,
    signers: { admin, lp, owners, keepers },
    contracts: {
      token,
      engine,
      vault,
      aggregators: { [ETH]: ethAggregator, [BTC]: btcAggregator } as Record<number, typeof ethAggregator>,
    },
    startBlock,
    accounts: [] as AccountSpec[],
  };
}

/** Sends raw calls in bulk with explicit nonces (automine must be off), mining every TXS_PER_BLOCK. */
class BulkSender {
  private nonces = new Map<string, number>();
  private queued = 0;

  constructor(private readonly world: World) {}

  async send(
    from: HardhatEthersSigner,
    to: string,
    data: string,
    gasLimit: bigint,
    value = 0n,
  ): Promise<string> {
    let nonce = this.nonces.get(from.address);
    if (nonce === undefined) nonce = await this.world.ethers.provider.getTransactionCount(from, "pending");
    this.nonces.set(from.address, nonce + 1);
    const tx = await from.sendTransaction({ to, data, nonce, gasLimit, value, type: 2, ...SETUP_FEES });
    if (++this.queued >= TXS_PER_BLOCK) await this.mine();
    return tx.hash;
  }

  async mine(): Promise<void> {
    if (this.queued === 0) return;
    this.queued = 0;
    await this.world.provider.send("evm_mine", []);
  }

  /** Mines what is queued in a block at exactly `timestamp`. */
  async mineAt(timestamp: bigint): Promise<void> {
    await this.world.provider.send("evm_setNextBlockTimestamp", [`0x${timestamp.toString(16)}`]);
    this.queued = 0;
    await this.world.provider.send("evm_mine", []);
  }
}

/**
 * Opens `count` more accounts. Mix: 40% isolated, 45% cross on one market, 15% cross hedged (long ETH, short BTC
 * of equal notional); 55% long; notional log-uniform in [2k, 60k] USD with 4% whales in [120k, 400k] (partial
 * liquidation); leverage 2-5x (30%), 5-10x (30%), 10-20x (25%), 20-40x (15%).
 */
export async function populate(world: World, count: number, seed: number): Promise<AccountSpec[]> {
  const { ethers, provider, contracts, signers } = world;
  const { engine } = contracts;
  const iface = new Interface([
    "function createCrossAccount() returns (uint256)",
    "function deposit(uint256 accountId, uint256 amount)",
    "function commitOrder(uint256 accountId, uint32 marketId, int256 sizeDeltaD18, uint256 acceptablePriceD18, uint256 maxSettlementRewardD18)",
    "function commitIsolatedOrder(uint32 marketId, uint256 sourceAccountId, uint256 margin, int256 sizeDeltaD18, uint256 acceptablePriceD18, uint256 maxSettlementRewardD18) returns (uint256)",
    "function settleOrder(uint256 accountId, uint32 marketId, bytes[] priceUpdateData) payable",
  ]);
  const target = await engine.getAddress();
  const random = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const logUniform = (lo: number, hi: number) =>
    Math.exp(Math.log(lo) + random() * (Math.log(hi) - Math.log(lo)));

  const prices: Record<number, bigint> = {
    [ETH]: await priceOf(world, ETH),
    [BTC]: await priceOf(world, BTC),
  };
  type Plan = Omit<AccountSpec, "id"> & { owner: HardhatEthersSigner; marginUsd: number };
  const plans: Plan[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    const mode: Mode = r < 0.4 ? "isolated" : r < 0.85 ? "cross" : "hedged";
    const notionalUsd = random() < 0.04 ? logUniform(120_000, 400_000) : logUniform(2_000, 60_000);
    const band = random();
    const leverage =
      band < 0.3
        ? 2 + random() * 3
        : band < 0.6
          ? 5 + random() * 5
          : band < 0.85
            ? 10 + random() * 10
            : 20 + random() * 20;
    const side = random() < 0.55 ? 1n : -1n;
    const sizeOf = (marketId: number, usdNotional: number) =>
      (wad(usdNotional.toFixed(2)) * 10n ** 18n) / prices[marketId];
    const legs =
      mode === "hedged"
        ? [
            { marketId: ETH, sizeD18: sizeOf(ETH, notionalUsd) },
            { marketId: BTC, sizeD18: -sizeOf(BTC, notionalUsd) },
          ]
        : [
            (() => {
              const marketId = random() < 0.7 ? ETH : BTC;
              return { marketId, sizeD18: side * sizeOf(marketId, notionalUsd) };
            })(),
          ];
    // What a trader posts for that leverage, plus each position's flat minimum margin and the trading fee.
    const legCount = mode === "hedged" ? 2 : 1;
    const marginUsd = legCount * (notionalUsd / leverage + MIN_POSITION_MARGIN_USD + notionalUsd * 0.003);
    plans.push({ owner: pick(signers.owners), mode, legs, leverage, notionalUsd, marginUsd });
  }

  await provider.send("evm_setAutomine", [false]);
  await provider.send("evm_setBlockGasLimit", [`0x${SETUP_BLOCK_GAS_LIMIT.toString(16)}`]);
  const bulk = new BulkSender(world);
  const acceptable = (marketId: number, size: bigint) =>
    size > 0n ? (prices[marketId] * 105n) / 100n : (prices[marketId] * 95n) / 100n;

  // Each market's pull feed: the price id its updates must carry and the update fee.
  const pullFeeds = new Map<number, { priceId: string; fee: bigint }>();
  for (const marketId of [ETH, BTC]) {
    const feed = await ethers.getContractAt(
      "PythPriceFeed",
      (await engine.getMarketParams(marketId)).pullFeed,
    );
    const priceId = await feed.priceId();
    pullFeeds.set(marketId, {
      priceId,
      fee: await feed.updateFee([encodeMockPythUpdate(priceId, prices[marketId], 1n)]),
    });
  }

  const out: AccountSpec[] = [];
  let notCreated = 0;
  for (let start = 0; start < plans.length; start += PLANS_PER_ROUND) {
    const round = plans.slice(start, start + PLANS_PER_ROUND);
    // 1. Create the cross accounts (ids are needed for the next steps) and commit the isolated openings.
    const creations: string[] = [];
    for (const p of round) {
      if (p.mode === "isolated") {
        const { marketId, sizeD18 } = p.legs[0];
        const data = iface.encodeFunctionData("commitIsolatedOrder", [
          marketId,
          0,
          usd(p.marginUsd.toFixed(6)),
          sizeD18,
          acceptable(marketId, sizeD18),
          MaxUint256,
        ]);
        creations.push(await bulk.send(p.owner, target, data, 500_000n));
      } else {
        creations.push(
          await bulk.send(p.owner, target, iface.encodeFunctionData("createCrossAccount"), 200_000n),
        );
      }
    }
    await bulk.mine();
    const receipts = await Promise.all(creations.map((hash) => ethers.provider.getTransactionReceipt(hash)));
    const createdTopic = engine.interface.getEvent("AccountCreated").topicHash;
    const pending: { owner: HardhatEthersSigner; id: bigint; marketId: number }[] = [];
    for (const [i, p] of round.entries()) {
      const log = receipts[i]?.logs.find((l) => l.topics[0] === createdTopic);
      if (receipts[i]?.status !== 1 || log === undefined) {
        notCreated += 1;
        continue;
      }
      const id = BigInt(log.topics[1]);
      out.push({ id, mode: p.mode, legs: p.legs, leverage: p.leverage, notionalUsd: p.notionalUsd });
      if (p.mode === "isolated") {
        pending.push({ owner: p.owner, id, marketId: p.legs[0].marketId });
        continue;
      }
      // 2. Fund the cross accounts and commit their orders.
      await bulk.send(
        p.owner,
        target,
        iface.encodeFunctionData("deposit", [id, usd(p.marginUsd.toFixed(6))]),
        200_000n,
      );
      for (const leg of p.legs) {
        const data = iface.encodeFunctionData("commitOrder", [
          id,
          leg.marketId,
          leg.sizeD18,
          acceptable(leg.marketId, leg.sizeD18),
          MaxUint256,
        ]);
        await bulk.send(p.owner, target, data, 600_000n);
        pending.push({ owner: p.owner, id, marketId: leg.marketId });
      }
    }
    await bulk.mine();
    // 3. Settle the round's orders in the next second, on a price published then (after every commit). An order
    //    whose commit failed is refused (NoPendingOrder) and its account left out below.
    const latest = await ethers.provider.getBlock("latest");
    const publishTime = BigInt(latest!.timestamp) + 1n;
    for (const { owner, id, marketId } of pending) {
      const feed = pullFeeds.get(marketId)!;
      const update = encodeMockPythUpdate(feed.priceId, prices[marketId], publishTime);
      const data = iface.encodeFunctionData("settleOrder", [id, marketId, [update]]);
      await bulk.send(owner, target, data, 700_000n, feed.fee);
    }
    await bulk.mineAt(publishTime);
  }
  if (notCreated > 0)
    console.warn(`populate: ${notCreated} of ${count} accounts could not be opened; left out`);

  const opened = out.filter((a) => a.legs.length > 0);
  const positions = await Promise.all(opened.map((a) => engine.getPositions(a.id)));
  // A trade can still fail its margin check when the skew built by earlier accounts moves its fill price
  // (mostly past a few thousand accounts): keep what opened, say how many did not.
  const incomplete = new Set(
    opened.filter((_, i) => positions[i].length !== opened[i].legs.length).map((a) => a.id),
  );
  if (incomplete.size > 0) {
    console.warn(
      `populate: ${incomplete.size} of ${count} cross accounts did not open every position; left out`,
    );
  }
  const kept = out.filter((a) => !incomplete.has(a.id));
  world.accounts.push(...kept);
  return kept;
}

/** The oracle price of a market (D18) as the engine reads it. */
export async function priceOf(world: World, marketId: number): Promise<bigint> {
  const answer = (await world.contracts.aggregators[marketId].latestRoundData())[1];
  return answer * 10n ** 10n;
}
