/**
 * Shared pieces of the SDK's tests: a seeded PRNG, a client over the fixture, trades through the client as orders
 * settled by a local price publisher, the engine's commit-time checks, and comparisons.
 */
import { expect } from "chai";
import type { ContractTransactionResponse, Signer } from "ethers";

import { BulkheadClient } from "../../sdk/client.js";
import * as math from "../../sdk/math.js";
import { LocalPriceService } from "../../sdk/pyth.js";
import { networkHelpers, type deployBulkhead } from "../helpers/fixture.js";
import { feedAnswer } from "../helpers/constants.js";
import type { AccountSnapshot, MarketState, ProtocolSnapshot } from "../../sdk/types.js";

export type Deployment = Awaited<ReturnType<typeof deployBulkhead>>;

/** mulberry32: a small, fast, deterministic 32-bit PRNG. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 2^32). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.next() % (hi - lo + 1));
  }
  /** Uniform bigint in [lo, hi] (built from 32-bit draws, so any width works). */
  big(lo: bigint, hi: bigint): bigint {
    const span = hi - lo + 1n;
    let r = 0n;
    for (let bits = 0n; 1n << bits < span * (1n << 32n); bits += 32n) r = (r << 32n) | BigInt(this.next());
    return lo + (r % span);
  }
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.next() % xs.length];
  }
}

export function clientFor(d: Deployment, signer: Signer): Promise<BulkheadClient> {
  return (async () =>
    new BulkheadClient(signer, {
      engine: await d.contracts.engine.getAddress(),
      vault: await d.contracts.vault.getAddress(),
      token: await d.contracts.token.getAddress(),
    }))();
}

/** Sets both oracle answers (8 decimals) from D18 prices. */
export async function setPrices(d: Deployment, ethD18: bigint, btcD18: bigint): Promise<void> {
  await d.contracts.ethAggregator.setAnswer(ethD18 / 10n ** 10n);
  await d.contracts.btcAggregator.setAnswer(btcD18 / 10n ** 10n);
}

/** A random walk step of a D18 price by up to `maxBps`, kept on the feed's 8-decimal grid. */
export function walk(rng: Rng, priceD18: bigint, maxBps: number): bigint {
  const bps = BigInt(rng.int(-maxBps, maxBps));
  const next = (priceD18 * (10_000n + bps)) / 10_000n;
  const grid = 10n ** 10n;
  return (next / grid) * grid + grid * BigInt(rng.int(0, 99));
}

export const START_PRICES = { eth: feedAnswer("3000") * 10n ** 10n, btc: feedAnswer("60000") * 10n ** 10n };

/** Compares every field of two plain objects of bigints/booleans/strings, naming the field on failure. */
export function expectFields<T extends object>(actual: T, expected: T, what: string): void {
  for (const key of Object.keys(expected) as (keyof T)[]) {
    expect(actual[key], `${what}.${String(key)}`).to.equal(expected[key]);
  }
}

export function marketStateOf(snap: ProtocolSnapshot, marketId: number): MarketState {
  const m = snap.markets.get(marketId);
  if (!m) throw new Error(`no market ${marketId}`);
  return m.state;
}

/** Positions sorted by market id, for comparisons that do not depend on storage order. */
export function sortedPositions(a: AccountSnapshot): AccountSnapshot["positions"] {
  return [...a.positions].sort((x, y) => x.marketId - y.marketId);
}

/* ------------------------------------------------------------------------------------------------------------
                                    ORDERS THROUGH THE CLIENT (local price publisher)
   ------------------------------------------------------------------------------------------------------------ */

/**
 * Settles the pending order of `accountId` on `marketId` through `client` (its signer is the keeper and earns
 * the reward), with a LocalPriceService publishing the market's mark price (or `priceD18`) from the order's
 * ready time; the settlement is mined at the ready time when that is still ahead.
 */
export async function settleAtReady(
  client: BulkheadClient,
  accountId: bigint,
  marketId: number,
  opts: { priceD18?: bigint } = {},
): Promise<ContractTransactionResponse> {
  const order = await client.getOrder(accountId, marketId);
  if (order.status === "none") throw new Error(`no pending order for ${accountId} on market ${marketId}`);
  const pull = await client.pullFeed(marketId);
  const prices = new LocalPriceService();
  const price = opts.priceD18 ?? (await client.getMarket(marketId)).priceD18;
  prices.setPrice(await pull.priceId(), price, order.readyTime);
  if (order.readyTime > (await client.viewTimestamp())) {
    await networkHelpers.time.setNextBlockTimestamp(order.readyTime);
  }
  const tx = await client.settleOrder(accountId, marketId, prices);
  await tx.wait();
  return tx;
}

