/**
 * Trades as delayed orders, for tests: commit, then settle one minimum delay later with a MockPyth update that
 * proves the mark price (or a given price) as the first price of the window. Each helper resolves to the
 * settlement transaction, so `expect(trade(...)).to.emit(...)` and `.to.be.revertedWithCustomError(...)` read
 * like the immediate calls they replace (a commit that reverts rejects the same way). An order whose settlement
 * reverts is cancelled after its expiry before the error is rethrown, so nothing is left pending.
 */
import type { BigNumberish, ContractTransactionResponse, Signer } from "ethers";
import type { IBulkhead } from "../../types/ethers-contracts/index.js";
import { encodeMockPythUpdate } from "../../sdk/pyth.js";
import { ethers, networkHelpers } from "./fixture.js";

/** The settlement-reward budget helpers commit with: whatever governance asks. */
export const ANY_REWARD = ethers.MaxUint256;

export interface SettleOptions {
  /** Settlement price (D18); the mark feed's current price by default. */
  priceD18?: bigint;
  /** Who settles (and earns the reward); the engine's runner by default. */
  keeper?: Signer;
  /** Publish time of the proven price; the order's ready time by default. */
  publishTime?: bigint;
}

/** The market's pull feed and mark feed. */
async function feedsOf(engine: IBulkhead, marketId: BigNumberish) {
  const params = await engine.getMarketParams(marketId);
  const pull = await ethers.getContractAt("PythPriceFeed", params.pullFeed);
  const mark = await ethers.getContractAt("IPriceFeed", params.feed);
  return { pull, mark };
}

/** Update data proving `priceD18` for the market's pull feed, published at `publishTime`, and its fee. */
export async function priceUpdate(
  engine: IBulkhead,
  marketId: BigNumberish,
  priceD18: bigint,
  publishTime: bigint,
) {
  const { pull } = await feedsOf(engine, marketId);
  const data = [encodeMockPythUpdate(await pull.priceId(), priceD18, publishTime)];
  return { data, fee: await pull.updateFee(data) };
}

/** Settles the pending order of `accountId` on `marketId` at its ready time (mined then if still ahead). */
export async function settleNext(
  engine: IBulkhead,
  accountId: BigNumberish,
  marketId: BigNumberish,
  opts: SettleOptions = {},
): Promise<ContractTransactionResponse> {
  const order = await engine.getOrder(accountId, marketId);
  const publishTime = opts.publishTime ?? order.readyTime;
  if (publishTime > BigInt(await networkHelpers.time.latest())) {
    await networkHelpers.time.setNextBlockTimestamp(publishTime);
  }
  const { mark } = await feedsOf(engine, marketId);
  const price = opts.priceD18 ?? (await mark.latestPrice());
  const { data, fee } = await priceUpdate(engine, marketId, price, publishTime);
  const settler = opts.keeper === undefined ? engine : engine.connect(opts.keeper);
  return settler.settleOrder(accountId, marketId, data, { value: fee });
}

/** `settleNext`; if it reverts, the order is cancelled after expiry and the error rethrown. */
async function settleOrCancel(
  engine: IBulkhead,
  accountId: BigNumberish,
  marketId: BigNumberish,
  opts: SettleOptions,
): Promise<ContractTransactionResponse> {
  try {
    return await settleNext(engine, accountId, marketId, opts);
  } catch (error) {
    const order = await engine.getOrder(accountId, marketId);
    if (order.commitTime !== 0n) {
      await networkHelpers.time.increaseTo(order.expiryTime + 1n);
      await (await engine.cancelOrder(accountId, marketId)).wait();
    }
    throw error;
  }
}

/** A trade as an order by the engine's runner (owner or operator), settled one delay later. */
export async function trade(
  engine: IBulkhead,
  accountId: BigNumberish,
  marketId: BigNumberish,
  sizeDeltaD18: BigNumberish,
  acceptablePriceD18: BigNumberish,
  opts: SettleOptions = {},
): Promise<ContractTransactionResponse> {
  await (await engine.commitOrder(accountId, marketId, sizeDeltaD18, acceptablePriceD18, ANY_REWARD)).wait();
  return settleOrCancel(engine, accountId, marketId, opts);
}

/**
 * Opens a new isolated account funded from the wallet (`sourceAccountId` 0) or a cross account, as an order.
 * Resolves to the settlement transaction, with the new account's id.
 */
export async function openIsolated(
  engine: IBulkhead,
  marketId: BigNumberish,
  sourceAccountId: BigNumberish,
  margin: BigNumberish,
  sizeDeltaD18: BigNumberish,
  acceptablePriceD18: BigNumberish,
  opts: SettleOptions = {},
): Promise<ContractTransactionResponse & { accountId: bigint }> {
  const args = [marketId, sourceAccountId, margin, sizeDeltaD18, acceptablePriceD18, ANY_REWARD] as const;
  const accountId = await engine.commitIsolatedOrder.staticCall(...args);
  await (await engine.commitIsolatedOrder(...args)).wait();
  const tx = await settleOrCancel(engine, accountId, marketId, opts);
  return Object.assign(tx, { accountId });
}

/** Closes an isolated account's position as an order; the rest goes to the owner's wallet or `destination`. */
export async function closeIsolated(
  engine: IBulkhead,
  accountId: BigNumberish,
  acceptablePriceD18: BigNumberish,
  destinationAccountId: BigNumberish = 0,
  opts: SettleOptions = {},
): Promise<ContractTransactionResponse> {
  await (
    await engine.commitCloseIsolated(accountId, acceptablePriceD18, destinationAccountId, ANY_REWARD)
  ).wait();
  const { marketId } = await engine.getAccount(accountId);
  return settleOrCancel(engine, accountId, marketId, opts);
}
