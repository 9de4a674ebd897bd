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
import type { BlockTag, ContractRunner, ContractTransactionResponse, Provider } from "ethers";

import {
  IBulkhead__factory,
  IPriceFeed__factory,
  LiquidityVault__factory,
  MarginEngine__factory,
  MockERC20__factory,
} from "../types/ethers-contracts/index.js";
import type { IBulkhead, LiquidityVault, MockERC20 } from "../types/ethers-contracts/index.js";
import * as math from "./math.js";
import type {
  AccountInfo,
  AccountSnapshot,
  BulkheadAddresses,
  LiquidationQuote,
  MarginSummary,
  MarketParams,
  MarketSnapshot,
  MarketState,
  PositionInfo,
  ProtocolSnapshot,
  RiskParams,
  TradeQuote,
} from "./types.js";

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
  };
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
    ] = await Promise.all([
      this.viewTimestamp({ blockTag }),
      this.tokenDecimals(),
      this.getRiskParams({ blockTag }),
      this.paused({ blockTag }),
      this.engine.vaultCash({ blockTag }),
      this.engine.insuranceFund({ blockTag }),
      this.engine.totalReserved({ blockTag }),
      this.getMarkets(marketIds, { blockTag }),
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
   * block's timestamp (what `marginSummary` returns for the same block tag).
   */
  async computeSummary(accountId: bigint, opts: ReadOptions = {}): Promise<MarginSummary> {
    const blockTag = opts.blockTag ?? (await this.provider.getBlockNumber());
    const account = await this.getAccountSnapshot(accountId, { blockTag });
    const markets = await this.getMarkets(
      account.positions.map((p) => p.marketId),
      { blockTag },
    );
    const now = await this.viewTimestamp({ blockTag });
    return math.marginSummary(account.info, account.positions, markets, now);
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

  /** Trades with a slippage bound of `toleranceBps` around the current quote (default 50 bps). */
  async trade(
    accountId: bigint,
    marketId: number,
    sizeDeltaD18: bigint,
    toleranceBps = 50n,
  ): Promise<ContractTransactionResponse> {
    const price = await this.acceptablePriceFor(marketId, sizeDeltaD18, toleranceBps);
    return this.engine.trade(accountId, marketId, sizeDeltaD18, price);
  }

  /** Opens an isolated position funded by `margin` token units from the wallet (source 0) or a cross account. */
  async openIsolated(
    marketId: number,
    margin: bigint,
    sizeDeltaD18: bigint,
    opts: { sourceAccountId?: bigint; toleranceBps?: bigint } = {},
  ): Promise<{ tx: ContractTransactionResponse; accountId: bigint }> {
    const source = opts.sourceAccountId ?? 0n;
    if (source === 0n) await this.ensureAllowance(this.addresses.engine, margin);
    const price = await this.acceptablePriceFor(marketId, sizeDeltaD18, opts.toleranceBps ?? 50n);
    const tx = await this.engine.openIsolated(marketId, source, margin, sizeDeltaD18, price);
    return { tx, accountId: await this.accountIdFrom(tx) };
  }

  /** Closes an isolated account: to a cross account (`destinationAccountId`) or to `receiver` (default signer). */
  async closeIsolated(
    accountId: bigint,
    opts: { destinationAccountId?: bigint; receiver?: string; toleranceBps?: bigint } = {},
  ): Promise<ContractTransactionResponse> {
    const info = await this.getAccount(accountId);
    const positions = await this.getPositions(accountId);
    const size = positions.find((p) => p.marketId === info.marketId)?.sizeD18 ?? 0n;
    const price =
      size === 0n ? 0n : await this.acceptablePriceFor(info.marketId, -size, opts.toleranceBps ?? 50n);
    return this.engine.closeIsolated(
      accountId,
      price,
      opts.destinationAccountId ?? 0n,
      opts.receiver ?? (await this.signerAddress()),
    );
  }

  /** Deposits `assets` token units into the vault for the signer (the vault requires receiver == caller). */
  async vaultDeposit(assets: bigint): Promise<ContractTransactionResponse> {
    await this.ensureAllowance(this.addresses.vault, assets);
    return this.vault.deposit(assets, await this.signerAddress());
  }

  /** Redeems `shares` of the signer's vault shares to the signer. */
  async vaultRedeem(shares: bigint): Promise<ContractTransactionResponse> {
    const me = await this.signerAddress();
    return this.vault.redeem(shares, me, me);
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
