/**
 * The keeper's only contact with the chain. Everything else in keeper/ talks to this adapter, so a test can wrap
 * its runner (a flaky RPC, a second keeper) without touching the bot's logic. Reads go through `withRetry`
 * (transient RPC errors back off and retry); sends do not (the transaction manager owns nonces).
 */
import {
  AbiCoder,
  ZeroAddress,
  type BlockTag,
  type ContractRunner,
  type EventFragment,
  type Log,
  type ParamType,
  type Provider,
  type TransactionReceipt,
} from "ethers";
import {
  IBulkhead__factory,
  IPriceFeed__factory,
  IPythPriceFeed__factory,
} from "../types/ethers-contracts/index.js";
import type { IBulkhead } from "../types/ethers-contracts/index.js";
import { decodeRevert } from "../sdk/errors.js";
import { BulkheadClient, toAccountInfo, toPositionInfo } from "../sdk/client.js";
import type { AccountInfo, PositionInfo, ProtocolSnapshot } from "../sdk/types.js";
import { DEFAULT_BACKOFF, retryingRunner, type BackoffOptions } from "./rpc.js";

export interface LiquidationQuote {
  accountId: bigint;
  liquidatable: boolean;
  partial: boolean;
  closedNotionalD18: bigint;
  keeperRewardD18: bigint;
}

export interface PositionView {
  marketId: number;
  sizeD18: bigint;
  basisD18: bigint;
  lastFundingIndexD18: bigint;
}

/** One decoded engine event, reduced to what the indexer needs. */
export type EngineEvent =
  | { kind: "AccountCreated"; block: number; accountId: bigint; owner: string; isolated: boolean }
  | { kind: "PositionModified"; block: number; accountId: bigint; marketId: number; newSizeD18: bigint }
  | { kind: "PositionClosedPart"; block: number; accountId: bigint; marketId: number; closedSizeD18: bigint }
  /** Anything else that changes an account's collateral (deposit, withdrawal, transfer, fee, bad debt...). */
  | { kind: "AccountTouched"; block: number; accountIds: bigint[] }
  /** A market's funding, open interest or reserve changed outside a trade. */
  | { kind: "MarketTouched"; block: number; marketId: number }
  /** A delayed order was committed (its ready and expiry times follow from `commitTime` and the order params). */
  | {
      kind: "OrderCommitted";
      block: number;
      accountId: bigint;
      marketId: number;
      commitTime: bigint;
      sizeDeltaD18: bigint;
      rewardD18: bigint;
      orderKind: number;
    }
  /** A pending order is gone: settled, or cancelled (expired, or by a liquidation of its market). */
  | { kind: "OrderClosed"; block: number; accountId: bigint; marketId: number; how: "settled" | "cancelled" };

export interface LiquidationOutcome {
  liquidatedIds: bigint[];
  rewardD18: bigint;
}

/** The engine's order timing and reward (`getOrderParams`); `maxDelay` 0: orders not configured. */
export interface OrderParamsView {
  minDelay: bigint;
  maxDelay: bigint;
  settlementRewardD18: bigint;
}

/** Order settlements and cancellations found in a receipt's engine logs. */
export interface OrderOutcome {
  settled: {
    accountId: bigint;
    marketId: number;
    keeper: string;
    priceD18: bigint;
    publishTime: bigint;
    rewardD18: bigint;
  }[];
  cancelled: { accountId: bigint; marketId: number; caller: string }[];
}

/* ------------------------------------------------------------------------------------------------------------
                        EVENT DECODING: every topic hash and coder list computed once
   ------------------------------------------------------------------------------------------------------------ */

const bulkheadInterface = IBulkhead__factory.createInterface();
const coder = AbiCoder.defaultAbiCoder();

interface EventDecoder {
  name: string;
  indexed: ParamType[];
  data: ParamType[];
}

/**
 * topic0 -> decoder, built once at load. `Interface.parseLog` looks the topic up by re-hashing every event
 * signature of the ABI on every call (ethers v6 computes `EventFragment.topicHash` on access), which made
 * start-up time grow with the chain's history; here each log costs one map lookup and one ABI decode.
 */
