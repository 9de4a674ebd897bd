// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IOrders
/// @notice Every position change is a delayed order: the account's owner or an operator commits it, and any keeper
///         settles it with a pull-oracle price published inside `[commitTime + minDelay, commitTime + maxDelay]`,
///         proven by update data supplied in the same transaction. Nobody can therefore trade at a price they
///         already know: the fill is the first price published after the order was public.
/// @dev Margin is checked at commit, against the mark price (so an order that cannot pass is refused early), and
///      again at settlement, which has the last word. Committing pays nothing but gas; settlement charges the fill
///      with skew impact and fees like any trade, plus the flat settlement reward, which it pays to the keeper
///      (set by governance within a hard bound, fixed at commit, refused at commit above the order's budget). A settlement that fails (slippage,
///      margin, pause) reverts and the order stays until it expires; an expired order is cancelled by anyone,
///      fee-free. The owner cannot cancel before expiry: cancelling after seeing the window's price would be a
///      free option against the vault. One pending order per account and market. A pending order never blocks or
///      escapes liquidation: it reserves no margin of its own (but no collateral can leave the account while it is
///      pending, see `CollateralLockedByOrder`) (the isolated flows move margin into the isolated
///      account at commit, where it counts as that account's), liquidation does not look at it, and a
///      liquidation cancels the pending orders on the markets it closes (`OrderCancelled` by the keeper), since
///      an order made for the old position could turn a close into an opening of the other side.
interface IOrders {
    /// @notice Timing and reward of order settlement (protocol-wide).
    /// @param minDelay Seconds after commit before the earliest accepted price (>= 1: never a price known at commit).
    /// @param maxDelay Seconds after commit after which the order is expired (> minDelay).
    /// @param settlementRewardD18 Flat reward (USD, D18, a multiple of 1e-6 USD) the settling keeper receives from
    ///        the account, fixed when the order is committed and paid in whole token units (rounded down).
    struct OrderParams {
        uint32 minDelay;
        uint32 maxDelay;
        uint128 settlementRewardD18;
    }

    /// @notice What an order does besides moving a position.
    /// @dev `Trade`: only the position change. `OpenIsolated`: the order of a freshly funded isolated account;
    ///      cancelling it while the account holds no position returns the margin to where it came from.
    ///      `CloseIsolated`: closes whatever the isolated position is at settlement and returns the collateral left.
    enum OrderKind {
        Trade,
        OpenIsolated,
        CloseIsolated
    }

    /// @notice A pending order. `commitTime` is 0 when there is none.
    /// @param returnAccountId For the isolated flows: 0 for the owner's wallet, else the owner's cross account.
    struct OrderInfo {
        int256 sizeDeltaD18;
        uint256 acceptablePriceD18;
        uint256 commitTime;
        uint256 settlementRewardD18;
        OrderKind kind;
        uint256 returnAccountId;
        uint256 readyTime;
        uint256 expiryTime;
    }

    /// @notice An order was committed. `acceptablePriceD18` is the stored limit, `settlementRewardD18` the reward
    ///         its settlement will pay (fixed at commit).
    event OrderCommitted(
        uint256 indexed accountId,
        uint32 indexed marketId,
        int256 sizeDeltaD18,
        uint256 acceptablePriceD18,
        uint256 commitTime,
        uint256 settlementRewardD18,
        OrderKind kind
    );
    /// @notice An order was settled at `priceD18` (published at `publishTime`); `keeper` received `rewardD18`.
    event OrderSettled(
        uint256 indexed accountId,
        uint32 indexed marketId,
        address indexed keeper,
        uint256 priceD18,
        uint256 publishTime,
        uint256 rewardD18
    );
    /// @notice An expired order was removed by `caller`.
    event OrderCancelled(uint256 indexed accountId, uint32 indexed marketId, address indexed caller);
    /// @notice Governance changed the order parameters.
    event OrderParamsUpdated(OrderParams params);

