/**
 * Off-chain previews of deposit, withdraw, transferMargin, trade and openIsolated, computed from a snapshot with
 * sdk/math by replaying the engine's code paths step by step (`MarginEngine._trade` → `EngineBase._fill`
 * (accrue funding, `_quote`, `_applyFill`, `_updateReserve`) → slippage → `_settle` → `_checkCapacity` → margin
 * rule / `_checkReduce`). Positions are marked at their exit fill (see `math.marginSummary`); an account without
 * positions has an infinite health factor, reported as `math.MAX_UINT256` (2^256 - 1) like the chain's
 * `type(uint256).max`.
 * Each preview reports the account before and after, the fill and fee, and whether the engine would accept it
 * (with the custom error it would revert with otherwise, checked in the contract's order).
 *
 * `now` is the timestamp of the block the transaction will be mined in (default: the snapshot's timestamp,
 * which is exact only if the transaction lands in a block with that timestamp, e.g. via setNextBlockTimestamp).
 */
import * as math from "./math.js";
import * as portfolio from "./portfolio.js";
import { AccountMode } from "./types.js";
import type {
  AccountSnapshot,
  MarginSummary,
  MarketSnapshot,
  PositionInfo,
  ProtocolSnapshot,
} from "./types.js";

/** The custom error the engine would revert with (addresses as checksummed strings, numbers as bigints). */
export interface PreviewError {
  name: string;
  args: (bigint | string)[];
}

export class PreviewRevert extends Error {
  constructor(
    readonly errorName: string,
    readonly args: (bigint | string)[] = [],
  ) {
    super(`${errorName}(${args.join(", ")})`);
  }
}

/**
 * The wallet that would send the action, and whether the engine lets it act on the account:
 * `IMarginEngine.isAuthorized(accountId, address)`, true for the owner and for an operator the owner approved
 * over all its accounts (`setOperator`) or over this one (`setAccountOperator`). `BulkheadClient.senderFor` reads
 * it. A preview given a sender that is not authorized predicts `Unauthorized(sender, accountId)`, as the engine
 * checks it before anything else; without a sender (unknown, e.g. a read-only client) the check is skipped.
 */
export interface Sender {
  address: string;
  authorized: boolean;
}

/** EngineBase._authorizedAccount's check, for a known sender. */
function requireAuthorized(sender: Sender | undefined, accountId: bigint): void {
  if (sender !== undefined && !sender.authorized) {
    throw new PreviewRevert("Unauthorized", [sender.address, accountId]);
  }
}

/**
 * An account's risk picture: its summary, health factor (D18; `math.MAX_UINT256` = 2^256 - 1 for infinite, i.e.
 * no maintenance margin) and each position's liquidation price (D18, 0 when none).
 */
export interface AccountRisk {
  collateralD18: bigint;
  summary: MarginSummary;
  healthFactorD18: bigint;
  liquidatable: boolean;
  positions: (PositionInfo & { liquidationPriceD18: bigint })[];
}

export interface Preview {
  before: AccountRisk;
  /** The account after the action; equal to `before` when not allowed. */
  after: AccountRisk;
  allowed: boolean;
  /** Name of the custom error the engine would revert with. */
  reason?: string;
  error?: PreviewError;
  /** The error in words, as `decodeError` words a revert (set by `BulkheadClient`'s previews). */
  message?: string;
  fillPriceD18?: bigint;
  feeD18?: bigint;
  /** The insurance fund's share of the fee. */
  feeToInsuranceD18?: bigint;
  /** Trades: the realised PnL and the settled funding (D18, > 0 paid by the account). */
  realisedPnlD18?: bigint;
  fundingPaidD18?: bigint;
  /** The state the action leaves behind (for chaining previews); undefined when not allowed. */
  result?: { snapshot: ProtocolSnapshot; account: AccountSnapshot; others?: AccountSnapshot[] };
}

/* ------------------------------------------------------------------------------------------------------------
                                                   STATE
   ------------------------------------------------------------------------------------------------------------ */

