// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// The standard's own names, kept so integrators recognise the interfaces.
// solhint-disable interface-starts-with-i

/// @title IERC7540Operator
/// @notice ERC-7540 operators: an operator may request, claim and cancel on behalf of a controller.
interface IERC7540Operator {
    /// @notice Emitted when `controller` approves or revokes `operator`.
    event OperatorSet(address indexed controller, address indexed operator, bool approved);

    /// @notice Approves or revokes `operator` for the caller's requests and claims.
    function setOperator(address operator, bool approved) external returns (bool);

    /// @notice Whether `operator` may act for `controller`.
    function isOperator(address controller, address operator) external view returns (bool status);
}

/// @title IERC7540Deposit
/// @notice ERC-7540 asynchronous deposits: assets are escrowed at `requestDeposit`, become claimable shares once
///         the vault settles the request, and are claimed with `deposit`/`mint` naming the controller.
interface IERC7540Deposit is IERC7540Operator {
    /// @notice Emitted when `owner`'s `assets` are escrowed in a deposit request controlled by `controller`.
    event DepositRequest(
        address indexed controller,
        address indexed owner,
        uint256 indexed requestId,
        address sender,
        uint256 assets
    );

    /// @notice Escrows `assets` from `owner` in a deposit request controlled by `controller`.
    function requestDeposit(
        uint256 assets,
        address controller,
        address owner
    ) external returns (uint256 requestId);

    /// @notice Assets of `controller`'s request that are escrowed and not yet settled.
    function pendingDepositRequest(
        uint256 requestId,
        address controller
    ) external view returns (uint256 pendingAssets);

    /// @notice Assets of `controller`'s settled requests whose shares can be claimed.
    function claimableDepositRequest(
        uint256 requestId,
        address controller
    ) external view returns (uint256 claimableAssets);

    /// @notice Claims the shares of `assets` of `controller`'s claimable deposits for `receiver`.
    function deposit(uint256 assets, address receiver, address controller) external returns (uint256 shares);

    /// @notice Claims `shares` of `controller`'s claimable deposits for `receiver`.
    function mint(uint256 shares, address receiver, address controller) external returns (uint256 assets);
}

/// @title IERC7540Redeem
/// @notice ERC-7540 asynchronous redemptions: shares are escrowed at `requestRedeem`, become claimable assets once
///         the vault settles the request, and are claimed with `redeem`/`withdraw` naming the controller.
interface IERC7540Redeem is IERC7540Operator {
    /// @notice Emitted when `owner`'s `shares` are escrowed in a redeem request controlled by `controller`.
    event RedeemRequest(
        address indexed controller,
        address indexed owner,
        uint256 indexed requestId,
        address sender,
        uint256 shares
    );

    /// @notice Escrows `shares` from `owner` in a redeem request controlled by `controller`.
    function requestRedeem(
        uint256 shares,
        address controller,
        address owner
    ) external returns (uint256 requestId);

    /// @notice Shares of `controller`'s request that are escrowed and not yet settled.
    function pendingRedeemRequest(
        uint256 requestId,
        address controller
    ) external view returns (uint256 pendingShares);

    /// @notice Shares of `controller`'s settled requests whose assets can be claimed.
    function claimableRedeemRequest(
        uint256 requestId,
        address controller
    ) external view returns (uint256 claimableShares);
}