const DECODERS: ReadonlyMap<string, EventDecoder> = (() => {
  const map = new Map<string, EventDecoder>();
  bulkheadInterface.forEachEvent((fragment: EventFragment) => {
    map.set(fragment.topicHash, {
      name: fragment.name,
      indexed: fragment.inputs.filter((p) => p.indexed),
      data: fragment.inputs.filter((p) => !p.indexed),
    });
  });
  return map;
})();

/** Topic hashes by event name (the indexer's getLogs filter and receipt scans). */
export const TOPIC: Readonly<Record<string, string>> = Object.fromEntries(
  [...DECODERS.entries()].map(([topic, d]) => [d.name, topic]),
);

/** Decodes one engine log into `{ name, args }` (args by parameter name), or undefined for a foreign topic. */
export function decodeLog(
  log: Pick<Log, "topics" | "data">,
): { name: string; args: Record<string, any> } | undefined {
  const decoder = DECODERS.get(log.topics[0]);
  if (decoder === undefined) return undefined;
  const args: Record<string, any> = {};
  decoder.indexed.forEach((p, i) => {
    args[p.name] = coder.decode([p], log.topics[i + 1])[0];
  });
  const values = coder.decode(decoder.data, log.data);
  decoder.data.forEach((p, i) => {
    args[p.name] = values[i];
  });
  return { name: decoder.name, args };
}

const INDEXED_EVENTS = [
  "AccountCreated",
  "PositionModified",
  "PositionLiquidated",
  "AutoDeleveraged",
  "Deposited",
  "Withdrawn",
  "MarginTransferred",
  "Liquidated",
  "BadDebt",
  "ProfitShortfall",
  "MarketUpdated",
  "OrderCommitted",
  "OrderSettled",
  "OrderCancelled",
].filter((name) => TOPIC[name] !== undefined);

/** Reduces a decoded log to the indexer's view; undefined for events the indexer does not need. */
export function toEngineEvent(log: Pick<Log, "topics" | "data" | "blockNumber">): EngineEvent | undefined {
  const decoded = decodeLog(log);
  if (decoded === undefined) return undefined;
  const { name, args: a } = decoded;
  const block = log.blockNumber;
  switch (name) {
    case "AccountCreated":
      return { kind: "AccountCreated", block, accountId: a.accountId, owner: a.owner, isolated: a.isolated };
    case "PositionModified":
      return {
        kind: "PositionModified",
        block,
        accountId: a.accountId,
        marketId: Number(a.marketId),
        newSizeD18: a.newSizeD18,
      };
    case "PositionLiquidated":
    case "AutoDeleveraged":
      return {
        kind: "PositionClosedPart",
        block,
        accountId: a.accountId,
        marketId: Number(a.marketId),
        closedSizeD18: a.closedSizeD18,
      };
    case "MarginTransferred":
      return { kind: "AccountTouched", block, accountIds: [a.fromAccountId, a.toAccountId] };
    case "Deposited":
    case "Withdrawn":
    case "Liquidated":
    case "BadDebt":
    case "ProfitShortfall":
      return { kind: "AccountTouched", block, accountIds: [a.accountId] };
    case "MarketUpdated":
      return { kind: "MarketTouched", block, marketId: Number(a.marketId) };
    case "OrderCommitted":
      return {
        kind: "OrderCommitted",
        block,
        accountId: a.accountId,
        marketId: Number(a.marketId),
        commitTime: a.commitTime,
        sizeDeltaD18: a.sizeDeltaD18,
        rewardD18: a.settlementRewardD18,
        orderKind: Number(a.kind),
      };
    case "OrderSettled":
    case "OrderCancelled":
      return {
        kind: "OrderClosed",
        block,
        accountId: a.accountId,
        marketId: Number(a.marketId),
        how: name === "OrderSettled" ? "settled" : "cancelled",
      };
    default:
      return undefined;
  }
}

/**
 * A revert as the keeper logs it: the custom error's name and arguments, decoded by the SDK (every protocol,
 * vault, oracle and OpenZeppelin error), or the error's first line when it carries no revert data.
 */