function cloneMarkets(markets: Map<number, MarketSnapshot>): Map<number, MarketSnapshot> {
  const out = new Map<number, MarketSnapshot>();
  for (const [id, m] of markets) out.set(id, { ...m, params: { ...m.params }, state: { ...m.state } });
  return out;
}

function cloneSnapshot(s: ProtocolSnapshot): ProtocolSnapshot {
  return { ...s, risk: { ...s.risk }, markets: cloneMarkets(s.markets) };
}

function cloneAccount(a: AccountSnapshot): AccountSnapshot {
  return { accountId: a.accountId, info: { ...a.info }, positions: a.positions.map((p) => ({ ...p })) };
}

/**
 * `EngineBase._summaryAt` at `now` under the snapshot's markets: a portfolio account's IM and MM come from the risk
 * model in the snapshot (`snapshot.portfolio`), as `PortfolioMargin.margins` computes them for the engine.
 */
function summaryOf(snap: ProtocolSnapshot, a: AccountSnapshot, now: bigint): MarginSummary {
  return math.marginSummary(a.info, a.positions, snap.markets, now, portfolioMarginsOf(snap, now));
}

function portfolioMarginsOf(snap: ProtocolSnapshot, now: bigint): math.PortfolioMargins | undefined {
  const state = snap.portfolio;
  return state && ((legs) => portfolio.portfolioRequirement(state, legs, now));
}

/**
 * The account's risk picture at `now` under the snapshot's markets. A portfolio account's positions have no
 * single-market liquidation price (the engine's `liquidationPrice` refuses them): reported as 0.
 */
export function accountRisk(snapshot: ProtocolSnapshot, account: AccountSnapshot, now: bigint): AccountRisk {
  const summary = summaryOf(snapshot, account, now);
  const inPortfolio = account.info.mode === AccountMode.Portfolio;
  return {
    collateralD18: account.info.collateralD18,
    summary,
    healthFactorD18: math.healthFactor(summary),
    liquidatable: math.isLiquidatable(summary),
    positions: account.positions.map((p) => {
      const m = snapshot.markets.get(p.marketId);
      if (!m) throw new Error(`market ${p.marketId} missing from the snapshot`);
      return { ...p, liquidationPriceD18: inPortfolio ? 0n : math.liquidationPrice(summary, p, m) };
    }),
  };
}

const INT96_MAX = 2n ** 95n - 1n;
const INT96_MIN = -(2n ** 95n);

/** MarginEngine._requireInitialMargin. */
function requireInitialMargin(snap: ProtocolSnapshot, a: AccountSnapshot, now: bigint): void {
  if (a.positions.length === 0) return;
  const s = summaryOf(snap, a, now);
  if (s.equityD18 < s.initialMarginD18)
    throw new PreviewRevert("InsufficientMargin", [s.equityD18, s.initialMarginD18]);
}

/** MarginEngine._debit. */
function debit(a: AccountSnapshot, amountD18: bigint): void {
  if (a.info.collateralD18 < amountD18) {
    throw new PreviewRevert("InsufficientCollateral", [a.info.collateralD18, amountD18]);
  }
  a.info.collateralD18 -= amountD18;
}

/**
 * EngineBase._settle on `snap` and `a` in place: `pnlD18` is the account's netted result (realised PnL minus
 * funding over every leg of the action) and `feeD18` its trading fees. The fee is paid first (the insurance
 * fund's share rounds down); then a loss, or a profit the vault's cash covers, moves between account and vault
 * whatever the cash; only a profit beyond the vault's cash takes the shortfall path: the vault pays the cash it
 * has (never below zero), the insurance fund the rest up to its balance, and the remainder is forfeited.
 * Returns the insurance fund's share of the fee; `shortfall` (if given) receives the ProfitShortfall figures.
 */
