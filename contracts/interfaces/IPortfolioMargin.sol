// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioRisk} from "../libraries/PortfolioRisk.sol";

/// @title IPortfolioMargin
/// @notice The risk model of portfolio accounts (DESIGN.md, Portfolio margin), as the engine and integrators see it.
interface IPortfolioMargin {
    /// @notice One market's place in the model: loadings on the model's factors, idiosyncratic volatility over the
    ///         margin period (D18) and the depth of its size add-on (D18 USD, 0 for none).
    struct MarketRisk {
        uint32 marketId;
        int256[] loadingsD18;
        uint256 idioVolD18;
        uint256 depthD18;
    }

    /// @notice A new configuration was stored at `pointer` (`version` counts them). It ramps in from the previous
    ///         one between `rampStart` and `rampEnd` (equal for the first configuration, which applies at once).
    event ConfigSet(
        uint256 indexed version,
        address pointer,
        uint256 factors,
        uint256 scenarios,
        uint256 markets,
        uint256 rampStart,
        uint256 rampEnd
    );
    /// @notice The time over which the next configuration ramps in changed.
    event RampDurationSet(uint256 rampDuration);

    /// @notice Thrown when a market id is listed twice or is not below MAX_MARKETS.
    error MarketIdOutOfBounds(uint32 marketId);
    /// @notice Thrown when a configuration is set while the previous one is still ramping in.
    error RampInProgress(uint256 rampEnd);
    /// @notice Thrown when a ramp duration is outside [MIN_RAMP, MAX_RAMP].
    error RampDurationOutOfBounds(uint256 rampDuration);
    /// @notice Thrown when a market's add-on depth is neither 0 nor inside [MIN_DEPTH, MAX_DEPTH].
    error DepthOutOfBounds(uint32 marketId, uint256 depthD18);
    /// @notice Thrown when the four leg arrays of a requirement query differ in length.
    error LegsShape();

    /// @notice Replaces the whole model (factors, scenarios, multipliers and every market's loadings); markets not
    ///         listed fall back to the conservative default (no loadings, maximal idiosyncratic volatility). Ramps in
    ///         over `rampDuration`. Risk role only.
    function setConfig(PortfolioRisk.Model calldata model, MarketRisk[] calldata markets) external;

    /// @notice Sets the ramp duration of the next configuration change (seconds). Risk role only.
    function setRampDuration(uint256 rampDuration) external;

    /// @notice The portfolio's requirement and its parts (D18 USD) for positions in `marketIds` with signed
    ///         notionals `notionalsD18` and cross-mode standalone margins. During a ramp every figure is
    ///         interpolated between the old and the new configuration, rounded up.
    function requirement(
        uint32[] calldata marketIds,
        int256[] calldata notionalsD18,
        uint256[] calldata standaloneImD18,
        uint256[] calldata standaloneMmD18
    ) external view returns (PortfolioRisk.Requirement memory);

    /// @notice The configuration in force now (the new one during a ramp).
    function model() external view returns (PortfolioRisk.Model memory);

    /// @notice A market's parameters in the configuration in force now (the default when it is not listed).
    function marketRisk(uint32 marketId) external view returns (MarketRisk memory);
}
