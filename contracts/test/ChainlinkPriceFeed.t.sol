// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IChainlinkPriceFeed} from "../interfaces/IChainlinkPriceFeed.sol";
import {ChainlinkPriceFeed} from "../oracle/ChainlinkPriceFeed.sol";
import {MockAggregatorV3} from "./MockAggregatorV3.sol";
import {Vm, VM_ADDRESS} from "./utils/Vm.sol";

contract ChainlinkPriceFeedTest {
    // solhint-disable-next-line const-name-snakecase
    Vm private constant vm = Vm(VM_ADDRESS);

    uint256 private constant START = 1_700_000_000;
    uint256 private constant HEARTBEAT = 1 hours;
    uint256 private constant GRACE_PERIOD = 1 hours;
    uint8 private constant DECIMALS = 8;
    int256 private constant PRICE = 2_000e8;
    uint256 private constant PRICE_D18 = 2_000e18;
    uint256 private constant MAX_ANSWER = uint256(type(int256).max);
    AggregatorV3Interface private constant NO_SEQUENCER = AggregatorV3Interface(address(0));

    MockAggregatorV3 private aggregator;
    MockAggregatorV3 private sequencer;
    /// @dev Reads `aggregator` with no sequencer check.
    ChainlinkPriceFeed private feed;
    /// @dev Reads `aggregator` behind `sequencer`, which has been up for longer than the grace period.
    ChainlinkPriceFeed private l2Feed;

    function setUp() public {
        vm.warp(START);
        aggregator = new MockAggregatorV3(DECIMALS);
        aggregator.setAnswer(PRICE);
        sequencer = new MockAggregatorV3(0);
        _setSequencer(0, START - GRACE_PERIOD - 1);
        feed = new ChainlinkPriceFeed(aggregator, HEARTBEAT, NO_SEQUENCER, 0);
        l2Feed = new ChainlinkPriceFeed(aggregator, HEARTBEAT, sequencer, GRACE_PERIOD);
    }

    /* CONSTRUCTOR */

    function test_constructor_setsImmutables() public view {
        vm.assertEq(
            uint256(uint160(address(l2Feed.aggregator()))),
            uint256(uint160(address(aggregator))),
            "agg"
        );
        vm.assertEq(l2Feed.heartbeat(), HEARTBEAT, "heartbeat");
        vm.assertEq(
            uint256(uint160(address(l2Feed.sequencerUptimeFeed()))),
            uint256(uint160(address(sequencer))),
            "sequencer"
        );
        vm.assertEq(l2Feed.gracePeriod(), GRACE_PERIOD, "grace period");
        vm.assertEq(l2Feed.decimals(), DECIMALS, "decimals");
        vm.assertEq(uint256(uint160(address(feed.sequencerUptimeFeed()))), 0, "no sequencer");
    }

    function test_constructor_revertsOnZeroAggregator() public {
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.ZeroAddress.selector));
        new ChainlinkPriceFeed(AggregatorV3Interface(address(0)), HEARTBEAT, NO_SEQUENCER, 0);
    }

    function test_constructor_revertsOnZeroHeartbeat() public {
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.InvalidHeartbeat.selector));
        new ChainlinkPriceFeed(aggregator, 0, NO_SEQUENCER, 0);
    }

    function test_constructor_heartbeatBounds() public {
        new ChainlinkPriceFeed(aggregator, 1, NO_SEQUENCER, 0);
        new ChainlinkPriceFeed(aggregator, 7 days, NO_SEQUENCER, 0);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.InvalidHeartbeat.selector));
        new ChainlinkPriceFeed(aggregator, 7 days + 1, NO_SEQUENCER, 0);
    }

    function test_constructor_gracePeriodBounds() public {
        new ChainlinkPriceFeed(aggregator, HEARTBEAT, sequencer, 1 days);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.InvalidGracePeriod.selector, 1 days + 1));
        new ChainlinkPriceFeed(aggregator, HEARTBEAT, sequencer, 1 days + 1);
    }

    function test_constructor_decimalsBounds() public {
        new ChainlinkPriceFeed(new MockAggregatorV3(0), HEARTBEAT, NO_SEQUENCER, 0);
        new ChainlinkPriceFeed(new MockAggregatorV3(36), HEARTBEAT, NO_SEQUENCER, 0);
        MockAggregatorV3 tooPrecise = new MockAggregatorV3(37);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.InvalidDecimals.selector, uint8(37)));
        new ChainlinkPriceFeed(tooPrecise, HEARTBEAT, NO_SEQUENCER, 0);
    }

    /* NORMALISATION */

    function test_latestPrice_normalisesTo18Decimals() public view {
        vm.assertEq(feed.latestPrice(), PRICE_D18, "price");
        vm.assertEq(l2Feed.latestPrice(), PRICE_D18, "l2 price");
    }

    function testFuzz_latestPrice_normalises6Decimals(uint256 x) public {
        uint256 answer = _bound(x, 1, MAX_ANSWER / 1e12);
        vm.assertEq(_feedAnswering(6, int256(answer)).latestPrice(), answer * 1e12, "6 decimals");
    }

    function testFuzz_latestPrice_normalises8Decimals(uint256 x) public {
        uint256 answer = _bound(x, 1, MAX_ANSWER / 1e10);
        vm.assertEq(_feedAnswering(8, int256(answer)).latestPrice(), answer * 1e10, "8 decimals");
    }

    function testFuzz_latestPrice_normalises18Decimals(uint256 x) public {
        uint256 answer = _bound(x, 1, MAX_ANSWER);
        vm.assertEq(_feedAnswering(18, int256(answer)).latestPrice(), answer, "18 decimals");
    }

    /// @dev More than 18 decimals rounds down.
    function testFuzz_latestPrice_normalises24DecimalsRoundingDown(uint256 x) public {
        uint256 answer = _bound(x, 1e6, MAX_ANSWER);
        vm.assertEq(_feedAnswering(24, int256(answer)).latestPrice(), answer / 1e6, "24 decimals");
    }

    function testFuzz_latestPrice_revertsWhenNormalisedToZero(uint256 x) public {
        int256 answer = int256(_bound(x, 1, 1e6 - 1));
        ChainlinkPriceFeed dust = _feedAnswering(24, answer);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.InvalidPrice.selector, answer));
        dust.latestPrice();
    }

    function test_latestPrice_normalises36Decimals() public {
        vm.assertEq(_feedAnswering(36, 1e36).latestPrice(), 1e18, "36 decimals");
    }

    function test_latestPrice_revertsWhenNormalisedPriceOverflows() public {
        int256 answer = type(int256).max;
        ChainlinkPriceFeed huge = _feedAnswering(0, answer);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.InvalidPrice.selector, answer));
        huge.latestPrice();
    }

    /// @dev The adapter keeps the decimals it read at construction.
    function test_latestPrice_ignoresLaterDecimalsChange() public {
        aggregator.setDecimals(18);
        vm.assertEq(feed.latestPrice(), PRICE_D18, "price");
    }

    /* ROUND VALIDATION */

    function test_latestPrice_revertsOnZeroAnswer() public {
        aggregator.setAnswer(0);
        _expectInvalidPrice(0);
        feed.latestPrice();
    }

    function testFuzz_latestPrice_revertsOnNegativeAnswer(uint256 x) public {
        int256 answer = -int256(_bound(x, 1, MAX_ANSWER));
        aggregator.setAnswer(answer);
        _expectInvalidPrice(answer);
        feed.latestPrice();
        aggregator.setAnswer(type(int256).min);
        _expectInvalidPrice(type(int256).min);
        feed.latestPrice();
    }

    function test_latestPrice_revertsWhenNeverUpdated() public {
        aggregator.setRoundData(7, PRICE, START, 0, 7);
        vm.expectRevert(
            abi.encodeWithSelector(IChainlinkPriceFeed.IncompleteRound.selector, uint80(7), uint80(7))
        );
        feed.latestPrice();
    }

    function test_latestPrice_revertsWhenAnsweredInEarlierRound() public {
        aggregator.setRoundData(7, PRICE, START, START, 6);
        vm.expectRevert(
            abi.encodeWithSelector(IChainlinkPriceFeed.IncompleteRound.selector, uint80(7), uint80(6))
        );
        feed.latestPrice();
    }

    function test_latestPrice_acceptsAnswerFromLaterRound() public {
        aggregator.setRoundData(7, PRICE, START, START, 8);
        vm.assertEq(feed.latestPrice(), PRICE_D18, "price");
    }

    /* STALENESS */

    function test_latestPrice_validAtExactlyHeartbeat() public {
        vm.warp(START + HEARTBEAT);
        vm.assertEq(feed.latestPrice(), PRICE_D18, "price");
    }

    function test_latestPrice_revertsOneSecondPastHeartbeat() public {
        vm.warp(START + HEARTBEAT + 1);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.StalePrice.selector, START, HEARTBEAT));
        feed.latestPrice();
    }

    function testFuzz_latestPrice_staleIffOlderThanHeartbeat(uint256 x) public {
        uint256 age = _bound(x, 0, 30 days);
        vm.warp(START + age);
        if (age > HEARTBEAT) {
            vm.expectRevert(
                abi.encodeWithSelector(IChainlinkPriceFeed.StalePrice.selector, START, HEARTBEAT)
            );
        }
        feed.latestPrice();
    }

    function test_latestPrice_acceptsUpdateInTheFuture() public {
        aggregator.setRoundData(2, PRICE, START, START + 1 days, 2);
        vm.assertEq(feed.latestPrice(), PRICE_D18, "price");
    }

    /* SEQUENCER */

    function test_latestPrice_revertsWhenSequencerDown() public {
        _setSequencer(1, START - 1 days);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.SequencerDown.selector));
        l2Feed.latestPrice();
        // A feed without a sequencer check is unaffected.
        vm.assertEq(feed.latestPrice(), PRICE_D18, "price");
    }

    function test_latestPrice_revertsOnUnknownSequencerStatus() public {
        _setSequencer(2, START - 1 days);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.SequencerDown.selector));
        l2Feed.latestPrice();
    }

    function test_latestPrice_revertsWhenSequencerStatusNeverStarted() public {
        _setSequencer(0, 0);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.SequencerDown.selector));
        l2Feed.latestPrice();
    }

    function test_latestPrice_sequencerCheckedBeforePrice() public {
        _setSequencer(1, START - 1 days);
        aggregator.setAnswer(0);
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.SequencerDown.selector));
        l2Feed.latestPrice();
    }

    function test_latestPrice_gracePeriodBoundary() public {
        _setSequencer(0, START);
        _expectGracePeriodNotOver(START);
        l2Feed.latestPrice();

        // Keep the price fresh while time passes.
        vm.warp(START + GRACE_PERIOD);
        aggregator.setAnswer(PRICE);
        _expectGracePeriodNotOver(START);
        l2Feed.latestPrice();

        vm.warp(START + GRACE_PERIOD + 1);
        vm.assertEq(l2Feed.latestPrice(), PRICE_D18, "price");
    }

    function testFuzz_latestPrice_gracePeriod(uint256 x) public {
        uint256 uptime = _bound(x, 0, 2 * GRACE_PERIOD);
        _setSequencer(0, START - uptime);
        if (uptime <= GRACE_PERIOD) _expectGracePeriodNotOver(START - uptime);
        l2Feed.latestPrice();
    }

    function test_latestPrice_revertsWhenSequencerStartedInTheFuture() public {
        _setSequencer(0, START + 1);
        _expectGracePeriodNotOver(START + 1);
        l2Feed.latestPrice();
    }

    function test_latestPrice_zeroGracePeriodNeedsOneSecondOfUptime() public {
        ChainlinkPriceFeed noGrace = new ChainlinkPriceFeed(aggregator, HEARTBEAT, sequencer, 0);
        _setSequencer(0, START);
        vm.expectRevert(
            abi.encodeWithSelector(
                IChainlinkPriceFeed.SequencerGracePeriodNotOver.selector,
                START,
                uint256(0)
            )
        );
        noGrace.latestPrice();
        _setSequencer(0, START - 1);
        vm.assertEq(noGrace.latestPrice(), PRICE_D18, "price");
    }

    /* HELPERS */

    /* CIRCUIT BREAKER */

    /// @dev Answers strictly inside (minAnswer, maxAnswer) pass; at or beyond either bound they revert.
    function testFuzz_latestPrice_circuitBreaker(int256 answer) public {
        int192 lo = 1e8;
        int192 hi = 100_000e8;
        MockAggregatorV3 bounded = new MockAggregatorV3(DECIMALS);
        bounded.setAnswerBounds(lo, hi);
        bounded.setAnswer(PRICE);
        ChainlinkPriceFeed breaker = new ChainlinkPriceFeed(bounded, HEARTBEAT, NO_SEQUENCER, 0);
        answer = int256(_bound(uint256(answer), 1, uint256(int256(hi)) * 2));
        bounded.setAnswer(answer);
        if (answer <= lo || answer >= hi) {
            vm.expectRevert(
                abi.encodeWithSelector(IChainlinkPriceFeed.AnswerAtCircuitBreaker.selector, answer, lo, hi)
            );
            breaker.latestPrice();
        } else {
            vm.assertEq(breaker.latestPrice(), uint256(answer) * 1e10, "inside the bounds");
        }
    }

    function _feedAnswering(uint8 decimals, int256 answer) private returns (ChainlinkPriceFeed) {
        MockAggregatorV3 mock = new MockAggregatorV3(decimals);
        mock.setAnswer(answer);
        return new ChainlinkPriceFeed(mock, HEARTBEAT, NO_SEQUENCER, 0);
    }

    function _setSequencer(int256 status, uint256 startedAt) private {
        uint80 roundId = sequencer.latestRoundId() + 1;
        sequencer.setRoundData(roundId, status, startedAt, block.timestamp, roundId);
    }

    function _expectInvalidPrice(int256 answer) private {
        vm.expectRevert(abi.encodeWithSelector(IChainlinkPriceFeed.InvalidPrice.selector, answer));
    }

    function _expectGracePeriodNotOver(uint256 startedAt) private {
        vm.expectRevert(
            abi.encodeWithSelector(
                IChainlinkPriceFeed.SequencerGracePeriodNotOver.selector,
                startedAt,
                GRACE_PERIOD
            )
        );
    }

    /// @dev Maps `x` into [min, max] (inclusive); requires max - min < type(uint256).max.
    function _bound(uint256 x, uint256 min, uint256 max) private pure returns (uint256) {
        return min + (x % (max - min + 1));
    }
}