export function decodeError(error: unknown): { name: string; args?: string[]; message: string } {
  const decoded = decodeRevert(error);
  if (decoded !== undefined) {
    return { name: decoded.name, args: decoded.values.map((v) => String(v)), message: decoded.message };
  }
  return { name: "error", message: error instanceof Error ? error.message.split("\n")[0] : String(error) };
}

/* ------------------------------------------------------------------------------------------------------------
                                                 THE ADAPTER
   ------------------------------------------------------------------------------------------------------------ */

export interface AdapterOptions {
  backoff?: BackoffOptions;
  /** Called for every retried read (metrics, logs). */
  onRetry?: (error: unknown, retry: number, delayMs: number) => void;
  /** The vault, for the SDK client's snapshots (unused by the keeper's reads; zero address when unknown). */
  vault?: string;
}

export class EngineAdapter {
  readonly engine: IBulkhead;
  /** The signer given, with its reads retried on transient RPC errors (sends are not). */
  readonly runner: ContractRunner & { provider: Provider | null };
  private client: BulkheadClient | undefined;

  constructor(
    readonly address: string,
    runner: ContractRunner & { provider: Provider | null },
    private readonly options: AdapterOptions = {},
  ) {
    this.runner = retryingRunner(runner, options.backoff ?? DEFAULT_BACKOFF, options.onRetry);
    this.engine = IBulkhead__factory.connect(address, this.runner);
  }

  get provider(): Provider {
    if (this.runner.provider === null) throw new Error("the keeper's signer has no provider");
    return this.runner.provider;
  }

  async blockNumber(): Promise<number> {
    return this.provider.getBlockNumber();
  }

  /** The head block's number, base fee (0 before EIP-1559) and gas limit. */
  async head(): Promise<{ number: number; baseFeePerGas: bigint; gasLimit: bigint; timestamp: bigint }> {
    const block = await this.provider.getBlock("latest");
    if (block === null) throw new Error("no latest block");
    return {
      number: block.number,
      baseFeePerGas: block.baseFeePerGas ?? 0n,
      gasLimit: block.gasLimit,
      timestamp: BigInt(block.timestamp),
    };
  }

  /** The node's suggested priority fee (or legacy gas price), for the transaction manager. */
  async suggestedTip(): Promise<bigint> {
    const fee = await this.provider.getFeeData();
    return fee.maxPriorityFeePerGas ?? fee.gasPrice ?? 0n;
  }

  /** Engine events the indexer needs in [fromBlock, toBlock], in chain order. */
  async events(fromBlock: number, toBlock: number): Promise<EngineEvent[]> {
    const logs = await this.provider.getLogs({
      address: this.address,
      fromBlock,
      toBlock,
      topics: [INDEXED_EVENTS.map((name) => TOPIC[name])],
    });
    const out: EngineEvent[] = [];
    for (const log of logs) {
      const event = toEngineEvent(log);
      if (event !== undefined) out.push(event);
    }
    return out;
  }

  /** One eth_call for the whole batch. */
  async liquidationQuotes(ids: bigint[], blockTag?: BlockTag): Promise<LiquidationQuote[]> {
    const quotes = await this.engine.liquidationQuotes(ids, { blockTag });
    return quotes.map((q, i) => ({
      accountId: ids[i],
      liquidatable: q.liquidatable,
      partial: q.partial_,
      closedNotionalD18: q.closedNotionalD18,
      keeperRewardD18: q.keeperRewardD18,
    }));
  }

  /** Runs the batch as an eth_call from the keeper: how many it would liquidate and for what reward. */
  async simulateLiquidateBatch(
    ids: bigint[],
    receiver: string,
  ): Promise<{ liquidated: bigint; rewardD18: bigint }> {
    const [liquidated, rewardD18] = await this.engine.liquidateBatch.staticCall(ids, receiver);
    return { liquidated, rewardD18 };
  }

