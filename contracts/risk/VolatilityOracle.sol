// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IPriceFeed} from "../interfaces/IPriceFeed.sol";
import {IVolatilityOracle} from "../interfaces/IVolatilityOracle.sol";

/// @title VolatilityOracle
/// @notice Each market's on-chain volatility estimate and the margin multipliers it implies (DESIGN.md, Dynamic
///         margin). Anyone may `poke` a market once per sampling interval (at least an hour): the poke reads the
///         market's price feed, takes the log-return since the last sample, winsorises it at `winsor` estimated
///         standard deviations (so one manipulated print moves the estimate little), and folds it into an EWMA of
///         squared returns. The target multiplier is clamp(sigma_hat / baseVol, 1, cap); the IM multiplier moves
///         towards it by at most `risePerHour` per hour up and `fallPerHour` per hour down (it falls more slowly
///         than it rises), and the MM multiplier is the smaller of the IM multiplier now and at the previous sample,
///         so MM follows a rise one interval later: an account that met IM has at least one interval of grace
///         before a volatility rise can make it liquidatable.
/// @dev The engine copies the multipliers into each market with the permissionless `syncVolatility` and scales
///      every margin ratio by them (EngineBase._positionMargins). Trades and liquidations do not poke or sync
///      themselves (it would put an oracle call on every trade): keepers poke and sync. A parameter change never makes the multiplier jump: it only moves the target, which
///      the multiplier approaches at its bounded rates. Rounding raises the estimate: the variance and the target
///      round up.
contract VolatilityOracle is IVolatilityOracle, AccessControl {
    bytes32 public constant RISK_ROLE = keccak256("RISK_ROLE");
    uint256 internal constant WAD = 1e18;

    uint256 public constant MIN_INTERVAL = 1 hours;
    uint256 public constant MAX_INTERVAL = 1 days;
    uint256 public constant MIN_LAMBDA = 0.5e18;
    uint256 public constant MAX_LAMBDA = 0.99e18;
    uint256 public constant MIN_WINSOR = 2e18;
    uint256 public constant MAX_WINSOR = 10e18;
    uint256 public constant MIN_BASE_VOL = 1e14;
    uint256 public constant MAX_BASE_VOL = 0.5e18;
    uint256 public constant MAX_CAP = 5e18;
    uint256 public constant MIN_RISE_PER_HOUR = 0.01e18;
    uint256 public constant MAX_RISE_PER_HOUR = 1e18;
    uint256 public constant MIN_FALL_PER_HOUR = 0.001e18;

    /// @notice A market's estimator. `baseVolD18` is the volatility per interval at which the multiplier is 1.
    struct Params {
        IPriceFeed feed;
        uint32 interval;
        uint64 lambdaD18;
        uint64 winsorD18;
        uint64 baseVolD18;
        uint64 capD18;
        uint64 risePerHourD18;
        uint64 fallPerHourD18;
    }

    /// @notice `varianceD18`: the EWMA of squared log-returns per interval (D18, sigma^2 with sigma in D18 / 1e18).
    struct State {
        uint128 lastPrice;
        uint40 lastSample;
        uint128 varianceD18;
        uint64 imMultiplierD18;
        uint64 previousImMultiplierD18;
    }

    mapping(uint256 marketId => Params) private _params;
    mapping(uint256 marketId => State) private _state;

    event VolatilityParamsSet(uint256 indexed marketId, Params params);
    event VolatilitySampled(
        uint256 indexed marketId,
        uint256 priceD18,
        int256 logReturnD18,
        uint256 varianceD18,
        uint256 targetD18,
        uint256 imMultiplierD18,
        uint256 mmMultiplierD18
    );

    error UnknownMarket(uint256 marketId);
    error TooEarly(uint256 marketId, uint256 nextSampleAt);
    error VolatilityParamOutOfBounds(string name, uint256 value);

    constructor(address admin, address risk) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RISK_ROLE, risk);
    }

    /// @notice Sets a market's estimator; the first `poke` after a market is configured starts it at `baseVol`.
    function setParams(uint256 marketId, Params calldata p) external onlyRole(RISK_ROLE) {
        if (address(p.feed) == address(0)) revert VolatilityParamOutOfBounds("feed", 0);
        _bound("interval", p.interval, MIN_INTERVAL, MAX_INTERVAL);
        _bound("lambda", p.lambdaD18, MIN_LAMBDA, MAX_LAMBDA);
        _bound("winsor", p.winsorD18, MIN_WINSOR, MAX_WINSOR);
        _bound("baseVol", p.baseVolD18, MIN_BASE_VOL, MAX_BASE_VOL);
        _bound("cap", p.capD18, WAD, MAX_CAP);
        _bound("risePerHour", p.risePerHourD18, MIN_RISE_PER_HOUR, MAX_RISE_PER_HOUR);
        // Falls more slowly than it rises.
        _bound("fallPerHour", p.fallPerHourD18, MIN_FALL_PER_HOUR, p.risePerHourD18);
        _params[marketId] = p;
        emit VolatilityParamsSet(marketId, p);
    }

    /// @notice Takes the market's next sample (anyone, once per interval).
    function poke(uint256 marketId) external {
        Params memory p = _params[marketId];
        if (address(p.feed) == address(0)) revert UnknownMarket(marketId);
        State memory s = _state[marketId];
        uint256 price = p.feed.latestPrice();
        if (s.lastSample == 0) {
            s = State(
                SafeCast.toUint128(price),
                uint40(block.timestamp),
                uint128(_square(p.baseVolD18)),
                uint64(WAD),
                uint64(WAD)
            );
            _state[marketId] = s;
            emit VolatilitySampled(marketId, price, 0, s.varianceD18, WAD, WAD, WAD);
            return;
        }
        uint256 next = uint256(s.lastSample) + p.interval;
        if (block.timestamp < next) revert TooEarly(marketId, next);
        (State memory n, int256 r, uint256 target) = sample(p, s, price, block.timestamp);
        _state[marketId] = n;
        emit VolatilitySampled(marketId, price, r, n.varianceD18, target, n.imMultiplierD18, _mm(n));
    }

    /// @notice The estimator's step: the state after a sample of `price` at `time`, the winsorised log-return and the
    ///         target multiplier. Pure, so that the SDK mirror can be checked against it.
    function sample(
        Params memory p,
        State memory s,
        uint256 price,
        uint256 time
    ) public pure returns (State memory n, int256 logReturnD18, uint256 targetD18) {
        uint256 elapsed = time - s.lastSample;
        uint256 intervals = elapsed / p.interval;
        uint256 sigma = Math.sqrt(uint256(s.varianceD18) * WAD, Math.Rounding.Ceil);
        int256 cap = int256(Math.mulDiv(p.winsorD18, sigma, WAD, Math.Rounding.Ceil));
        logReturnD18 = lnRatio(price, s.lastPrice);
        int256 w = logReturnD18 > cap ? cap : (logReturnD18 < -cap ? -cap : logReturnD18);
        // A late sample spans several intervals: its squared return counts per interval.
        uint256 sq = Math.mulDiv(uint256(w * w), 1, WAD * intervals, Math.Rounding.Ceil);
        uint256 variance = Math.mulDiv(p.lambdaD18, s.varianceD18, WAD, Math.Rounding.Ceil) +
            Math.mulDiv(WAD - p.lambdaD18, sq, WAD, Math.Rounding.Ceil);
        uint256 vol = Math.sqrt(variance * WAD, Math.Rounding.Ceil);
        targetD18 = Math.min(
            Math.max(Math.mulDiv(vol, WAD, p.baseVolD18, Math.Rounding.Ceil), WAD),
            p.capD18
        );
        uint256 im = s.imMultiplierD18;
        uint256 next;
        if (targetD18 > im) {
            next = Math.min(targetD18, im + Math.mulDiv(p.risePerHourD18, elapsed, 1 hours));
        } else {
            uint256 down = Math.mulDiv(p.fallPerHourD18, elapsed, 1 hours);
            next = Math.max(targetD18, im > down ? im - down : 0);
        }
        n = State(
            SafeCast.toUint128(price),
            uint40(time),
            SafeCast.toUint128(variance),
            uint64(next),
            uint64(im)
        );
    }

    /// @notice ln(a / b) in D18 for positive a and b: 2 * atanh(u) with u = (a - b) / (a + b), by its series to the
    ///         u^11 term (error below 2e-7 for moves within a factor of two); each term truncates towards zero.
    function lnRatio(uint256 a, uint256 b) public pure returns (int256) {
        int256 u = ((int256(a) - int256(b)) * int256(WAD)) / int256(a + b);
        int256 u2 = (u * u) / int256(WAD);
        int256 term = u;
        int256 sum = u;
        for (int256 k = 3; k <= 11; k += 2) {
            term = (term * u2) / int256(WAD);
            sum += term / k;
        }
        return 2 * sum;
    }

    function params(uint256 marketId) external view returns (Params memory) {
        return _params[marketId];
    }

    function state(uint256 marketId) external view returns (State memory) {
        return _state[marketId];
    }

    /// @notice The multiplier on initial-margin ratios (D18, 1 = no change); 1 before the first sample.
    function imMultiplier(uint256 marketId) external view returns (uint256) {
        State memory s = _state[marketId];
        return s.lastSample == 0 ? WAD : s.imMultiplierD18;
    }

    /// @notice The multiplier on maintenance-margin ratios: the IM multiplier one sample behind on the way up.
    function mmMultiplier(uint256 marketId) external view returns (uint256) {
        State memory s = _state[marketId];
        return s.lastSample == 0 ? WAD : _mm(s);
    }

    /// @notice The estimated volatility per interval (D18).
    function volatility(uint256 marketId) external view returns (uint256) {
        return Math.sqrt(uint256(_state[marketId].varianceD18) * WAD, Math.Rounding.Ceil);
    }

    function _mm(State memory s) private pure returns (uint256) {
        return Math.min(s.imMultiplierD18, s.previousImMultiplierD18);
    }

    function _square(uint256 volD18) private pure returns (uint256) {
        return Math.mulDiv(volD18, volD18, WAD, Math.Rounding.Ceil);
    }

    function _bound(string memory name, uint256 value, uint256 lo, uint256 hi) private pure {
        if (value < lo || value > hi) revert VolatilityParamOutOfBounds(name, value);
    }
}
