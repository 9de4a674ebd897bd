// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockAggregatorV3
/// @notice Test and local-deployment only. A settable Chainlink aggregator; also usable as an L2
///         sequencer-uptime feed (answer 0 = up, 1 = down, `startedAt` = when the status began).
contract MockAggregatorV3 is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
        uint80 answeredInRound;
    }

    /// @notice Thrown by `getRoundData` for a round that was never written.
    error NoDataPresent(uint80 roundId);

    /// @inheritdoc AggregatorV3Interface
    uint8 public decimals;

    /// @notice The id of the round `latestRoundData` returns.
    uint80 public latestRoundId;

    mapping(uint80 roundId => Round) private _rounds;

    constructor(uint8 decimals_) {
        decimals = decimals_;
    }

    /// @notice Changes the reported decimals (a deployed adapter keeps the ones it read at construction).
    function setDecimals(uint8 decimals_) external {
        decimals = decimals_;
    }

    /// @notice Writes a new, complete round: `startedAt = updatedAt = block.timestamp`,
    ///         `answeredInRound = roundId = latestRoundId + 1`.
    function setAnswer(int256 answer) external {
        uint80 roundId = latestRoundId + 1;
        _rounds[roundId] = Round(answer, block.timestamp, block.timestamp, roundId);
        latestRoundId = roundId;
    }

    /// @notice Writes an arbitrary (possibly invalid) round and makes it the latest.
    function setRoundData(
        uint80 roundId,
        int256 answer,
        uint256 startedAt,
        uint256 updatedAt,
        uint80 answeredInRound
    ) external {
        _rounds[roundId] = Round(answer, startedAt, updatedAt, answeredInRound);
        latestRoundId = roundId;
    }

    /// @inheritdoc AggregatorV3Interface
    function description() external pure returns (string memory) {
        return "MockAggregatorV3";
    }

    /// @inheritdoc AggregatorV3Interface
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @inheritdoc AggregatorV3Interface
    function getRoundData(
        uint80 _roundId
    )
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory round = _rounds[_roundId];
        if (round.updatedAt == 0 && round.startedAt == 0 && round.answer == 0) revert NoDataPresent(_roundId);
        return (_roundId, round.answer, round.startedAt, round.updatedAt, round.answeredInRound);
    }

    /// @inheritdoc AggregatorV3Interface
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        Round memory round = _rounds[latestRoundId];
        return (latestRoundId, round.answer, round.startedAt, round.updatedAt, round.answeredInRound);
    }
}
