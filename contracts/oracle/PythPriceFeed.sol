// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IPyth} from "@pythnetwork/pyth-sdk-solidity/IPyth.sol";
import {PythStructs} from "@pythnetwork/pyth-sdk-solidity/PythStructs.sol";

import {IPriceFeed} from "../interfaces/IPriceFeed.sol";
import {IPullPriceFeed} from "../interfaces/IPullPriceFeed.sol";
import {IPythPriceFeed} from "../interfaces/IPythPriceFeed.sol";

/// @title PythPriceFeed
/// @notice Serves one Pyth price id to Bulkhead: the stored price for marks (`latestPrice`), and a price proven
///         by update data and published inside a window for delayed settlement (`priceInWindow`).
/// @dev Holds no funds: the update fee is paid out of `msg.value` and the excess goes straight back.
contract PythPriceFeed is IPythPriceFeed, Ownable2Step, ReentrancyGuardTransient {
    /// @notice The longest accepted `maxAge`.
    uint256 public constant MAX_AGE_LIMIT = 1 days;

    /// @notice The widest accepted `maxConfidenceBps` (10% of the price).
    uint256 public constant MAX_CONFIDENCE_BPS_LIMIT = 1_000;

    /// @notice The smallest accepted exponent: a scale-down of at most 10^18 to reach 18 decimals.
    int32 public constant MIN_EXPO = -36;

    /// @notice The largest accepted exponent: `int64.max * 10^(18 + 18)` still fits in 256 bits.
    int32 public constant MAX_EXPO = 18;

    uint256 private constant BPS = 10_000;

    /// @inheritdoc IPythPriceFeed
    IPyth public immutable pyth;

    /// @inheritdoc IPythPriceFeed
    bytes32 public immutable priceId;

    /// @inheritdoc IPythPriceFeed
    uint256 public maxAge;

    /// @inheritdoc IPythPriceFeed
    uint256 public maxConfidenceBps;

    /// @param pyth_ The Pyth contract (never a mock in production).
    /// @param priceId_ The Pyth price id, non-zero.
    /// @param owner_ Who may change the bounds (a timelock on real networks).
    /// @param maxAge_ In `(0, 1 day]` seconds.
    /// @param maxConfidenceBps_ In `(0, 1000]` basis points.
    constructor(
        IPyth pyth_,
        bytes32 priceId_,
        address owner_,
        uint256 maxAge_,
        uint256 maxConfidenceBps_
    ) Ownable(owner_) {
        if (address(pyth_) == address(0) || priceId_ == bytes32(0)) revert ZeroAddress();
        pyth = pyth_;
        priceId = priceId_;
        _setFeedParams(maxAge_, maxConfidenceBps_);
    }

    /* READS */

    /// @inheritdoc IPriceFeed
    function latestPrice() external view returns (uint256 priceD18) {
        (priceD18, ) = _latest();
    }

    /// @inheritdoc IPriceFeed
    function latestPriceData() external view returns (uint256 priceD18, uint256 publishTime) {
        return _latest();
    }

    /// @inheritdoc IPullPriceFeed
    function updateFee(bytes[] calldata updateData) external view returns (uint256 feeWei) {
        return pyth.getUpdateFee(updateData);
    }

    /* SETTLEMENT */

    /// @inheritdoc IPullPriceFeed
    /// @dev Uses `parsePriceFeedUpdatesUnique`: Pyth accepts only the first update published at or after
    ///      `minPublishTime` (its previous publish time is before the window), so a settler cannot shop among
    ///      several prices inside the window. The returned price is checked against the window and id again.
    ///      The excess of `msg.value` is sent back to `msg.sender` last, under a reentrancy guard; a caller
    ///      that cannot receive ether must send exactly `updateFee(updateData)`.
    function priceInWindow(
        bytes[] calldata updateData,
        uint64 minPublishTime,
        uint64 maxPublishTime
    ) external payable nonReentrant returns (uint256 priceD18, uint64 publishTime) {
        if (minPublishTime > maxPublishTime) revert InvalidWindow(minPublishTime, maxPublishTime);
        uint256 fee = pyth.getUpdateFee(updateData);
        if (msg.value < fee) revert InsufficientUpdateFee(msg.value, fee);

        bytes32[] memory ids = new bytes32[](1);
        ids[0] = priceId;
        PythStructs.PriceFeed[] memory feeds = pyth.parsePriceFeedUpdatesUnique{value: fee}(
            updateData,
            ids,
            minPublishTime,
            maxPublishTime
        );
        PythStructs.Price memory p = feeds[0].price;
        if (feeds[0].id != priceId) revert WrongPriceId(priceId, feeds[0].id);
        if (p.publishTime < minPublishTime || p.publishTime > maxPublishTime) {
            revert PriceOutsideWindow(p.publishTime, minPublishTime, maxPublishTime);
        }
        priceD18 = _normalise(p);
        publishTime = uint64(p.publishTime);

        uint256 excess = msg.value - fee;
        if (excess > 0) {
            (bool sent, ) = msg.sender.call{value: excess}("");
            if (!sent) revert RefundFailed(msg.sender, excess);
        }
    }

    /* GOVERNANCE */

    /// @inheritdoc IPythPriceFeed
    function setFeedParams(uint256 maxAge_, uint256 maxConfidenceBps_) external onlyOwner {
        _setFeedParams(maxAge_, maxConfidenceBps_);
    }

    function _setFeedParams(uint256 maxAge_, uint256 maxConfidenceBps_) private {
        if (maxAge_ == 0 || maxAge_ > MAX_AGE_LIMIT) revert InvalidMaxAge(maxAge_);
        if (maxConfidenceBps_ == 0 || maxConfidenceBps_ > MAX_CONFIDENCE_BPS_LIMIT) {
            revert InvalidMaxConfidence(maxConfidenceBps_);
        }
        maxAge = maxAge_;
        maxConfidenceBps = maxConfidenceBps_;
        emit FeedParamsUpdated(maxAge_, maxConfidenceBps_);
    }

    /* INTERNALS */

    /// @dev The stored price, refused when older than `maxAge`. A publish time ahead of `block.timestamp`
    ///      (publisher clocks run slightly ahead) counts as fresh; it cannot underflow the age.
    function _latest() private view returns (uint256 priceD18, uint256 publishTime) {
        PythStructs.Price memory p = pyth.getPriceUnsafe(priceId);
        publishTime = p.publishTime;
        if (block.timestamp > publishTime && block.timestamp - publishTime > maxAge) {
            revert StalePrice(publishTime, maxAge);
        }
        priceD18 = _normalise(p);
    }

    /// @dev Checks sign, exponent and confidence, then scales `price * 10^expo` to 18 decimals, rounding down
    ///      when the exponent is below -18 (the price is truncated, like the Chainlink adapter's). The
    ///      confidence test `conf * BPS > price * maxConfidenceBps` is exact in 256 bits (both < 2^64 * 2^14).
    function _normalise(PythStructs.Price memory p) private view returns (uint256 priceD18) {
        if (p.price <= 0) revert InvalidPrice(p.price, p.expo);
        if (p.expo < MIN_EXPO || p.expo > MAX_EXPO) revert InvalidExponent(p.expo);
        uint256 raw = uint256(uint64(p.price));
        if (uint256(p.conf) * BPS > raw * maxConfidenceBps) {
            revert ConfidenceTooWide(p.conf, p.price, maxConfidenceBps);
        }
        int256 shift = int256(p.expo) + 18;
        priceD18 = shift >= 0 ? raw * 10 ** uint256(shift) : raw / 10 ** uint256(-shift);
        if (priceD18 == 0) revert InvalidPrice(p.price, p.expo);
    }
}
