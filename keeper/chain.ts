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
import { IBulkhead__factory, IPriceFeed__factory } from "../types/ethers-contracts/index.js";
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
  | { kind: "MarketTouched"; block: number; marketId: number };

export interface LiquidationOutcome {
  liquidatedIds: bigint[];
  rewardD18: bigint;
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
