// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {Address} from "@openzeppelin/contracts/utils/Address.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {IGovernance} from "../interfaces/IGovernance.sol";
import {IOrders} from "../interfaces/IOrders.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {EngineBase} from "./EngineBase.sol";
import {LiquidationModule} from "./LiquidationModule.sol";
import {GovernanceModule} from "./GovernanceModule.sol";

/// @title MarginEngine
/// @notice Bulkhead's entry point: custody, accounts, margin, orders and trading, and the vault ledger. Two
///         modules, separate contracts run by delegatecall on this engine's storage, hold the rest (to stay well
///         under the 24 KiB code limit): `LiquidationModule` (liquidation, bad debt, ADL and the views no contract
///         reads on-chain) and `GovernanceModule` (listing, parameters and bounds, pause, the vault's connection,
///         sweep). The fallback routes each selector to its module: the `IGovernance` selectors to governance,
///         everything else to liquidation, whose dispatcher is the allowlist (it reverts on any selector it does
///         not have).
/// @dev Integrators use `IBulkhead` (IMarginEngine + ILiquidation + IGovernance) at this address.
contract MarginEngine is IMarginEngine, IOrders, EngineBase {
    using MarginMath for uint256;

    /// @notice The liquidation module this engine delegates the `ILiquidation` selectors to.
    address public immutable liquidationModule;
    /// @notice The governance module this engine delegates the `IGovernance` selectors to.
    address public immutable governanceModule;

    /// @notice Thrown when a module was built for another settlement token.
    error ModuleMismatch();

    /// @param token The settlement asset (at most 18 decimals).
    /// @param admin Receives the admin role, which can grant the risk and pause roles.
    /// @param risk Initial protocol-wide risk parameters.
    /// @param liquidation The `LiquidationModule` deployed for the same token.
    /// @param governance The `GovernanceModule` deployed for the same token.
    constructor(
        IERC20Metadata token,
        address admin,
        RiskParams memory risk,
        LiquidationModule liquidation,
        GovernanceModule governance
    ) EngineBase(token) {
        if (admin == address(0) || address(liquidation) == address(0) || address(governance) == address(0)) {
            revert ZeroAddress();
        }
        if (liquidation.moduleToken() != address(token) || governance.moduleToken() != address(token)) {
            revert ModuleMismatch();
        }
        liquidationModule = address(liquidation);
        governanceModule = address(governance);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        Address.functionDelegateCall(address(governance), abi.encodeCall(IGovernance.initializeRisk, (risk)));
    }

    /// @dev Runs every selector this engine does not have on its modules by delegatecall, so they act on this
    ///      engine's storage. Views work too: a delegatecall inside a staticcall stays static.
    // solhint-disable-next-line no-complex-fallback
    fallback() external {
        bytes4 sig = msg.sig;
        address module = sig == IGovernance.listMarket.selector ||
            sig == IGovernance.setMarketParams.selector ||
            sig == IGovernance.setRiskParams.selector ||
            sig == IGovernance.setOrderParams.selector ||
            sig == IGovernance.getMarketParams.selector ||
            sig == IGovernance.getRiskParams.selector ||
            sig == IGovernance.getOrderParams.selector ||
            sig == IGovernance.pause.selector ||
            sig == IGovernance.unpause.selector ||
            sig == IGovernance.sweep.selector ||
            sig == IGovernance.sweepable.selector ||
            sig == IGovernance.initializeRisk.selector ||
            sig == IGovernance.setPortfolioMargin.selector ||
            sig == IGovernance.portfolioMargin.selector ||
            sig == IGovernance.setVolatilityOracle.selector ||
            sig == IGovernance.volatilityOracle.selector ||
            sig == IGovernance.syncVolatility.selector ||
            sig == IGovernance.setVault.selector
            ? governanceModule
            : liquidationModule;
        assembly ("memory-safe") {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), module, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) {
                revert(0, returndatasize())
            }
            return(0, returndatasize())
        }
    }

    /*//////////////////////////////////////////////////////////////
                                ACCOUNTS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarginEngine
    function createCrossAccount() external returns (uint256) {
        return _createAccount(msg.sender, AccountMode.Cross, 0);
    }

    /// @inheritdoc IMarginEngine
    function createIsolatedAccount(uint32 marketId) external returns (uint256) {
        _market(marketId);
        return _createAccount(msg.sender, AccountMode.Isolated, marketId);
    }

    /// @inheritdoc IMarginEngine
    function createPortfolioAccount() external returns (uint256) {
        if (address(_portfolioMargin) == address(0)) revert PortfolioMarginUnset();
        return _createAccount(msg.sender, AccountMode.Portfolio, 0);
    }

    function _createAccount(
        address owner,
        AccountMode mode,
        uint32 marketId
    ) internal returns (uint256 accountId) {
        accountId = ++_accountCount;
        Account storage a = _accounts[accountId];
        a.owner = owner;
        a.mode = mode;
        a.marketId = marketId;
        emit AccountCreated(accountId, owner, mode == AccountMode.Isolated, marketId, mode);
    }

    /// @inheritdoc IMarginEngine
    function setOperator(address operator, bool approved) external {
        if (operator == address(0)) revert ZeroAddress();
        isOperator[msg.sender][operator] = approved;
        emit OperatorSet(msg.sender, operator, approved);
    }

    /// @inheritdoc IMarginEngine
    function setAccountOperator(uint256 accountId, address operator, bool approved) external {
        if (operator == address(0)) revert ZeroAddress();
        if (_account(accountId).owner != msg.sender) revert Unauthorized(msg.sender, accountId);
        isAccountOperator[accountId][operator] = approved;
        emit AccountOperatorSet(accountId, operator, approved);
    }

    /*//////////////////////////////////////////////////////////////
                                 MARGIN
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarginEngine
    function deposit(uint256 accountId, uint256 amount) external nonReentrant {
        Account storage a = _account(accountId);
        if (amount == 0) revert ZeroAmount();
        _pullExact(msg.sender, amount);
        _credit(a, SafeCast.toInt256(amount * TOKEN_SCALE));
        emit Deposited(accountId, msg.sender, amount);
    }

    /// @inheritdoc IMarginEngine
    function withdraw(uint256 accountId, uint256 amount, address receiver) external nonReentrant {
        Account storage a = _authorizedAccount(accountId);
        if (amount == 0) revert ZeroAmount();
        if (receiver == address(0)) revert ZeroAddress();
        _debit(accountId, a, amount * TOKEN_SCALE);
        _requireInitialMargin(accountId, a);
        emit Withdrawn(accountId, receiver, amount);
        _push(receiver, amount);
    }

    /// @inheritdoc IMarginEngine
    function transferMargin(
        uint256 fromAccountId,
        uint256 toAccountId,
        uint256 amountD18
    ) external nonReentrant {
        Account storage from = _authorizedAccount(fromAccountId);
        Account storage to = _account(toAccountId);
        if (fromAccountId == toAccountId || from.owner != to.owner) {
            revert InvalidTransfer(fromAccountId, toAccountId);
        }
        if (amountD18 == 0) revert ZeroAmount();
        _debit(fromAccountId, from, amountD18);
        _credit(to, int256(amountD18));
        _requireInitialMargin(fromAccountId, from);
        emit MarginTransferred(fromAccountId, toAccountId, amountD18);
    }

    /// @inheritdoc IMarginEngine
    function fundInsurance(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        _pullExact(msg.sender, amount);
        _addInsurance(SafeCast.toInt256(amount * TOKEN_SCALE));
        emit InsuranceFunded(msg.sender, amount, _ledger.insurance);
    }

    /// @dev Takes `amountD18` of realised collateral; only what is there can leave, and nothing while an order of
    ///      the account is pending: otherwise an owner could make their own order unsettleable after seeing the
    ///      window's price, and settle it (after putting the margin back) only when that price suits them.
    function _debit(uint256 accountId, Account storage a, uint256 amountD18) internal {
        if (_collateralLocked(accountId, a)) revert CollateralLockedByOrder(accountId);
        int256 collateral = a.collateral;
        if (collateral < 0 || uint256(collateral) < amountD18)
            revert InsufficientCollateral(collateral, amountD18);
        a.collateral = SafeCast.toInt112(collateral - int256(amountD18));
    }

    /// @dev Risk-adding check: equity >= total initial margin (trivially true without positions).
    function _requireInitialMargin(uint256 accountId, Account storage a) internal view {
        if (a.positionCount == 0) return;
        MarginSummary memory s = _summary(accountId, a);
        if (s.equityD18 < int256(s.initialMarginD18))
            revert InsufficientMargin(s.equityD18, s.initialMarginD18);
    }

    /*//////////////////////////////////////////////////////////////
                                 ORDERS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IOrders
    function commitOrder(
        uint256 accountId,
        uint32 marketId,
        int256 sizeDeltaD18,
        uint256 acceptablePriceD18,
        uint256 maxSettlementRewardD18
    ) external nonReentrant {
        Account storage a = _authorizedAccount(accountId);
        _commit(
            accountId,
            a,
            marketId,
            sizeDeltaD18,
            acceptablePriceD18,
            maxSettlementRewardD18,
            OrderKind.Trade,
            0
        );
    }

    /// @inheritdoc IOrders
    function commitIsolatedOrder(
        uint32 marketId,
        uint256 sourceAccountId,
        uint256 margin,
        int256 sizeDeltaD18,
        uint256 acceptablePriceD18,
        uint256 maxSettlementRewardD18
    ) external nonReentrant returns (uint256 accountId) {
        _market(marketId);
        if (margin == 0) revert ZeroAmount();
        uint256 marginD18 = margin * TOKEN_SCALE;
        if (sourceAccountId == 0) {
            accountId = _createAccount(msg.sender, AccountMode.Isolated, marketId);
            _pullExact(msg.sender, margin);
            emit Deposited(accountId, msg.sender, margin);
        } else {
            Account storage source = _authorizedAccount(sourceAccountId);
            if (source.mode == AccountMode.Isolated) revert WrongAccountMode(sourceAccountId);
            accountId = _createAccount(source.owner, AccountMode.Isolated, marketId);
            _debit(sourceAccountId, source, marginD18);
            _requireInitialMargin(sourceAccountId, source);
            emit MarginTransferred(sourceAccountId, accountId, marginD18);
        }
        Account storage a = _accounts[accountId];
        a.collateral = SafeCast.toInt112(SafeCast.toInt256(marginD18));
        _commit(
            accountId,
            a,
            marketId,
            sizeDeltaD18,
            acceptablePriceD18,
            maxSettlementRewardD18,
            OrderKind.OpenIsolated,
            sourceAccountId
        );
    }

    /// @inheritdoc IOrders
    function commitCloseIsolated(
        uint256 accountId,
        uint256 acceptablePriceD18,
        uint256 destinationAccountId,
        uint256 maxSettlementRewardD18
    ) external nonReentrant {
        Account storage a = _authorizedAccount(accountId);
        if (a.mode != AccountMode.Isolated) revert WrongAccountMode(accountId);
        if (destinationAccountId != 0) {
            Account storage d = _account(destinationAccountId);
            if (d.owner != a.owner || d.mode == AccountMode.Isolated)
                revert InvalidTransfer(accountId, destinationAccountId);
        }
        uint32 marketId = a.marketId;
        int256 size = _positions[accountId][marketId].size;
        if (size == 0) revert NoPosition(accountId, marketId);
        _commit(
            accountId,
            a,
            marketId,
            -size,
            acceptablePriceD18,
            maxSettlementRewardD18,
            OrderKind.CloseIsolated,
            destinationAccountId
        );
    }

    /// @inheritdoc IOrders
    function settleOrder(
        uint256 accountId,
        uint32 marketId,
        bytes[] calldata priceUpdate
    ) external payable nonReentrant returns (uint256 fill, uint256 fee) {
        Order memory o = _orders[accountId][marketId];
        if (o.commitTime == 0) revert NoPendingOrder(accountId, marketId);
        uint256 readyTime = uint256(o.commitTime) + _risk.minOrderDelay;
        uint256 expiryTime = uint256(o.commitTime) + _risk.maxOrderDelay;
        if (block.timestamp < readyTime) revert OrderNotReady(readyTime);
        if (block.timestamp > expiryTime) revert OrderExpired(expiryTime);
        Market storage m = _markets[marketId];
        (uint256 price, uint256 publishTime) = m.pullFeed.priceInWindow{value: msg.value}(
            priceUpdate,
            uint64(readyTime),
            uint64(expiryTime)
        );
        uint256 maxDivergence = uint256(m.maxDivergenceD9) * D9_TO_D18;
        if (maxDivergence != 0) {
            uint256 mark = m.feed.latestPrice();
            uint256 gap = price > mark ? price - mark : mark - price;
            if (gap > mark.mulDown(maxDivergence)) revert PriceDivergence(price, mark);
        }
        delete _orders[accountId][marketId];

        // The keeper's reward, fixed at commit, in whole token units.
        uint256 rewardTokens = (uint256(o.rewardD6) * 1e12) / TOKEN_SCALE;

        Account storage a = _accounts[accountId];
        OrderKind kind = a.pendingFlow;
        uint256 returnAccountId = a.returnAccountId;
        if (a.mode != AccountMode.Isolated) --a.pendingOrders;
        int256 sizeDelta = kind == OrderKind.CloseIsolated
            ? -int256(_positions[accountId][marketId].size)
            : int256(o.sizeDelta);
        if (sizeDelta != 0) {
            (fill, fee) = _trade(
                accountId,
                a,
                marketId,
                m,
                price,
                sizeDelta,
                o.acceptablePrice,
                rewardTokens * TOKEN_SCALE
            );
        } else {
            // The position was liquidated away before its close settled: the reward comes from what is left.
            int256 collateral = a.collateral;
            uint256 available = collateral > 0 ? uint256(collateral) / TOKEN_SCALE : 0;
            if (rewardTokens > available) rewardTokens = available;
            _credit(a, -int256(rewardTokens * TOKEN_SCALE));
        }
        emit OrderSettled(accountId, marketId, msg.sender, price, publishTime, rewardTokens * TOKEN_SCALE);
        if (kind == OrderKind.CloseIsolated) _returnIsolated(accountId, a, returnAccountId);
        if (rewardTokens != 0) _push(msg.sender, rewardTokens);
    }

    /// @inheritdoc IOrders
    function cancelOrder(uint256 accountId, uint32 marketId) external nonReentrant {
        uint256 commitTime = _orders[accountId][marketId].commitTime;
        if (commitTime == 0) revert NoPendingOrder(accountId, marketId);
        uint256 expiryTime = commitTime + _risk.maxOrderDelay;
        if (block.timestamp <= expiryTime) revert OrderNotExpired(expiryTime);
        delete _orders[accountId][marketId];
        emit OrderCancelled(accountId, marketId, msg.sender);
        Account storage a = _accounts[accountId];
        if (a.mode != AccountMode.Isolated) --a.pendingOrders;
        if (a.pendingFlow == OrderKind.OpenIsolated && a.positionCount == 0) {
            _returnIsolated(accountId, a, a.returnAccountId);
        }
    }

    /// @dev Stores an order after the commit-time checks: the account may trade this market, one order per market,
    ///      the reward fits the budget, and (for risk-increasing orders) not paused, a free position slot and
    ///      equity >= initial margin after the order's fee and reward at the current mark price.
    function _commit(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        int256 sizeDelta,
        uint256 acceptablePrice,
        uint256 maxRewardD18,
        OrderKind kind,
        uint256 returnAccountId
    ) internal {
        Market storage m = _market(marketId);
        if (_risk.maxOrderDelay == 0) revert OrdersNotConfigured();
        if (a.mode == AccountMode.Isolated && a.marketId != marketId) revert WrongAccountMode(accountId);
        // Sizes live in int96 storage; rejecting larger deltas first also keeps the price math overflow-free.
        if (sizeDelta == 0 || sizeDelta > type(int96).max || sizeDelta < type(int96).min) {
            revert InvalidSize(sizeDelta);
        }
        Order storage o = _orders[accountId][marketId];
        if (o.commitTime != 0) revert OrderPending(accountId, marketId);
        uint256 reward = _settlementRewardD18;
        if (reward > maxRewardD18) revert SettlementRewardAboveBudget(reward, maxRewardD18);
        _checkCommit(accountId, a, marketId, m, sizeDelta, reward);

        if (acceptablePrice > type(uint96).max) acceptablePrice = type(uint96).max;
        o.sizeDelta = int96(sizeDelta);
        o.acceptablePrice = uint96(acceptablePrice);
        o.commitTime = uint32(block.timestamp);
        o.rewardD6 = uint32(reward / 1e12);
        // An isolated account's header says what its one pending order is; a cross account's counts its orders.
        if (a.mode != AccountMode.Isolated) {
            ++a.pendingOrders;
        } else if (kind != a.pendingFlow || returnAccountId != a.returnAccountId) {
            a.pendingFlow = kind;
            a.returnAccountId = SafeCast.toUint48(returnAccountId);
        }
        emit OrderCommitted(accountId, marketId, sizeDelta, acceptablePrice, block.timestamp, reward, kind);
    }

    /// @dev The commit-time margin check of a risk-increasing order, at the current mark price: at a fixed price a
    ///      trade changes equity by its fee only (positions are marked at their exit fill), so the account passes
    ///      if equity - fee - reward covers the initial margin with this position resized. Reducing orders are
    ///      left to settlement.
    function _checkCommit(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        Market storage m,
        int256 sizeDelta,
        uint256 reward
    ) internal view {
        int256 oldSize = a.positionCount == 0 ? int256(0) : int256(_positions[accountId][marketId].size);
        bool increases = _increasesRisk(oldSize, sizeDelta);
        bool portfolio = a.mode == AccountMode.Portfolio;
        if (!increases && !portfolio) return;
        if (increases) {
            if (_risk.paused) revert EnforcedPause();
            if (
                oldSize == 0 &&
                a.mode != AccountMode.Isolated &&
                a.positionCount >= _risk.maxPositionsPerAccount
            ) {
                revert TooManyPositions(_risk.maxPositionsPerAccount);
            }
        }
        uint256 price = m.feed.latestPrice();
        (, uint256 fee) = _quote(m, price, sizeDelta);
        uint256[] memory prices = _pricesFor(a);
        MarginSummary memory s = _summaryAt(accountId, a, marketId, price, prices);
        uint256 im;
        if (portfolio) {
            // As at settlement: a smaller position that raises the portfolio's MM is risk-increasing.
            uint256 mm;
            (im, mm) = _portfolioMargins(accountId, a, prices, marketId, oldSize + sizeDelta, price);
            if (!increases) {
                if (mm <= s.maintenanceMarginD18) return;
                if (_risk.paused) revert EnforcedPause();
            }
        } else {
            (, uint256 imNew, ) = _positionMargins(m, oldSize + sizeDelta, price);
            im = s.initialMarginD18 + imNew;
            if (oldSize != 0) {
                (, uint256 imOld, ) = _positionMargins(m, oldSize, price);
                im -= imOld;
            }
        }
        int256 equity = s.equityD18 - int256(fee + reward);
        if (equity < int256(im)) revert InsufficientMargin(equity, im);
    }

    /// @dev Moves an isolated account's remaining collateral to `destinationAccountId` (a cross account of the same
    ///      owner) or, for 0, to the owner's wallet in whole token units (sub-unit dust stays: payouts round down).
    function _returnIsolated(uint256 accountId, Account storage a, uint256 destinationAccountId) internal {
        int256 collateral = a.collateral;
        if (destinationAccountId == 0) {
            uint256 amount = collateral > 0 ? uint256(collateral) / TOKEN_SCALE : 0;
            if (amount == 0) return;
            _credit(a, -int256(amount * TOKEN_SCALE));
            emit Withdrawn(accountId, a.owner, amount);
            _push(a.owner, amount);
        } else {
            if (collateral <= 0) return;
            a.collateral = 0;
            _credit(_accounts[destinationAccountId], collateral);
            emit MarginTransferred(accountId, destinationAccountId, uint256(collateral));
        }
    }

    function _increasesRisk(int256 oldSize, int256 sizeDelta) internal pure returns (bool) {
        return
            oldSize == 0 ||
            (oldSize > 0) == (sizeDelta > 0) ||
            MarginMath.abs(sizeDelta) > MarginMath.abs(oldSize);
    }

    /// @dev A settled order's trade at `price`: priced and applied by the shared `_fill` (fill with skew impact,
    ///      maker/taker fee), settled by `_settle`, the keeper's `reward` taken from the account, then the margin
    ///      rule. Risk-increasing trades (open, increase, flip) need equity >= IM afterwards and are stopped by
    ///      pause. Risk-reducing trades are always allowed unless they turn a healthy account liquidatable.
    function _trade(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        Market storage m,
        uint256 price,
        int256 sizeDelta,
        uint256 acceptablePrice,
        uint256 reward
    ) internal returns (uint256, uint256) {
        int256 oldSize = _positions[accountId][marketId].size;
        bool increasesRisk = _increasesRisk(oldSize, sizeDelta);
        if (increasesRisk && _risk.paused) revert EnforcedPause();

        Fill memory f = _fill(accountId, a, marketId, m, price, sizeDelta, acceptablePrice);
        if (f.fill == 0) revert SlippageExceeded(0, acceptablePrice);
        uint256 feeToInsurance = _settle(
            accountId,
            a,
            marketId,
            f.realisedPnl - f.funding,
            f.fee,
            uint256(m.insuranceFeeShareD9) * D9_TO_D18
        );
        if (reward != 0) _credit(a, -int256(reward));
        emit PositionModified(
            accountId,
            marketId,
            sizeDelta,
            f.newSize,
            f.fill,
            f.fee,
            feeToInsurance,
            f.realisedPnl,
            f.funding,
            m.fundingRate,
            m.fundingIndex
        );
        if (increasesRisk) _checkCapacity(marketId, m, f.newSize);

        uint256[] memory prices = _pricesFor(a);
        MarginSummary memory s = _summaryAt(accountId, a, marketId, price, prices);
        // Maintenance margin before the trade at the same prices, for a reducing trade.
        uint256 mmBefore;
        if (!increasesRisk) {
            if (a.mode == AccountMode.Portfolio) {
                // In a portfolio, a smaller position can add risk (one leg of a hedge closed): such a trade is
                // risk-increasing (IM, pause) unless the portfolio's MM does not rise.
                (, mmBefore) = _portfolioMargins(accountId, a, prices, marketId, oldSize, price);
                if (s.maintenanceMarginD18 > mmBefore) {
                    if (_risk.paused) revert EnforcedPause();
                    increasesRisk = true;
                }
            } else if (s.equityD18 < int256(s.maintenanceMarginD18)) {
                // Cross and isolated: only this position's MM changed.
                (, , uint256 mmOld) = _positionMargins(m, oldSize, price);
                uint256 mmNew;
                if (f.newSize != 0) (, , mmNew) = _positionMargins(m, f.newSize, price);
                mmBefore = s.maintenanceMarginD18 + mmOld - mmNew;
            }
        }
        if (increasesRisk) {
            if (s.equityD18 < int256(s.initialMarginD18))
                revert InsufficientMargin(s.equityD18, s.initialMarginD18);
        } else if (s.equityD18 < int256(s.maintenanceMarginD18)) {
            _checkReduce(s, mmBefore, f, reward);
        }
        return (f.fill, f.fee);
    }

    /// @dev Room for the held markets' prices when the account's margin needs them again (portfolio accounts), or
    ///      an empty array (cross and isolated accounts, whose `_summaryAt` then writes none).
    function _pricesFor(Account storage a) internal view returns (uint256[] memory) {
        return new uint256[](a.mode == AccountMode.Portfolio ? a.positionCount : 0);
    }

    /// @dev A risk-reducing trade left the account below maintenance margin. Reconstruct the pre-trade figures:
    ///      positions are marked at their exit fill and a reduce sells (or buys) along the same impact line a full
    ///      close would, so at a fixed oracle price the trade changed equity by its fee only (up to rounding; the
    ///      keeper's `reward` is added back too), and maintenance margin was `mmBefore`. The reduce is refused if the
    ///      account was healthy before, or if it would leave negative equity behind (closing out an insolvent
    ///      account is liquidation's job).
    function _checkReduce(
        MarginSummary memory s,
        uint256 mmBefore,
        Fill memory f,
        uint256 reward
    ) internal pure {
        int256 equityBefore = s.equityD18 + int256(f.fee + reward);
        bool wasHealthy = equityBefore >= int256(mmBefore);
        if (wasHealthy || s.equityD18 < 0) revert WouldBeLiquidatable(s.equityD18, s.maintenanceMarginD18);
    }

    /// @dev Open-interest caps for a risk-increasing trade: the side the position is on must stay under its cap,
    ///      and vault cash must cover the total reserve.
    function _checkCapacity(uint32 marketId, Market storage m, int256 newSize) internal view {
        uint256 cap = m.maxOiPerSide;
        uint256 oi = newSize > 0 ? m.longOi : m.shortOi;
        if (oi > cap) revert OpenInterestCapExceeded(marketId, oi, cap);
        int256 cash = _ledger.vaultCash;
        uint256 reserved = _totalReservedD18();
        if (int256(reserved) > cash) revert VaultCapacityExceeded(reserved, cash);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarginEngine
    function settlementToken() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IMarginEngine
    function vaultCash() external view returns (int256) {
        return _ledger.vaultCash;
    }

    /// @inheritdoc IMarginEngine
    function totalReserved() external view returns (uint256) {
        return _totalReservedD18();
    }

    /// @inheritdoc IMarginEngine
    function vaultValue() external view returns (int256 value) {
        (value, ) = vaultValueAt();
    }

    /// @inheritdoc IMarginEngine
    /// @dev Loops over markets (at most MAX_MARKETS), never over positions; reverts while any market with open
    ///      interest has no valid price, so LP shares are never priced on a guess.
    function vaultValueAt() public view returns (int256 value, uint256 oldestPublishTime) {
        value = _ledger.vaultCash;
        oldestPublishTime = block.timestamp;
        uint32 n = _marketCount;
        for (uint32 id = 1; id <= n; ++id) {
            Market storage m = _markets[id];
            if (m.longOi == 0 && m.shortOi == 0) continue;
            (uint256 price, uint256 publishTime) = m.feed.latestPriceData();
            if (publishTime < oldestPublishTime) oldestPublishTime = publishTime;
            value -= _tradersNetPnl(m, price);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 VAULT
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarginEngine
    function vaultDeposit(uint256 amount) external nonReentrant {
        if (msg.sender != vault) revert NotVault(msg.sender);
        if (amount == 0) revert ZeroAmount();
        _pullExact(msg.sender, amount);
        int256 delta = SafeCast.toInt256(amount * TOKEN_SCALE);
        _addVaultCash(delta);
        emit VaultCashMoved(delta, _ledger.vaultCash);
    }

    /// @inheritdoc IMarginEngine
    function vaultWithdraw(uint256 amount, address receiver) external nonReentrant {
        if (msg.sender != vault) revert NotVault(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (receiver == address(0)) revert ZeroAddress();
        int256 delta = SafeCast.toInt256(amount * TOKEN_SCALE);
        int256 cash = _ledger.vaultCash - delta;
        uint256 reserved = _totalReservedD18();
        if (cash < int256(reserved)) revert VaultCapacityExceeded(reserved, cash);
        _addVaultCash(-delta);
        emit VaultCashMoved(-delta, cash);
        _push(receiver, amount);
    }

    /// @inheritdoc IMarginEngine
    function paused() external view returns (bool) {
        return _risk.paused;
    }
}
