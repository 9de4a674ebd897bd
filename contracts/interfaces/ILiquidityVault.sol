// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

/// @title ILiquidityVault
/// @notice ERC-4626 vault of the settlement asset; the counterparty to traders' net PnL. Its cash is held by the
///         margin engine's ledger; its value adds traders' net unrealised loss (their loss is its gain).
/// @dev Fairness against LPs timing an oracle move: an entry and an exit fee (kept by the vault, i.e. by the LPs
///      who stay) and a cooldown after each deposit during which the depositor's shares can neither be redeemed
///      nor transferred. Deposits are for the caller only, so nobody can re-lock someone else's shares.
interface ILiquidityVault is IERC4626 {
    /// @notice Emitted when the fees or the cooldown change.
    event VaultParamsUpdated(uint256 entryFeeBps, uint256 exitFeeBps, uint256 cooldown);

    /// @notice Thrown when a deposit names a receiver other than the caller.
    error ReceiverMustBeCaller(address caller, address receiver);
    /// @notice Thrown when shares move or are redeemed before the owner's cooldown ends.
    error CooldownActive(address owner, uint256 unlocksAt);
    /// @notice Thrown when a parameter is outside its hard bounds.
    error VaultParameterOutOfBounds();
    /// @notice Thrown when the asset differs from the engine's settlement token.
    error AssetMismatch();
    /// @notice Thrown on a zero-share or zero-asset deposit or withdrawal.
    error ZeroAmount();
    /// @notice Thrown when a deposit would buy into a vault whose value is not positive: the new LP would absorb the
    ///         hole (bad debt socialised beyond the vault's cash). A first deposit into an empty vault is accepted.
    error VaultValueNotPositive(int256 valueD18);
    /// @notice Emitted when tokens sent straight to the vault are recovered.
    event Swept(address indexed token, address indexed to, uint256 amount);

    /// @notice Entry fee in basis points of the deposited assets, kept by the vault.
    function entryFeeBps() external view returns (uint256);

    /// @notice Exit fee in basis points of the withdrawn assets, kept by the vault.
    function exitFeeBps() external view returns (uint256);

    /// @notice Seconds after a deposit during which the depositor's shares are locked.
    function cooldown() external view returns (uint256);

    /// @notice When `owner`'s shares unlock.
    function unlocksAt(address owner) external view returns (uint256);

    /// @notice Assets LPs may withdraw now in total: the smaller of vault cash and vault value (which counts
    ///         traders' open PnL and pending funding), less the reserve against open interest.
    function withdrawableAssets() external view returns (uint256);

    /// @notice Sets the fees (each <= 100 bps) and the cooldown (<= 7 days). Admin only.
    function setVaultParams(uint256 entryFeeBps, uint256 exitFeeBps, uint256 cooldown) external;

    /// @notice Recovers tokens sent to this contract by mistake. Admin only. The vault holds no ledger funds of its
    ///         own (its cash lives in the engine and every flow passes straight through), so its whole balance of
    ///         any token is stray.
    function sweep(address token, address to) external;
}