export function settle(
  snap: ProtocolSnapshot,
  a: AccountSnapshot,
  pnlD18: bigint,
  feeD18: bigint,
  shortfall?: { fromVaultD18: bigint; fromInsuranceD18: bigint; haircutD18: bigint }[],
): bigint {
  const feeToInsurance = feeD18 !== 0n ? math.mulDown(feeD18, snap.risk.insuranceFeeShareD18) : 0n;
  const cash = snap.vaultCashD18 + (feeD18 - feeToInsurance);
  let insurance = snap.insuranceFundD18 + feeToInsurance;
  let credited = pnlD18;
  let fromCash = pnlD18;
  if (pnlD18 > 0n && pnlD18 > cash) {
    const fromVault = cash > 0n ? cash : 0n;
    const rest = pnlD18 - fromVault;
    const fromInsurance = rest < insurance ? rest : insurance;
    insurance -= fromInsurance;
    credited = fromVault + fromInsurance;
    fromCash = fromVault;
    shortfall?.push({
      fromVaultD18: fromVault,
      fromInsuranceD18: fromInsurance,
      haircutD18: rest - fromInsurance,
    });
  }
  a.info.collateralD18 += credited - feeD18;
  snap.vaultCashD18 = cash - fromCash;
  snap.insuranceFundD18 = insurance;
  return feeToInsurance;
}

/** The outcome of EngineBase._fill on a snapshot. */
export interface FillResult {
  fill: bigint;
  fee: bigint;
  funding: bigint;
  realisedPnlD18: bigint;
  newSize: bigint;
  indexD18: bigint;
}

/**
 * EngineBase._fill replayed on `snap` and `a` in place: accrues the market's funding to `now`, prices the change
 * like a trade (fill with skew impact at the current skew, maker/taker fee), moves the position and the market
 * aggregates (`_applyFill`), and refreshes the reserve. Settles no money (see `settle`).
 */
export function applyFill(
  snap: ProtocolSnapshot,
  a: AccountSnapshot,
  marketId: number,
  sizeDeltaD18: bigint,
  now: bigint,
): FillResult {
  const m = snap.markets.get(marketId);
  if (!m) throw new PreviewRevert("UnknownMarket", [BigInt(marketId)]);
  const idx = a.positions.findIndex((p) => p.marketId === marketId);
  const old: PositionInfo =
    idx >= 0 ? a.positions[idx] : { marketId, sizeD18: 0n, basisD18: 0n, lastFundingIndexD18: 0n };
  const oldSize = old.sizeD18;
  // _fill: accrue funding, price the change like a trade (fill with skew impact, maker/taker fee) ...
  const price = m.priceD18;
  const { rateD18, indexD18 } = math.pendingFunding(m.state, m.params, price, now);
  m.state.fundingRateD18 = rateD18;
  m.state.fundingIndexD18 = indexD18;
  m.state.lastFundingTime = now;
  const { fillPriceD18: fill, feeD18: fee } = math.quoteTrade(m, sizeDeltaD18);

  // ... then _applyFill: move the position and the market aggregates.
  const newSize = oldSize + sizeDeltaD18;
  if (newSize > INT96_MAX || newSize < INT96_MIN) throw new PreviewRevert("InvalidSize", [sizeDeltaD18]);
  const funding = math.fundingOwed(oldSize, indexD18, old.lastFundingIndexD18);
  const { newBasisD18, realisedPnlD18 } = math.rebase(oldSize, old.basisD18, sizeDeltaD18, fill);
  m.state.netBasisD18 += newBasisD18 - old.basisD18;
  // EngineBase._toCheckpointD9: the stored checkpoint is the index in D9, rounded against the position.
  const checkpointD18 = newSize === 0n ? 0n : math.fundingCheckpoint(newSize, indexD18);
  m.state.netFundingBasisD18 +=
    math.fundingBasis(newSize, checkpointD18) - math.fundingBasis(oldSize, old.lastFundingIndexD18);
  if (oldSize > 0n) m.state.longOiD18 -= oldSize;
  else m.state.shortOiD18 -= -oldSize;
  if (newSize > 0n) m.state.longOiD18 += newSize;
  else m.state.shortOiD18 += -newSize;

  if (newSize === 0n) {
    // _removeMarket: the last entry moves into the freed slot.
    const last = a.positions.length - 1;
    a.positions[idx] = a.positions[last];
    a.positions.pop();
    a.info.positionCount -= 1;
  } else {
    const updated = { marketId, sizeD18: newSize, basisD18: newBasisD18, lastFundingIndexD18: checkpointD18 };
    if (oldSize === 0n) {
      if (!a.info.isolated && BigInt(a.positions.length) >= snap.risk.maxPositionsPerAccount) {
        throw new PreviewRevert("TooManyPositions", [snap.risk.maxPositionsPerAccount]);
      }
      a.positions.push(updated);
      a.info.positionCount += 1;
    } else {
      a.positions[idx] = updated;
    }
  }

  // _fill's last step, _updateReserve (whole USD, reported in D18).
  const reserved = math.marketReserve(m);
  snap.totalReservedD18 = snap.totalReservedD18 + reserved - m.state.reservedD18;
  m.state.reservedD18 = reserved;
  return { fill, fee, funding, realisedPnlD18, newSize, indexD18 };
}

