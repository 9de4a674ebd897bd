/**
 * `BulkheadClient`: typed reads of accounts and markets, an off-chain recomputation of every margin figure from
 * raw state (`sdk/math.ts`), and write helpers with slippage bounds derived from a quote.
 *
 * Timestamps: an `eth_call` at block tag "latest" (ethers' default) is evaluated at the latest block's
 * timestamp, not at the next block's: funding accrues to `latest.timestamp` in every view (checked on Hardhat,
 * see test/sdk/differential.ts). A transaction is evaluated at its own block's timestamp, which on Hardhat is
 * max(latest + 1, wall clock + offset) unless set with `time.setNextBlockTimestamp`. `viewTimestamp` returns
 * the timestamp the views see; `computeSummary` and the snapshot helpers use it by default.
 */
import {
  type BlockTag,
  type ContractRunner,
  type ContractTransactionResponse,
  type Provider,
  getAddress,
} from "ethers";

import {
  IBulkhead__factory,
  IPriceFeed__factory,
  IPythPriceFeed__factory,
  LiquidityVault__factory,
  MarginEngine__factory,
  MockERC20__factory,
  PortfolioMargin__factory,
} from "../types/ethers-contracts/index.js";
import type { IBulkhead, LiquidityVault, MockERC20 } from "../types/ethers-contracts/index.js";
import type { PriceService } from "./pyth.js";
import * as math from "./math.js";
import * as portfolio from "./portfolio.js";
import { previewErrorMessage } from "./errors.js";
import { type Preview, type Sender, previewSettlement, settlementReward } from "./preview.js";
import type {
  AccountInfo,
  AccountSnapshot,
  BulkheadAddresses,
  LiquidationQuote,
  MarginSummary,
  MarketParams,
  MarketSnapshot,
  MarketState,
  OrderInfo,
  OrderKind,
  OrderParams,
  OrderStatus,
  PositionInfo,
  ProtocolSnapshot,
  RiskParams,
  TradeQuote,
  VaultRequests,
} from "./types.js";
import { AccountMode } from "./types.js";

/** 100% in basis points. */
export const BPS = 10_000n;

/* ------------------------------------------------------------------------------------------------------------
                                         CONVERSIONS FROM ETHERS RESULTS
   ------------------------------------------------------------------------------------------------------------ */

type Named<T> = { [K in keyof T]: T[K] extends number ? bigint : T[K] };

export function toMarketParams(r: Named<MarketParams>): MarketParams {
  return {
    feed: r.feed,
    baseImrD18: r.baseImrD18,
    maxImrD18: r.maxImrD18,
    imrSizeSlopeD18: r.imrSizeSlopeD18,
    mmScalarD18: r.mmScalarD18,
    maxFundingVelocityD18: r.maxFundingVelocityD18,
    minPositionMarginD18: r.minPositionMarginD18,
    skewScaleD18: r.skewScaleD18,
    makerFeeD18: r.makerFeeD18,
    takerFeeD18: r.takerFeeD18,
    liquidationFeeD18: r.liquidationFeeD18,
    reserveRatioD18: r.reserveRatioD18,
    maxOiPerSideD18: r.maxOiPerSideD18,
    pullFeed: r.pullFeed,
    maxDivergenceD18: r.maxDivergenceD18,
  };
}

/** The status of an order with these times, at `now`. */
export function orderStatus(
  commitTime: bigint,
  readyTime: bigint,
  expiryTime: bigint,
  now: bigint,
): OrderStatus {
  if (commitTime === 0n) return "none";
  if (now > expiryTime) return "expired";
  return now >= readyTime ? "ready" : "waiting";
}

export function toMarketState(r: MarketState): MarketState {
  return {
    longOiD18: r.longOiD18,
    shortOiD18: r.shortOiD18,
    fundingIndexD18: r.fundingIndexD18,
    fundingRateD18: r.fundingRateD18,
    lastFundingTime: r.lastFundingTime,
    netBasisD18: r.netBasisD18,
    netFundingBasisD18: r.netFundingBasisD18,
    reservedD18: r.reservedD18,
    imVolMultiplierD18: r.imVolMultiplierD18,
    mmVolMultiplierD18: r.mmVolMultiplierD18,
  };
}

