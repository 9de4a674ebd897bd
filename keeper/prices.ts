/**
 * Where the keeper gets the pull-oracle updates that settle delayed orders (`PriceService`, sdk/pyth.ts), and
 * the fee to send with them.
 *
 *  - `HermesPriceService`: Pyth's price service. `updateAt(id, t)` asks Hermes for the first update of the feed
 *    published at or after `t` (`GET {url}/v2/updates/price/{t}?ids[]={id}&encoding=hex`), returns its binary
 *    data 0x-prefixed, and reads the fee from the market's pull feed (`updateFee(data)`), which is what
 *    `settleOrder` must be sent with, exactly.
 *  - local runs: the SDK's `LocalPriceService`, fed by the local price publisher (keeper/price-publisher.ts) and
 *    wrapped by `withUpdateFee` so that its fee too is the pull feed's.
 *
 * `PullFeedFees` maps a price id to the market's pull feed (from the engine's market parameters) and reads the fee.
 */
import type { PriceService, PriceUpdate } from "../sdk/pyth.js";
import type { EngineAdapter } from "./chain.js";

/** The fee (wei) the pull feed of `priceId` charges for `data`. */
export type UpdateFeeReader = (priceId: string, data: string[]) => Promise<bigint>;

/** The part of `fetch` the Hermes client uses (a test passes a stub). */
export type FetchLike = (
  url: string,
  init?: { headers?: Record<string, string>; signal?: AbortSignal },
) => Promise<{ ok: boolean; status: number; json(): Promise<unknown>; text(): Promise<string> }>;

export interface HermesOptions {
  /** Base URL, e.g. https://hermes.pyth.network (a trailing slash is ignored). */
  url: string;
  /** Reads the fee for the data Hermes returned (the market's pull feed `updateFee`). */
  updateFee: UpdateFeeReader;
  /** Default: the global `fetch`. */
  fetch?: FetchLike;
  /** Per request (default 5,000 ms). */
  timeoutMs?: number;
  /** Sent as `Authorization: Bearer <apiKey>` (hosted Hermes endpoints that require one). */
  apiKey?: string;
}

/** A Pyth (price, expo) pair as D18; throws for a non-positive price. */
export function pythToD18(price: bigint, expo: number): bigint {
  if (price <= 0n) throw new Error(`non-positive price ${price}e${expo}`);
  const shift = 18 + expo;
  return shift >= 0 ? price * 10n ** BigInt(shift) : price / 10n ** BigInt(-shift);
}

const strip0x = (hex: string): string => (hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex);

interface HermesBody {
  binary?: { encoding?: unknown; data?: unknown };
  parsed?: {
    id?: unknown;
    price?: { price?: unknown; expo?: unknown; publish_time?: unknown };
    metadata?: { prev_publish_time?: unknown };
  }[];
}

/**
 * Reads a Hermes `/v2/updates/price/...` answer for one feed: the binary update (hex strings, 0x-prefixed here)
 * and the parsed price, checked to be the requested feed, published at or after `minPublishTime`, and (when
 * Hermes says) the first such update, i.e. what Pyth's `parsePriceFeedUpdatesUnique` accepts.
 */