/** The outcome of one simulated trade (mutates `snap` and `a`). */
export interface TradeExecution {
  oraclePriceD18: bigint;
  fillPriceD18: bigint;
  feeD18: bigint;
  newSizeD18: bigint;
  realisedPnlD18: bigint;
  fundingPaidD18: bigint;
  fundingIndexD18: bigint;
  /** The insurance fund's share of the fee (PositionModified.feeToInsuranceD18). */
  feeToInsuranceD18: bigint;
}

/**
 * MarginEngine._trade (an order's settlement) replayed on `snap` and `a` in place, at block time `now`, at the
 * market's `priceD18` in `snap` (the settlement price), with the keeper's `rewardD18` taken from the account. Throws PreviewRevert with the
 * engine's custom error, in the engine's order of checks.
 */
export function applyTrade(
  snap: ProtocolSnapshot,
  a: AccountSnapshot,
  marketId: number,
  sizeDeltaD18: bigint,
  acceptablePriceD18: bigint,
  now: bigint,
  rewardD18 = 0n,
): TradeExecution {
  const m = snap.markets.get(marketId);
  if (!m) throw new PreviewRevert("UnknownMarket", [BigInt(marketId)]);
  if (a.info.isolated && a.info.marketId !== marketId)
    throw new PreviewRevert("WrongAccountMode", [a.accountId]);
  if (sizeDeltaD18 === 0n || sizeDeltaD18 > INT96_MAX || sizeDeltaD18 < INT96_MIN) {
    throw new PreviewRevert("InvalidSize", [sizeDeltaD18]);
  }

  const idx = a.positions.findIndex((p) => p.marketId === marketId);
  const old: PositionInfo =
    idx >= 0 ? a.positions[idx] : { marketId, sizeD18: 0n, basisD18: 0n, lastFundingIndexD18: 0n };
  const oldSize = old.sizeD18;
  let increasesRisk =
    oldSize === 0n || oldSize > 0n === sizeDeltaD18 > 0n || math.abs(sizeDeltaD18) > math.abs(oldSize);
  if (increasesRisk && snap.paused) throw new PreviewRevert("EnforcedPause");

  const price = m.priceD18;
  const { fill, fee, funding, realisedPnlD18, newSize, indexD18 } = applyFill(
    snap,
    a,
    marketId,
    sizeDeltaD18,
    now,
  );

  // Slippage, checked on the fill after it is applied (the transaction reverts as a whole).
  if (fill === 0n || (sizeDeltaD18 > 0n ? fill > acceptablePriceD18 : fill < acceptablePriceD18)) {
    throw new PreviewRevert("SlippageExceeded", [fill, acceptablePriceD18]);
  }

  // _settle: the fee first, then the solvency order.
  const toInsuranceD18 = settle(snap, a, realisedPnlD18 - funding, fee);
  // The settling keeper's reward, taken from the account's collateral.
  a.info.collateralD18 -= rewardD18;

  // _checkCapacity.
  if (increasesRisk) {
    const cap = m.params.maxOiPerSideD18;
    const oi = newSize > 0n ? m.state.longOiD18 : m.state.shortOiD18;
    if (oi > cap) throw new PreviewRevert("OpenInterestCapExceeded", [BigInt(marketId), oi, cap]);
    if (snap.totalReservedD18 > snap.vaultCashD18) {
      throw new PreviewRevert("VaultCapacityExceeded", [snap.totalReservedD18, snap.vaultCashD18]);
    }
  }

  // The margin rule.
  const s = summaryOf(snap, a, now);
  // Maintenance margin before the trade at the same prices, for a reducing trade.
  let mmBefore = 0n;
  if (!increasesRisk) {
    const margins = portfolioMarginsOf(snap, now);
    if (a.info.mode === AccountMode.Portfolio && margins !== undefined) {
      // In a portfolio a smaller position can add risk (one leg of a hedge closed): risk-increasing unless the
      // portfolio's MM does not rise.
      const legs = math.portfolioLegs(a.positions, snap.markets, {
        marketId,
        sizeD18: oldSize,
        priceD18: price,
      });
      mmBefore = margins(legs).mmD18;
      if (s.maintenanceMarginD18 > mmBefore) {
        if (snap.paused) throw new PreviewRevert("EnforcedPause");
        increasesRisk = true;
      }
    } else if (s.equityD18 < s.maintenanceMarginD18) {
      // Cross and isolated: only this position's MM changed.
      const mmOld = math.positionMargins(m.params, oldSize, price, m.state).mmD18;
      const mmNew = newSize !== 0n ? math.positionMargins(m.params, newSize, price, m.state).mmD18 : 0n;
      mmBefore = s.maintenanceMarginD18 + mmOld - mmNew;
    }
  }
  if (increasesRisk) {
    if (s.equityD18 < s.initialMarginD18)
      throw new PreviewRevert("InsufficientMargin", [s.equityD18, s.initialMarginD18]);
  } else if (s.equityD18 < s.maintenanceMarginD18) {
    // _checkReduce: the account before the trade, at the same oracle price. Positions are marked at their exit
    // fill, so the reduce changed equity by its fee only.
    const equityBefore = s.equityD18 + fee + rewardD18;
    const wasHealthy = equityBefore >= mmBefore;
    if (wasHealthy || s.equityD18 < 0n) {
      throw new PreviewRevert("WouldBeLiquidatable", [s.equityD18, s.maintenanceMarginD18]);
    }
  }
  return {
    oraclePriceD18: price,
    fillPriceD18: fill,
    feeD18: fee,
    newSizeD18: newSize,
    realisedPnlD18,
    fundingPaidD18: funding,
    fundingIndexD18: indexD18,
    feeToInsuranceD18: toInsuranceD18,
  };
}