export function toRiskParams(r: RiskParams): RiskParams {
  return {
    maxPositionsPerAccount: r.maxPositionsPerAccount,
    keeperShareD18: r.keeperShareD18,
    liquidationBufferD18: r.liquidationBufferD18,
    insuranceFeeShareD18: r.insuranceFeeShareD18,
    flatKeeperRewardD18: r.flatKeeperRewardD18,
    maxKeeperRewardD18: r.maxKeeperRewardD18,
    partialLiquidationNotionalD18: r.partialLiquidationNotionalD18,
    adlTriggerD18: r.adlTriggerD18,
    adlTargetD18: r.adlTargetD18,
    adlMinShareD18: r.adlMinShareD18,
  };
}

export function toAccountInfo(r: Named<AccountInfo>): AccountInfo {
  return {
    owner: r.owner,
    isolated: r.isolated,
    mode: Number(r.mode) as AccountMode,
    marketId: Number(r.marketId),
    positionCount: Number(r.positionCount),
    collateralD18: r.collateralD18,
  };
}

export function toPositionInfo(r: Named<PositionInfo>): PositionInfo {
  return {
    marketId: Number(r.marketId),
    sizeD18: r.sizeD18,
    basisD18: r.basisD18,
    lastFundingIndexD18: r.lastFundingIndexD18,
  };
}

export function toMarginSummary(r: MarginSummary): MarginSummary {
  return {
    collateralD18: r.collateralD18,
    unrealisedPnlD18: r.unrealisedPnlD18,
    accruedFundingD18: r.accruedFundingD18,
    equityD18: r.equityD18,
    initialMarginD18: r.initialMarginD18,
    maintenanceMarginD18: r.maintenanceMarginD18,
    notionalD18: r.notionalD18,
  };
}

export function toTradeQuote(r: TradeQuote): TradeQuote {
  return { oraclePriceD18: r.oraclePriceD18, fillPriceD18: r.fillPriceD18, feeD18: r.feeD18 };
}

export function toLiquidationQuote(r: LiquidationQuote): LiquidationQuote {
  return {
    liquidatable: r.liquidatable,
    partial_: r.partial_,
    closeFractionD18: r.closeFractionD18,
    closedNotionalD18: r.closedNotionalD18,
    keeperRewardD18: r.keeperRewardD18,
  };
}

/** Worst acceptable fill for a trade of `sizeDelta` given the quoted fill: fill x (1 +- tolerance), against you. */
export function acceptablePrice(fillPriceD18: bigint, sizeDeltaD18: bigint, toleranceBps: bigint): bigint {
  return sizeDeltaD18 > 0n
    ? (fillPriceD18 * (BPS + toleranceBps) + BPS - 1n) / BPS
    : (fillPriceD18 * (BPS - toleranceBps)) / BPS;
}

/** An account as read from chain, with the engine's own margin summary. */
export interface AccountView extends AccountSnapshot {
  summary: MarginSummary;
}

/** Read options: a block tag to pin every call of one snapshot to the same block. */
export interface ReadOptions {
  blockTag?: BlockTag;
}

/* ------------------------------------------------------------------------------------------------------------
                                                   CLIENT
   ------------------------------------------------------------------------------------------------------------ */

export class BulkheadClient {
  readonly engine: IBulkhead;
  readonly vault: LiquidityVault;
  readonly token: MockERC20;
  readonly addresses: BulkheadAddresses;
  private readonly runner: ContractRunner;
  private decimals?: number;
  /** Decoded portfolio configurations by data-contract address (immutable code). */
  private readonly portfolioConfigs = new Map<string, portfolio.PortfolioConfig>();

  constructor(runner: ContractRunner, addresses: BulkheadAddresses) {
    this.runner = runner;
    this.addresses = addresses;
    this.engine = IBulkhead__factory.connect(addresses.engine, runner);
    this.vault = LiquidityVault__factory.connect(addresses.vault, runner);
    this.token = MockERC20__factory.connect(addresses.token, runner);
  }

  /** The same client acting through another runner (e.g. another signer). */
  connect(runner: ContractRunner): BulkheadClient {
    return new BulkheadClient(runner, this.addresses);
  }

  get provider(): Provider {
    const p = this.runner.provider ?? (this.runner as unknown as Provider);
    if (!p || typeof (p as Provider).getBlock !== "function") throw new Error("runner has no provider");
    return p as Provider;
  }