export function parseHermesUpdate(
  body: unknown,
  priceId: string,
  minPublishTime: bigint,
): Omit<PriceUpdate, "feeWei"> {
  const b = body as HermesBody;
  if (b?.binary?.encoding !== "hex") throw new Error(`hermes: expected hex binary data`);
  const raw = b.binary.data;
  if (!Array.isArray(raw) || raw.length === 0 || raw.some((d) => typeof d !== "string" || d === ""))
    throw new Error("hermes: no binary update data");
  const data = (raw as string[]).map((d) => `0x${strip0x(d)}`);
  if (data.some((d) => !/^0x([0-9a-fA-F]{2})+$/.test(d))) throw new Error("hermes: binary data is not hex");

  const want = strip0x(priceId).toLowerCase();
  const parsed = (b.parsed ?? []).find(
    (p) => typeof p?.id === "string" && strip0x(p.id).toLowerCase() === want,
  );
  if (parsed === undefined) throw new Error(`hermes: no parsed price for ${priceId}`);
  const { price, expo, publish_time: publish } = parsed.price ?? {};
  if (typeof price !== "string" || typeof expo !== "number" || typeof publish !== "number")
    throw new Error(`hermes: malformed price for ${priceId}`);
  const publishTime = BigInt(publish);
  if (publishTime < minPublishTime)
    throw new Error(`hermes: update published at ${publishTime}, before ${minPublishTime}`);
  const prev = parsed.metadata?.prev_publish_time;
  if (typeof prev === "number" && BigInt(prev) >= minPublishTime)
    throw new Error(
      `hermes: update published at ${publishTime} is not the first at or after ${minPublishTime} (previous ${prev})`,
    );
  return { data, priceD18: pythToD18(BigInt(price), expo), publishTime };
}

/** Pyth's Hermes price service: the update proving a feed's first price published at or after a time. */
export class HermesPriceService implements PriceService {
  private readonly base: string;

  constructor(private readonly o: HermesOptions) {
    this.base = o.url.replace(/\/+$/, "");
  }

  /** `{url}/v2/updates/price/{publishTime}?ids[]={id without 0x}&encoding=hex`. */
  updateUrl(priceId: string, publishTime: bigint): string {
    return `${this.base}/v2/updates/price/${publishTime}?ids[]=${strip0x(priceId).toLowerCase()}&encoding=hex`;
  }

  /** Undefined while Hermes has no update for that time yet (404); throws on any other failure. */
  async updateAt(priceId: string, minPublishTime: bigint): Promise<PriceUpdate | undefined> {
    const fetcher = this.o.fetch ?? (globalThis.fetch as unknown as FetchLike);
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.o.apiKey !== undefined) headers.authorization = `Bearer ${this.o.apiKey}`;
    const url = this.updateUrl(priceId, minPublishTime);
    const response = await fetcher(url, { headers, signal: AbortSignal.timeout(this.o.timeoutMs ?? 5_000) });
    if (response.status === 404) return undefined;
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      throw new Error(`hermes ${response.status} for ${url}: ${text.slice(0, 200)}`);
    }
    const update = parseHermesUpdate(await response.json(), priceId, minPublishTime);
    return { ...update, feeWei: await this.o.updateFee(priceId, update.data) };
  }
}

/** `service` with its fee replaced by `updateFee(priceId, data)` (the pull feed's, what settlement must pay). */
export function withUpdateFee(service: PriceService, updateFee: UpdateFeeReader): PriceService {
  return {
    async updateAt(priceId, minPublishTime) {
      const update = await service.updateAt(priceId, minPublishTime);
      if (update === undefined) return undefined;
      return { ...update, feeWei: await updateFee(priceId, update.data) };
    },
  };
}

/** Price id -> the market's pull feed (from the engine's markets, rescanned on a miss), and its update fee. */
export class PullFeedFees {
  private readonly feeds = new Map<string, string>();

  constructor(private readonly chain: Pick<EngineAdapter, "marketCount" | "pullFeedOf" | "updateFee">) {}

  /** The `UpdateFeeReader` for `HermesPriceService` and `withUpdateFee`. */
  readonly read: UpdateFeeReader = async (priceId, data) => {
    const feed = await this.feedOf(priceId);
    return this.chain.updateFee(feed, data);
  };

  async feedOf(priceId: string): Promise<string> {
    const id = priceId.toLowerCase();
    let feed = this.feeds.get(id);
    if (feed === undefined) {
      const count = await this.chain.marketCount();
      for (let m = 1; m <= count; m++) {
        const pull = await this.chain.pullFeedOf(m);
        if (pull !== undefined) this.feeds.set(pull.priceId, pull.pullFeed);
      }
      feed = this.feeds.get(id);
    }
    if (feed === undefined) throw new Error(`no market's pull feed serves price id ${priceId}`);
    return feed;
  }
}