/* ------------------------------------------------------------------------------------------------------------
                                                  PREVIEWS
   ------------------------------------------------------------------------------------------------------------ */

function run(
  snapshot: ProtocolSnapshot,
  account: AccountSnapshot,
  now: bigint,
  action: (snap: ProtocolSnapshot, a: AccountSnapshot) => Partial<Preview> & { others?: AccountSnapshot[] },
): Preview {
  const before = accountRisk(snapshot, account, now);
  const snap = cloneSnapshot(snapshot);
  const a = cloneAccount(account);
  try {
    const extra = action(snap, a);
    const { others, ...rest } = extra;
    return {
      ...rest,
      before,
      after: accountRisk(snap, a, now),
      allowed: true,
      result: { snapshot: { ...snap, timestamp: now }, account: a, others },
    };
  } catch (e) {
    if (!(e instanceof PreviewRevert)) throw e;
    return {
      before,
      after: before,
      allowed: false,
      reason: e.errorName,
      error: { name: e.errorName, args: e.args },
    };
  }
}

/** deposit(accountId, amount): anyone may add `amount` token units. */
export function previewDeposit(
  snapshot: ProtocolSnapshot,
  account: AccountSnapshot,
  amount: bigint,
  now: bigint = snapshot.timestamp,
): Preview {
  return run(snapshot, account, now, (_snap, a) => {
    if (amount === 0n) throw new PreviewRevert("ZeroAmount");
    a.info.collateralD18 += amount * snapshot.tokenScale;
    return {};
  });
}

