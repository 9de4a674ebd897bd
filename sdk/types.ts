/**
 * Plain TypeScript mirrors of the on-chain structs (IMarginEngine / ILiquidation), with bigints in base units.
 * Every field that carries a D18 fixed-point value (1e18 = 1.0) says so in its name, as on chain.
 */
import type { PortfolioState } from "./portfolio.js";

/** IMarginEngine.MarketParams. */
export interface MarketParams {
  feed: string;
  baseImrD18: bigint;
  maxImrD18: bigint;
  imrSizeSlopeD18: bigint;
  mmScalarD18: bigint;
  maxFundingVelocityD18: bigint;
  minPositionMarginD18: bigint;
  skewScaleD18: bigint;
  makerFeeD18: bigint;
  takerFeeD18: bigint;
  liquidationFeeD18: bigint;
  reserveRatioD18: bigint;
  maxOiPerSideD18: bigint;
  pullFeed: string;
  maxDivergenceD18: bigint;
}

/** IOrders.OrderParams. */
export interface OrderParams {
  minDelay: bigint;
  maxDelay: bigint;
  settlementRewardD18: bigint;
}

/** IOrders.OrderKind. */
export enum OrderKind {
  Trade = 0,
  OpenIsolated = 1,
  CloseIsolated = 2,
}

/** Where a pending order stands at a given time. */
export type OrderStatus = "none" | "waiting" | "ready" | "expired";

/** IOrders.OrderInfo with its status at the time it was read. */
export interface OrderInfo {
  accountId: bigint;
  marketId: number;
  sizeDeltaD18: bigint;
  acceptablePriceD18: bigint;
  commitTime: bigint;
  /** The reward its settlement pays, fixed at commit (D18). */
  settlementRewardD18: bigint;
  kind: OrderKind;
  returnAccountId: bigint;
  readyTime: bigint;
  expiryTime: bigint;
  status: OrderStatus;
}

/** IMarginEngine.MarketState: funding as last stored (not accrued to now). */
export interface MarketState {
  longOiD18: bigint;
  shortOiD18: bigint;
  fundingIndexD18: bigint;
  /** Per day, D18 fraction of notional; > 0: longs pay. */
  fundingRateD18: bigint;
  /** Unix seconds. */
  lastFundingTime: bigint;
  netBasisD18: bigint;
  netFundingBasisD18: bigint;
  reservedD18: bigint;
  /** Volatility multipliers on the IM and MM ratios (D18, 1e18 = none; steps of 1/64). */
  imVolMultiplierD18: bigint;
  mmVolMultiplierD18: bigint;
}

/** IMarginEngine.RiskParams. */
export interface RiskParams {
  maxPositionsPerAccount: bigint;
  keeperShareD18: bigint;
  liquidationBufferD18: bigint;
  insuranceFeeShareD18: bigint;
  /** Flat part of the keeper reward (USD, covers gas); <= every market's minPositionMargin. */
  flatKeeperRewardD18: bigint;
  /** Cap of the keeper reward: reward = min(flat + liquidationFee x keeperShare, max), whole token units. */
  maxKeeperRewardD18: bigint;
  partialLiquidationNotionalD18: bigint;
  adlTriggerD18: bigint;
  adlTargetD18: bigint;
  /** Only positions whose profit is at least this share of the market's traders' net profit may be deleveraged. */
  adlMinShareD18: bigint;
}

/** IMarginEngine.AccountMode. */
export const AccountMode = { Cross: 0, Isolated: 1, Portfolio: 2 } as const;
export type AccountMode = (typeof AccountMode)[keyof typeof AccountMode];

/** IMarginEngine.AccountInfo (`isolated` is `mode === AccountMode.Isolated`). */
export interface AccountInfo {
  owner: string;
  isolated: boolean;
  marketId: number;
  positionCount: number;
  collateralD18: bigint;
  mode: AccountMode;
}

/** IMarginEngine.PositionInfo. */
export interface PositionInfo {
  marketId: number;
  sizeD18: bigint;
  basisD18: bigint;
  lastFundingIndexD18: bigint;
}

/** IMarginEngine.MarginSummary. */
export interface MarginSummary {
  collateralD18: bigint;
  unrealisedPnlD18: bigint;
  accruedFundingD18: bigint;
  equityD18: bigint;
  initialMarginD18: bigint;
  maintenanceMarginD18: bigint;
  notionalD18: bigint;
}

/** IMarginEngine.TradeQuote. */
export interface TradeQuote {
  oraclePriceD18: bigint;
  fillPriceD18: bigint;
  feeD18: bigint;
}

/** ILiquidation.LiquidationQuote. */
export interface LiquidationQuote {
  liquidatable: boolean;
  partial_: boolean;
  closeFractionD18: bigint;
  closedNotionalD18: bigint;
  keeperRewardD18: bigint;
}

/** One market as the SDK's math needs it: parameters, stored state and the oracle price (D18). */
export interface MarketSnapshot {
  marketId: number;
  params: MarketParams;
  state: MarketState;
  priceD18: bigint;
}

/** Markets by id. */
export type Markets = ReadonlyMap<number, MarketSnapshot>;

/** An account with its open positions (in the engine's order). */
export interface AccountSnapshot {
  accountId: bigint;
  info: AccountInfo;
  positions: PositionInfo[];
}

/** Everything an off-chain preview needs, read at one block. */
export interface ProtocolSnapshot {
  /** The block timestamp the figures are evaluated at (see `BulkheadClient.viewTimestamp`). */
  timestamp: bigint;
  /** 10^(18 - token decimals). */
  tokenScale: bigint;
  tokenDecimals: number;
  risk: RiskParams;
  paused: boolean;
  vaultCashD18: bigint;
  insuranceFundD18: bigint;
  totalReservedD18: bigint;
  markets: Map<number, MarketSnapshot>;
  /** The portfolio risk model's state, when the engine has one (needed for portfolio accounts' margins). */
  portfolio?: PortfolioState;
}

/** Addresses a client binds to. */
export interface BulkheadAddresses {
  engine: string;
  vault: string;
  token: string;
}

/** An LP's ERC-7540 requests (`BulkheadClient.vaultRequests`). Times in seconds; 0 when there is no request. */
export interface VaultRequests {
  /** Assets (token units) waiting for settlement; settleable from `readyAt`, refunded after `expiresAt`. */
  pendingDeposit: { assets: bigint; readyAt: bigint; expiresAt: bigint };
  /** Shares waiting for settlement (locked in the vault). */
  pendingRedeem: { shares: bigint; readyAt: bigint; expiresAt: bigint };
  /** Shares the LP's settled deposits left to claim (`deposit`/`mint`). */
  claimableDepositShares: bigint;
  /** Assets (token units) the LP's settled redemptions left to claim (`redeem`/`withdraw`). */
  claimableRedeemAssets: bigint;
}
