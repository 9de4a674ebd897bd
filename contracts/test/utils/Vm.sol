// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// Foundry's name for the cheatcode interface.
// solhint-disable interface-starts-with-i

/// @dev The address of the cheatcode contract the Solidity test runner exposes.
address constant VM_ADDRESS = address(uint160(uint256(keccak256("hevm cheat code"))));

/// @title Vm
/// @notice Test only. The subset of the Foundry cheatcodes the Hardhat 3 Solidity test runner supports that
///         Bulkhead's tests use (forge-std is not installed). Add functions here as tests need them.
interface Vm {
    /// @notice A log captured by `recordLogs`.
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    /// @notice Starts recording every log emitted from now on.
    function recordLogs() external;

    /// @notice The logs recorded since `recordLogs` or the previous call; clears them.
    function getRecordedLogs() external returns (Log[] memory logs);

    /// @notice Sets `block.timestamp`.
    function warp(uint256 newTimestamp) external;

    /// @dev The current block timestamp. Unlike `block.timestamp`, which via-IR may read once per function and
    ///      reuse, this always sees the latest `warp`.
    function getBlockTimestamp() external view returns (uint256);

    /// @notice Expects the next call to revert with exactly `revertData`.
    function expectRevert(bytes calldata revertData) external;

    /// @notice Expects the next call to revert with a custom error of selector `revertSelector`.
    function expectRevert(bytes4 revertSelector) external;

    /// @notice Expects the next call to revert, whatever the reason.
    function expectRevert() external;

    /// @notice Fails the test unless `left == right`.
    function assertEq(uint256 left, uint256 right, string calldata err) external pure;

    /// @notice Fails the test unless `condition`.
    function assertTrue(bool condition, string calldata err) external pure;

    /// @notice Sets `msg.sender` for the next call only.
    function prank(address sender) external;

    /// @notice Sets `msg.sender` for every call until `stopPrank`.
    function startPrank(address sender) external;

    /// @notice Ends a `startPrank`.
    function stopPrank() external;

    /// @notice Discards the current fuzz input unless `condition` holds.
    function assume(bool condition) external pure;

    /// @notice Snapshots the whole EVM state; returns its id.
    function snapshotState() external returns (uint256 snapshotId);

    /// @notice Restores the state of snapshot `snapshotId`.
    function revertToState(uint256 snapshotId) external returns (bool success);

    /// @notice Fails the test unless `left == right`.
    function assertEq(int256 left, int256 right, string calldata err) external pure;

    /// @notice Fails the test unless `left <= right`.
    function assertLe(uint256 left, uint256 right, string calldata err) external pure;

    /// @notice Fails the test unless `left <= right`.
    function assertLe(int256 left, int256 right, string calldata err) external pure;

    /// @notice Fails the test unless `left >= right`.
    function assertGe(uint256 left, uint256 right, string calldata err) external pure;

    /// @notice Fails the test unless `left >= right`.
    function assertGe(int256 left, int256 right, string calldata err) external pure;

    /// @notice Fails the test unless `|left - right| <= maxDelta`.
    function assertApproxEqAbs(
        int256 left,
        int256 right,
        uint256 maxDelta,
        string calldata err
    ) external pure;
}
