// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IVolatilityOracle
/// @notice The margin multipliers a market's volatility estimate implies (DESIGN.md, Dynamic margin), as the engine
///         reads them (`IGovernance.syncVolatility`). Implemented by `VolatilityOracle`.
interface IVolatilityOracle {
    /// @notice The multiplier on initial-margin ratios (D18, 1e18 = no change).
    function imMultiplier(uint256 marketId) external view returns (uint256);

    /// @notice The multiplier on maintenance-margin ratios (D18): the IM multiplier lagged on the way up.
    function mmMultiplier(uint256 marketId) external view returns (uint256);
}
