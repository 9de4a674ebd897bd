// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPriceFeed} from "./IPriceFeed.sol";

/// @title IPullPriceFeed
/// @notice An `IPriceFeed` whose source is a pull oracle: a settler brings signed update data in the same
///         transaction, and the price it proves is accepted only if it was published inside a given window.
///         This is how delayed orders and LP requests settle on a price nobody knew when they were made.
interface IPullPriceFeed is IPriceFeed {
    /// @notice The update fee the oracle charges to verify `updateData`, in wei.
    /// @param updateData Signed price updates, as served by the oracle's price service.
    function updateFee(bytes[] calldata updateData) external view returns (uint256 feeWei);

    /// @notice Verifies `updateData` and returns this feed's price if it was published inside
    ///         `[minPublishTime, maxPublishTime]`; reverts otherwise (earlier, later, other price id, or
    ///         failing the feed's confidence and exponent checks).
    /// @dev Pays the oracle's update fee out of `msg.value` and sends any excess back to `msg.sender`.
    ///      Staleness against `block.timestamp` is not checked here: the window is the caller's freshness rule.
    /// @param updateData Signed price updates; must contain one for this feed's price id.
    /// @param minPublishTime The earliest accepted publish time, inclusive.
    /// @param maxPublishTime The latest accepted publish time, inclusive.
    /// @return priceD18 The proven price, normalised to 18 decimals (rounded down).
    /// @return publishTime When the proven price was published.
    function priceInWindow(
        bytes[] calldata updateData,
        uint64 minPublishTime,
        uint64 maxPublishTime
    ) external payable returns (uint256 priceD18, uint64 publishTime);
}
