// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPullPriceFeed} from "../interfaces/IPullPriceFeed.sol";

/// @title PullFeedCaller
/// @notice Test only. Settles through `IPullPriceFeed.priceInWindow` the way the engine will, and receives the
///         fee refund in one of three ways: accept it, reject it, or re-enter the feed from `receive`.
contract PullFeedCaller {
    enum RefundMode {
        Accept,
        Reject,
        Reenter
    }

    error RefundRejected();

    RefundMode public mode;
    IPullPriceFeed private _feed;
    bytes[] private _updateData;
    uint64 private _min;
    uint64 private _max;

    uint256 public lastPriceD18;
    uint64 public lastPublishTime;

    function setMode(RefundMode mode_) external {
        mode = mode_;
    }

    function settle(
        IPullPriceFeed feed,
        bytes[] calldata updateData,
        uint64 minPublishTime,
        uint64 maxPublishTime
    ) external payable {
        (_feed, _updateData, _min, _max) = (feed, updateData, minPublishTime, maxPublishTime);
        (lastPriceD18, lastPublishTime) = feed.priceInWindow{value: msg.value}(
            updateData,
            minPublishTime,
            maxPublishTime
        );
    }

    // The refund hook is the point of this contract.
    // solhint-disable-next-line no-complex-fallback
    receive() external payable {
        if (mode == RefundMode.Reject) revert RefundRejected();
        if (mode == RefundMode.Reenter) _feed.priceInWindow{value: msg.value}(_updateData, _min, _max);
    }
}