  /* --------------------------------------------- reads --------------------------------------------------- */

  async tokenDecimals(): Promise<number> {
    if (this.decimals === undefined) this.decimals = Number(await this.token.decimals());
    return this.decimals;
  }

  /** 10^(18 - decimals): token units x tokenScale = D18. */
  async tokenScale(): Promise<bigint> {
    return 10n ** BigInt(18 - (await this.tokenDecimals()));
  }

  /** The timestamp `eth_call` views are evaluated at for `blockTag` (default "latest"): that block's timestamp. */
  async viewTimestamp(opts: ReadOptions = {}): Promise<bigint> {
    const block = await this.provider.getBlock(opts.blockTag ?? "latest");
    if (!block) throw new Error(`no block ${String(opts.blockTag)}`);
    return BigInt(block.timestamp);
  }

  async getAccount(accountId: bigint, opts: ReadOptions = {}): Promise<AccountInfo> {
    return toAccountInfo(await this.engine.getAccount(accountId, { blockTag: opts.blockTag }));
  }

  async getPositions(accountId: bigint, opts: ReadOptions = {}): Promise<PositionInfo[]> {
    const rows = await this.engine.getPositions(accountId, { blockTag: opts.blockTag });
    return rows.map(toPositionInfo);
  }

  async marginSummary(accountId: bigint, opts: ReadOptions = {}): Promise<MarginSummary> {
    return toMarginSummary(await this.engine.marginSummary(accountId, { blockTag: opts.blockTag }));
  }