    /// @notice The account already has a pending order on this market.
    error OrderPending(uint256 accountId, uint32 marketId);
    /// @notice There is no pending order for this account and market.
    error NoPendingOrder(uint256 accountId, uint32 marketId);
    /// @notice Settlement before `readyTime` (commit + minDelay).
    error OrderNotReady(uint256 readyTime);
    /// @notice Settlement after `expiryTime` (commit + maxDelay).
    error OrderExpired(uint256 expiryTime);
    /// @notice Cancelling before `expiryTime`.
    error OrderNotExpired(uint256 expiryTime);
    /// @notice The current settlement reward exceeds the budget the order is committed with.
    error SettlementRewardAboveBudget(uint256 rewardD18, uint256 budgetD18);
    /// @notice The order parameters were never set.
    error OrdersNotConfigured();
    /// @notice Collateral cannot leave an account while one of its orders is pending (withdraw, transfer, funding an
    ///         isolated account): the order's settlement must not depend on its owner's later choices.
    error CollateralLockedByOrder(uint256 accountId);
    /// @notice The settlement price is further from the mark price than the market allows.
    error PriceDivergence(uint256 settlementPriceD18, uint256 markPriceD18);

    /// @notice Commits an order to change the account's position in `marketId` by `sizeDeltaD18`.
    /// @param acceptablePriceD18 Worst fill accepted: max price when buying, min price when selling (stored in 96
    ///        bits: a buy limit above 7.9e28 is kept as that maximum, i.e. no limit).
    /// @param maxSettlementRewardD18 The most the account agrees to pay its settling keeper: the commit is refused
    ///        if governance's reward is higher. The reward is then fixed for this order.
    function commitOrder(
        uint256 accountId,
        uint32 marketId,
        int256 sizeDeltaD18,
        uint256 acceptablePriceD18,
        uint256 maxSettlementRewardD18
    ) external;

    /// @notice Creates an isolated account on `marketId`, funds it with `margin` token units and commits its
    ///         opening order. If the order expires unfilled, cancelling it returns the margin to its source.
    /// @param sourceAccountId 0 to take `margin` from the caller's wallet, otherwise a cross account of the same
    ///        owner (the caller must be authorised on it), which must keep its initial margin.
    /// @return accountId The new isolated account, owned by the caller (wallet) or by the source's owner.
    function commitIsolatedOrder(
        uint32 marketId,
        uint256 sourceAccountId,
        uint256 margin,
        int256 sizeDeltaD18,
        uint256 acceptablePriceD18,
        uint256 maxSettlementRewardD18
    ) external returns (uint256 accountId);

    /// @notice Commits the order that closes an isolated account's position (whatever its size at settlement)
    ///         and then returns the collateral left.
    /// @param destinationAccountId 0 to send the remainder to the owner's wallet, else a cross account of the owner.
    function commitCloseIsolated(
        uint256 accountId,
        uint256 acceptablePriceD18,
        uint256 destinationAccountId,
        uint256 maxSettlementRewardD18
    ) external;

    /// @notice Settles a pending order with the pull-oracle price proven by `priceUpdate`, which must be the
    ///         market's first price published at or after `readyTime` and no later than `expiryTime`.
    /// @dev `msg.value` pays the oracle's update fee and must equal `pullFeed.updateFee(priceUpdate)` (the feed
    ///      refunds an excess to the engine, which accepts none). Refused beyond the market's divergence bound
    ///      from the mark price. Risk-increasing orders are refused while paused; reducing ones settle.
    /// @return fillPriceD18 The fill price (0 when a close order found no position left).
    /// @return feeD18 The trading fee charged.
    function settleOrder(
        uint256 accountId,
        uint32 marketId,
        bytes[] calldata priceUpdate
    ) external payable returns (uint256 fillPriceD18, uint256 feeD18);

    /// @notice Removes an expired order (anyone, no fee). An unfilled isolated opening order returns its margin.
    function cancelOrder(uint256 accountId, uint32 marketId) external;
}
