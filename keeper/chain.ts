/**
 * The keeper's only contact with the chain. Everything else in keeper/ talks to this adapter, so that it can be
 * swapped for the SDK's client without touching the bot's logic.
 */
import { Interface, type ContractRunner, type Provider, type TransactionReceipt } from "ethers";
import { IBulkhead__factory, IPriceFeed__factory } from "../types/ethers-contracts/index.js";
import type { IBulkhead } from "../types/ethers-contracts/index.js";
import { decodeRevert } from "../sdk/errors.js";

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
  | { kind: "PositionClosedPart"; block: number; accountId: bigint; marketId: number; closedSizeD18: bigint };

export interface LiquidationOutcome {
  txHash: string;
  liquidatedIds: bigint[];
  rewardD18: bigint;
  gasUsed: bigint;
}

const bulkheadInterface: Interface = IBulkhead__factory.createInterface();

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

export class EngineAdapter {
  readonly engine: IBulkhead;

  constructor(
    readonly address: string,
    readonly runner: ContractRunner & { provider: Provider | null },
  ) {
    this.engine = IBulkhead__factory.connect(address, runner);
  }

  get provider(): Provider {
    if (this.runner.provider === null) throw new Error("the keeper's signer has no provider");
    return this.runner.provider;
  }

  async blockNumber(): Promise<number> {
    return this.provider.getBlockNumber();
  }

  async gasPrice(): Promise<bigint | undefined> {
    const fee = await this.provider.getFeeData();
    return fee.maxFeePerGas ?? fee.gasPrice ?? undefined;
  }

  /** Engine events in [fromBlock, toBlock], in chain order. */
  async events(fromBlock: number, toBlock: number): Promise<EngineEvent[]> {
    const e = this.engine;
    const topics = [
      e.filters.AccountCreated().fragment.topicHash,
      e.filters.PositionModified().fragment.topicHash,
      e.filters.PositionLiquidated().fragment.topicHash,
      e.filters.AutoDeleveraged().fragment.topicHash,
    ];
    const logs = await this.provider.getLogs({ address: this.address, fromBlock, toBlock, topics: [topics] });
    const out: EngineEvent[] = [];
    for (const log of logs) {
      const parsed = bulkheadInterface.parseLog(log);
      if (parsed === null) continue;
      const block = log.blockNumber;
      const a = parsed.args;
      if (parsed.name === "AccountCreated") {
        out.push({
          kind: "AccountCreated",
          block,
          accountId: a.accountId,
          owner: a.owner,
          isolated: a.isolated,
        });
      } else if (parsed.name === "PositionModified") {
        out.push({
          kind: "PositionModified",
          block,
          accountId: a.accountId,
          marketId: Number(a.marketId),
          newSizeD18: a.newSizeD18,
        });
      } else {
        out.push({
          kind: "PositionClosedPart",
          block,
          accountId: a.accountId,
          marketId: Number(a.marketId),
          closedSizeD18: a.closedSizeD18,
        });
      }
    }
    return out;
  }

  /** One eth_call for the whole batch. */
  async liquidationQuotes(ids: bigint[]): Promise<LiquidationQuote[]> {
    const quotes = await this.engine.liquidationQuotes(ids);
    return quotes.map((q, i) => ({
      accountId: ids[i],
      liquidatable: q.liquidatable,
      partial: q.partial_,
      closedNotionalD18: q.closedNotionalD18,
      keeperRewardD18: q.keeperRewardD18,
    }));
  }

  async simulateLiquidateBatch(
    ids: bigint[],
    receiver: string,
  ): Promise<{ liquidated: bigint; rewardD18: bigint }> {
    const [liquidated, rewardD18] = await this.engine.liquidateBatch.staticCall(ids, receiver);
    return { liquidated, rewardD18 };
  }

  /** Sends the batch and reads back, from the receipt, which accounts this transaction actually liquidated. */
  async liquidateBatch(ids: bigint[], receiver: string): Promise<LiquidationOutcome> {
    const tx = await this.engine.liquidateBatch(ids, receiver);
    const receipt = await tx.wait();
    if (receipt === null) throw new Error(`no receipt for ${tx.hash}`);
    return { txHash: tx.hash, ...this.liquidationsIn(receipt), gasUsed: receipt.gasUsed };
  }

  private liquidationsIn(receipt: TransactionReceipt): { liquidatedIds: bigint[]; rewardD18: bigint } {
    const liquidatedIds: bigint[] = [];
    let rewardD18 = 0n;
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.address.toLowerCase()) continue;
      const parsed = bulkheadInterface.parseLog(log);
      if (parsed?.name !== "Liquidated") continue;
      liquidatedIds.push(parsed.args.accountId);
      rewardD18 += parsed.args.keeperRewardD18;
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

  async autoDeleverage(accountId: bigint, marketId: number): Promise<string> {
    const tx = await this.engine.autoDeleverage(accountId, marketId);
    await tx.wait();
    return tx.hash;
  }
}