  /** AccountInfo, positions and the engine's margin summary, all at one block. */
  async getAccountView(accountId: bigint, opts: ReadOptions = {}): Promise<AccountView> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    const [info, positions, summary] = await Promise.all([
      this.getAccount(accountId, { blockTag }),
      this.getPositions(accountId, { blockTag }),
      this.marginSummary(accountId, { blockTag }),
    ]);
    return { accountId, info, positions, summary };
  }

  async getMarketParams(marketId: number, opts: ReadOptions = {}): Promise<MarketParams> {
    return toMarketParams(await this.engine.getMarketParams(marketId, { blockTag: opts.blockTag }));
  }

  async getMarketState(marketId: number, opts: ReadOptions = {}): Promise<MarketState> {
    return toMarketState(await this.engine.getMarketState(marketId, { blockTag: opts.blockTag }));
  }

  /** The oracle price (D18) from the market's feed; reverts (decodable by sdk/errors) when it has none. */
  async oraclePrice(feed: string, opts: ReadOptions = {}): Promise<bigint> {
    return IPriceFeed__factory.connect(feed, this.runner).latestPrice({ blockTag: opts.blockTag });
  }

  /** Parameters, stored state and oracle price of one market at one block. */
  async getMarket(marketId: number, opts: ReadOptions = {}): Promise<MarketSnapshot> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    const [params, state] = await Promise.all([
      this.getMarketParams(marketId, { blockTag }),
      this.getMarketState(marketId, { blockTag }),
    ]);
    const priceD18 = await this.oraclePrice(params.feed, { blockTag });
    return { marketId, params, state, priceD18 };
  }

  /** Snapshots of the given markets (default: all listed) at one block. */
  async getMarkets(marketIds?: number[], opts: ReadOptions = {}): Promise<Map<number, MarketSnapshot>> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    let ids = marketIds;
    if (!ids) {
      const n = Number(await this.engine.marketCount({ blockTag }));
      ids = Array.from({ length: n }, (_, i) => i + 1);
    }
    const snaps = await Promise.all(ids.map((id) => this.getMarket(id, { blockTag })));
    return new Map(snaps.map((s) => [s.marketId, s]));
  }

  async getRiskParams(opts: ReadOptions = {}): Promise<RiskParams> {
    return toRiskParams(await this.engine.getRiskParams({ blockTag: opts.blockTag }));
  }

  async paused(opts: ReadOptions = {}): Promise<boolean> {
    return MarginEngine__factory.connect(this.addresses.engine, this.runner).paused({
      blockTag: opts.blockTag,
    });
  }

  /** Everything the off-chain math and previews need, read at one block (markets: default all). */
  async getProtocolSnapshot(marketIds?: number[], opts: ReadOptions = {}): Promise<ProtocolSnapshot> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    const [
      timestamp,
      tokenDecimals,
      risk,
      paused,
      vaultCashD18,
      insuranceFundD18,
      totalReservedD18,
      markets,
      portfolio,
    ] = await Promise.all([
      this.viewTimestamp({ blockTag }),
      this.tokenDecimals(),
      this.getRiskParams({ blockTag }),
      this.paused({ blockTag }),
      this.engine.vaultCash({ blockTag }),
      this.engine.insuranceFund({ blockTag }),
      this.engine.totalReserved({ blockTag }),
      this.getMarkets(marketIds, { blockTag }),
      this.getPortfolioState({ blockTag }),
    ]);
    return {
      timestamp,
      tokenDecimals,
      tokenScale: 10n ** BigInt(18 - tokenDecimals),
      risk,
      paused,
      vaultCashD18,
      insuranceFundD18,
      totalReservedD18,
      markets,
      ...(portfolio === undefined ? {} : { portfolio }),
    };
  }

  /** An account and its positions (no chain summary) at one block. */
  async getAccountSnapshot(accountId: bigint, opts: ReadOptions = {}): Promise<AccountSnapshot> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    const [info, positions] = await Promise.all([
      this.getAccount(accountId, { blockTag }),
      this.getPositions(accountId, { blockTag }),
    ]);
    return { accountId, info, positions };
  }

  /**
   * The margin summary recomputed off-chain with sdk/math from raw state read at one block, evaluated at that
   * block's timestamp (what `marginSummary` returns for the same block tag); for a portfolio account with the
   * risk model's configuration read at that block too.
   */
  async computeSummary(accountId: bigint, opts: ReadOptions = {}): Promise<MarginSummary> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    const account = await this.getAccountSnapshot(accountId, { blockTag });
    const markets = await this.getMarkets(
      account.positions.map((p) => p.marketId),
      { blockTag },
    );
    const now = await this.viewTimestamp({ blockTag });
    const state =
      account.info.mode === AccountMode.Portfolio ? await this.getPortfolioState({ blockTag }) : undefined;
    return math.marginSummary(
      account.info,
      account.positions,
      markets,
      now,
      state && ((legs) => portfolio.portfolioRequirement(state, legs, now)),
    );
  }

  /**
   * A portfolio account's requirement and its parts (VaR and stress terms, the worst scenario, the floor, the
   * add-ons) at one block, from the SDK's mirror of the model (equal to the chain's IM and MM). Throws for an
   * account of another mode.
   */
  async portfolioBreakdown(accountId: bigint, opts: ReadOptions = {}): Promise<portfolio.RiskRequirement> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    const account = await this.getAccountSnapshot(accountId, { blockTag });
    if (account.info.mode !== AccountMode.Portfolio)
      throw new Error(`account ${accountId} is not a portfolio account`);
    const [markets, now, state] = await Promise.all([
      this.getMarkets(
        account.positions.map((p) => p.marketId),
        { blockTag },
      ),
      this.viewTimestamp({ blockTag }),
      this.getPortfolioState({ blockTag }),
    ]);
    return portfolio.portfolioRequirement(state!, math.portfolioLegs(account.positions, markets), now);
  }

  /**
   * The portfolio risk model's state (configuration in force, the previous one while it ramps in), decoded from
   * its data contracts at one block; undefined while governance has set no model.
   */
  async getPortfolioState(opts: ReadOptions = {}): Promise<portfolio.PortfolioState | undefined> {
    const blockTag = opts.blockTag;
    const address = await this.engine.portfolioMargin({ blockTag });
    if (BigInt(address) === 0n) return undefined;
    const pm = PortfolioMargin__factory.connect(address, this.runner);
    const [pointer, previousPointer, rampStart, rampEnd] = await Promise.all([
      pm.pointer({ blockTag }),
      pm.previousPointer({ blockTag }),
      pm.rampStart({ blockTag }),
      pm.rampEnd({ blockTag }),
    ]);
    // A configuration is a data contract's code, which never changes: decoded once per address.
    const read = async (at: string) => {
      const key = at.toLowerCase();
      let config = this.portfolioConfigs.get(key);
      if (config === undefined) {
        config = portfolio.decodeConfig(await this.provider.getCode(at, blockTag));
        this.portfolioConfigs.set(key, config);
      }
      return config;
    };
    return {
      current: await read(pointer),
      previous: BigInt(previousPointer) === 0n ? undefined : await read(previousPointer),
      rampStart,
      rampEnd,
    };
  }

  /** Quote of a trade from chain. */
  async quoteTrade(marketId: number, sizeDeltaD18: bigint, opts: ReadOptions = {}): Promise<TradeQuote> {
    return toTradeQuote(await this.engine.quoteTrade(marketId, sizeDeltaD18, { blockTag: opts.blockTag }));
  }

  async quoteLiquidation(accountId: bigint, opts: ReadOptions = {}): Promise<LiquidationQuote> {
    return toLiquidationQuote(await this.engine.quoteLiquidation(accountId, { blockTag: opts.blockTag }));
  }

  /** Account ids created by `owner` (cross and isolated), from AccountCreated events since `fromBlock`. */
  async accountsOf(owner: string, fromBlock: number = 0, toBlock?: number): Promise<bigint[]> {
    const logs = await this.engine.queryFilter(
      this.engine.filters.AccountCreated(undefined, owner),
      fromBlock,
      toBlock ?? "latest",
    );
    return logs.map((l) => l.args.accountId);
  }

  /** Every account id created since `fromBlock`. */
  async allAccounts(fromBlock: number = 0, toBlock?: number): Promise<bigint[]> {
    const logs = await this.engine.queryFilter(
      this.engine.filters.AccountCreated(),
      fromBlock,
      toBlock ?? "latest",
    );
    return logs.map((l) => l.args.accountId);
  }

  /** The liquidatable accounts among `accountIds`, with their quotes, checked in batches by `liquidationQuotes`. */
  async liquidatable(
    accountIds: bigint[],
    batchSize = 200,
    opts: ReadOptions = {},
  ): Promise<{ accountId: bigint; quote: LiquidationQuote }[]> {
    const out: { accountId: bigint; quote: LiquidationQuote }[] = [];
    for (let i = 0; i < accountIds.length; i += batchSize) {
      const ids = accountIds.slice(i, i + batchSize);
      const quotes = await this.engine.liquidationQuotes(ids, { blockTag: opts.blockTag });
      quotes.forEach((q, j) => {
        if (q.liquidatable) out.push({ accountId: ids[j], quote: toLiquidationQuote(q) });
      });
    }
    return out;
  }

  /* --------------------------------------------- writes -------------------------------------------------- */

  /** Approves the engine for `amount` (token units) if the allowance is short. */
  async ensureAllowance(spender: string, amount: bigint): Promise<ContractTransactionResponse | undefined> {
    const owner = await this.signerAddress();
    const allowance = await this.token.allowance(owner, spender);
    if (allowance >= amount) return undefined;
    const tx = await this.token.approve(spender, amount);
    await tx.wait();
    return tx;
  }

  async createCrossAccount(): Promise<bigint> {
    const tx = await this.engine.createCrossAccount();
    return this.accountIdFrom(tx);
  }

  async createIsolatedAccount(marketId: number): Promise<bigint> {
    const tx = await this.engine.createIsolatedAccount(marketId);
    return this.accountIdFrom(tx);
  }

  /** A portfolio account: margined by the engine's risk model (reverts `PortfolioMarginUnset` without one). */
  async createPortfolioAccount(): Promise<bigint> {
    const tx = await this.engine.createPortfolioAccount();
    return this.accountIdFrom(tx);
  }

  /** Deposits `amount` token units, approving the engine first if needed. */
  async deposit(accountId: bigint, amount: bigint): Promise<ContractTransactionResponse> {
    await this.ensureAllowance(this.addresses.engine, amount);
    return this.engine.deposit(accountId, amount);
  }

  /** Withdraws `amount` token units to `receiver` (default: the signer). */
  async withdraw(accountId: bigint, amount: bigint, receiver?: string): Promise<ContractTransactionResponse> {
    return this.engine.withdraw(accountId, amount, receiver ?? (await this.signerAddress()));
  }

  async transferMargin(from: bigint, to: bigint, amountD18: bigint): Promise<ContractTransactionResponse> {
    return this.engine.transferMargin(from, to, amountD18);
  }

  /** The acceptable price for a trade now: the chain's quoted fill moved against the trader by `toleranceBps`. */
  async acceptablePriceFor(marketId: number, sizeDeltaD18: bigint, toleranceBps: bigint): Promise<bigint> {
    const q = await this.quoteTrade(marketId, sizeDeltaD18);
    return acceptablePrice(q.fillPriceD18, sizeDeltaD18, toleranceBps);
  }

  /* ------------------------------------------------- orders ----------------------------------------------- */

  async getOrderParams(opts: ReadOptions = {}): Promise<OrderParams> {
    const p = await this.engine.getOrderParams({ blockTag: opts.blockTag });
    return { minDelay: p.minDelay, maxDelay: p.maxDelay, settlementRewardD18: p.settlementRewardD18 };
  }

  /** The pending order of `accountId` on `marketId`, with its status at the read block's time. */
  async getOrder(accountId: bigint, marketId: number, opts: ReadOptions = {}): Promise<OrderInfo> {
    const [o, now] = await Promise.all([
      this.engine.getOrder(accountId, marketId, { blockTag: opts.blockTag }),
      this.viewTimestamp(opts),
    ]);
    return {
      accountId,
      marketId,
      sizeDeltaD18: o.sizeDeltaD18,
      acceptablePriceD18: o.acceptablePriceD18,
      commitTime: o.commitTime,
      settlementRewardD18: o.settlementRewardD18,
      kind: Number(o.kind) as OrderKind,
      returnAccountId: o.returnAccountId,
      readyTime: o.readyTime,
      expiryTime: o.expiryTime,
      status: orderStatus(o.commitTime, o.readyTime, o.expiryTime, now),
    };
  }

  /** Every order committed from `fromBlock` on that is still pending, with its status. */
  async pendingOrders(fromBlock: number = 0, toBlock?: number): Promise<OrderInfo[]> {
    const logs = await this.engine.queryFilter(this.engine.filters.OrderCommitted(), fromBlock, toBlock);
    const keys = new Map<string, [bigint, number]>();
    for (const l of logs)
      keys.set(`${l.args.accountId}:${l.args.marketId}`, [l.args.accountId, Number(l.args.marketId)]);
    const orders = await Promise.all([...keys.values()].map(([id, m]) => this.getOrder(id, m)));
    return orders.filter((o) => o.status !== "none");
  }

  /**
   * Commits an order changing the position by `sizeDeltaD18`, bounded by `toleranceBps` around the current quote
   * (default 50 bps). It fills one delay later at the first price published then, not at today's quote: the
   * acceptable price is the worst it accepts; a move beyond it makes the settlement fail and the order expire.
   */
  async commitOrder(
    accountId: bigint,
    marketId: number,
    sizeDeltaD18: bigint,
    opts: { toleranceBps?: bigint; acceptablePriceD18?: bigint; maxSettlementRewardD18?: bigint } = {},
  ): Promise<ContractTransactionResponse> {
    const price =
      opts.acceptablePriceD18 ??
      (await this.acceptablePriceFor(marketId, sizeDeltaD18, opts.toleranceBps ?? 50n));
    const budget = opts.maxSettlementRewardD18 ?? (await this.getOrderParams()).settlementRewardD18;
    return this.engine.commitOrder(accountId, marketId, sizeDeltaD18, price, budget);
  }

  /** Creates an isolated account funded by `margin` token units (wallet, or a cross account) and commits its order. */
  async commitIsolatedOrder(
    marketId: number,
    margin: bigint,
    sizeDeltaD18: bigint,
    opts: { sourceAccountId?: bigint; toleranceBps?: bigint; maxSettlementRewardD18?: bigint } = {},
  ): Promise<{ tx: ContractTransactionResponse; accountId: bigint }> {
    const source = opts.sourceAccountId ?? 0n;
    if (source === 0n) await this.ensureAllowance(this.addresses.engine, margin);
    const price = await this.acceptablePriceFor(marketId, sizeDeltaD18, opts.toleranceBps ?? 50n);
    const budget = opts.maxSettlementRewardD18 ?? (await this.getOrderParams()).settlementRewardD18;
    const tx = await this.engine.commitIsolatedOrder(marketId, source, margin, sizeDeltaD18, price, budget);
    return { tx, accountId: await this.accountIdFrom(tx) };
  }

  /** Commits the close of an isolated account; the rest goes to the owner's wallet or `destinationAccountId`. */
  async commitCloseIsolated(
    accountId: bigint,
    opts: { destinationAccountId?: bigint; toleranceBps?: bigint; maxSettlementRewardD18?: bigint } = {},
  ): Promise<ContractTransactionResponse> {
    const info = await this.getAccount(accountId);
    const positions = await this.getPositions(accountId);
    const size = positions.find((p) => p.marketId === info.marketId)?.sizeD18 ?? 0n;
    const price =
      size === 0n ? 0n : await this.acceptablePriceFor(info.marketId, -size, opts.toleranceBps ?? 50n);
    const budget = opts.maxSettlementRewardD18 ?? (await this.getOrderParams()).settlementRewardD18;
    return this.engine.commitCloseIsolated(accountId, price, opts.destinationAccountId ?? 0n, budget);
  }

  /**
   * Settles a pending order with the update `prices` serves for the market's first price at or after the
   * order's ready time. Anyone may settle; the signer earns the settlement reward. The oracle fee sent is the
   * one the pull feed asks for this update (the engine requires it exactly), not the service's estimate.
   */
  async settleOrder(
    accountId: bigint,
    marketId: number,
    prices: PriceService,
  ): Promise<ContractTransactionResponse> {
    const order = await this.getOrder(accountId, marketId);
    if (order.status === "none")
      throw new Error(`no pending order for account ${accountId} on market ${marketId}`);
    const pull = await this.pullFeed(marketId);
    const update = await prices.updateAt(await pull.priceId(), order.readyTime);
    if (!update) throw new Error(`no price for market ${marketId} at ${order.readyTime}`);
    const fee = await pull.updateFee(update.data);
    return this.engine.settleOrder(accountId, marketId, update.data, { value: fee });
  }

  /**
   * Who would send an action on `accountId`, and whether the engine lets them (`isAuthorized`: the owner, or an
   * operator of the owner or of the account): `from` if given, else this client's signer. Undefined when neither
   * is known (a client on a bare provider): previews then skip the check.
   */
  async senderFor(
    accountId: bigint,
    opts: { from?: string; blockTag?: BlockTag } = {},
  ): Promise<Sender | undefined> {
    const from = opts.from ?? (await this.signerAddressIfAny());
    if (from === undefined) return undefined;
    const address = getAddress(from);
    const authorized = await this.engine.isAuthorized(accountId, address, { blockTag: opts.blockTag });
    return { address, authorized };
  }

  /**
   * Preview of an order committed now by the sender (`from`, else this client's signer; see `senderFor`) and
   * settled at `settlementPriceD18` (default: the current mark) paying the current settlement reward, from one
   * snapshot: `previewSettlement` with the commit's authorization check. A sender that is neither the owner nor an
   * operator gets `allowed: false`, `reason: "Unauthorized"`, where the chain would revert the commit. The
   * acceptable price is `acceptablePriceD18`, else the quote moved `toleranceBps` (default 50) against the
   * trader, as `commitOrder` sets it. `message` words a refusal.
   */
  async previewOrder(
    accountId: bigint,
    marketId: number,
    sizeDeltaD18: bigint,
    opts: {
      from?: string;
      acceptablePriceD18?: bigint;
      toleranceBps?: bigint;
      settlementPriceD18?: bigint;
      now?: bigint;
      blockTag?: number;
    } = {},
  ): Promise<Preview> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    const [snap, account, sender, params, quote] = await Promise.all([
      this.getProtocolSnapshot(undefined, { blockTag }),
      this.getAccountSnapshot(accountId, { blockTag }),
      this.senderFor(accountId, { from: opts.from, blockTag }),
      this.getOrderParams({ blockTag }),
      this.quoteTrade(marketId, sizeDeltaD18, { blockTag }),
    ]);
    const bound =
      opts.acceptablePriceD18 ?? acceptablePrice(quote.fillPriceD18, sizeDeltaD18, opts.toleranceBps ?? 50n);
    const reward = settlementReward(params.settlementRewardD18, params.settlementRewardD18, snap.tokenScale);
    const p = previewSettlement(
      snap,
      account,
      marketId,
      { sizeDeltaD18, acceptablePriceD18: bound },
      opts.settlementPriceD18 ?? snap.markets.get(marketId)?.priceD18 ?? 0n,
      reward,
      opts.now ?? snap.timestamp,
      sender,
    );
    return p.allowed ? p : { ...p, message: previewErrorMessage(p, snap.tokenDecimals) };
  }

  /** Removes an expired order (anyone; an unfilled isolated opening returns its margin). */
  async cancelOrder(accountId: bigint, marketId: number): Promise<ContractTransactionResponse> {
    return this.engine.cancelOrder(accountId, marketId);
  }

  /** The market's pull feed (Pyth adapter). */
  async pullFeed(marketId: number) {
    const params = await this.getMarketParams(marketId);
    return IPythPriceFeed__factory.connect(params.pullFeed, this.runner);
  }

  /**
   * Requests a deposit of `assets` token units for the signer (ERC-7540): the tokens move to the vault now, and the
   * shares are priced when a keeper settles the request on prices published at least `minDelay` after it.
   */
  async vaultRequestDeposit(assets: bigint): Promise<ContractTransactionResponse> {
    await this.ensureAllowance(this.addresses.vault, assets);
    const me = await this.signerAddress();
    return this.vault.requestDeposit(assets, me, me);
  }

  /** Requests the redemption of `shares` of the signer's vault shares (locked in the vault until settled). */
  async vaultRequestRedeem(shares: bigint): Promise<ContractTransactionResponse> {
    const me = await this.signerAddress();
    return this.vault.requestRedeem(shares, me, me);
  }

  /** Settles up to `maxRequests` ready LP requests at one valuation (anyone may; keepers do). */
  async vaultSettleRequests(maxRequests = 50n): Promise<ContractTransactionResponse> {
    return this.vault.settleRequests(maxRequests);
  }

  /**
   * Claims everything the signer's settled requests left claimable: the shares of settled deposits and the assets
   * of settled redemptions. Returns the claim transactions sent (none when nothing is claimable).
   */
  async vaultClaim(): Promise<ContractTransactionResponse[]> {
    const me = await this.signerAddress();
    const sent: ContractTransactionResponse[] = [];
    const assets = await this.vault.maxDeposit(me);
    if (assets > 0n) sent.push(await this.vault["deposit(uint256,address)"](assets, me));
    const shares = await this.vault.maxRedeem(me);
    if (shares > 0n) sent.push(await this.vault.redeem(shares, me, me));
    return sent;
  }

  /** An LP's requests: pending (with when they can settle and expire) and claimable, in token units and shares. */
  async vaultRequests(lp: string, overrides: { blockTag?: number } = {}): Promise<VaultRequests> {
    const [deposit, redeem, claimableAssets, claimableShares] = await Promise.all([
      this.vault.depositRequestOf(lp, overrides),
      this.vault.redeemRequestOf(lp, overrides),
      this.vault.maxWithdraw(lp, overrides),
      this.vault.maxMint(lp, overrides),
    ]);
    return {
      pendingDeposit: { assets: deposit[0], readyAt: deposit[1], expiresAt: deposit[2] },
      pendingRedeem: { shares: redeem[0], readyAt: redeem[1], expiresAt: redeem[2] },
      claimableDepositShares: claimableShares,
      claimableRedeemAssets: claimableAssets,
    };
  }

  async liquidate(accountId: bigint, rewardReceiver?: string): Promise<ContractTransactionResponse> {
    return this.engine.liquidate(accountId, rewardReceiver ?? (await this.signerAddress()));
  }

  /* --------------------------------------------- helpers ------------------------------------------------- */

  async signerAddress(): Promise<string> {
    const r = this.runner as { getAddress?: () => Promise<string> };
    if (typeof r.getAddress !== "function") throw new Error("runner is not a signer");
    return r.getAddress();
  }

  /** The signer's address, or undefined when the runner is not a signer. */
  private async signerAddressIfAny(): Promise<string | undefined> {
    const r = this.runner as { getAddress?: () => Promise<string> };
    return typeof r.getAddress === "function" ? r.getAddress() : undefined;
  }

  private async accountIdFrom(tx: ContractTransactionResponse): Promise<bigint> {
    const receipt = await tx.wait();
    if (!receipt) throw new Error("no receipt");
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.addresses.engine.toLowerCase()) continue;
      const parsed = this.engine.interface.parseLog(log);
      if (parsed?.name === "AccountCreated") return parsed.args.accountId as bigint;
    }
    throw new Error("no AccountCreated event in the receipt");
  }
}