/**
 * withdraw(accountId, amount, receiver): `amount` token units; IM must hold afterwards if positions are open.
 * `sender`: the withdrawing wallet, if known (see `Sender`).
 */
export function previewWithdraw(
  snapshot: ProtocolSnapshot,
  account: AccountSnapshot,
  amount: bigint,
  now: bigint = snapshot.timestamp,
  sender?: Sender,
): Preview {
  return run(snapshot, account, now, (snap, a) => {
    requireAuthorized(sender, account.accountId);
    if (amount === 0n) throw new PreviewRevert("ZeroAmount");
    debit(a, amount * snapshot.tokenScale);
    requireInitialMargin(snap, a, now);
    return {};
  });
}

/**
 * transferMargin(from, to, amountD18): previewed for the source account; the destination is in `result.others`.
 * `sender`: the sending wallet, if known; it must be authorized on the source account (see `Sender`).
 */
export function previewTransferMargin(
  snapshot: ProtocolSnapshot,
  from: AccountSnapshot,
  to: AccountSnapshot,
  amountD18: bigint,
  now: bigint = snapshot.timestamp,
  sender?: Sender,
): Preview {
  return run(snapshot, from, now, (snap, a) => {
    requireAuthorized(sender, from.accountId);
    if (from.accountId === to.accountId || from.info.owner.toLowerCase() !== to.info.owner.toLowerCase()) {
      throw new PreviewRevert("InvalidTransfer", [from.accountId, to.accountId]);
    }
    if (amountD18 === 0n) throw new PreviewRevert("ZeroAmount");
    debit(a, amountD18);
    const dest = cloneAccount(to);
    dest.info.collateralD18 += amountD18;
    requireInitialMargin(snap, a, now);
    return { others: [dest] };
  });
}

/**
 * trade(accountId, marketId, sizeDelta, acceptablePrice). Without `acceptablePriceD18` the slippage check is
 * skipped (as with an unbounded price). `sender`: the committing wallet, if known (see `Sender`).
 */
export function previewTrade(
  snapshot: ProtocolSnapshot,
  account: AccountSnapshot,
  marketId: number,
  sizeDeltaD18: bigint,
  acceptablePriceD18?: bigint,
  now: bigint = snapshot.timestamp,
  sender?: Sender,
): Preview {
  const bound = acceptablePriceD18 ?? (sizeDeltaD18 > 0n ? math.MAX_UINT256 : 0n);
  return run(snapshot, account, now, (snap, a) => {
    requireAuthorized(sender, account.accountId);
    const e = applyTrade(snap, a, marketId, sizeDeltaD18, bound, now);
    return {
      fillPriceD18: e.fillPriceD18,
      feeD18: e.feeD18,
      feeToInsuranceD18: e.feeToInsuranceD18,
      realisedPnlD18: e.realisedPnlD18,
      fundingPaidD18: e.fundingPaidD18,
    };
  });
}

/**
 * settleOrder: the pending order of `account` on `marketId` settled at `settlementPriceD18` (the pull-oracle
 * price, which may differ from the snapshot's mark price) at block time `now`, paying `rewardD18` (whole token
 * units, see `settlementReward`) to the keeper. The mark price of every other market stays the snapshot's.
 * `committer`: for an order not committed yet, the wallet that would commit it, if known: `commitOrder` refuses
 * one that is neither the owner nor an operator (see `Sender`). Settling itself is open to anyone.
 */
export function previewSettlement(
  snapshot: ProtocolSnapshot,
  account: AccountSnapshot,
  marketId: number,
  order: { sizeDeltaD18: bigint; acceptablePriceD18: bigint },
  settlementPriceD18: bigint,
  rewardD18: bigint,
  now: bigint = snapshot.timestamp,
  committer?: Sender,
): Preview {
  const atSettlement = cloneSnapshot(snapshot);
  const m = atSettlement.markets.get(marketId);
  if (m) atSettlement.markets.set(marketId, { ...m, priceD18: settlementPriceD18 });
  return run(atSettlement, account, now, (snap, a) => {
    requireAuthorized(committer, account.accountId);
    const e = applyTrade(snap, a, marketId, order.sizeDeltaD18, order.acceptablePriceD18, now, rewardD18);
    return {
      fillPriceD18: e.fillPriceD18,
      feeD18: e.feeD18,
      feeToInsuranceD18: e.feeToInsuranceD18,
      realisedPnlD18: e.realisedPnlD18,
      fundingPaidD18: e.fundingPaidD18,
    };
  });
}

