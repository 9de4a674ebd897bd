/** Shared pieces of the SDK's differential tests: a seeded PRNG, a client over the fixture, and comparisons. */
import { expect } from "chai";
import type { Signer } from "ethers";

import { BulkheadClient } from "../../sdk/client.js";
import type { deployBulkhead } from "../helpers/fixture.js";
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
