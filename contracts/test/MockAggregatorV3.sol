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

    /// @dev The latest round in two slots (the answer, then the round id and timestamps packed), as an OCR
    ///      aggregator reads its hot variables and latest transmission: a price costs 2 cold reads, not 5.
    int256 private _latestAnswer;
    uint64 private _latestRoundId;
    uint64 private _latestStartedAt;
    uint64 private _latestUpdatedAt;
    uint64 private _latestAnsweredInRound;

    mapping(uint80 roundId => Round) private _rounds;

    /// @notice Thrown by `minAnswer`/`maxAnswer` until bounds are set: by default the mock behaves like a
    ///         source that exposes no circuit breaker.
    error NoAnswerBounds();

    int192 private _minAnswer;
    int192 private _maxAnswer;
    bool private _hasBounds;

    constructor(uint8 decimals_) {
        decimals = decimals_;
    }

    /// @notice Makes the mock expose circuit-breaker bounds, as Chainlink's OCR aggregator does.
    function setAnswerBounds(int192 minAnswer_, int192 maxAnswer_) external {
        (_minAnswer, _maxAnswer, _hasBounds) = (minAnswer_, maxAnswer_, true);
    }

    function minAnswer() external view returns (int192) {
        if (!_hasBounds) revert NoAnswerBounds();
        return _minAnswer;
    }

    function maxAnswer() external view returns (int192) {
        if (!_hasBounds) revert NoAnswerBounds();
        return _maxAnswer;
    }

    /// @notice The id of the latest round.
    function latestRoundId() external view returns (uint80) {
        return _latestRoundId;
    }

    function setDecimals(uint8 decimals_) external {
        decimals = decimals_;
    }

    function setAnswer(int256 answer) external {
        uint80 roundId = _latestRoundId + 1;
        _write(roundId, answer, block.timestamp, block.timestamp, roundId);
    }

    function setRoundData(
        uint80 roundId,
        int256 answer,
        uint256 startedAt,
        uint256 updatedAt,
        uint80 answeredInRound
    ) external {
        _write(roundId, answer, startedAt, updatedAt, answeredInRound);
    }

    function _write(
        uint80 roundId,
        int256 answer,
        uint256 startedAt,
        uint256 updatedAt,
        uint80 answeredInRound
    ) private {
        _rounds[roundId] = Round(answer, startedAt, updatedAt, answeredInRound);
        _latestRoundId = uint64(roundId);
        _latestAnswer = answer;
        _latestStartedAt = uint64(startedAt);
        _latestUpdatedAt = uint64(updatedAt);
        _latestAnsweredInRound = uint64(answeredInRound);
    }

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
        return (_latestRoundId, _latestAnswer, _latestStartedAt, _latestUpdatedAt, _latestAnsweredInRound);
    }
}
