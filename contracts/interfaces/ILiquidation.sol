// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "./IMarginEngine.sol";
import {IOrders} from "./IOrders.sol";

/// @title ILiquidation
/// @notice Permissionless liquidation of unhealthy accounts, bad-debt handling through the insurance fund and
///         the vault, and auto-deleveraging. Implemented by the margin engine.
/// @dev Liquidation closes positions exactly as a trade would (exit fill with skew impact, maker/taker fee) and
///      charges the liquidation fee on top, out of which the keeper is paid:
///      reward = min(flatKeeperReward + liquidationFee x keeperShare, maxKeeperReward) in whole token units (on a
///      full close also at most max(equity left after trading fees, flatKeeperReward)), and the account is charged
///      max(liquidationFee, reward), the rest going to the insurance fund. So owner and keeper together never get
///      more than a close by trade would return, at any size and skew, but for the flat reward on an account
///      whose equity no longer covered it (a keeper must be paid to close a bankrupt account). It never calls the
///      account owner and never transfers tokens to it; the only transfer is the keeper reward to the receiver
///      the keeper names.
interface ILiquidation {
    /// @notice What liquidating one account would do now.
    /// @param liquidatable Whether equity < maintenance margin (false also when a price is unavailable).
    /// @param partial_ Whether only part of the positions would be closed.
    /// @param closeFractionD18 Fraction of every position that would be closed (1e18 = all).
    /// @param closedNotionalD18 Notional that would be closed.
    /// @param keeperRewardD18 Reward the keeper would receive.
    struct LiquidationQuote {
        bool liquidatable;
        bool partial_;
        uint256 closeFractionD18;
        uint256 closedNotionalD18;
        uint256 keeperRewardD18;
    }

    /// @notice Emitted once per liquidation of an account.
    /// @param closedNotionalD18 Notional closed, at the oracle price.
    /// @param feeD18 Liquidation charge to the account, max(liquidation fee, keeper reward), on top of trading fees.
    /// @param keeperRewardD18 Paid to `rewardReceiver`.
    /// @param toInsuranceD18 Fee minus reward, credited to the insurance fund.
    event Liquidated(
        uint256 indexed accountId,
        address indexed keeper,
        address rewardReceiver,
        bool partial_,
        uint256 closedNotionalD18,
        uint256 feeD18,
        uint256 keeperRewardD18,
        uint256 toInsuranceD18
    );
    /// @notice Emitted for every position (fully or partly) closed by a liquidation.
    /// @param priceD18 The fill the close executed at (oracle with skew impact).
    /// @param tradingFeeD18 The maker/taker fee of the close, as a trade would pay it.
    event PositionLiquidated(
        uint256 indexed accountId,
        uint32 indexed marketId,
        int256 closedSizeD18,
        uint256 priceD18,
        int256 realisedPnlD18,
        int256 fundingPaidD18,
        uint256 tradingFeeD18
    );
    /// @notice Emitted when an account ends a liquidation with negative collateral.
    /// @param coveredByInsuranceD18 Paid by the insurance fund.
    /// @param socialisedD18 What the insurance fund could not pay, absorbed by the liquidity vault.
    event BadDebt(uint256 indexed accountId, uint256 coveredByInsuranceD18, uint256 socialisedD18);
    /// @notice Emitted when a profitable position is auto-deleveraged.
    event AutoDeleveraged(
        uint256 indexed accountId,
        uint32 indexed marketId,
        address indexed caller,
        int256 closedSizeD18,
        uint256 priceD18,
        int256 realisedPnlD18
    );

    /// @notice Thrown when the account is not liquidatable.
    error NotLiquidatable(uint256 accountId);
    /// @notice Thrown when ADL is called while the market's trader profit is under the trigger.
    error AdlNotTriggered(uint32 marketId, int256 tradersPnlD18, int256 triggerD18);
    /// @notice Thrown when an internal batch entry point is called from outside.
    error OnlySelf();
    /// @notice Thrown when ADL targets a position that is not in profit.
    error PositionNotProfitable(uint256 accountId, uint32 marketId);
    /// @notice Thrown when ADL targets a position whose profit is below `adlMinShare` of the market's traders'
    ///         net profit: bystanders are never deleveraged ahead of the positions that carry the excess.
    error AdlNotEligible(uint256 accountId, uint32 marketId, int256 profitD18, int256 minProfitD18);

    /// @notice Liquidates `accountId` (fully or partially) and pays the keeper reward to `rewardReceiver`.
    /// @return rewardD18 The keeper reward paid.
    function liquidate(uint256 accountId, address rewardReceiver) external returns (uint256 rewardD18);

    /// @notice Liquidates every liquidatable account in `accountIds`, skipping the others (healthy, unknown,
    ///         already liquidated in this batch, or without a valid price), and pays the summed reward once.
    /// @return liquidated How many accounts were liquidated.
    /// @return rewardD18 The summed keeper reward paid.
    function liquidateBatch(
        uint256[] calldata accountIds,
        address rewardReceiver
    ) external returns (uint256 liquidated, uint256 rewardD18);

