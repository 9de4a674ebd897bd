// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IChainlinkPriceFeed} from "../interfaces/IChainlinkPriceFeed.sol";
import {IPriceFeed} from "../interfaces/IPriceFeed.sol";

/// @dev The parts of Chainlink's `EACAggregatorProxy` (`aggregator`) and `AccessControlledOffchainAggregator`
///      (`minAnswer`, `maxAnswer`) that expose an aggregator's circuit-breaker bounds.
interface IChainlinkAggregatorBounds {
    function aggregator() external view returns (address);
    function minAnswer() external view returns (int192);
    function maxAnswer() external view returns (int192);
}

/// @title ChainlinkPriceFeed
/// @notice Reads one Chainlink aggregator, rejects answers that cannot be trusted and normalises the rest
///         to 18 decimals. Immutable: a new feed is a new deployment.
contract ChainlinkPriceFeed is IChainlinkPriceFeed {
    /// @notice The longest accepted heartbeat.
    uint256 public constant MAX_HEARTBEAT = 7 days;

    /// @notice The longest accepted sequencer grace period.
    uint256 public constant MAX_GRACE_PERIOD = 1 days;

    /// @notice The most aggregator decimals supported (keeps the scale factor at most 1e18).
    uint8 public constant MAX_DECIMALS = 36;

    /// @dev The sequencer-uptime feed's answer while the sequencer is up (1 means down).
    int256 private constant SEQUENCER_UP = 0;

    /// @inheritdoc IChainlinkPriceFeed
    AggregatorV3Interface public immutable aggregator;

    /// @inheritdoc IChainlinkPriceFeed
    uint256 public immutable heartbeat;

    /// @inheritdoc IChainlinkPriceFeed
    AggregatorV3Interface public immutable sequencerUptimeFeed;

    /// @inheritdoc IChainlinkPriceFeed
    uint256 public immutable gracePeriod;

    /// @inheritdoc IChainlinkPriceFeed
    uint8 public immutable decimals;

    /// @inheritdoc IChainlinkPriceFeed
    int256 public immutable minAnswer;

    /// @inheritdoc IChainlinkPriceFeed
    int256 public immutable maxAnswer;

    /// @dev Whether the aggregator exposed circuit-breaker bounds (else neither bound is checked).
    bool private immutable _hasAnswerBounds;

    /// @dev 10^(18 - decimals) when decimals <= 18, else 1.
    uint256 private immutable _scaleUp;

    /// @dev 10^(decimals - 18) when decimals > 18, else 1.
    uint256 private immutable _scaleDown;

    /// @param aggregator_ The Chainlink aggregator to read.
    /// @param heartbeat_ The maximum accepted age of an answer, in (0, 7 days].
    /// @param sequencerUptimeFeed_ The L2 sequencer-uptime feed, or the zero address for no check.
    /// @param gracePeriod_ How long the sequencer must have been up, in [0, 1 day].
    /// @dev The circuit-breaker bounds are read here, once, from the aggregator behind the proxy (or from the
    ///      aggregator itself when it is not a proxy). A source that exposes neither has no clamp, so there is
    ///      nothing to detect and only `answer > 0` applies. Chainlink fixes the bounds per aggregator
    ///      deployment; when a proxy moves to a new aggregator with other bounds, deploy a new adapter.
    constructor(
        AggregatorV3Interface aggregator_,
        uint256 heartbeat_,
        AggregatorV3Interface sequencerUptimeFeed_,
        uint256 gracePeriod_
    ) {
        if (address(aggregator_) == address(0)) revert ZeroAddress();
        if (heartbeat_ == 0 || heartbeat_ > MAX_HEARTBEAT) revert InvalidHeartbeat();
        if (gracePeriod_ > MAX_GRACE_PERIOD) revert InvalidGracePeriod(gracePeriod_);
        uint8 aggregatorDecimals = aggregator_.decimals();
        if (aggregatorDecimals > MAX_DECIMALS) revert InvalidDecimals(aggregatorDecimals);

        aggregator = aggregator_;
        heartbeat = heartbeat_;
        sequencerUptimeFeed = sequencerUptimeFeed_;
        gracePeriod = gracePeriod_;
        decimals = aggregatorDecimals;
        (_hasAnswerBounds, minAnswer, maxAnswer) = _readAnswerBounds(aggregator_);
        _scaleUp = aggregatorDecimals <= 18 ? 10 ** (18 - aggregatorDecimals) : 1;
        _scaleDown = aggregatorDecimals > 18 ? 10 ** (aggregatorDecimals - 18) : 1;
    }

    /// @inheritdoc IPriceFeed
    /// @dev Rounds down when the aggregator has more than 18 decimals.
    function latestPrice() external view returns (uint256 priceD18) {
        (priceD18, ) = _latest();
    }

    /// @inheritdoc IPriceFeed
    /// @dev The publish time is the round's `updatedAt`.
    function latestPriceData() external view returns (uint256 priceD18, uint256 publishTime) {
        return _latest();
    }

    function _latest() private view returns (uint256 priceD18, uint256 updatedAt) {
        if (address(sequencerUptimeFeed) != address(0)) _checkSequencer();

        uint80 roundId;
        int256 answer;
        uint80 answeredInRound;
        (roundId, answer, , updatedAt, answeredInRound) = aggregator.latestRoundData();
        if (answer <= 0) revert InvalidPrice(answer);
        // The aggregator clamps its answer into [minAnswer, maxAnswer]: an answer at a bound may hide any price
        // beyond it (LUNA, May 2022), so it is no price at all.
        if (_hasAnswerBounds && (answer <= minAnswer || answer >= maxAnswer)) {
            revert AnswerAtCircuitBreaker(answer, minAnswer, maxAnswer);
        }
        if (updatedAt == 0 || answeredInRound < roundId) revert IncompleteRound(roundId, answeredInRound);
        // An `updatedAt` in the future is not stale; it cannot underflow the age.
        if (block.timestamp > updatedAt && block.timestamp - updatedAt > heartbeat) {
            revert StalePrice(updatedAt, heartbeat);
        }

        uint256 rawPrice = uint256(answer);
        if (rawPrice > type(uint256).max / _scaleUp) revert InvalidPrice(answer);
        priceD18 = (rawPrice * _scaleUp) / _scaleDown;
        if (priceD18 == 0) revert InvalidPrice(answer);
    }

    /// @dev `(minAnswer, maxAnswer)` of the OCR aggregator behind a proxy (`proxy.aggregator()`), else of the
    ///      aggregator itself, else none (`found` false, reported as `(0, type(int256).max)`).
    function _readAnswerBounds(
        AggregatorV3Interface aggregator_
    ) private view returns (bool found, int256 lo, int256 hi) {
        address source = address(aggregator_);
        try IChainlinkAggregatorBounds(source).aggregator() returns (address underlying) {
            if (underlying != address(0)) source = underlying;
        } catch {}
        try IChainlinkAggregatorBounds(source).minAnswer() returns (int192 min_) {
            lo = min_;
        } catch {
            return (false, 0, type(int256).max);
        }
        try IChainlinkAggregatorBounds(source).maxAnswer() returns (int192 max_) {
            hi = max_;
        } catch {
            return (false, 0, type(int256).max);
        }
        if (hi <= lo) revert InvalidAnswerBounds(lo, hi);
        found = true;
    }

    /// @dev Reverts unless the sequencer has been up for more than `gracePeriod` seconds. Any answer other
    ///      than 0 counts as down, and so does `startedAt == 0` (a feed that has no status yet).
    function _checkSequencer() private view {
        (, int256 status, uint256 startedAt, , ) = sequencerUptimeFeed.latestRoundData();
        if (status != SEQUENCER_UP || startedAt == 0) revert SequencerDown();
        // A `startedAt` in the future counts as within the grace period; it cannot underflow the uptime.
        if (block.timestamp <= startedAt || block.timestamp - startedAt <= gracePeriod) {
            revert SequencerGracePeriodNotOver(startedAt, gracePeriod);
        }
    }
}
