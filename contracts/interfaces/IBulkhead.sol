// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "./IMarginEngine.sol";
import {ILiquidation} from "./ILiquidation.sol";
import {IGovernance} from "./IGovernance.sol";
import {IOrders} from "./IOrders.sol";

/// @title IBulkhead
/// @notice The whole surface of a Bulkhead engine address: the margin engine itself (accounts, margin, orders, views) plus the functions it routes
///         to its liquidation and governance modules. Integrators bind to this interface.
interface IBulkhead is IMarginEngine, IOrders, ILiquidation, IGovernance {}
