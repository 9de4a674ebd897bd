// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// Chainlink's own name, kept so integrators recognise the interface.
// solhint-disable interface-starts-with-i

/// @title AggregatorV3Interface
/// @notice The standard Chainlink data-feed interface, declared here so the core needs no Chainlink
///         package. Signatures match Chainlink's `AggregatorV3Interface` exactly.
interface AggregatorV3Interface {
    /// @notice The number of decimals of `answer`.
    function decimals() external view returns (uint8);

    /// @notice A human-readable description of the feed, e.g. "ETH / USD".
    function description() external view returns (string memory);

    /// @notice The version of the aggregator.
    function version() external view returns (uint256);

    /// @notice The data of a given round.
    /// @param _roundId The round to read.
    function getRoundData(
        uint80 _roundId
    )
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);

    /// @notice The data of the latest round.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound);
}
