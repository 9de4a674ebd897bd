// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {ILiquidation} from "../interfaces/ILiquidation.sol";
import {IOrders} from "../interfaces/IOrders.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {EngineBase} from "./EngineBase.sol";

/// @title LiquidationModule
/// @notice Liquidation, bad debt and auto-deleveraging: the protocol's last lines of defence, in one place; and
///         the engine's read-only views that no contract calls on-chain (they give the engine its code headroom).
/// @dev Liquidation closes positions exactly as a trade would: at the exit fill (skew impact) with the maker/taker
///      fee, through the same `_fill` routine. On top it charges the liquidation fee L = closedNotional x
///      liquidationFeeRatio: the keeper gets reward = min(flat + L x keeperShare, maxKeeperReward) (whole token
///      units; on a full close at most max(equity left after trading fees, flat)), the account pays max(L, reward)
///      and the insurance fund the difference. Owner and keeper together therefore receive the trade-close
///      proceeds minus (max(L, reward) - reward) >= 0: self-liquidation never pays, at any size and skew, and dust
///      (where the flat part exceeds L) only breaks even with a trade close. The one exception is bounded by the
///      flat part: an account a price gap carried below it (past minPositionMargin, which covers it, without a
///      keeper acting) still pays its liquidator the flat reward, out of the insurance fund.
///      The account's legs are netted before any profit shortfall is decided (`_settle` once per liquidation).
///      It never calls the account owner and never sends it tokens, so nothing the owner controls can block it.
///      The keeper reward is the only transfer, to the receiver the keeper names.
///
///      Partial liquidation. Above `partialLiquidationNotional`, every position of the account is closed by the
///      same fraction f (pro rata: the account's mix of markets, and so its hedges, is kept). With E equity (marked
///      at exit fills), MM = Mv + Mmin maintenance margin (Mv its notional-proportional part, Mmin the flat minimum
///      margins), F the liquidation plus trading fees of a full close, R the flat keeper reward and b the buffer:
///      closing f leaves at most (1 - f) Mv + Mmin of maintenance margin (IMR only falls as sizes shrink), leaves
///      the exit-marked equity unchanged but for its charges (the impact is linear, so closing f then the rest
///      fetches what closing all at once does), and costs at most f F + R (the trading fee is convex in the size
///      closed: maker part first), so
///          E - f F - R >= (1 + b) ((1 - f) Mv + Mmin)   <=>   f >= ((1 + b) MM - E + R) / ((1 + b) Mv - F).
///      f is that bound rounded up; when it reaches 1, or the denominator is not positive, or E <= 0, the
///      account is closed fully.
///
///      Deployment: one module per engine, built for the same token. It only makes sense by delegatecall from the
///      engine; called directly it acts on its own empty storage and every entry point reverts.
contract LiquidationModule is ILiquidation, EngineBase {
    using MarginMath for uint256;

    constructor(IERC20Metadata token) EngineBase(token) {}

    /// @notice The settlement token this module was built for; the engine checks it matches its own.
    function moduleToken() external view returns (address) {
        return address(_token);
    }

    /// @dev The plan of one liquidation, computed from the account's margin summary.
    struct Plan {
        IMarginEngine.MarginSummary summary;
        bool liquidatable;
        bool partial_;
        uint256 fraction;
        uint256 closedNotional;
        uint256 fee;
        uint256 reward;
        uint256[] prices;
    }

    /*//////////////////////////////////////////////////////////////
                              LIQUIDATION
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ILiquidation
    function liquidate(
        uint256 accountId,
        address rewardReceiver
    ) external nonReentrant returns (uint256 rewardD18) {
        if (rewardReceiver == address(0)) revert IMarginEngine.ZeroAddress();
        rewardD18 = _liquidate(accountId, msg.sender, rewardReceiver);
        _payReward(rewardReceiver, rewardD18);
    }

    /// @inheritdoc ILiquidation
    function liquidateBatch(
        uint256[] calldata accountIds,
        address rewardReceiver
    ) external nonReentrant returns (uint256 liquidated, uint256 rewardD18) {
        if (rewardReceiver == address(0)) revert IMarginEngine.ZeroAddress();
        uint256 n = accountIds.length;
        for (uint256 i; i < n; ++i) {
            // A self-call isolates each entry: a healthy, unknown or unpriceable account reverts alone.
            try this.liquidateInBatch(accountIds[i], msg.sender, rewardReceiver) returns (uint256 reward) {
                ++liquidated;
                rewardD18 += reward;
            } catch {}
        }
        _payReward(rewardReceiver, rewardD18);
    }

    /// @notice Internal step of `liquidateBatch`, external only so that a failing entry can be caught.
    /// @dev Callable by the engine itself only, which happens inside `liquidateBatch`'s reentrancy lock.
    function liquidateInBatch(
        uint256 accountId,
        address keeper,
        address rewardReceiver
    ) external returns (uint256) {
        if (msg.sender != address(this)) revert OnlySelf();
        return _liquidate(accountId, keeper, rewardReceiver);
    }

    /// @inheritdoc ILiquidation
    function quoteLiquidation(uint256 accountId) public view returns (LiquidationQuote memory q) {
        Plan memory plan = _plan(accountId, _account(accountId));
        q = LiquidationQuote(
            plan.liquidatable,
            plan.partial_,
            plan.fraction,
            plan.closedNotional,
            plan.reward
        );
    }

    /// @inheritdoc ILiquidation
    function liquidationQuotes(
        uint256[] calldata accountIds
    ) external view returns (LiquidationQuote[] memory quotes) {
        uint256 n = accountIds.length;
        quotes = new LiquidationQuote[](n);
        for (uint256 i; i < n; ++i) {
            try this.quoteLiquidation(accountIds[i]) returns (LiquidationQuote memory q) {
                quotes[i] = q;
            } catch {}
        }
    }

    /// @dev Executes the plan: closes positions like trades, settles the netted result once, charges the
    ///      liquidation fee, splits it between keeper and insurance fund, and settles any bad debt. Reverts if the
    ///      account is not liquidatable.
    function _liquidate(
        uint256 accountId,
        address keeper,
        address rewardReceiver
    ) internal returns (uint256) {
        Account storage a = _account(accountId);
        Plan memory plan = _plan(accountId, a);
        if (!plan.liquidatable) revert NotLiquidatable(accountId);

        // Backwards, so that removing a fully closed position (which moves the last entry into its place) never
        // disturbs an entry not yet visited: entry i - 1 is still the plan's i - 1, and so is its price.
        int256 pnl;
        uint256 tradingFees;
        for (uint256 i = a.positionCount; i > 0; --i) {
            uint32 marketId = _marketAt(a, i - 1);
            Market storage m = _markets[marketId];
            int256 closeSize = _fractionOf(_positions[accountId][marketId].size, plan.fraction);
            Fill memory f = _fill(
                accountId,
                a,
                marketId,
                m,
                plan.prices[i - 1],
                -closeSize,
                _anyFill(closeSize)
            );
            pnl += f.realisedPnl - f.funding;
            tradingFees += f.fee;
            emit PositionLiquidated(accountId, marketId, closeSize, f.fill, f.realisedPnl, f.funding, f.fee);
            _emitMarketUpdated(marketId, m);
            // A pending order on a liquidated market was made for a position that no longer exists: a close
            // would open the other side. It goes with the liquidation (the owner may commit again).
            if (_orders[accountId][marketId].commitTime != 0) {
                delete _orders[accountId][marketId];
                if (a.mode != IMarginEngine.AccountMode.Isolated) --a.pendingOrders;
                emit IOrders.OrderCancelled(accountId, marketId, keeper);
            }
        }
        _settle(accountId, a, 0, pnl, tradingFees, _risk.insuranceFeeShareD18);

        // charge >= reward, so the keeper is always paid by the account (the flat part is covered by every
        // position's minimum margin). The rest of the fee funds the insurance fund.
        uint256 charge = plan.fee > plan.reward ? plan.fee : plan.reward;
        uint256 toInsurance = charge - plan.reward;
        _credit(a, -int256(charge));
        _addInsurance(int256(toInsurance));
        emit Liquidated(
            accountId,
            keeper,
            rewardReceiver,
            plan.partial_,
            plan.closedNotional,
            charge,
            plan.reward,
            toInsurance
        );

        _settleBadDebt(accountId, a);
        return plan.reward;
    }

    /// @dev Everything a liquidation of the account would do, computed without writing.
    function _plan(uint256 accountId, Account storage a) internal view returns (Plan memory plan) {
        uint256 n = a.positionCount;
        plan.prices = new uint256[](n);
        IMarginEngine.MarginSummary memory s = _summaryAt(accountId, a, 0, 0, plan.prices);
        plan.summary = s;
        if (s.notionalD18 == 0 || s.equityD18 >= int256(s.maintenanceMarginD18)) return plan;
        plan.liquidatable = true;
        plan.fraction = WAD;

        // Second pass over warm slots and cached prices: the flat part of MM and the fees (liquidation and
        // trading) of a full close.
        uint256 minMargins;
        uint256 fullFee;
        uint256 fullTradingFee;
        for (uint256 i; i < n; ++i) {
            uint32 marketId = _marketAt(a, i);
            Market storage m = _markets[marketId];
            int256 size = _positions[accountId][marketId].size;
            (, uint256 tradingFee) = _quote(m, plan.prices[i], -size);
            minMargins += m.minPositionMargin;
            fullTradingFee += tradingFee;
            fullFee += MarginMath.notional(size, plan.prices[i]).mulUp(
                uint256(m.liquidationFeeD9) * D9_TO_D18
            );
        }
        fullFee += fullTradingFee;

        IMarginEngine.RiskParams memory r = _riskParams();
        if (s.notionalD18 > r.partialLiquidationNotionalD18 && s.equityD18 > 0) {
            uint256 onePlusBuffer = WAD + r.liquidationBufferD18;
            // A portfolio account's MM can be below its positions' minimum margins (hedge credit): no variable
            // part then, and the account is closed fully.
            uint256 variableMm = s.maintenanceMarginD18 > minMargins
                ? s.maintenanceMarginD18 - minMargins
                : 0;
            uint256 den = variableMm.mulDown(onePlusBuffer);
            if (den > fullFee) {
                den -= fullFee;
                uint256 num = s.maintenanceMarginD18.mulUp(onePlusBuffer) +
                    r.flatKeeperRewardD18 -
                    uint256(s.equityD18);
                uint256 fraction = MarginMath.ceilDiv(num * WAD, den);
                if (fraction < WAD) {
                    plan.partial_ = true;
                    plan.fraction = fraction;
                }
            }
        }

        // Fee and reward of the planned close, position by position as it will execute.
        for (uint256 i; i < n; ++i) {
            uint32 marketId = _marketAt(a, i);
            Market storage m = _markets[marketId];
            int256 closeSize = _fractionOf(_positions[accountId][marketId].size, plan.fraction);
            uint256 closed = MarginMath.notional(closeSize, plan.prices[i]);
            plan.closedNotional += closed;
            plan.fee += closed.mulUp(uint256(m.liquidationFeeD9) * D9_TO_D18);
        }
        // A flat part for gas plus a share of the fee, so large liquidations pay more; capped.
        uint256 reward = r.flatKeeperRewardD18 + plan.fee.mulDown(r.keeperShareD18);
        if (reward > r.maxKeeperRewardD18) reward = r.maxKeeperRewardD18;
        // A full close leaves the account E minus its trading fees before the liquidation charge. A reward beyond
        // that is paid by the insurance fund (bad debt), so it is capped there, but never below the flat part: a
        // keeper must be paid to close a bankrupt account. Self-liquidation can therefore gain over a trade close
        // at most the flat reward, and only on an account a price gap carried past minPositionMargin unliquidated.
        if (!plan.partial_) {
            int256 left = s.equityD18 - int256(fullTradingFee);
            uint256 flat = r.flatKeeperRewardD18;
            if (left < int256(reward)) reward = left > int256(flat) ? uint256(left) : flat;
        }
        // Whole token units only, so that what is credited is exactly what is paid.
        plan.reward = (reward / TOKEN_SCALE) * TOKEN_SCALE;
    }

    /// @dev The part of `size` a liquidation closes: |size| x fraction, rounded up, never more than all of it.
    function _fractionOf(int256 size, uint256 fraction) internal pure returns (int256) {
        if (fraction >= WAD) return size;
        uint256 closed = MarginMath.abs(size).mulUp(fraction);
        uint256 all = MarginMath.abs(size);
        if (closed > all) closed = all;
        return size > 0 ? int256(closed) : -int256(closed);
    }

    function _payReward(address receiver, uint256 rewardD18) internal {
        if (rewardD18 != 0) _push(receiver, rewardD18 / TOKEN_SCALE);
    }

    /// @inheritdoc ILiquidation
    function isAuthorized(uint256 accountId, address caller) external view returns (bool) {
        address owner = _accounts[accountId].owner;
        return
            owner != address(0) &&
            (caller == owner || isOperator[owner][caller] || isAccountOperator[accountId][caller]);
    }

    /// @inheritdoc ILiquidation
    function getAccount(uint256 accountId) external view returns (IMarginEngine.AccountInfo memory info) {
        Account storage a = _account(accountId);
        info = IMarginEngine.AccountInfo(
            a.owner,
            a.mode == IMarginEngine.AccountMode.Isolated,
            a.marketId,
            a.positionCount,
            a.collateral,
            a.mode
        );
    }

    /// @inheritdoc ILiquidation
    function quoteTrade(
        uint32 marketId,
        int256 sizeDeltaD18
    ) external view returns (IMarginEngine.TradeQuote memory q) {
        Market storage m = _market(marketId);
        q.oraclePriceD18 = m.feed.latestPrice();
        (q.fillPriceD18, q.feeD18) = _quote(m, q.oraclePriceD18, sizeDeltaD18);
    }

    /// @inheritdoc ILiquidation
    function getOrder(
        uint256 accountId,
        uint32 marketId
    ) external view returns (IOrders.OrderInfo memory info) {
        Order storage o = _orders[accountId][marketId];
        if (o.commitTime == 0) return info;
        Account storage a = _accounts[accountId];
        info = IOrders.OrderInfo(
            o.sizeDelta,
            o.acceptablePrice,
            o.commitTime,
            uint256(o.rewardD6) * 1e12,
            a.pendingFlow,
            a.returnAccountId,
            uint256(o.commitTime) + _risk.minOrderDelay,
            uint256(o.commitTime) + _risk.maxOrderDelay
        );
    }

    /// @inheritdoc ILiquidation
    function currentFunding(uint32 marketId) external view returns (int256, int256) {
        Market storage m = _market(marketId);
        return _pendingFunding(m, m.feed.latestPrice());
    }

    /// @inheritdoc ILiquidation
    function marketCount() external view returns (uint32) {
        return _marketCount;
    }

    /// @inheritdoc ILiquidation
    function accountCount() external view returns (uint256) {
        return _accountCount;
    }

    /// @inheritdoc ILiquidation
    function insuranceFund() external view returns (uint256) {
        return _ledger.insurance;
    }

    /// @inheritdoc ILiquidation
    function tradersNetPnl(uint32 marketId) external view returns (int256) {
        return _tradersNetPnl(_market(marketId));
    }

    /// @inheritdoc ILiquidation
    function getPositions(
        uint256 accountId
    ) external view returns (IMarginEngine.PositionInfo[] memory positions) {
        Account storage a = _account(accountId);
        uint256 n = a.positionCount;
        positions = new IMarginEngine.PositionInfo[](n);
        for (uint256 i; i < n; ++i) {
            uint32 marketId = _marketAt(a, i);
            Position storage p = _positions[accountId][marketId];
            positions[i] = IMarginEngine.PositionInfo(marketId, p.size, p.basis, _checkpoint(p));
        }
    }

    /// @inheritdoc ILiquidation
    function marginSummary(uint256 accountId) external view returns (IMarginEngine.MarginSummary memory) {
        return _summary(accountId, _account(accountId));
    }

    /// @inheritdoc ILiquidation
    function getMarketState(uint32 marketId) external view returns (IMarginEngine.MarketState memory s) {
        Market storage m = _market(marketId);
        s = IMarginEngine.MarketState(
            m.longOi,
            m.shortOi,
            m.fundingIndex,
            m.fundingRate,
            m.lastFundingTime,
            m.netBasis,
            m.netFundingBasis,
            uint128(uint256(m.reservedUsd) * WAD),
            uint64(WAD + (uint256(m.imVolX64) * WAD) / 64),
            uint64(WAD + (uint256(m.mmVolX64) * WAD) / 64)
        );
    }

    /// @inheritdoc ILiquidation
    function freeCollateral(uint256 accountId) external view returns (int256) {
        IMarginEngine.MarginSummary memory s = _summary(accountId, _account(accountId));
        return s.equityD18 - int256(s.initialMarginD18);
    }

    /// @inheritdoc ILiquidation
    function maxWithdrawable(uint256 accountId) external view returns (uint256) {
        Account storage a = _account(accountId);
        if (_collateralLocked(accountId, a)) return 0;
        IMarginEngine.MarginSummary memory s = _summary(accountId, a);
        int256 free = s.collateralD18;
        if (s.notionalD18 != 0) {
            int256 overIm = s.equityD18 - int256(s.initialMarginD18);
            if (overIm < free) free = overIm;
        }
        return free > 0 ? uint256(free) / TOKEN_SCALE : 0;
    }

    /// @inheritdoc ILiquidation
    function healthFactor(uint256 accountId) external view returns (uint256) {
        IMarginEngine.MarginSummary memory s = _summary(accountId, _account(accountId));
        if (s.maintenanceMarginD18 == 0) return type(uint256).max;
        if (s.equityD18 <= 0) return 0;
        return (uint256(s.equityD18) * WAD) / s.maintenanceMarginD18;
    }

    /// @inheritdoc ILiquidation
    function isLiquidatable(uint256 accountId) external view returns (bool) {
        IMarginEngine.MarginSummary memory s = _summary(accountId, _account(accountId));
        return s.notionalD18 != 0 && s.equityD18 < int256(s.maintenanceMarginD18);
    }

    /// @inheritdoc ILiquidation
    /// @dev The exit fill is P x (1 + (2 skew - size) / (2 skewScale)), linear in P, so
    ///      Equity(P) = E0 + size x g x (P - P0) with g = 1 + (2 skew - size) / (2 skewScale), and
    ///      MM(P) = MM0 + |size| x (P - P0) x imr x mmScalar, because the position's IMR depends on its size only.
    ///      Solving E(P) = MM(P) gives P = P0 + (MM0 - E0) / (size x g - |size| x k) with k = imr x mmScalar. The
    ///      move from P0 rounds towards zero, so a healthy position's boundary is reported slightly early (up for
    ///      longs, down for shorts).
    function liquidationPrice(uint256 accountId, uint32 marketId) external view returns (uint256) {
        Account storage a = _account(accountId);
        if (a.mode == IMarginEngine.AccountMode.Portfolio) revert IMarginEngine.WrongAccountMode(accountId);
        Market storage m = _market(marketId);
        int256 size = _positions[accountId][marketId].size;
        if (size == 0) revert IMarginEngine.NoPosition(accountId, marketId);
        IMarginEngine.MarginSummary memory s = _summary(accountId, a);
        uint256 price = m.feed.latestPrice();
        uint256 k = _volScaled(_imr(m, size), m.mmVolX64).mulUp(uint256(m.mmScalarD9) * D9_TO_D18);
        int256 twiceScale = 2 * int256(uint256(m.skewScale));
        // d(E - MM)/dP x WAD; never 0 within the parameter bounds (|skew| <= skewScale keeps g > 0 ... and k < 1).
        int256 slope = (size * (twiceScale + 2 * _skew(m) - size)) / twiceScale -
            int256(MarginMath.abs(size).mulUp(k));
        if (slope == 0) return 0;
        int256 gap = int256(s.maintenanceMarginD18) - s.equityD18; // MM0 - E0
        // Truncation rounds the move towards zero, i.e. the price is reported on the current price's side.
        int256 move = (gap * MarginMath.SWAD) / slope;
        int256 liq = int256(price) + move;
        return liq > 0 ? uint256(liq) : 0;
    }

    /*//////////////////////////////////////////////////////////////
                            AUTO-DELEVERAGING
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ILiquidation
    /// @dev Closes the fraction of the position derived in `_adlCloseSize`, rounded up and capped at 1, through the
    ///      shared `_fill`; the trading fee is waived (forced close).
    function autoDeleverage(
        uint256 accountId,
        uint32 marketId
    ) external nonReentrant returns (int256 closedSizeD18) {
        Account storage a = _account(accountId);
        Market storage m = _market(marketId);
        uint256 price = m.feed.latestPrice();
        closedSizeD18 = _adlCloseSize(accountId, marketId, m, price);
        Fill memory f = _fill(accountId, a, marketId, m, price, -closedSizeD18, _anyFill(closedSizeD18));
        _settle(accountId, a, marketId, f.realisedPnl - f.funding, 0, 0);
        emit AutoDeleveraged(accountId, marketId, msg.sender, closedSizeD18, f.fill, f.realisedPnl);
        _emitMarketUpdated(marketId, m);
        _settleBadDebt(accountId, a);
    }

    /// @dev The size ADL closes, after checking the trigger, that the position is in profit and that it carries a
    ///      material share of the market's excess.
    function _adlCloseSize(
        uint256 accountId,
        uint32 marketId,
        Market storage m,
        uint256 price
    ) internal view returns (int256) {
        Position storage p = _positions[accountId][marketId];
        int256 size = p.size;
        if (size == 0) revert IMarginEngine.NoPosition(accountId, marketId);
        int256 marketPnl = _tradersNetPnl(m);
        int256 cash = _ledger.vaultCash;
        IMarginEngine.RiskParams memory r = _riskParams();
        int256 trigger = MarginMath.divFloor(cash * int256(uint256(r.adlTriggerD18)), MarginMath.SWAD);
        if (marketPnl <= trigger || marketPnl <= 0) revert AdlNotTriggered(marketId, marketPnl, trigger);

        (, int256 index) = _pendingFunding(m, price);
        // U: what closing the whole position would realise (at its exit fill).
        int256 gross = MarginMath.unrealisedPnl(size, _exitFill(m, price, size), p.basis);
        int256 funding = MarginMath.fundingOwed(size, index, _checkpoint(p));
        if (gross <= 0 || gross - funding <= 0) revert PositionNotProfitable(accountId, marketId);
        // Eligibility in O(1): the position's profit must be a material share of the market's excess.
        int256 minProfit = int256(uint256(marketPnl).mulUp(r.adlMinShareD18));
        if (gross - funding < minProfit)
            revert AdlNotEligible(accountId, marketId, gross - funding, minProfit);

        // Touching the position settles all its funding F (into vault cash, and out of the market's owed
        // funding), then closing f realises R(f) from both: the target holds once
        // P + F - R(f) <= t (C + F - R(f)), i.e. R(f) >= (P + F - t (C + F)) / (1 - t). R is concave in f (the
        // impact of a larger close is worse) with R(0) = 0 and R(1) = U, so R(f) >= f U and
        // f = (P + F - t (C + F)) / (U (1 - t)) is enough. The target and the denominator round down, so the
        // fraction rounds up.
        int256 target = MarginMath.divFloor(
            (cash + funding) * int256(uint256(r.adlTargetD18)),
            MarginMath.SWAD
        );
        int256 excess = marketPnl + funding - target;
        // Settling this position's funding alone already brings the market under target: nothing to close.
        if (excess <= 0) revert AdlNotTriggered(marketId, marketPnl, trigger);
        uint256 den = uint256(gross).mulDown(WAD - r.adlTargetD18);
        uint256 fraction = den == 0 ? WAD : MarginMath.ceilDiv(uint256(excess) * WAD, den);
        return _fractionOf(size, fraction);
    }

    /// @inheritdoc ILiquidation
    function adlStatus(uint32 marketId) external view returns (bool, int256, int256) {
        Market storage m = _market(marketId);
        int256 pnl = _tradersNetPnl(m);
        int256 trigger = MarginMath.divFloor(
            int256(_ledger.vaultCash) * int256(uint256(_risk.adlTriggerD18)),
            MarginMath.SWAD
        );
        return (pnl > trigger, pnl, trigger);
    }
}