/**
 * The reward a settlement pays, in whole token units (rounded down), as D18: the order's reward, fixed when it was
 * committed (`OrderInfo.settlementRewardD18`; governance's reward at commit, which a commit refuses above its
 * budget). `maxRewardD18` caps it, for a reward read from governance before committing with a budget.
 */
export function settlementReward(
  settlementRewardD18: bigint,
  maxRewardD18: bigint,
  tokenScale: bigint,
): bigint {
  const reward = settlementRewardD18 < maxRewardD18 ? settlementRewardD18 : maxRewardD18;
  return (reward / tokenScale) * tokenScale;
}

/**
 * commitIsolatedOrder(marketId, sourceAccountId, margin, sizeDelta, acceptablePrice, budget) and the order's
 * settlement, as one action at block time `now` (the settlement's). `source` is the cross account funding it
 * (undefined: the wallet). The order settles at `settlementPriceD18` (default: the snapshot's mark price) and
 * pays the keeper `rewardD18` (default 0; see `settlementReward`). The preview's before/after describe the new
 * isolated account (`newAccountId`, default accountCount + 1 unknown off-chain, so pass it when it matters);
 * `result.others` holds the source. `sender`: the committing wallet, if known; with a `source` it must be
 * authorized on it (see `Sender`); from the wallet anyone may open one.
 */
export function previewOpenIsolated(
  snapshot: ProtocolSnapshot,
  owner: string,
  marketId: number,
  margin: bigint,
  sizeDeltaD18: bigint,
  opts: {
    source?: AccountSnapshot;
    acceptablePriceD18?: bigint;
    newAccountId?: bigint;
    now?: bigint;
    settlementPriceD18?: bigint;
    rewardD18?: bigint;
    sender?: Sender;
  } = {},
): Preview {
  const now = opts.now ?? snapshot.timestamp;
  const atSettlement = cloneSnapshot(snapshot);
  const market = atSettlement.markets.get(marketId);
  if (market && opts.settlementPriceD18 !== undefined) {
    atSettlement.markets.set(marketId, { ...market, priceD18: opts.settlementPriceD18 });
  }
  const fresh: AccountSnapshot = {
    accountId: opts.newAccountId ?? 0n,
    info: {
      owner: opts.source?.info.owner ?? owner,
      isolated: true,
      marketId,
      positionCount: 0,
      collateralD18: 0n,
      mode: AccountMode.Isolated,
    },
    positions: [],
  };
  const bound = opts.acceptablePriceD18 ?? (sizeDeltaD18 > 0n ? math.MAX_UINT256 : 0n);
  return run(atSettlement, fresh, now, (snap, a) => {
    if (!snap.markets.has(marketId)) throw new PreviewRevert("UnknownMarket", [BigInt(marketId)]);
    if (margin === 0n) throw new PreviewRevert("ZeroAmount");
    const marginD18 = margin * snapshot.tokenScale;
    const others: AccountSnapshot[] = [];
    if (opts.source) {
      requireAuthorized(opts.sender, opts.source.accountId);
      if (opts.source.info.isolated) throw new PreviewRevert("WrongAccountMode", [opts.source.accountId]);
      const src = cloneAccount(opts.source);
      debit(src, marginD18);
      // Checked at commit, at the mark prices.
      requireInitialMargin(snapshot, src, now);
      others.push(src);
    }
    a.info.collateralD18 = marginD18;
    const e = applyTrade(snap, a, marketId, sizeDeltaD18, bound, now, opts.rewardD18 ?? 0n);
    return {
      fillPriceD18: e.fillPriceD18,
      feeD18: e.feeD18,
      feeToInsuranceD18: e.feeToInsuranceD18,
      realisedPnlD18: e.realisedPnlD18,
      fundingPaidD18: e.fundingPaidD18,
      others,
    };
  });
}

