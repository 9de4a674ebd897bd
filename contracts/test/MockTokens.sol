// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title MockERC20
/// @notice Test and local-deployment only. An ERC-20 with configurable decimals and an open `mint`.
contract MockERC20 is ERC20 {
    uint8 private immutable _decimals;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _decimals = decimals_;
    }

    /// @notice Mints `amount` to `to`; anyone may call it.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }
}

/// @title FeeOnTransferToken
/// @notice Test only. Burns `FEE_BPS` of every transfer and transferFrom, so the receiver gets less than
///         `amount`. Mints and burns are not charged.
contract FeeOnTransferToken is MockERC20 {
    /// @notice The fee burnt from every transfer, in basis points (1%).
    uint256 public constant FEE_BPS = 100;

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_
    ) MockERC20(name_, symbol_, decimals_) {}

    /// @dev The fee rounds down, so transfers under 100 units are free.
    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = (value * FEE_BPS) / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}

/// @title BlacklistToken
/// @notice Test only. Any transfer, mint or burn to or from a blacklisted address reverts.
contract BlacklistToken is MockERC20 {
    /// @notice Thrown when a transfer touches a blacklisted address.
    error Blacklisted(address account);

    /// @notice Whether an address is blacklisted.
    mapping(address account => bool) public isBlacklisted;

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_
    ) MockERC20(name_, symbol_, decimals_) {}

    /// @notice Adds `account` to, or removes it from, the blacklist; anyone may call it.
    function setBlacklisted(address account, bool blacklisted) external {
        isBlacklisted[account] = blacklisted;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (isBlacklisted[from]) revert Blacklisted(from);
        if (isBlacklisted[to]) revert Blacklisted(to);
        super._update(from, to, value);
    }
}

/// @title ReentrantToken
/// @notice Test only. Once armed, the next transfer or transferFrom calls `target` with `data` before moving
///         balances, then disarms. The call's outcome is recorded, never bubbled.
contract ReentrantToken is MockERC20 {
    /// @notice The contract the armed transfer calls (zero when disarmed).
    address public reentryTarget;

    /// @notice The calldata the armed transfer sends.
    bytes public reentryData;

    /// @notice Whether the last re-entrant call succeeded.
    bool public lastReentrySucceeded;

    /// @notice The return or revert data of the last re-entrant call.
    bytes public lastReentryData;

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_
    ) MockERC20(name_, symbol_, decimals_) {}

    /// @notice Makes the next transfer or transferFrom call `target` with `data`; anyone may call it.
    function arm(address target, bytes calldata data) external {
        reentryTarget = target;
        reentryData = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        address target = reentryTarget;
        if (target != address(0) && from != address(0) && to != address(0)) {
            reentryTarget = address(0);
            // solhint-disable-next-line avoid-low-level-calls
            (lastReentrySucceeded, lastReentryData) = target.call(reentryData);
        }
        super._update(from, to, value);
    }
}
