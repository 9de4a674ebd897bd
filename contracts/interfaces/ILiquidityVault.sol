// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {IERC7540Deposit, IERC7540Redeem} from "./IERC7540.sol";

/// @title ILiquidityVault
/// @notice ERC-4626 vault of the settlement asset, with asynchronous (ERC-7540) deposits and redemptions; the
///         counterparty to traders' net PnL. Its cash is held by the margin engine's ledger; its value adds
///         traders' net unrealised loss (their loss is its gain).
/// @dev Fairness against LPs timing an oracle move: every LP flow is a request that escrows assets or shares,
///      becomes ready `minDelay` after it was made, and is settled by anyone (a keeper), first in first out, at the
///      vault value the engine computes with prices all published at or after that ready time. A request not
///      settled by `maxDelay` is refunded (by the settlement, or by anyone calling the cancel). The ERC-4626
///      `deposit`/`mint`/`redeem`/`withdraw` are the claim step; the `preview*` functions revert (ERC-7540).
///      On top: an entry and an exit fee (kept by the vault, i.e. by the LPs who stay), and a cooldown after
///      each claim during which the claimer's shares can neither be requested out nor transferred. The delay
///      alone defeats timing; the cooldown is kept as a minimum holding period (a deposit cannot be in and out
///      within two delays to collect fees it did not bear risk for) and keeps `cooldown`/`unlocksAt` meaning
///      what integrators already read. Synchronous ERC-4626 flows are gone because every one of them could be
///      timed against a known oracle move (issue 9); their entry points are ERC-7540's claims, so routers
///      that call `deposit`/`redeem` after a settled request keep working. Settlement pays the keeper nothing:
///      it is cheap (one valuation per batch) and in the LPs' own interest; a reward can come with orders.
interface ILiquidityVault is IERC4626, IERC7540Deposit, IERC7540Redeem {
    /* EVENTS */

    /// @notice Emitted when the fees or the cooldown change.
    event VaultParamsUpdated(uint256 entryFeeBps, uint256 exitFeeBps, uint256 cooldown);

    /// @notice Emitted when the request delays change. Requests already made keep the delays they were made with.
    event RequestDelaysUpdated(uint256 minDelay, uint256 maxDelay);

    /// @notice Emitted when a deposit request is settled: `assets` (fee included) became `shares` to claim.
    event DepositSettled(address indexed controller, uint256 assets, uint256 shares);

    /// @notice Emitted when a redeem request is settled: `shares` were burned for `assets` (fee deducted) to claim.
    event RedeemSettled(address indexed controller, uint256 shares, uint256 assets);

    /// @notice Emitted when a deposit request is refunded to its controller: expired, cancelled, or so small that
    ///         it would have bought no share.
    event DepositRequestCancelled(address indexed controller, uint256 assets);
    /// @notice Emitted when settlement could not refund an expired or dust deposit because the token refused the
    ///         transfer to its controller: the request stays pending, refundable by `cancelDepositRequest`.
    event DepositRefundDeferred(address indexed controller, uint256 assets);

    /// @notice Emitted when a redeem request's shares are given back to its controller: expired, cancelled, or
    ///         so small that they would have paid no asset.
    event RedeemRequestCancelled(address indexed controller, uint256 shares);

    /// @notice Emitted by every settlement call, with the valuation it used.
    /// @param processed Queue entries consumed (settled, refunded or already cancelled).
    /// @param valueD18 The vault value the batch was priced at, before its own flows.
    /// @param oldestPublishTime The oldest publish time of the prices behind `valueD18`.
    event RequestsSettled(uint256 processed, int256 valueD18, uint256 oldestPublishTime);

    /// @notice Emitted when tokens sent to the vault by mistake are recovered.
    event Swept(address indexed token, address indexed to, uint256 amount);

    /* ERRORS */

    /// @notice Thrown when a claim names a receiver other than its controller (claimed shares start a cooldown,
    ///         which nobody may impose on someone else).
    error ReceiverMustBeCaller(address caller, address receiver);
    /// @notice Thrown when shares move or are requested out before the owner's cooldown ends.
    error CooldownActive(address owner, uint256 unlocksAt);
    /// @notice Thrown when a parameter is outside its hard bounds.
    error VaultParameterOutOfBounds();
    /// @notice Thrown when the asset differs from the engine's settlement token.
    error AssetMismatch();
    /// @notice Thrown on a zero-share or zero-asset request or claim, or a zero address.
    error ZeroAmount();
    /// @notice Thrown when a deposit is requested while the engine is paused (deposits add risk capacity).
    error DepositsPaused();
    /// @notice Thrown when the caller is neither the owner or controller nor its operator.
    error NotOperator(address caller, address controller);
    /// @notice Thrown when a controller already has a pending request of the same kind: a top-up would ride on
    ///         the earlier request's time, so it must wait for its own.
    error RequestPending(address controller);
    /// @notice Thrown when a cancel names a controller without a pending request.
    error NoPendingRequest(address controller);
    /// @notice Thrown when a pending request is cancelled before it expires.
    error RequestNotExpired(address controller, uint256 expiresAt);
    /// @notice Thrown when a claim asks for more than the controller's claimable amount.
    error ExceedsClaimable(address controller, uint256 requested, uint256 claimable);
    /// @notice Thrown by `previewDeposit`, `previewMint`, `previewRedeem` and `previewWithdraw`, which an
    ///         asynchronous vault cannot answer (ERC-7540).
    error AsyncFlow();
    /// @notice Thrown when a sweep would find nothing beyond what the vault's ledger accounts for.
    error NothingToSweep(address token);

