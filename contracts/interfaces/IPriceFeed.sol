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
}