/** `client.commitOrder` (default 50 bps around the quote), then its settlement one delay later at the mark. */
export async function orderTrade(
  client: BulkheadClient,
  accountId: bigint,
  marketId: number,
  sizeDeltaD18: bigint,
  toleranceBps = 50n,
): Promise<ContractTransactionResponse> {
  await (await client.commitOrder(accountId, marketId, sizeDeltaD18, { toleranceBps })).wait();
  return settleAtReady(client, accountId, marketId);
}

/** `client.commitIsolatedOrder` from the wallet (or `sourceAccountId`), then its settlement at the mark. */
export async function orderOpenIsolated(
  client: BulkheadClient,
  marketId: number,
  margin: bigint,
  sizeDeltaD18: bigint,
  opts: { sourceAccountId?: bigint; toleranceBps?: bigint } = {},
): Promise<{ accountId: bigint; tx: ContractTransactionResponse }> {
  const { accountId, tx: commit } = await client.commitIsolatedOrder(marketId, margin, sizeDeltaD18, opts);
  await commit.wait();
  return { accountId, tx: await settleAtReady(client, accountId, marketId) };
}

/** `client.commitCloseIsolated`, then its settlement at the mark (the rest goes to the wallet or destination). */
export async function orderCloseIsolated(
  client: BulkheadClient,
  accountId: bigint,
  opts: { destinationAccountId?: bigint; toleranceBps?: bigint } = {},
): Promise<ContractTransactionResponse> {
  await (await client.commitCloseIsolated(accountId, opts)).wait();
  return settleAtReady(client, accountId, (await client.getAccount(accountId)).marketId);
}

/** A custom error as the tests compare them: its name and arguments. */
export interface ExpectedRevert {
  name: string;
  args: bigint[];
}

/**
 * MarginEngine's commit-time checks of an order on `acct` (`_commit` then `_checkCommit`, in their order) at block
 * time `now`, paying `rewardD18` at settlement: the error a commit reverts with, or undefined if it is accepted.
 * Not modelled: UnknownMarket, OrdersNotConfigured, OrderPending and the reward budget (the tests commit valid
 * markets, one order at a time, with a budget above the reward). Risk-reducing orders are left to settlement; a
 * risk-increasing one must leave equity - fee - reward >= initial margin with the position resized, at the mark.
 */
export function commitRevert(
  snap: ProtocolSnapshot,
  acct: AccountSnapshot,
  marketId: number,
  sizeDeltaD18: bigint,
  rewardD18: bigint,
  now: bigint,
): ExpectedRevert | undefined {
  const INT96_MAX = 2n ** 95n - 1n;
  if (acct.info.isolated && acct.info.marketId !== marketId) {
    return { name: "WrongAccountMode", args: [acct.accountId] };
  }
  if (sizeDeltaD18 === 0n || sizeDeltaD18 > INT96_MAX || sizeDeltaD18 < -INT96_MAX - 1n) {
    return { name: "InvalidSize", args: [sizeDeltaD18] };
  }
  const m = snap.markets.get(marketId)!;
  const oldSize = acct.positions.find((p) => p.marketId === marketId)?.sizeD18 ?? 0n;
  const increasesRisk =
    oldSize === 0n || oldSize > 0n === sizeDeltaD18 > 0n || math.abs(sizeDeltaD18) > math.abs(oldSize);
  if (!increasesRisk) return undefined;
  if (snap.paused) return { name: "EnforcedPause", args: [] };
  if (
    oldSize === 0n &&
    !acct.info.isolated &&
    BigInt(acct.positions.length) >= snap.risk.maxPositionsPerAccount
  ) {
    return { name: "TooManyPositions", args: [snap.risk.maxPositionsPerAccount] };
  }
  const { feeD18 } = math.quoteTrade(m, sizeDeltaD18);
  const s = math.marginSummary(acct.info, acct.positions, snap.markets, now);
  let im = s.initialMarginD18 + math.positionMargins(m.params, oldSize + sizeDeltaD18, m.priceD18).imD18;
  if (oldSize !== 0n) im -= math.positionMargins(m.params, oldSize, m.priceD18).imD18;
  const equity = s.equityD18 - feeD18 - rewardD18;
  return equity < im ? { name: "InsufficientMargin", args: [equity, im] } : undefined;
}

/** The snapshot's markets with `marketId` priced at `priceD18` (e.g. back at the mark after a settlement). */
export function withPrice(snap: ProtocolSnapshot, marketId: number, priceD18: bigint): ProtocolSnapshot {
  const markets = new Map(snap.markets);
  markets.set(marketId, { ...markets.get(marketId)!, priceD18 });
  return { ...snap, markets };
}