  encodeLiquidateBatch(ids: bigint[], receiver: string): string {
    return bulkheadInterface.encodeFunctionData("liquidateBatch", [ids, receiver]);
  }

  encodeAutoDeleverage(accountId: bigint, marketId: number): string {
    return bulkheadInterface.encodeFunctionData("autoDeleverage", [accountId, marketId]);
  }

  async receipt(hash: string): Promise<TransactionReceipt | null> {
    return this.provider.getTransactionReceipt(hash);
  }

  async nonce(address: string, blockTag: BlockTag): Promise<number> {
    return this.provider.getTransactionCount(address, blockTag);
  }

  /** Which accounts a mined transaction liquidated, and the reward it paid, from its engine logs. */
  liquidationsIn(receipt: Pick<TransactionReceipt, "logs">): LiquidationOutcome {
    const liquidatedIds: bigint[] = [];
    let rewardD18 = 0n;
    const topic = TOPIC.Liquidated;
    for (const log of receipt.logs) {
      if (log.topics[0] !== topic || log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      const { args } = decodeLog(log)!;
      liquidatedIds.push(args.accountId);
      rewardD18 += args.keeperRewardD18;
    }
    return { liquidatedIds, rewardD18 };
  }

  async marketCount(): Promise<number> {
    return Number(await this.engine.marketCount());
  }

  async adlStatus(
    marketId: number,
  ): Promise<{ triggered: boolean; tradersPnlD18: bigint; triggerD18: bigint }> {
    const [triggered, tradersPnlD18, triggerD18] = await this.engine.adlStatus(marketId);
    return { triggered, tradersPnlD18, triggerD18 };
  }

  async positions(accountId: bigint): Promise<PositionView[]> {
    const ps = await this.engine.getPositions(accountId);
    return ps.map((p) => ({
      marketId: Number(p.marketId),
      sizeD18: p.sizeD18,
      basisD18: p.basisD18,
      lastFundingIndexD18: p.lastFundingIndexD18,
    }));
  }

  /** Oracle price and funding index as the engine would use them now. */
  async marketMarks(marketId: number): Promise<{ priceD18: bigint; fundingIndexD18: bigint }> {
    const params = await this.engine.getMarketParams(marketId);
    const feed = IPriceFeed__factory.connect(params.feed, this.runner);
    const [priceD18, [, fundingIndexD18]] = await Promise.all([
      feed.latestPrice(),
      this.engine.currentFunding(marketId),
    ]);
    return { priceD18, fundingIndexD18 };
  }

  async simulateAutoDeleverage(accountId: bigint, marketId: number): Promise<bigint> {
    return this.engine.autoDeleverage.staticCall(accountId, marketId);
  }

  /* ------------------------------------------------ orders ---------------------------------------------- */

  async orderParams(blockTag?: BlockTag): Promise<OrderParamsView> {
    const p = await this.engine.getOrderParams({ blockTag });
    return { minDelay: p.minDelay, maxDelay: p.maxDelay, settlementRewardD18: p.settlementRewardD18 };
  }

  /** The pending order's commit, ready and expiry times (`commitTime` 0: none). */
  async order(
    accountId: bigint,
    marketId: number,
    blockTag?: BlockTag,
  ): Promise<{ commitTime: bigint; readyTime: bigint; expiryTime: bigint }> {
    const o = await this.engine.getOrder(accountId, marketId, { blockTag });
    return { commitTime: o.commitTime, readyTime: o.readyTime, expiryTime: o.expiryTime };
  }

  /** The market's pull feed and its Pyth price id; undefined when the market has no pull feed. */
  async pullFeedOf(marketId: number): Promise<{ pullFeed: string; priceId: string } | undefined> {
    const params = await this.engine.getMarketParams(marketId);
    if (params.pullFeed === ZeroAddress) return undefined;
    const priceId = await IPythPriceFeed__factory.connect(params.pullFeed, this.runner).priceId();
    return { pullFeed: params.pullFeed, priceId: priceId.toLowerCase() };
  }

  /** What `settleOrder` must be sent with for `data`: the pull feed's `updateFee`, exactly. */
  async updateFee(pullFeed: string, data: string[]): Promise<bigint> {
    return IPythPriceFeed__factory.connect(pullFeed, this.runner).updateFee(data);
  }

  /**
   * Runs `settleOrder` as an eth_call from the keeper (the fill price and fee it would charge) and estimates its
   * gas, in parallel; a refusal rejects with the revert.
   */
  async simulateSettleOrder(
    accountId: bigint,
    marketId: number,
    data: string[],
    valueWei: bigint,
  ): Promise<{ fillPriceD18: bigint; feeD18: bigint; gas: bigint }> {
    const args = [accountId, marketId, data, { value: valueWei }] as const;
    const [[fillPriceD18, feeD18], gas] = await Promise.all([
      this.engine.settleOrder.staticCall(...args),
      this.engine.settleOrder.estimateGas(...args),
    ]);
    return { fillPriceD18, feeD18, gas };
  }

  encodeSettleOrder(accountId: bigint, marketId: number, data: string[]): string {
    return bulkheadInterface.encodeFunctionData("settleOrder", [accountId, marketId, data]);
  }

  /** Runs `cancelOrder` as an eth_call from the keeper and estimates its gas; a refusal rejects with the revert. */
  async simulateCancelOrder(accountId: bigint, marketId: number): Promise<{ gas: bigint }> {
    const [, gas] = await Promise.all([
      this.engine.cancelOrder.staticCall(accountId, marketId),
      this.engine.cancelOrder.estimateGas(accountId, marketId),
    ]);
    return { gas };
  }

  encodeCancelOrder(accountId: bigint, marketId: number): string {
    return bulkheadInterface.encodeFunctionData("cancelOrder", [accountId, marketId]);
  }

  /** The orders a mined transaction settled or cancelled, from its engine logs. */
  ordersIn(receipt: Pick<TransactionReceipt, "logs">): OrderOutcome {
    const out: OrderOutcome = { settled: [], cancelled: [] };
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      if (log.topics[0] === TOPIC.OrderSettled) {
        const { args } = decodeLog(log)!;
        out.settled.push({
          accountId: args.accountId,
          marketId: Number(args.marketId),
          keeper: args.keeper,
          priceD18: args.priceD18,
          publishTime: args.publishTime,
          rewardD18: args.rewardD18,
        });
      } else if (log.topics[0] === TOPIC.OrderCancelled) {
        const { args } = decodeLog(log)!;
        out.cancelled.push({
          accountId: args.accountId,
          marketId: Number(args.marketId),
          caller: args.caller,
        });
      }
    }
    return out;
  }