    /* VIEWS */

    /// @notice Entry fee in basis points of the deposited assets, kept by the vault.
    function entryFeeBps() external view returns (uint256);

    /// @notice Exit fee in basis points of the withdrawn assets, kept by the vault.
    function exitFeeBps() external view returns (uint256);

    /// @notice Seconds after a claim of shares during which the claimer's shares are locked.
    function cooldown() external view returns (uint256);

    /// @notice When `owner`'s shares unlock.
    function unlocksAt(address owner) external view returns (uint256);

    /// @notice Seconds after a request before it can be settled; the settlement prices must be published no
    ///         earlier than request time + `minDelay`.
    function minDelay() external view returns (uint256);

    /// @notice Seconds after a request after which it can no longer be settled, only refunded.
    function maxDelay() external view returns (uint256);

    /// @notice Assets LPs may withdraw now in total: the smaller of vault cash and vault value (which counts
    ///         traders' open PnL and pending funding), less the reserve against open interest.
    function withdrawableAssets() external view returns (uint256);

    /// @notice The escrow and claims the vault holds for LPs: asset tokens of pending deposits plus those owed
    ///         to claimable redemptions, and its own shares of pending redemptions plus those owed to claimable
    ///         deposits. Everything else the vault holds can be swept.
    function escrow()
        external
        view
        returns (
            uint256 pendingDepositAssets,
            uint256 claimableRedeemAssets,
            uint256 pendingRedeemShares,
            uint256 claimableDepositShares
        );

    /// @notice Queue entries waiting for settlement: deposits, then redemptions (cancelled ones included).
    function queueLengths() external view returns (uint256 deposits, uint256 redemptions);

    /// @notice `controller`'s pending deposit request: escrowed assets, when it can be settled (0 if none) and
    ///         when it expires.
    function depositRequestOf(
        address controller
    ) external view returns (uint256 assets, uint256 readyAt, uint256 expiresAt);

    /// @notice `controller`'s pending redeem request: escrowed shares, when it can be settled (0 if none) and
    ///         when it expires.
    function redeemRequestOf(
        address controller
    ) external view returns (uint256 shares, uint256 readyAt, uint256 expiresAt);

    /// @notice ERC-7575: the share token, this vault itself.
    function share() external view returns (address);

    /* ACTIONS */

    /// @notice Settles up to `maxRequests` queue entries, deposits first (oldest first) then redemptions (oldest
    ///         first), all at one valuation. Anyone may call it. A queue stops at its first entry that is not
    ///         ready (its ready time is after the valuation's oldest publish time or after now) or that cannot be
    ///         settled now (a deposit while paused or while the value is not positive; a redemption beyond the
    ///         withdrawable assets); expired entries are refunded on the way.
    /// @return processed Queue entries consumed.
    function settleRequests(uint256 maxRequests) external returns (uint256 processed);

    /// @notice Refunds `controller`'s expired deposit request to `controller`. Anyone may call it.
    function cancelDepositRequest(address controller) external;

    /// @notice Gives `controller`'s expired redeem request's shares back to `controller`. Anyone may call it.
    function cancelRedeemRequest(address controller) external;

    /* GOVERNANCE */

    /// @notice Sets the fees (each <= 100 bps) and the cooldown (<= 7 days). Admin only.
    function setVaultParams(uint256 entryFeeBps, uint256 exitFeeBps, uint256 cooldown) external;

    /// @notice Sets the request delays: `minDelay` in [1 s, 1 hour], `maxDelay` in [minDelay + 1 minute, 2 days].
    ///         Admin only. Applies to requests made from then on.
    function setRequestDelays(uint256 minDelay, uint256 maxDelay) external;

    /// @notice Sends `to` the vault's balance of `token` beyond the escrow and claims (`escrow`). Admin only.
    function sweep(address token, address to) external returns (uint256 amount);
}
