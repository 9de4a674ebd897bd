// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {IGovernance} from "../interfaces/IGovernance.sol";
import {IOrders} from "../interfaces/IOrders.sol";
import {IPortfolioMargin} from "../interfaces/IPortfolioMargin.sol";
import {IVolatilityOracle} from "../interfaces/IVolatilityOracle.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {EngineBase} from "./EngineBase.sol";

/// @title GovernanceModule
/// @notice Market listing, parameters and their hard bounds, pausing, and recovery of stray tokens: everything
///         governance can do to an engine, in one place.
/// @dev Runs by delegatecall from `MarginEngine` for exactly the `IGovernance` selectors (the engine's fallback
///      routes them here). Called directly it acts on its own empty storage: every role check fails.
contract GovernanceModule is IGovernance, EngineBase {
    using SafeERC20 for IERC20;
    using MarginMath for uint256;

    /*//////////////////////////////////////////////////////////////
                            PARAMETER BOUNDS
    //////////////////////////////////////////////////////////////*/

    uint256 public constant MIN_BASE_IMR = 0.005e18; // 200x leverage at most
    uint256 public constant MAX_IMR = 1e18; // 1x
    uint256 public constant MAX_IMR_SLOPE = 4e18;
    uint256 public constant MIN_MM_SCALAR = 0.1e18;
    uint256 public constant MAX_MM_SCALAR = 0.9e18;
    uint256 public constant MAX_FUNDING_VELOCITY = 4e18;
    uint256 public constant MAX_MIN_POSITION_MARGIN = 1_000_000e18;
    uint256 public constant MAX_TRADE_FEE = 0.01e18;
    uint256 public constant MAX_LIQUIDATION_FEE = 0.05e18;
    uint256 public constant MAX_KEEPER_REWARD = 100_000e18;
    uint256 public constant MAX_LIQUIDATION_BUFFER = 0.5e18;
    uint256 public constant MAX_INSURANCE_FEE_SHARE = 0.5e18;
    uint256 public constant MAX_ADL_MIN_SHARE = 0.5e18;
    uint256 public constant MAX_PRICE_DIVERGENCE = 0.1e18;
    uint256 public constant MAX_MIN_ORDER_DELAY = 1 hours;
    uint256 public constant MAX_ORDER_WINDOW = 1 days;
    uint256 public constant MAX_SETTLEMENT_REWARD = 1_000e18;
    /// @dev 1e10 base units: open interest and positions live in 96-bit storage.
    uint256 public constant MAX_SIZE_PARAM = 1e28;
    /// @notice While a market has open interest, a change that raises its margin requirement (a higher base or
    ///         max IMR, IMR slope, MM scalar or minimum position margin, or a smaller skew scale) may move each
    ///         parameter by at most this fraction of its value per hour since the market's last such change
    ///         (at most one hour's worth at once): requirements ramp up, never jump (DESIGN.md, Dynamic margin).
    uint256 public constant MAX_TIGHTENING_PER_HOUR = 0.1e18;

    constructor(IERC20Metadata token) EngineBase(token) {}

    /// @notice The settlement token this module was built for; the engine checks it matches its own.
    function moduleToken() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IGovernance
    /// @dev `maxPositionsPerAccount` is never 0 once set, so this runs exactly once: inside the engine's
    ///      constructor, before any role exists.
    function initializeRisk(IMarginEngine.RiskParams calldata params) external {
        if (_risk.maxPositionsPerAccount != 0) revert AlreadyInitialized();
        _setRiskParams(params);
    }

    /// @inheritdoc IGovernance
    function listMarket(
        IMarginEngine.MarketParams calldata params
    ) external onlyRole(RISK_ROLE) returns (uint32 marketId) {
        if (_marketCount >= MAX_MARKETS) revert IMarginEngine.TooManyMarkets();
        marketId = ++_marketCount;
        _writeMarketParams(_markets[marketId], params);
        _markets[marketId].lastFundingTime = uint48(block.timestamp);
        emit IMarginEngine.MarketListed(marketId, params);
    }

    /// @inheritdoc IGovernance
    /// @dev Funding is accrued under the old parameters first when a price is available, so a new velocity
    ///      applies from now on only.
    function setMarketParams(
        uint32 marketId,
        IMarginEngine.MarketParams calldata params
    ) external onlyRole(RISK_ROLE) {
        Market storage m = _market(marketId);
        try m.feed.latestPrice() returns (uint256 price) {
            _accrueFunding(m, price);
        } catch {}
        if (m.longOi != 0 || m.shortOi != 0) _checkMarginRamp(marketId, m, params);
        _writeMarketParams(m, params);
        emit IMarginEngine.MarketParamsUpdated(marketId, params);
    }

    /// @dev MAX_TIGHTENING_PER_HOUR, parameter by parameter. The step is relative to the current value, or to a
    ///      small floor for a parameter at or near zero (0.01 for ratios and the slope, 10 USD of minimum margin),
    ///      so that none is stuck at zero. Loosening is never limited.
    function _checkMarginRamp(
        uint32 marketId,
        Market storage m,
        IMarginEngine.MarketParams calldata p
    ) internal {
        uint256 elapsed = block.timestamp - _marginTightenedAt[marketId];
        if (elapsed > 1 hours) elapsed = 1 hours;
        bool tightened = _rampUp("baseImr", uint256(m.baseImrD9) * D9_TO_D18, p.baseImrD18, 0.01e18, elapsed);
        tightened =
            _rampUp("maxImr", uint256(m.maxImrD9) * D9_TO_D18, p.maxImrD18, 0.01e18, elapsed) || tightened;
        tightened =
            _rampUp(
                "imrSizeSlope",
                uint256(m.imrSizeSlopeD9) * D9_TO_D18,
                p.imrSizeSlopeD18,
                0.01e18,
                elapsed
            ) || tightened;
        tightened =
            _rampUp("mmScalar", uint256(m.mmScalarD9) * D9_TO_D18, p.mmScalarD18, 0.01e18, elapsed) ||
            tightened;
        tightened =
            _rampUp("minPositionMargin", m.minPositionMargin, p.minPositionMarginD18, 10e18, elapsed) ||
            tightened;
        uint256 skewScale = m.skewScale;
        if (p.skewScaleD18 < skewScale) {
            uint256 maxStep = (skewScale * MAX_TIGHTENING_PER_HOUR * elapsed) / (WAD * 1 hours);
            if (skewScale - p.skewScaleD18 > maxStep)
                revert MarginParameterJump("skewScale", skewScale - maxStep);
            tightened = true;
        }
        if (tightened) _marginTightenedAt[marketId] = block.timestamp;
    }

    /// @dev Reverts `MarginParameterJump` when `next` exceeds `current` by more than the ramp allows; true when it
    ///      raises it at all.
    function _rampUp(
        bytes32 name,
        uint256 current,
        uint256 next,
        uint256 floor,
        uint256 elapsed
    ) internal pure returns (bool) {
        if (next <= current) return false;
        uint256 base = current > floor ? current : floor;
        uint256 maxStep = (base * MAX_TIGHTENING_PER_HOUR * elapsed) / (WAD * 1 hours);
        if (next - current > maxStep) revert MarginParameterJump(name, current + maxStep);
        return true;
    }

    /// @inheritdoc IGovernance
    /// @dev Checks that `portfolioMargin_` answers `model()`, so a wrong address cannot make every portfolio
    ///      account's health check revert later.
    function setPortfolioMargin(IPortfolioMargin portfolioMargin_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(portfolioMargin_) == address(0)) revert IMarginEngine.ZeroAddress();
        if (address(_portfolioMargin) != address(0)) revert PortfolioMarginAlreadySet();
        portfolioMargin_.model();
        _portfolioMargin = portfolioMargin_;
        emit PortfolioMarginSet(address(portfolioMargin_));
    }

    /// @inheritdoc IGovernance
    function portfolioMargin() external view returns (IPortfolioMargin) {
        return _portfolioMargin;
    }

    /// @inheritdoc IGovernance
    function setVolatilityOracle(IVolatilityOracle volatilityOracle_) external onlyRole(RISK_ROLE) {
        if (address(volatilityOracle_) == address(0)) revert IMarginEngine.ZeroAddress();
        _volatilityOracle = volatilityOracle_;
        emit VolatilityOracleSet(address(volatilityOracle_));
    }

    /// @inheritdoc IGovernance
    function volatilityOracle() external view returns (IVolatilityOracle) {
        return _volatilityOracle;
    }

    /// @inheritdoc IGovernance
    function syncVolatility(uint32 marketId) external {
        Market storage m = _market(marketId);
        IVolatilityOracle oracle = _volatilityOracle;
        if (address(oracle) == address(0)) revert VolatilityOracleUnset();
        uint8 im = _toX64(oracle.imMultiplier(marketId));
        uint8 mm = _toX64(oracle.mmMultiplier(marketId));
        if (mm > im) mm = im;
        m.imVolX64 = im;
        m.mmVolX64 = mm;
        emit VolatilityMultipliersSynced(
            marketId,
            WAD + (uint256(im) * WAD) / 64,
            WAD + (uint256(mm) * WAD) / 64
        );
    }

    /// @dev A D18 multiplier as k in 1 + k / 64, rounded up, within [0, 255].
    function _toX64(uint256 multiplierD18) internal pure returns (uint8) {
        if (multiplierD18 <= WAD) return 0;
        uint256 k = MarginMath.ceilDiv((multiplierD18 - WAD) * 64, WAD);
        return k > type(uint8).max ? type(uint8).max : uint8(k);
    }

    /// @inheritdoc IGovernance
    function setRiskParams(IMarginEngine.RiskParams calldata params) external onlyRole(RISK_ROLE) {
        _setRiskParams(params);
    }

    /// @inheritdoc IGovernance
    function setOrderParams(IOrders.OrderParams calldata p) external onlyRole(RISK_ROLE) {
        _check(p.minDelay >= 1 && p.minDelay <= MAX_MIN_ORDER_DELAY, "minDelay");
        _check(p.maxDelay > p.minDelay && p.maxDelay - p.minDelay <= MAX_ORDER_WINDOW, "maxDelay");
        _check(p.settlementRewardD18 <= MAX_SETTLEMENT_REWARD, "settlementReward");
        _check(p.settlementRewardD18 % 1e12 == 0, "settlementRewardPrecision");
        _risk.minOrderDelay = uint16(p.minDelay);
        _risk.maxOrderDelay = p.maxDelay;
        _settlementRewardD18 = p.settlementRewardD18;
        emit IOrders.OrderParamsUpdated(p);
    }

    /*//////////////////////////////////////////////////////////////
                            PARAMETER VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IGovernance
    function getMarketParams(uint32 marketId) external view returns (IMarginEngine.MarketParams memory p) {
        Market storage m = _market(marketId);
        p = IMarginEngine.MarketParams(
            m.feed,
            uint64(m.baseImrD9 * D9_TO_D18),
            uint64(m.maxImrD9 * D9_TO_D18),
            uint64(m.imrSizeSlopeD9 * D9_TO_D18),
            uint64(m.mmScalarD9 * D9_TO_D18),
            uint64(m.maxFundingVelocityD9 * D9_TO_D18),
            m.minPositionMargin,
            m.skewScale,
            uint64(m.makerFeeD9 * D9_TO_D18),
            uint64(m.takerFeeD9 * D9_TO_D18),
            uint64(m.liquidationFeeD9 * D9_TO_D18),
            uint64(m.reserveRatioD9 * D9_TO_D18),
            m.maxOiPerSide,
            m.pullFeed,
            uint64(m.maxDivergenceD9 * D9_TO_D18)
        );
    }

    /// @inheritdoc IGovernance
    function getOrderParams() external view returns (IOrders.OrderParams memory) {
        return IOrders.OrderParams(_risk.minOrderDelay, _risk.maxOrderDelay, uint128(_settlementRewardD18));
    }

    /// @inheritdoc IGovernance
    function getRiskParams() external view returns (IMarginEngine.RiskParams memory) {
        return _riskParams();
    }

    /// @inheritdoc IGovernance
    function pause() external onlyRole(PAUSER_ROLE) {
        if (_risk.paused) revert IMarginEngine.EnforcedPause();
        _risk.paused = true;
        emit IMarginEngine.Paused(msg.sender);
    }

    /// @inheritdoc IGovernance
    function unpause() external onlyRole(PAUSER_ROLE) {
        if (!_risk.paused) revert IMarginEngine.ExpectedPause();
        _risk.paused = false;
        emit IMarginEngine.Unpaused(msg.sender);
    }

    /// @inheritdoc IGovernance
    function setVault(address vault_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (vault_ == address(0)) revert IMarginEngine.ZeroAddress();
        if (vault != address(0)) revert IMarginEngine.VaultAlreadySet();
        vault = vault_;
        emit IMarginEngine.VaultSet(vault_);
    }

    /// @inheritdoc IGovernance
    function sweep(
        address token,
        address to,
        uint256 amount
    ) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (to == address(0) || token == address(0)) revert IMarginEngine.ZeroAddress();
        if (amount == 0) revert IMarginEngine.ZeroAmount();
        uint256 available = token == address(_token) ? sweepable() : IERC20(token).balanceOf(address(this));
        if (amount > available) revert NothingToSweep(token, amount, available);
        emit Swept(token, to, amount);
        IERC20(token).safeTransfer(to, amount);
    }

    /// @inheritdoc IGovernance
    function sweepable() public view returns (uint256) {
        uint256 balance = _token.balanceOf(address(this));
        return balance > _custody ? balance - _custody : 0;
    }

    /// @dev Hard bounds. The cross-parameter rules carry the liquidation guarantees:
    ///      liquidationFee + takerFee < baseImr x mmScalar (a liquidation at the maintenance boundary, which pays
    ///      the trading fee a close would pay plus the liquidation fee, leaves equity >= 0) and
    ///      minPositionMargin >= flatKeeperReward (a dust position always pays its liquidator).
    function _writeMarketParams(Market storage m, IMarginEngine.MarketParams calldata p) internal {
        if (address(p.feed) == address(0) || address(p.pullFeed) == address(0))
            revert IMarginEngine.ZeroAddress();
        _check(p.baseImrD18 >= MIN_BASE_IMR && p.baseImrD18 <= p.maxImrD18, "baseImr");
        _check(p.maxImrD18 <= MAX_IMR, "maxImr");
        _check(p.imrSizeSlopeD18 <= MAX_IMR_SLOPE, "imrSizeSlope");
        _check(p.mmScalarD18 >= MIN_MM_SCALAR && p.mmScalarD18 <= MAX_MM_SCALAR, "mmScalar");
        _check(p.maxFundingVelocityD18 <= MAX_FUNDING_VELOCITY, "maxFundingVelocity");
        _check(
            p.minPositionMarginD18 >= _risk.flatKeeperRewardD18 &&
                p.minPositionMarginD18 <= MAX_MIN_POSITION_MARGIN,
            "minPositionMargin"
        );
        _check(p.skewScaleD18 > 0 && p.skewScaleD18 <= MAX_SIZE_PARAM, "skewScale");
        _check(p.makerFeeD18 <= MAX_TRADE_FEE && p.takerFeeD18 <= MAX_TRADE_FEE, "tradeFee");
        _check(
            p.liquidationFeeD18 <= MAX_LIQUIDATION_FEE &&
                uint256(p.liquidationFeeD18) + p.takerFeeD18 < uint256(p.baseImrD18).mulDown(p.mmScalarD18),
            "liquidationFee"
        );
        _check(p.reserveRatioD18 > 0 && p.reserveRatioD18 <= WAD, "reserveRatio");
        _check(p.maxOiPerSideD18 > 0 && p.maxOiPerSideD18 <= p.skewScaleD18, "maxOiPerSide");
        _check(p.maxDivergenceD18 <= MAX_PRICE_DIVERGENCE, "maxDivergence");
        m.feed = p.feed;
        m.baseImrD9 = _toD9(p.baseImrD18);
        m.maxImrD9 = _toD9(p.maxImrD18);
        m.imrSizeSlopeD9 = _toD9(p.imrSizeSlopeD18);
        m.mmScalarD9 = _toD9(p.mmScalarD18);
        m.maxFundingVelocityD9 = _toD9(p.maxFundingVelocityD18);
        m.minPositionMargin = uint80(p.minPositionMarginD18);
        m.skewScale = uint96(p.skewScaleD18);
        m.makerFeeD9 = _toD9(p.makerFeeD18);
        m.takerFeeD9 = _toD9(p.takerFeeD18);
        m.liquidationFeeD9 = _toD9(p.liquidationFeeD18);
        m.reserveRatioD9 = _toD9(p.reserveRatioD18);
        m.maxOiPerSide = uint96(p.maxOiPerSideD18);
        m.insuranceFeeShareD9 = _toD9(_risk.insuranceFeeShareD18);
        m.pullFeed = p.pullFeed;
        m.maxDivergenceD9 = _toD9(p.maxDivergenceD18);
    }

    /// @dev A D18 ratio as stored (D9); the bounds keep every ratio below 4.29, so it fits 32 bits.
    function _toD9(uint256 ratioD18) internal pure returns (uint32) {
        _check(ratioD18 % D9_TO_D18 == 0, "ratioPrecision");
        return uint32(ratioD18 / D9_TO_D18);
    }

    function _setRiskParams(IMarginEngine.RiskParams calldata p) internal {
        _check(
            p.maxPositionsPerAccount >= 1 && p.maxPositionsPerAccount <= MAX_POSITIONS,
            "maxPositionsPerAccount"
        );
        _check(p.keeperShareD18 <= WAD, "keeperShare");
        _check(p.liquidationBufferD18 <= MAX_LIQUIDATION_BUFFER, "liquidationBuffer");
        _check(p.insuranceFeeShareD18 <= MAX_INSURANCE_FEE_SHARE, "insuranceFeeShare");
        _check(
            p.flatKeeperRewardD18 <= p.maxKeeperRewardD18 && p.maxKeeperRewardD18 <= MAX_KEEPER_REWARD,
            "keeperReward"
        );
        // Every market keeps a copy of the fee split (see EngineBase.Market); D9 like the market ratios.
        uint32 insuranceFeeShareD9 = _toD9(p.insuranceFeeShareD18);
        uint32 n = _marketCount;
        for (uint32 id = 1; id <= n; ++id) {
            Market storage m = _markets[id];
            _check(m.minPositionMargin >= p.flatKeeperRewardD18, "keeperReward");
            m.insuranceFeeShareD9 = insuranceFeeShareD9;
        }
        _check(p.partialLiquidationNotionalD18 > 0, "partialLiquidationNotional");
        _check(p.adlTargetD18 > 0 && p.adlTargetD18 < p.adlTriggerD18 && p.adlTriggerD18 <= WAD, "adl");
        _check(p.adlMinShareD18 > 0 && p.adlMinShareD18 <= MAX_ADL_MIN_SHARE, "adlMinShare");
        _risk = Risk(
            p.maxPositionsPerAccount,
            p.keeperShareD18,
            p.liquidationBufferD18,
            p.insuranceFeeShareD18,
            _risk.paused,
            _risk.minOrderDelay,
            _risk.maxOrderDelay,
            uint96(p.flatKeeperRewardD18),
            uint96(p.maxKeeperRewardD18),
            p.adlMinShareD18,
            p.partialLiquidationNotionalD18,
            p.adlTriggerD18,
            p.adlTargetD18
        );
        emit IMarginEngine.RiskParamsUpdated(p);
    }

    function _check(bool ok, bytes32 name) internal pure {
        if (!ok) revert IMarginEngine.ParameterOutOfBounds(name);
    }
}
