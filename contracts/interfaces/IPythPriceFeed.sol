// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPyth} from "@pythnetwork/pyth-sdk-solidity/IPyth.sol";

import {IPullPriceFeed} from "./IPullPriceFeed.sol";

/// @title IPythPriceFeed
/// @notice An `IPullPriceFeed` backed by one Pyth price id. Prices are `price * 10^expo` with a confidence
///         interval `conf` in the same units; the feed refuses prices whose confidence is wider than
///         `maxConfidenceBps` of the price, whose exponent is outside `[MIN_EXPO, MAX_EXPO]`, or that are not
///         positive. `latestPrice` also refuses prices older than `maxAge`.
interface IPythPriceFeed is IPullPriceFeed {
    /* EVENTS */

    /// @notice Emitted at construction and on every change of the freshness and confidence bounds.
    /// @param maxAge The maximum accepted age of the stored price for `latestPrice`, in seconds.
    /// @param maxConfidenceBps The widest accepted confidence interval, in basis points of the price.
    event FeedParamsUpdated(uint256 maxAge, uint256 maxConfidenceBps);

    /* ERRORS */

    /// @notice Thrown when the price is zero or negative, or normalises to zero.
    /// @param price The raw Pyth price.
    /// @param expo The raw Pyth exponent.
    error InvalidPrice(int64 price, int32 expo);

    /// @notice Thrown when the exponent is outside `[MIN_EXPO, MAX_EXPO]`.
    /// @param expo The rejected exponent.
    error InvalidExponent(int32 expo);

    /// @notice Thrown when the confidence interval is wider than `maxConfidenceBps` of the price.
    /// @param conf The raw confidence interval.
    /// @param price The raw price (same exponent as `conf`).
    /// @param maxConfidenceBps The bound in force.
    error ConfidenceTooWide(uint64 conf, int64 price, uint256 maxConfidenceBps);

    /// @notice Thrown when the stored price is older than `maxAge`.
    /// @param publishTime When the stored price was published.
    /// @param maxAge The maximum accepted age, in seconds.
    error StalePrice(uint256 publishTime, uint256 maxAge);

    /// @notice Thrown when a settlement window is empty (`minPublishTime > maxPublishTime`).
    error InvalidWindow(uint64 minPublishTime, uint64 maxPublishTime);

    /// @notice Thrown when the oracle returns a price published outside the requested window (defence in
    ///         depth: a conforming Pyth contract reverts first).
    error PriceOutsideWindow(uint256 publishTime, uint64 minPublishTime, uint64 maxPublishTime);

    /// @notice Thrown when the oracle returns a price for another id (defence in depth, as above).
    error WrongPriceId(bytes32 expected, bytes32 received);

    /// @notice Thrown when `msg.value` does not cover the oracle's update fee.
    /// @param provided The wei sent.
    /// @param required The oracle's fee for the update data.
    error InsufficientUpdateFee(uint256 provided, uint256 required);

    /// @notice Thrown when the excess of `msg.value` over the fee cannot be sent back to the caller.
    error RefundFailed(address to, uint256 amount);

    /// @notice Thrown when the constructor is given the zero address for the Pyth contract or the owner, or a
    ///         zero price id.
    error ZeroAddress();

    /// @notice Thrown when `maxAge` is zero or above `MAX_AGE_LIMIT`.
    error InvalidMaxAge(uint256 maxAge);

    /// @notice Thrown when `maxConfidenceBps` is zero or above `MAX_CONFIDENCE_BPS_LIMIT`.
    error InvalidMaxConfidence(uint256 maxConfidenceBps);

    /* VIEWS */

    /// @notice The Pyth contract the price is read from.
    function pyth() external view returns (IPyth);

    /// @notice The Pyth price id this feed serves.
    function priceId() external view returns (bytes32);

    /// @notice The maximum accepted age of the stored price for `latestPrice`/`latestPriceData`, in seconds.
    function maxAge() external view returns (uint256);

    /// @notice The widest accepted confidence interval, in basis points of the price.
    function maxConfidenceBps() external view returns (uint256);

    /* GOVERNANCE */

    /// @notice Sets the freshness and confidence bounds, each within its hard bounds. Owner only.
    /// @param maxAge_ In `(0, MAX_AGE_LIMIT]` seconds.
    /// @param maxConfidenceBps_ In `(0, MAX_CONFIDENCE_BPS_LIMIT]` basis points.
    function setFeedParams(uint256 maxAge_, uint256 maxConfidenceBps_) external;
}
