// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";
import {IPriceFeed} from "./IPriceFeed.sol";

/// @title IChainlinkPriceFeed
/// @notice An `IPriceFeed` backed by one Chainlink aggregator, optionally guarded by an L2 sequencer-uptime
///         feed. `latestPrice` reverts with one of the errors below whenever the answer cannot be trusted.
interface IChainlinkPriceFeed is IPriceFeed {
    /* ERRORS */

    /// @notice Thrown when the aggregator answers a non-positive price, or one that normalises to zero or
    ///         does not fit in 18 decimals.
    /// @param answer The raw aggregator answer.
    error InvalidPrice(int256 answer);

    /// @notice Thrown when the latest answer is older than the feed's heartbeat.
    /// @param updatedAt When the latest answer was written.
    /// @param heartbeat The maximum accepted age of an answer, in seconds.
    error StalePrice(uint256 updatedAt, uint256 heartbeat);

    /// @notice Thrown when the latest round is incomplete: never updated (`updatedAt == 0`) or answered in
    ///         an earlier round than its own (`answeredInRound < roundId`).
    /// @param roundId The latest round id.
    /// @param answeredInRound The round in which the answer was computed.
    error IncompleteRound(uint80 roundId, uint80 answeredInRound);

    /// @notice Thrown when the answer is at or beyond the aggregator's circuit-breaker bounds: Chainlink clamps
    ///         its answer into `[minAnswer, maxAnswer]`, so an answer at a bound says only "this far or further".
    /// @param answer The raw aggregator answer.
    /// @param minAnswer The aggregator's lower bound (raw units); answers <= it are refused.
    /// @param maxAnswer The aggregator's upper bound (raw units); answers >= it are refused.
    error AnswerAtCircuitBreaker(int256 answer, int256 minAnswer, int256 maxAnswer);

    /// @notice Thrown at construction when the aggregator reports `maxAnswer <= minAnswer`.
    error InvalidAnswerBounds(int256 minAnswer, int256 maxAnswer);

    /// @notice Thrown when the sequencer-uptime feed reports the sequencer down, or has no valid status.
    error SequencerDown();

    /// @notice Thrown when the sequencer came back up less than (or exactly) `gracePeriod` seconds ago.
    /// @param startedAt When the sequencer's current status began.
    /// @param gracePeriod The time the sequencer must have been up before prices are trusted, in seconds.
    error SequencerGracePeriodNotOver(uint256 startedAt, uint256 gracePeriod);

    /// @notice Thrown when the constructor is given the zero address for the aggregator.
    error ZeroAddress();

    /// @notice Thrown when the constructor is given a heartbeat of zero or longer than `MAX_HEARTBEAT`.
    error InvalidHeartbeat();

    /// @notice Thrown when the constructor is given a grace period longer than `MAX_GRACE_PERIOD`.
    /// @param gracePeriodSeconds The rejected grace period.
    error InvalidGracePeriod(uint256 gracePeriodSeconds);

    /// @notice Thrown when the aggregator reports more than `MAX_DECIMALS` decimals.
    /// @param aggregatorDecimals The rejected number of decimals.
    error InvalidDecimals(uint8 aggregatorDecimals);

    /* VIEWS */

    /// @notice The Chainlink aggregator the price is read from.
    function aggregator() external view returns (AggregatorV3Interface);

    /// @notice The maximum accepted age of the aggregator's latest answer, in seconds.
    function heartbeat() external view returns (uint256);

    /// @notice The L2 sequencer-uptime feed, or the zero address when no sequencer check is made.
    function sequencerUptimeFeed() external view returns (AggregatorV3Interface);

    /// @notice How long the sequencer must have been up before prices are trusted again, in seconds.
    function gracePeriod() external view returns (uint256);

    /// @notice The aggregator's decimals, read once at construction. `latestPrice` always has 18.
    function decimals() external view returns (uint8);

    /// @notice The circuit-breaker lower bound in raw answer units, read once at construction from the
    ///         aggregator (0 when it exposes none). Answers at or below it are refused.
    function minAnswer() external view returns (int256);

    /// @notice The circuit-breaker upper bound in raw answer units, read once at construction from the
    ///         aggregator (`type(int256).max` when it exposes none). Answers at or above it are refused.
    function maxAnswer() external view returns (int256);
}
