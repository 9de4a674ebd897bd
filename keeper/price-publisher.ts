/**
 * The local price publisher: on a local chain (Chainlink mock aggregators for the marks, MockPyth behind the pull
 * feeds) it plays the part of both oracle networks, so delayed orders settle offline exactly as they would on a
 * real network.
 *
 *  - `step()` moves every market one step along a price path (`hold`: republish the current price, `scripted`:
 *    a list of prices per market, `randomWalk`: a seeded multiplicative random walk), writes the new mark to the
 *    market's mock aggregator (`setAnswer`, one transaction per market), then `sync()`s.
 *  - `sync()` reads every aggregator round written since the last sync (by `step()` or by anyone else, e.g. a
 *    test or the demo calling `setAnswer`) and records each price in the `LocalPriceService` from the round's
 *    `updatedAt`, i.e. the time of the block that wrote it.
 *
 * So the price the keeper proves at an order's ready time is the mark that was in force at that time, and the
 * settlement passes the engine's divergence check as long as the mark has not moved further since.
 *
 * Markets are discovered from the engine: the mark feed's `aggregator()` and the pull feed's `priceId()`; markets
 * without a pull feed are skipped. The publisher must send from its own account (not the keeper's): the keeper
 * assigns its nonces locally.
 */
import { parseUnits, type ContractRunner, type Provider, type Signer } from "ethers";
import {
  AggregatorV3Interface__factory,
  IBulkhead__factory,
  IChainlinkPriceFeed__factory,
  IPythPriceFeed__factory,
  MockAggregatorV3__factory,
} from "../types/ethers-contracts/index.js";
import { LocalPriceService } from "../sdk/pyth.js";
import type { Logger } from "./log.js";

/** How the next price of a market follows from its current one; undefined: leave the market alone this step. */
export interface PricePath {
  next(marketId: number, currentD18: bigint): bigint | undefined;
}

/** A price path as written in the keeper's configuration (prices as decimal USD strings or numbers). */
export type PricePathConfig =
  | { kind: "hold" }
  | { kind: "scripted"; prices: Record<string, (string | number)[]>; loop?: boolean }
  | { kind: "randomWalk"; seed: number; volatilityBps?: number };

/** Republishes every market's current price (a heartbeat: blocks keep coming, marks never go stale). */
export function holdPath(): PricePath {
  return { next: (_marketId, current) => current };
}

/**
 * Each market walks its own list, one price per step (market ids as keys); at the end it holds its last price,
 * or starts over with `loop`. Markets without a list are left alone.
 */
export function scriptedPath(prices: Map<number, bigint[]>, loop = false): PricePath {
  const position = new Map<number, number>();
  return {
    next(marketId) {
      const list = prices.get(marketId);
      if (list === undefined || list.length === 0) return undefined;
      const i = position.get(marketId) ?? 0;
      position.set(marketId, i + 1);
      if (i < list.length) return list[i];
      return loop ? list[i % list.length] : list[list.length - 1];
    },
  };
}

/** mulberry32: a small, fast, seedable PRNG; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Each step multiplies a market's price by (1 + u x volatility), u uniform in [-1, 1), from one PRNG seeded with
 * `seed` and drawn in market order: the same seed and the same calls give the same path.
 */
export function randomWalk(seed: number, volatilityBps = 20): PricePath {
  const random = mulberry32(seed);
  return {
    next(_marketId, current) {
      const ppm = BigInt(Math.round((random() * 2 - 1) * volatilityBps * 100));
      const next = (current * (1_000_000n + ppm)) / 1_000_000n;
      return next > 0n ? next : current;
    },
  };
}

export function pricePath(config: PricePathConfig): PricePath {
  switch (config.kind) {
    case "hold":
      return holdPath();
    case "scripted":
      return scriptedPath(
        new Map(
          Object.entries(config.prices).map(([id, list]) => [
            Number(id),
            list.map((p) => parseUnits(String(p), 18)),
          ]),
        ),
        config.loop ?? false,
      );
    case "randomWalk":
      return randomWalk(config.seed, config.volatilityBps);
  }
}

interface PublishedMarket {
  marketId: number;
  aggregator: string;
  decimals: number;
  priceId: string;
  /** Last aggregator round recorded in the price service. */
  lastRound: bigint;
}

export interface PublisherOptions {
  /** The engine whose markets are published. */
  engine: string;
  /** Reads (any runner with a provider). */
  runner: ContractRunner & { provider: Provider | null };
  /** Sends `setAnswer` (required by `step()`); never the keeper's own account. */
  signer?: Signer;
  /** Default: a new `LocalPriceService` (fee 0; the keeper reads the real fee from the pull feed). */
  service?: LocalPriceService;
  /** Default: `holdPath()`. */
  path?: PricePath;
  log?: Logger;
  /** Rounds read back on the first sync (default 100): history older than that is not provable. */
  maxHistoryRounds?: number;
}

