// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "./IMarginEngine.sol";
import {IOrders} from "./IOrders.sol";
import {IPortfolioMargin} from "./IPortfolioMargin.sol";
import {IVolatilityOracle} from "./IVolatilityOracle.sol";

/// @title IGovernance
/// @notice Parameters, pausing and recovery of a Bulkhead engine. Implemented by `GovernanceModule`, which the
///         engine runs by delegatecall for exactly these selectors; call them at the engine's address.
/// @dev Every parameter has hard bounds (`ParameterOutOfBounds(name)`), every change emits an event.
interface IGovernance {
    /// @notice Emitted when tokens that are not part of the ledger are recovered.
    /// @param token The token swept (the settlement token only for its excess over the ledger).
    /// @param to Receiver.
    /// @param amount In the token's own decimals.
    event Swept(address indexed token, address indexed to, uint256 amount);
    /// @notice Emitted when the portfolio risk model is set (once).
    event PortfolioMarginSet(address indexed portfolioMargin);
    /// @notice Emitted when the volatility oracle the engine syncs from changes.
    event VolatilityOracleSet(address indexed volatilityOracle);
    /// @notice Emitted when a market's volatility multipliers are synced (as stored: 1 + k / 64, D18).
    event VolatilityMultipliersSynced(
        uint32 indexed marketId,
        uint256 imMultiplierD18,
        uint256 mmMultiplierD18
    );

    /// @notice Thrown when `initializeRisk` is called after the engine was constructed.
    error AlreadyInitialized();
    /// @notice Thrown when a sweep asks for more than the excess over the ledger.
    error NothingToSweep(address token, uint256 requested, uint256 available);
    /// @notice Thrown when the portfolio risk model is set a second time.
    error PortfolioMarginAlreadySet();
    /// @notice Thrown when a margin parameter of a market with open interest would rise faster than the ramp
    ///         allows (MAX_TIGHTENING_PER_HOUR); `maxAllowed` is the furthest it may move now.
    error MarginParameterJump(bytes32 name, uint256 maxAllowed);
    /// @notice Thrown when volatility is synced before governance has set the oracle.
    error VolatilityOracleUnset();

    /// @notice Sets the first risk parameters; only runs inside the engine's constructor.
    function initializeRisk(IMarginEngine.RiskParams calldata params) external;

    /// @notice Lists a market. Risk role only.
    function listMarket(IMarginEngine.MarketParams calldata params) external returns (uint32 marketId);

    /// @notice Updates a market's parameters within bounds. Risk role only. While the market has open interest, a
    ///         change that raises margin requirements ramps: each such parameter moves at most 10% per hour.
    function setMarketParams(uint32 marketId, IMarginEngine.MarketParams calldata params) external;

    /// @notice Updates the protocol-wide risk parameters within bounds. Risk role only.
    function setRiskParams(IMarginEngine.RiskParams calldata params) external;

    /// @notice Sets the order delays and settlement reward (RISK_ROLE). Emits `IOrders.OrderParamsUpdated`.
    /// @dev Bounds: 1 <= minDelay <= MAX_MIN_ORDER_DELAY, minDelay < maxDelay <= minDelay + MAX_ORDER_WINDOW,
    ///      settlementReward <= MAX_SETTLEMENT_REWARD.
    function setOrderParams(IOrders.OrderParams calldata params) external;

    /// @notice Sets the risk model portfolio accounts use, which enables them. Admin only, once: the model's own
    ///         configuration changes ramp in (`IPortfolioMargin.setConfig`), where replacing the model would change
    ///         every portfolio account's requirement in one block.
    function setPortfolioMargin(IPortfolioMargin portfolioMargin) external;

    /// @notice The portfolio risk model (zero until set).
    function portfolioMargin() external view returns (IPortfolioMargin);

    /// @notice Sets the oracle `syncVolatility` reads. Risk role only.
    function setVolatilityOracle(IVolatilityOracle volatilityOracle) external;

    /// @notice The volatility oracle (zero until set).
    function volatilityOracle() external view returns (IVolatilityOracle);

    /// @notice Copies the market's IM and MM volatility multipliers from the oracle into the market, rounded up
    ///         to the next 1/64 (at most 4.98x; MM never above IM). Anyone may call; keepers call it after each
    ///         oracle poke. The oracle bounds how fast the multipliers rise and makes MM lag IM.
    function syncVolatility(uint32 marketId) external;

    /// @notice Stops risk-increasing actions. Pause guardian only.
    function pause() external;

    /// @notice Resumes risk-increasing actions. Pause guardian only.
    function unpause() external;

    /// @notice Connects the liquidity vault once. Admin only.
    function setVault(address vault) external;

    /// @notice Recovers tokens sent to the engine by mistake. Admin only. For the settlement token only the
    ///         excess of the balance over the ledger (collateral + vault cash + insurance) can leave.
    /// @param amount In the token's own decimals.
    function sweep(address token, address to, uint256 amount) external;

    /// @notice Settlement tokens held beyond the ledger (token decimals): what `sweep` may recover.
    function sweepable() external view returns (uint256);

    /// @notice The market's parameters.
    function getMarketParams(uint32 marketId) external view returns (IMarginEngine.MarketParams memory);

    /// @notice The protocol-wide risk parameters.
    function getRiskParams() external view returns (IMarginEngine.RiskParams memory);

    /// @notice The order parameters.
    function getOrderParams() external view returns (IOrders.OrderParams memory);
}
