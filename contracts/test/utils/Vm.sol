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
    /// @notice Sets `block.timestamp`.
    function warp(uint256 newTimestamp) external;

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
}
