// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {EngineBase} from "./EngineBase.sol";
import {ILiquidation} from "../interfaces/ILiquidation.sol";
import {LiquidationModule} from "./LiquidationModule.sol";

/// @title MarginEngine
/// @notice Bulkhead's entry point: accounts, margin, trading, views, vault ledger and governance. Liquidation and
///         ADL live in `LiquidationModule`, a separate contract (to stay under the 24 KiB code limit) that this
///         engine runs by delegatecall on its own storage for exactly the `ILiquidation` selectors.
/// @dev Integrators use `IBulkhead` (IMarginEngine + ILiquidation) at this address.
contract MarginEngine is IMarginEngine, EngineBase {
    using MarginMath for uint256;

    /*//////////////////////////////////////////////////////////////
                            PARAMETER BOUNDS
    //////////////////////////////////////////////////////////////*/

    uint256 internal constant MIN_BASE_IMR = 0.005e18; // 200x leverage at most
    uint256 internal constant MAX_IMR = 1e18; // 1x
    uint256 internal constant MAX_IMR_SLOPE = 10e18;
    uint256 internal constant MIN_MM_SCALAR = 0.1e18;
    uint256 internal constant MAX_MM_SCALAR = 0.9e18;
    uint256 internal constant MAX_FUNDING_VELOCITY = 10e18;
    uint256 internal constant MAX_MIN_POSITION_MARGIN = 1_000_000e18;
    uint256 internal constant MAX_TRADE_FEE = 0.01e18;
    uint256 internal constant MAX_LIQUIDATION_FEE = 0.05e18;
    uint256 internal constant MAX_KEEPER_REWARD = 10_000e18;
    uint256 internal constant MAX_LIQUIDATION_BUFFER = 0.5e18;
    uint256 internal constant MAX_INSURANCE_FEE_SHARE = 0.5e18;
    uint256 internal constant MAX_SIZE_PARAM = 1e36;

    /// @notice The liquidation module this engine delegates the `ILiquidation` selectors to.
    address public immutable liquidationModule;

    /// @notice Thrown when the liquidation module was built for another settlement token.
    error ModuleMismatch();
    /// @notice Thrown for a call to a function this engine does not have.
    error UnknownSelector(bytes4 selector);

    /// @param token The settlement asset (at most 18 decimals).
    /// @param admin Receives the admin role, which can grant the risk and pause roles.
    /// @param risk Initial protocol-wide risk parameters.
    /// @param module The `LiquidationModule` deployed for the same token.
    constructor(
        IERC20Metadata token,
        address admin,
        RiskParams memory risk,
        LiquidationModule module
    ) EngineBase(token) {
        if (admin == address(0) || address(module) == address(0)) revert ZeroAddress();
        if (module.moduleToken() != address(token)) revert ModuleMismatch();
        liquidationModule = address(module);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setRiskParams(risk);
    }

    /// @dev Routes the `ILiquidation` selectors to the module by delegatecall, so liquidation runs on this
    ///      engine's storage; anything else reverts. Views work too: a delegatecall inside a staticcall stays static.
    // An explicit selector allowlist, then a plain delegatecall.
    // solhint-disable-next-line no-complex-fallback
    fallback() external {
        bytes4 selector = msg.sig;
        if (
            selector != ILiquidation.liquidate.selector &&
            selector != ILiquidation.liquidateBatch.selector &&
            selector != LiquidationModule.liquidateInBatch.selector &&
            selector != ILiquidation.autoDeleverage.selector &&
            selector != ILiquidation.quoteLiquidation.selector &&
            selector != ILiquidation.liquidationQuotes.selector &&
            selector != ILiquidation.adlStatus.selector
        ) revert UnknownSelector(selector);
        address module = liquidationModule;
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
        return _createAccount(msg.sender, false, 0);
    }

    /// @inheritdoc IMarginEngine
    function createIsolatedAccount(uint32 marketId) external returns (uint256) {
        _market(marketId);
        return _createAccount(msg.sender, true, marketId);
    }

    function _createAccount(
        address owner,
        bool isolated,
        uint32 marketId
    ) internal returns (uint256 accountId) {
        accountId = ++_accountCount;
        Account storage a = _accounts[accountId];
        a.owner = owner;
        a.isolated = isolated;
        a.marketId = marketId;
        emit AccountCreated(accountId, owner, isolated, marketId);
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

    /// @inheritdoc IMarginEngine
    function isAuthorized(uint256 accountId, address caller) external view returns (bool) {
        address owner = _accounts[accountId].owner;
        return
            owner != address(0) &&
            (caller == owner || isOperator[owner][caller] || isAccountOperator[accountId][caller]);
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
        _debit(a, amount * TOKEN_SCALE);
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
        _debit(from, amountD18);
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

    /// @dev Takes `amountD18` of realised collateral; only what is there can leave.
    function _debit(Account storage a, uint256 amountD18) internal {
        int256 collateral = a.collateral;
        if (collateral < 0 || uint256(collateral) < amountD18)
            revert InsufficientCollateral(collateral, amountD18);
        a.collateral = SafeCast.toInt120(collateral - int256(amountD18));
    }

    /// @dev Risk-adding check: equity >= total initial margin (trivially true without positions).
    function _requireInitialMargin(uint256 accountId, Account storage a) internal view {
        if (a.positionCount == 0) return;
        MarginSummary memory s = _summary(accountId, a);
        if (s.equityD18 < int256(s.initialMarginD18))
            revert InsufficientMargin(s.equityD18, s.initialMarginD18);
    }

    /*//////////////////////////////////////////////////////////////
                                TRADING
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarginEngine
    function trade(
        uint256 accountId,
        uint32 marketId,
        int256 sizeDeltaD18,
        uint256 acceptablePriceD18
    ) external nonReentrant returns (uint256, uint256) {
        return _trade(accountId, _authorizedAccount(accountId), marketId, sizeDeltaD18, acceptablePriceD18);
    }

    /// @inheritdoc IMarginEngine
    function openIsolated(
        uint32 marketId,
        uint256 sourceAccountId,
        uint256 margin,
        int256 sizeDeltaD18,
        uint256 acceptablePriceD18
    ) external nonReentrant returns (uint256 accountId) {
        _market(marketId);
        if (margin == 0) revert ZeroAmount();
        uint256 marginD18 = margin * TOKEN_SCALE;
        if (sourceAccountId == 0) {
            accountId = _createAccount(msg.sender, true, marketId);
            _pullExact(msg.sender, margin);
            emit Deposited(accountId, msg.sender, margin);
        } else {
            Account storage source = _authorizedAccount(sourceAccountId);
            if (source.isolated) revert WrongAccountMode(sourceAccountId);
            accountId = _createAccount(source.owner, true, marketId);
            _debit(source, marginD18);
            _requireInitialMargin(sourceAccountId, source);
            emit MarginTransferred(sourceAccountId, accountId, marginD18);
        }
        Account storage a = _accounts[accountId];
        a.collateral = SafeCast.toInt120(SafeCast.toInt256(marginD18));
        _trade(accountId, a, marketId, sizeDeltaD18, acceptablePriceD18);
    }

    /// @inheritdoc IMarginEngine
    function closeIsolated(
        uint256 accountId,
        uint256 acceptablePriceD18,
        uint256 destinationAccountId,
        address receiver
    ) external nonReentrant returns (uint256 returnedD18) {
        Account storage a = _authorizedAccount(accountId);
        if (!a.isolated) revert WrongAccountMode(accountId);
        if (destinationAccountId == 0) {
            if (receiver == address(0)) revert ZeroAddress();
        } else {
            Account storage d = _account(destinationAccountId);
            if (d.owner != a.owner || d.isolated) revert InvalidTransfer(accountId, destinationAccountId);
        }
        uint32 marketId = a.marketId;
        int256 size = _positions[accountId][marketId].size;
        if (size != 0) _trade(accountId, a, marketId, -size, acceptablePriceD18);

        int256 collateral = a.collateral;
        if (destinationAccountId == 0) {
            // Sub-unit dust stays in the account: payouts round down.
            uint256 amount = collateral > 0 ? uint256(collateral) / TOKEN_SCALE : 0;
            if (amount == 0) return 0;
            returnedD18 = amount * TOKEN_SCALE;
            _credit(a, -int256(returnedD18));
            emit Withdrawn(accountId, receiver, amount);
            _push(receiver, amount);
        } else {
            if (collateral <= 0) return 0;
            returnedD18 = uint256(collateral);
            a.collateral = 0;
            _credit(_accounts[destinationAccountId], collateral);
            emit MarginTransferred(accountId, destinationAccountId, returnedD18);
        }
    }

    /// @dev The figures of an executed trade.
    struct Execution {
        uint256 price;
        uint256 fill;
        uint256 fee;
        int256 newSize;
    }

    /// @dev A trade: fill price with skew impact, maker/taker fee, the shared position routine, then the margin
    ///      rule. Risk-increasing trades (open, increase, flip) need equity >= IM afterwards and are stopped by
    ///      pause. Risk-reducing trades are always allowed unless they turn a healthy account liquidatable.
    function _trade(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        int256 sizeDelta,
        uint256 acceptablePrice
    ) internal returns (uint256, uint256) {
        Market storage m = _market(marketId);
        if (a.isolated && a.marketId != marketId) revert WrongAccountMode(accountId);
        // Sizes live in int128 storage; rejecting larger deltas first also keeps the price math overflow-free.
        if (sizeDelta == 0 || sizeDelta > type(int128).max || sizeDelta < type(int128).min) {
            revert InvalidSize(sizeDelta);
        }

        int256 oldSize = _positions[accountId][marketId].size;
        bool increasesRisk = oldSize == 0 ||
            (oldSize > 0) == (sizeDelta > 0) ||
            MarginMath.abs(sizeDelta) > MarginMath.abs(oldSize);
        if (increasesRisk) _requireNotPaused();

        Execution memory e = _execute(accountId, a, marketId, m, sizeDelta, acceptablePrice);
        if (increasesRisk) _checkCapacity(marketId, m, e.newSize);

        MarginSummary memory s = _summaryAt(accountId, a, marketId, e.price, new uint256[](0));
        if (increasesRisk) {
            if (s.equityD18 < int256(s.initialMarginD18))
                revert InsufficientMargin(s.equityD18, s.initialMarginD18);
        } else if (s.equityD18 < int256(s.maintenanceMarginD18)) {
            _checkReduce(s, m, sizeDelta, oldSize, e);
        }
        return (e.fill, e.fee);
    }

    /// @dev Prices and applies a trade: accrues funding, computes the fill with skew impact and the maker/taker
    ///      fee, checks the caller's price bound, then moves the position, the fee and the reserve.
    function _execute(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        Market storage m,
        int256 sizeDelta,
        uint256 acceptablePrice
    ) internal returns (Execution memory e) {
        e.price = m.feed.latestPrice();
        int256 index = _accrueFunding(m, e.price);
        int256 skew = int256(uint256(m.longOi)) - int256(uint256(m.shortOi));
        e.fill = MarginMath.fillPrice(e.price, skew, sizeDelta, m.skewScale);
        if (e.fill == 0 || (sizeDelta > 0 ? e.fill > acceptablePrice : e.fill < acceptablePrice)) {
            revert SlippageExceeded(e.fill, acceptablePrice);
        }
        e.fee = MarginMath.tradingFee(e.price, skew, sizeDelta, m.skewScale, m.makerFee, m.takerFee);

        Fill memory f = _applyFill(accountId, a, marketId, m, index, sizeDelta, e.fill);
        e.newSize = f.newSize;
        uint256 toInsurance = _chargeFee(a, e.fee);
        _updateReserve(m, e.price);
        emit PositionModified(
            accountId,
            marketId,
            sizeDelta,
            f.newSize,
            e.fill,
            e.fee,
            toInsurance,
            f.realisedPnl,
            f.funding
        );
        _emitMarketUpdated(marketId, m);
    }

    /// @dev A risk-reducing trade left the account below maintenance margin. Reconstruct the pre-trade figures:
    ///      at a fixed oracle price the trade changed equity by delta x (price - fill) - fee (funding only moved
    ///      from accrued to realised), and maintenance margin by this position's MM after minus before. The
    ///      reduce is refused if the account was healthy before, or if it would leave negative equity behind
    ///      (closing out an insolvent account is liquidation's job).
    function _checkReduce(
        MarginSummary memory s,
        Market storage m,
        int256 sizeDelta,
        int256 oldSize,
        Execution memory e
    ) internal view {
        int256 equityBefore = s.equityD18 +
            int256(e.fee) +
            MarginMath.divCeil(sizeDelta * (int256(e.fill) - int256(e.price)), MarginMath.SWAD);
        (, , uint256 mmOld) = _positionMargins(m, oldSize, e.price);
        uint256 mmNew;
        if (e.newSize != 0) (, , mmNew) = _positionMargins(m, e.newSize, e.price);
        bool wasHealthy = equityBefore >= int256(s.maintenanceMarginD18 + mmOld - mmNew);
        if (wasHealthy || s.equityD18 < 0) revert WouldBeLiquidatable(s.equityD18, s.maintenanceMarginD18);
    }

    /// @dev Charges `fee` to the account and splits it between the vault and the insurance fund (insurance's
    ///      share rounds down). One write: both live in the ledger slot.
    function _chargeFee(Account storage a, uint256 fee) internal returns (uint256 toInsurance) {
        if (fee == 0) return 0;
        toInsurance = fee.mulDown(_risk.insuranceFeeShareD18);
        _credit(a, -int256(fee));
        Ledger memory ledger = _ledger;
        ledger.vaultCash = SafeCast.toInt104(ledger.vaultCash + int256(fee - toInsurance));
        ledger.insurance = SafeCast.toUint96(ledger.insurance + toInsurance);
        _ledger = ledger;
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
    function getAccount(uint256 accountId) external view returns (AccountInfo memory info) {
        Account storage a = _account(accountId);
        info = AccountInfo(a.owner, a.isolated, a.marketId, a.positionCount, a.collateral);
    }

    /// @inheritdoc IMarginEngine
    function getPositions(uint256 accountId) external view returns (PositionInfo[] memory positions) {
        Account storage a = _account(accountId);
        uint256 n = a.positionCount;
        positions = new PositionInfo[](n);
        for (uint256 i; i < n; ++i) {
            uint32 marketId = _marketAt(a, i);
            Position storage p = _positions[accountId][marketId];
            positions[i] = PositionInfo(marketId, p.size, p.basis, p.lastFundingIndex);
        }
    }

    /// @inheritdoc IMarginEngine
    function marginSummary(uint256 accountId) external view returns (MarginSummary memory) {
        return _summary(accountId, _account(accountId));
    }

    /// @inheritdoc IMarginEngine
    function freeCollateral(uint256 accountId) external view returns (int256) {
        MarginSummary memory s = _summary(accountId, _account(accountId));
        return s.equityD18 - int256(s.initialMarginD18);
    }

    /// @inheritdoc IMarginEngine
    function maxWithdrawable(uint256 accountId) external view returns (uint256) {
        MarginSummary memory s = _summary(accountId, _account(accountId));
        int256 free = s.collateralD18;
        if (s.notionalD18 != 0) {
            int256 overIm = s.equityD18 - int256(s.initialMarginD18);
            if (overIm < free) free = overIm;
        }
        return free > 0 ? uint256(free) / TOKEN_SCALE : 0;
    }

    /// @inheritdoc IMarginEngine
    function healthFactor(uint256 accountId) external view returns (uint256) {
        MarginSummary memory s = _summary(accountId, _account(accountId));
        if (s.maintenanceMarginD18 == 0) return type(uint256).max;
        if (s.equityD18 <= 0) return 0;
        return (uint256(s.equityD18) * WAD) / s.maintenanceMarginD18;
    }

    /// @inheritdoc IMarginEngine
    function isLiquidatable(uint256 accountId) external view returns (bool) {
        MarginSummary memory s = _summary(accountId, _account(accountId));
        return s.notionalD18 != 0 && s.equityD18 < int256(s.maintenanceMarginD18);
    }

    /// @inheritdoc IMarginEngine
    /// @dev Equity(P) = E0 + size x (P - P0) and MM(P) = MM0 + |size| x (P - P0) x imr x mmScalar, because the
    ///      position's IMR depends on its size only. Solving E(P) = MM(P) for P gives
    ///      P = P0 + (MM0 - E0) / (size - |size| x k) with k = imr x mmScalar. The move from P0 rounds towards
    ///      zero, so a healthy position's liquidation price is reported slightly early (up for longs, down for
    ///      shorts).
    function liquidationPrice(uint256 accountId, uint32 marketId) external view returns (uint256) {
        Account storage a = _account(accountId);
        Market storage m = _market(marketId);
        int256 size = _positions[accountId][marketId].size;
        if (size == 0) revert NoPosition(accountId, marketId);
        MarginSummary memory s = _summary(accountId, a);
        uint256 price = m.feed.latestPrice();
        uint256 k = MarginMath.imr(size, m.baseImr, m.maxImr, m.imrSizeSlope, m.skewScale).mulUp(m.mmScalar);
        int256 slope = size - int256(MarginMath.abs(size).mulUp(k)); // d(E - MM)/dP x WAD, never 0
        int256 gap = int256(s.maintenanceMarginD18) - s.equityD18; // MM0 - E0
        // Truncation rounds the move towards zero, i.e. the price is reported on the current price's side.
        int256 move = (gap * MarginMath.SWAD) / slope;
        int256 liq = int256(price) + move;
        return liq > 0 ? uint256(liq) : 0;
    }

    /// @inheritdoc IMarginEngine
    function quoteTrade(uint32 marketId, int256 sizeDeltaD18) external view returns (TradeQuote memory q) {
        Market storage m = _market(marketId);
        q.oraclePriceD18 = m.feed.latestPrice();
        int256 skew = int256(uint256(m.longOi)) - int256(uint256(m.shortOi));
        q.fillPriceD18 = MarginMath.fillPrice(q.oraclePriceD18, skew, sizeDeltaD18, m.skewScale);
        q.feeD18 = MarginMath.tradingFee(
            q.oraclePriceD18,
            skew,
            sizeDeltaD18,
            m.skewScale,
            m.makerFee,
            m.takerFee
        );
    }

    /// @inheritdoc IMarginEngine
    function getMarketParams(uint32 marketId) external view returns (MarketParams memory p) {
        Market storage m = _market(marketId);
        p = MarketParams(
            m.feed,
            m.baseImr,
            m.maxImr,
            m.imrSizeSlope,
            m.mmScalar,
            m.maxFundingVelocity,
            m.minPositionMargin,
            m.skewScale,
            m.makerFee,
            m.takerFee,
            m.liquidationFee,
            m.reserveRatio,
            m.maxOiPerSide
        );
    }

    /// @inheritdoc IMarginEngine
    function getMarketState(uint32 marketId) external view returns (MarketState memory s) {
        Market storage m = _market(marketId);
        s = MarketState(
            m.longOi,
            m.shortOi,
            m.fundingIndex,
            m.fundingRate,
            m.lastFundingTime,
            m.netBasis,
            m.netFundingBasis,
            uint128(uint256(m.reserved) * WAD)
        );
    }

    /// @inheritdoc IMarginEngine
    function currentFunding(uint32 marketId) external view returns (int256, int256) {
        Market storage m = _market(marketId);
        return _pendingFunding(m, m.feed.latestPrice());
    }

    /// @inheritdoc IMarginEngine
    function marketCount() external view returns (uint32) {
        return _marketCount;
    }

    /// @inheritdoc IMarginEngine
    function accountCount() external view returns (uint256) {
        return _accountCount;
    }

    /// @inheritdoc IMarginEngine
    function getRiskParams() external view returns (RiskParams memory) {
        return _risk;
    }

    /// @inheritdoc IMarginEngine
    function vaultCash() external view returns (int256) {
        return _ledger.vaultCash;
    }

    /// @inheritdoc IMarginEngine
    function insuranceFund() external view returns (uint256) {
        return _ledger.insurance;
    }

    /// @inheritdoc IMarginEngine
    function totalReserved() external view returns (uint256) {
        return _totalReservedD18();
    }

    /// @inheritdoc IMarginEngine
    function tradersNetPnl(uint32 marketId) external view returns (int256) {
        return _tradersNetPnl(_market(marketId));
    }

    /// @inheritdoc IMarginEngine
    /// @dev Loops over markets (at most MAX_MARKETS), never over positions; reverts while any market with open
    ///      interest has no valid price, so LP shares are never priced on a guess.
    function vaultValue() public view returns (int256 value) {
        value = _ledger.vaultCash;
        uint32 n = _marketCount;
        for (uint32 id = 1; id <= n; ++id) {
            Market storage m = _markets[id];
            if (m.longOi == 0 && m.shortOi == 0) continue;
            value -= _tradersNetPnl(m);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 VAULT
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarginEngine
    function setVault(address vault_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (vault_ == address(0)) revert ZeroAddress();
        if (vault != address(0)) revert VaultAlreadySet();
        vault = vault_;
        emit VaultSet(vault_);
    }

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

    /*//////////////////////////////////////////////////////////////
                               GOVERNANCE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IMarginEngine
    function listMarket(MarketParams calldata params) external onlyRole(RISK_ROLE) returns (uint32 marketId) {
        if (_marketCount >= MAX_MARKETS) revert TooManyMarkets();
        marketId = ++_marketCount;
        _writeMarketParams(_markets[marketId], params);
        _markets[marketId].lastFundingTime = uint48(block.timestamp);
        emit MarketListed(marketId, params);
    }

    /// @inheritdoc IMarginEngine
    /// @dev Funding is accrued under the old parameters first when a price is available, so a new velocity
    ///      applies from now on only.
    function setMarketParams(uint32 marketId, MarketParams calldata params) external onlyRole(RISK_ROLE) {
        Market storage m = _market(marketId);
        try m.feed.latestPrice() returns (uint256 price) {
            _accrueFunding(m, price);
        } catch {}
        _writeMarketParams(m, params);
        emit MarketParamsUpdated(marketId, params);
    }

    /// @inheritdoc IMarginEngine
    function setRiskParams(RiskParams calldata params) external onlyRole(RISK_ROLE) {
        _setRiskParams(params);
    }

    /// @inheritdoc IMarginEngine
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IMarginEngine
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @dev Hard bounds. The two cross-parameter rules carry the liquidation guarantees:
    ///      liquidationFee < baseImr x mmScalar (liquidating at the maintenance boundary leaves equity >= 0) and
    ///      minPositionMargin >= maxKeeperReward (a dust position always pays its liquidator).
    function _writeMarketParams(Market storage m, MarketParams calldata p) internal {
        if (address(p.feed) == address(0)) revert ZeroAddress();
        _check(p.baseImrD18 >= MIN_BASE_IMR && p.baseImrD18 <= p.maxImrD18, "baseImr");
        _check(p.maxImrD18 <= MAX_IMR, "maxImr");
        _check(p.imrSizeSlopeD18 <= MAX_IMR_SLOPE, "imrSizeSlope");
        _check(p.mmScalarD18 >= MIN_MM_SCALAR && p.mmScalarD18 <= MAX_MM_SCALAR, "mmScalar");
        _check(p.maxFundingVelocityD18 <= MAX_FUNDING_VELOCITY, "maxFundingVelocity");
        _check(
            p.minPositionMarginD18 >= _risk.maxKeeperRewardD18 &&
                p.minPositionMarginD18 <= MAX_MIN_POSITION_MARGIN,
            "minPositionMargin"
        );
        _check(p.skewScaleD18 > 0 && p.skewScaleD18 <= MAX_SIZE_PARAM, "skewScale");
        _check(p.makerFeeD18 <= MAX_TRADE_FEE && p.takerFeeD18 <= MAX_TRADE_FEE, "tradeFee");
        _check(
            p.liquidationFeeD18 <= MAX_LIQUIDATION_FEE &&
                p.liquidationFeeD18 < uint256(p.baseImrD18).mulDown(p.mmScalarD18),
            "liquidationFee"
        );
        _check(p.reserveRatioD18 > 0 && p.reserveRatioD18 <= WAD, "reserveRatio");
        _check(p.maxOiPerSideD18 > 0 && p.maxOiPerSideD18 <= p.skewScaleD18, "maxOiPerSide");
        m.feed = p.feed;
        m.baseImr = p.baseImrD18;
        m.maxImr = p.maxImrD18;
        m.imrSizeSlope = p.imrSizeSlopeD18;
        m.mmScalar = p.mmScalarD18;
        m.maxFundingVelocity = p.maxFundingVelocityD18;
        m.minPositionMargin = p.minPositionMarginD18;
        m.skewScale = p.skewScaleD18;
        m.makerFee = p.makerFeeD18;
        m.takerFee = p.takerFeeD18;
        m.liquidationFee = p.liquidationFeeD18;
        m.reserveRatio = p.reserveRatioD18;
        m.maxOiPerSide = p.maxOiPerSideD18;
    }

    function _setRiskParams(RiskParams memory p) internal {
        _check(
            p.maxPositionsPerAccount >= 1 && p.maxPositionsPerAccount <= MAX_POSITIONS,
            "maxPositionsPerAccount"
        );
        _check(p.keeperShareD18 <= WAD, "keeperShare");
        _check(p.liquidationBufferD18 <= MAX_LIQUIDATION_BUFFER, "liquidationBuffer");
        _check(p.insuranceFeeShareD18 <= MAX_INSURANCE_FEE_SHARE, "insuranceFeeShare");
        _check(
            p.minKeeperRewardD18 <= p.maxKeeperRewardD18 && p.maxKeeperRewardD18 <= MAX_KEEPER_REWARD,
            "keeperReward"
        );
        uint32 n = _marketCount;
        for (uint32 id = 1; id <= n; ++id) {
            _check(_markets[id].minPositionMargin >= p.maxKeeperRewardD18, "keeperReward");
        }
        _check(p.partialLiquidationNotionalD18 > 0, "partialLiquidationNotional");
        _check(p.adlTargetD18 > 0 && p.adlTargetD18 < p.adlTriggerD18 && p.adlTriggerD18 <= WAD, "adl");
        _risk = p;
        emit RiskParamsUpdated(p);
    }

    function _check(bool ok, bytes32 name) internal pure {
        if (!ok) revert ParameterOutOfBounds(name);
    }
}