/** One leg of a previewed liquidation (ILiquidation.PositionLiquidated). */
export interface LiquidatedLeg {
  marketId: number;
  closedSizeD18: bigint;
  /** The fill the close executes at (oracle with the close's skew impact). */
  priceD18: bigint;
  realisedPnlD18: bigint;
  fundingPaidD18: bigint;
  tradingFeeD18: bigint;
}

/** What `liquidate(accountId, receiver)` would do, replayed off-chain. */
export interface LiquidationPreview {
  plan: math.LiquidationPlan;
  /** Legs in execution order (the account's positions backwards). */
  legs: LiquidatedLeg[];
  /** The netted ProfitShortfall of the legs, if their net profit exceeded the vault's cash. */
  shortfall?: { fromVaultD18: bigint; fromInsuranceD18: bigint; haircutD18: bigint };
  /** BadDebt, when the account ends with no position and negative collateral. */
  badDebt?: { coveredByInsuranceD18: bigint; socialisedD18: bigint };
  /** The protocol and the account after the liquidation (the reward has left the engine). */
  result: { snapshot: ProtocolSnapshot; account: AccountSnapshot };
}

/**
 * LiquidationModule._liquidate replayed on a snapshot at block time `now` (default: the snapshot's): the plan
 * (`math.liquidationPlan`), every position closed by the plan's fraction like a trade (`applyFill`, backwards as
 * the engine does), the legs' results netted and settled once (`settle`: trading fees first, then the solvency
 * order), then the liquidation charge max(fee, reward) with charge - reward to the insurance fund, then bad debt
 * (insurance first, the vault absorbs the rest). Throws PreviewRevert("NotLiquidatable") like the engine.
 */
export function previewLiquidation(
  snapshot: ProtocolSnapshot,
  account: AccountSnapshot,
  now: bigint = snapshot.timestamp,
): LiquidationPreview {
  const plan = math.liquidationPlan(
    account.info,
    account.positions,
    snapshot.markets,
    snapshot.risk,
    snapshot.tokenScale,
    now,
  );
  if (!plan.liquidatable) throw new PreviewRevert("NotLiquidatable", [account.accountId]);
  const snap = cloneSnapshot(snapshot);
  const a = cloneAccount(account);
  const legs: LiquidatedLeg[] = [];
  let pnl = 0n;
  let tradingFees = 0n;
  for (let i = a.positions.length; i > 0; --i) {
    const p = a.positions[i - 1];
    const closeSize = math.fractionOf(p.sizeD18, plan.fractionD18);
    const f = applyFill(snap, a, p.marketId, -closeSize, now);
    pnl += f.realisedPnlD18 - f.funding;
    tradingFees += f.fee;
    legs.push({
      marketId: p.marketId,
      closedSizeD18: closeSize,
      priceD18: f.fill,
      realisedPnlD18: f.realisedPnlD18,
      fundingPaidD18: f.funding,
      tradingFeeD18: f.fee,
    });
  }
  const shortfalls: { fromVaultD18: bigint; fromInsuranceD18: bigint; haircutD18: bigint }[] = [];
  settle(snap, a, pnl, tradingFees, shortfalls);
  a.info.collateralD18 -= plan.chargeD18;
  snap.insuranceFundD18 += plan.toInsuranceD18;
  let badDebt: LiquidationPreview["badDebt"];
  if (a.positions.length === 0 && a.info.collateralD18 < 0n) {
    const deficit = -a.info.collateralD18;
    const covered = deficit < snap.insuranceFundD18 ? deficit : snap.insuranceFundD18;
    snap.insuranceFundD18 -= covered;
    snap.vaultCashD18 -= deficit - covered;
    a.info.collateralD18 = 0n;
    badDebt = { coveredByInsuranceD18: covered, socialisedD18: deficit - covered };
  }
  return {
    plan,
    legs,
    shortfall: shortfalls[0],
    badDebt,
    result: { snapshot: { ...snap, timestamp: now }, account: a },
  };
}
