/**
 * Pull-oracle price updates for order settlement.
 *
 * Orders settle on a price proven by update data supplied in the settling transaction (see `IOrders`). A
 * `PriceService` finds that data: the market's first price published at or after an order's ready time. On
 * real networks it is Pyth's price service (Hermes); on a local chain the `LocalPriceService` signs MockPyth
 * updates itself, from prices it is told (the local price publisher), so the whole flow runs offline.
 */
import { AbiCoder } from "ethers";

const coder = AbiCoder.defaultAbiCoder();
const INT64_MAX = 2n ** 63n - 1n;

/** One price update: the bytes to pass to `settleOrder` and the oracle fee (wei) to send with them. */
export interface PriceUpdate {
  data: string[];
  feeWei: bigint;
  priceD18: bigint;
  publishTime: bigint;
}

/** Where a settler gets the update proving a feed's first price published at or after `minPublishTime`. */
export interface PriceService {
  updateAt(priceId: string, minPublishTime: bigint): Promise<PriceUpdate | undefined>;
}

/**
 * A D18 price as Pyth's (price, expo) pair, exact whenever the price has no more significant digits than an
 * int64 holds (any price from an 8-decimal feed below 9.2e10 USD).
 */
export function toPythPrice(priceD18: bigint): { price: bigint; expo: number } {
  if (priceD18 <= 0n) throw new Error(`price must be positive: ${priceD18}`);
  let price = priceD18;
  let expo = -18;
  while (price > INT64_MAX) {
    price /= 10n;
    expo += 1;
  }
  return { price, expo };
}

/**
 * MockPyth's update format (`MockPyth.createPriceFeedUpdateData`): `abi.encode(PriceFeed, prevPublishTime)`.
 * `prevPublishTime < publishTime` marks it as the first price at or after any time in (prev, publish].
 * Local chains and tests only: a real Pyth contract accepts only Wormhole-signed updates.
 */
export function encodeMockPythUpdate(
  priceId: string,
  priceD18: bigint,
  publishTime: bigint,
  opts: { prevPublishTime?: bigint; confD18?: bigint } = {},
): string {
  const { price, expo } = toPythPrice(priceD18);
  const conf = ((opts.confD18 ?? 0n) * price) / priceD18;
  const prev = opts.prevPublishTime ?? publishTime - 1n;
  const p = [price, conf, expo, publishTime];
  return coder.encode(
    [
      "tuple(bytes32 id, tuple(int64 price, uint64 conf, int32 expo, uint256 publishTime) price, tuple(int64 price, uint64 conf, int32 expo, uint256 publishTime) emaPrice)",
      "uint64",
    ],
    [[priceId, p, p], prev],
  );
}

/**
 * The local price service: publishes MockPyth updates from the prices it is given. `setPrice` records a
 * feed's price from a moment on; `updateAt` proves the price in force at the requested time, published at
 * exactly that time (so it is the first one in the order's window).
 */
export class LocalPriceService implements PriceService {
  private readonly prices = new Map<string, { from: bigint; priceD18: bigint }[]>();

  constructor(private readonly feeWei: bigint = 0n) {}

  setPrice(priceId: string, priceD18: bigint, from: bigint): void {
    const path = this.prices.get(priceId) ?? [];
    path.push({ from, priceD18 });
    path.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
    this.prices.set(priceId, path);
  }

  priceAt(priceId: string, time: bigint): bigint | undefined {
    let found: bigint | undefined;
    for (const p of this.prices.get(priceId) ?? []) if (p.from <= time) found = p.priceD18;
    return found;
  }

  async updateAt(priceId: string, minPublishTime: bigint): Promise<PriceUpdate | undefined> {
    const priceD18 = this.priceAt(priceId, minPublishTime);
    if (priceD18 === undefined) return undefined;
    return {
      data: [encodeMockPythUpdate(priceId, priceD18, minPublishTime)],
      feeWei: this.feeWei,
      priceD18,
      publishTime: minPublishTime,
    };
  }
}
