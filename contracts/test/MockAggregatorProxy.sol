// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title MockAggregatorProxy
/// @notice Test only. A Chainlink `EACAggregatorProxy` in miniature: forwards reads to the current aggregator
///         and exposes it through `aggregator()`, as the real proxy does.
contract MockAggregatorProxy is AggregatorV3Interface {
    /// @notice The aggregator reads are forwarded to.
    address public aggregator;

    constructor(address aggregator_) {
        aggregator = aggregator_;
    }

    function decimals() external view returns (uint8) {
        return AggregatorV3Interface(aggregator).decimals();
    }

    function description() external view returns (string memory) {
        return AggregatorV3Interface(aggregator).description();
    }

    function version() external view returns (uint256) {
        return AggregatorV3Interface(aggregator).version();
    }

    function getRoundData(uint80 roundId_) external view returns (uint80, int256, uint256, uint256, uint80) {
        return AggregatorV3Interface(aggregator).getRoundData(roundId_);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return AggregatorV3Interface(aggregator).latestRoundData();
    }
}