    /// @notice Reduces a profitable position in `marketId` at its exit fill (with skew impact), without trading fee
    ///         (it is a forced close), by no more than the share needed to bring traders' unrealised profit in that
    ///         market back to the ADL target. Only positions whose profit (net of funding) is at least `adlMinShare`
    ///         of the market's traders' net profit are eligible. A deficit left behind (an insolvent account
    ///         with no position left) is settled like liquidation's: insurance fund, then socialised (`BadDebt`).
    /// @return closedSizeD18 The size closed (same sign as the position).
    function autoDeleverage(uint256 accountId, uint32 marketId) external returns (int256 closedSizeD18);

    /*//////////////////////////////////////////////////////////////
               VIEWS (served by the liquidation module)
    //////////////////////////////////////////////////////////////*/
    // The engine's read-only state that no contract reads on-chain: served by the module so that the engine keeps
    // its EIP-170 headroom. Integrators see no difference at the engine's address (`IBulkhead`).

    /// @notice Whether `caller` may trade, withdraw and move margin for the account.
    function isAuthorized(uint256 accountId, address caller) external view returns (bool);

    /// @notice The account's static data and realised collateral.
    function getAccount(uint256 accountId) external view returns (IMarginEngine.AccountInfo memory);

    /// @notice The quote of a trade at current price and skew.
    function quoteTrade(
        uint32 marketId,
        int256 sizeDeltaD18
    ) external view returns (IMarginEngine.TradeQuote memory);

    /// @notice Funding rate (per day) and index as if accrued to now at the current oracle price.
    function currentFunding(uint32 marketId) external view returns (int256 rateD18, int256 indexD18);

    /// @notice Number of listed markets; ids run from 1 to this.
    function marketCount() external view returns (uint32);

    /// @notice Number of accounts created; ids run from 1 to this.
    function accountCount() external view returns (uint256);

    /// @notice The insurance fund's balance.
    function insuranceFund() external view returns (uint256);

    /// @notice Net PnL of all traders against the vault in one market, at the current price and accrued funding:
    ///         unrealised PnL minus funding owed. Computed from aggregates in O(1).
    function tradersNetPnl(uint32 marketId) external view returns (int256);

    /// @notice The pending order of an account on a market (`commitTime` 0 if none).
    function getOrder(uint256 accountId, uint32 marketId) external view returns (IOrders.OrderInfo memory);

    /// @notice All open positions of the account.
    function getPositions(uint256 accountId) external view returns (IMarginEngine.PositionInfo[] memory);

    /// @notice Every margin figure of the account at current prices and accrued funding (for a portfolio account,
    ///         IM and MM are the risk model's).
    function marginSummary(uint256 accountId) external view returns (IMarginEngine.MarginSummary memory);

    /// @notice The market's state as last stored (funding not accrued to now).
    function getMarketState(uint32 marketId) external view returns (IMarginEngine.MarketState memory);

    /// @notice Equity minus initial margin (negative when below IM).
    function freeCollateral(uint256 accountId) external view returns (int256);

    /// @notice The most tokens `withdraw` would accept now, in token units (0 while an order of the account is
    ///         pending: its collateral is locked, see `IOrders.CollateralLockedByOrder`).
    function maxWithdrawable(uint256 accountId) external view returns (uint256);

    /// @notice Equity / maintenance margin (D18); type(uint256).max with no positions, 0 when equity <= 0.
    function healthFactor(uint256 accountId) external view returns (uint256);

    /// @notice Whether equity < total maintenance margin.
    function isLiquidatable(uint256 accountId) external view returns (bool);

    /// @notice The boundary oracle price of `marketId` at which the account's equity equals its maintenance margin
    ///         (other prices and every skew held fixed). At the boundary itself the account is not yet liquidatable;
    ///         at any price strictly beyond it (below for a long, above for a short) it is.
    /// @dev Exact for isolated accounts, up to rounding that reports the boundary slightly early (on the current
    ///      price's side). 0 when no positive price would make the account liquidatable. Reverts
    ///      `WrongAccountMode` for a portfolio account, whose requirement is not linear in one price (the SDK scans
    ///      prices against its mirror of the risk model instead).
    function liquidationPrice(uint256 accountId, uint32 marketId) external view returns (uint256);

    /// @notice What liquidating `accountId` would do now. Reverts for an unknown account or a missing price.
    function quoteLiquidation(uint256 accountId) external view returns (LiquidationQuote memory quote);

    /// @notice For each account, whether it is liquidatable and what a liquidation would pay now. Never reverts
    ///         for a bad entry: unknown accounts and accounts without a valid price quote as not liquidatable.
    function liquidationQuotes(
        uint256[] calldata accountIds
    ) external view returns (LiquidationQuote[] memory quotes);

    /// @notice Whether ADL is open in `marketId`, with traders' net PnL there and the trigger amount.
    function adlStatus(
        uint32 marketId
    ) external view returns (bool triggered, int256 tradersPnlD18, int256 triggerD18);
}
