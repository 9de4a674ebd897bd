// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title MockVaultEngine
/// @notice Test only. The part of the margin engine the liquidity vault calls, with every input settable: vault
///         cash is a real token balance; value = cash + `tradersLossD18`; `vaultValueAt` reports `publishTime`
///         (or `block.timestamp` when it is 0, as the engine does with no open interest).
contract MockVaultEngine {
    using SafeERC20 for IERC20;

    error NotVault(address caller);
    error Unpriced();
    error BelowReserve(int256 cashD18, uint256 reservedD18);

    IERC20 private immutable _token;
    uint256 private immutable _scale;

    address public vault;
    bool public paused;
    bool public unpriced;
    int256 public vaultCash;
    int256 public tradersLossD18;
    uint256 public totalReserved;
    uint256 public publishTime;

    constructor(IERC20Metadata token_) {
        _token = token_;
        _scale = 10 ** (18 - token_.decimals());
    }

    function settlementToken() external view returns (address) {
        return address(_token);
    }

    function setVault(address vault_) external {
        vault = vault_;
    }

    function setPaused(bool paused_) external {
        paused = paused_;
    }

    function setUnpriced(bool unpriced_) external {
        unpriced = unpriced_;
    }

    function setTradersLoss(int256 lossD18) external {
        tradersLossD18 = lossD18;
    }

    function setReserved(uint256 reservedD18) external {
        totalReserved = reservedD18;
    }

    function setPublishTime(uint256 publishTime_) external {
        publishTime = publishTime_;
    }

    function vaultValue() public view returns (int256) {
        if (unpriced) revert Unpriced();
        return vaultCash + tradersLossD18;
    }

    function vaultValueAt() external view returns (int256 valueD18, uint256 oldestPublishTime) {
        return (vaultValue(), publishTime == 0 ? block.timestamp : publishTime);
    }

    function vaultDeposit(uint256 amount) external {
        if (msg.sender != vault) revert NotVault(msg.sender);
        _token.safeTransferFrom(msg.sender, address(this), amount);
        vaultCash += int256(amount * _scale);
    }

    function vaultWithdraw(uint256 amount, address receiver) external {
        if (msg.sender != vault) revert NotVault(msg.sender);
        vaultCash -= int256(amount * _scale);
        if (vaultCash < int256(totalReserved)) revert BelowReserve(vaultCash, totalReserved);
        _token.safeTransfer(receiver, amount);
    }
}
