// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPriceFeed
/// @notice The one interface through which Bulkhead markets read prices.
/// @dev Implementations must revert (with their own custom error) whenever they cannot return a valid
///      price: the engine treats a revert as "no valid price" and blocks only the affected market.
interface IPriceFeed {
    /// @notice The latest valid price of one unit of the base asset in the settlement unit, 18 decimals.
    /// @return priceD18 A strictly positive price, normalised to 18 decimals.
    function latestPrice() external view returns (uint256 priceD18);

    /// @notice `latestPrice` with the time the price was published, so that a caller can tell whether it was
    ///         known before a given moment (delayed orders and LP requests settle only on later prices).
    /// @dev Same checks and same price as `latestPrice`, in the same block.
    /// @return priceD18 A strictly positive price, normalised to 18 decimals.
    /// @return publishTime When the source published the price (Chainlink: the round's `updatedAt`; Pyth: the
    ///         price's `publishTime`), in seconds since the epoch. May be slightly ahead of `block.timestamp`.
    function latestPriceData() external view returns (uint256 priceD18, uint256 publishTime);
}