  /** A block's timestamp (settlement latency is measured in seconds from the order's ready time). */
  async blockTimestamp(blockNumber: number): Promise<bigint> {
    const block = await this.provider.getBlock(blockNumber);
    if (block === null) throw new Error(`no block ${blockNumber}`);
    return BigInt(block.timestamp);
  }

  /* ---------------------------- raw state for the off-chain mirror (sdk/math) ---------------------------- */

  private async sdk(): Promise<BulkheadClient> {
    if (this.client === undefined) {
      const token = await this.engine.settlementToken();
      this.client = new BulkheadClient(this.runner, {
        engine: this.address,
        vault: this.options.vault ?? ZeroAddress,
        token,
      });
    }
    return this.client;
  }

  /** Risk parameters, vault and insurance figures and every market (params, state, price), at one block. */
  async protocolSnapshot(blockTag: number): Promise<ProtocolSnapshot> {
    const client = await this.sdk();
    return client.getProtocolSnapshot(undefined, { blockTag });
  }

  /** An account's collateral and positions at one block (the inputs of `math.marginSummary`). */
  async accountState(
    accountId: bigint,
    blockTag: number,
  ): Promise<{ info: AccountInfo; positions: PositionInfo[] }> {
    const [info, positions] = await Promise.all([
      this.engine.getAccount(accountId, { blockTag }),
      this.engine.getPositions(accountId, { blockTag }),
    ]);
    return { info: toAccountInfo(info), positions: positions.map(toPositionInfo) };
  }
}