export class LocalPricePublisher {
  readonly service: LocalPriceService;
  readonly markets = new Map<number, PublishedMarket>();
  private readonly path: PricePath;
  private initialised = false;

  constructor(private readonly o: PublisherOptions) {
    this.service = o.service ?? new LocalPriceService();
    this.path = o.path ?? holdPath();
  }

  /** Discovers the markets (aggregator, decimals, price id); called by the first `sync()`. */
  async init(): Promise<void> {
    const engine = IBulkhead__factory.connect(this.o.engine, this.o.runner);
    const count = Number(await engine.marketCount());
    for (let marketId = 1; marketId <= count; marketId++) {
      if (this.markets.has(marketId)) continue;
      const params = await engine.getMarketParams(marketId);
      if (/^0x0{40}$/i.test(params.pullFeed)) continue;
      const [aggregator, priceId] = await Promise.all([
        IChainlinkPriceFeed__factory.connect(params.feed, this.o.runner).aggregator(),
        IPythPriceFeed__factory.connect(params.pullFeed, this.o.runner).priceId(),
      ]);
      const decimals = Number(
        await AggregatorV3Interface__factory.connect(aggregator, this.o.runner).decimals(),
      );
      this.markets.set(marketId, {
        marketId,
        aggregator,
        decimals,
        priceId: priceId.toLowerCase(),
        lastRound: 0n,
      });
    }
    this.initialised = true;
  }

  /** Records every aggregator round written since the last sync in the price service, at its `updatedAt`. */
  async sync(): Promise<void> {
    if (!this.initialised) await this.init();
    for (const m of this.markets.values()) {
      const aggregator = AggregatorV3Interface__factory.connect(m.aggregator, this.o.runner);
      const [latestRound, answer, , updatedAt] = await aggregator.latestRoundData();
      if (latestRound <= m.lastRound) continue;
      const first =
        m.lastRound === 0n ? latestRound - BigInt(this.o.maxHistoryRounds ?? 100) + 1n : m.lastRound + 1n;
      const rounds: { answer: bigint; updatedAt: bigint }[] = [];
      try {
        for (let round = first > 1n ? first : 1n; round < latestRound; round++) {
          const r = await aggregator.getRoundData(round);
          rounds.push({ answer: r.answer, updatedAt: r.updatedAt });
        }
      } catch {
        rounds.length = 0; // rounds not readable one by one (a proxy's phased ids): the latest only
      }
      rounds.push({ answer, updatedAt });
      for (const r of rounds) {
        if (r.answer <= 0n) continue;
        this.service.setPrice(m.priceId, this.toD18(m, r.answer), r.updatedAt);
      }
      m.lastRound = latestRound;
    }
  }

  /**
   * One step of the path: writes each market's next price to its aggregator (one transaction each, waited
   * for), then syncs. Returns the prices written, by market id.
   */
  async step(): Promise<Map<number, bigint>> {
    if (this.o.signer === undefined) throw new Error("the price publisher needs a signer to publish");
    if (!this.initialised) await this.init();
    const written = new Map<number, bigint>();
    for (const m of this.markets.values()) {
      const aggregator = MockAggregatorV3__factory.connect(m.aggregator, this.o.signer);
      const [, current] = await aggregator.latestRoundData();
      const next = this.path.next(m.marketId, this.toD18(m, current));
      if (next === undefined) continue;
      const answer = this.toAnswer(m, next);
      await (await aggregator.setAnswer(answer)).wait();
      written.set(m.marketId, this.toD18(m, answer));
    }
    await this.sync();
    if (written.size > 0) this.o.log?.("debug", "prices_published", { prices: Object.fromEntries(written) });
    return written;
  }

  /** Steps every `everyMs` until `signal` aborts; a failed step is logged and the loop goes on. */
  async run(everyMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.step();
      } catch (error) {
        this.o.log?.("warn", "price_publish_failed", { error: (error as Error).message?.split("\n")[0] });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, everyMs);
        signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }

  private toD18(m: PublishedMarket, answer: bigint): bigint {
    return m.decimals <= 18
      ? answer * 10n ** BigInt(18 - m.decimals)
      : answer / 10n ** BigInt(m.decimals - 18);
  }

  private toAnswer(m: PublishedMarket, priceD18: bigint): bigint {
    return m.decimals <= 18
      ? priceD18 / 10n ** BigInt(18 - m.decimals)
      : priceD18 * 10n ** BigInt(m.decimals - 18);
  }
}
