// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC4626} from "@openzeppelin/contracts/token/ERC20/extensions/ERC4626.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {ILiquidityVault} from "../interfaces/ILiquidityVault.sol";

/// @title LiquidityVault
/// @notice The LPs' side of Bulkhead. See `ILiquidityVault`.
/// @dev Share math uses OpenZeppelin's virtual shares with a decimals offset of 6: a first depositor would have
///      to donate a million times the victim's deposit to steal a unit of it. Every conversion rounds against
///      the caller (OpenZeppelin's ERC-4626 rounding), and fees round up.
contract LiquidityVault is ILiquidityVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    using Math for uint256;

    uint256 internal constant BPS = 10_000;
    uint256 public constant MAX_FEE_BPS = 100;
    uint256 public constant MAX_COOLDOWN = 7 days;

    /// @notice The margin engine that holds this vault's cash.
    IMarginEngine public immutable engine;
    uint256 internal immutable TOKEN_SCALE;

    /// @inheritdoc ILiquidityVault
    uint256 public entryFeeBps;
    /// @inheritdoc ILiquidityVault
    uint256 public exitFeeBps;
    /// @inheritdoc ILiquidityVault
    uint256 public cooldown;
    /// @inheritdoc ILiquidityVault
    mapping(address owner => uint256) public unlocksAt;

    constructor(
        IERC20Metadata asset_,
        IMarginEngine engine_,
        address admin,
        uint256 entryFeeBps_,
        uint256 exitFeeBps_,
        uint256 cooldown_
    ) ERC20("Bulkhead Liquidity", "bhLP") ERC4626(asset_) {
        if (address(engine_) == address(0) || admin == address(0)) revert VaultParameterOutOfBounds();
        if (engine_.settlementToken() != address(asset_)) revert AssetMismatch();
        engine = engine_;
        TOKEN_SCALE = 10 ** (18 - asset_.decimals());
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setVaultParams(entryFeeBps_, exitFeeBps_, cooldown_);
        SafeERC20.forceApprove(IERC20(address(asset_)), address(engine_), type(uint256).max);
    }

    /*//////////////////////////////////////////////////////////////
                                VALUATION
    //////////////////////////////////////////////////////////////*/

    /// @notice Vault cash plus traders' net loss, in token units, rounded down; 0 if traders' profit exceeds cash.
    /// @dev Reverts while a market with open interest has no valid price: shares are never priced on a guess.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        int256 value = engine.vaultValue();
        return value > 0 ? uint256(value) / TOKEN_SCALE : 0;
    }

    /// @inheritdoc ILiquidityVault
    /// @dev The smaller of cash and value: traders' open profit and the funding the vault owes them (both in
    ///      `vaultValue`) are not the LPs' to take, while traders' open losses are not cash yet. The engine itself
    ///      only enforces cash >= reserve; this is the stricter LP limit.
    function withdrawableAssets() public view returns (uint256) {
        int256 cash = engine.vaultCash();
        int256 value = engine.vaultValue();
        int256 free = (value < cash ? value : cash) - int256(engine.totalReserved());
        return free > 0 ? uint256(free) / TOKEN_SCALE : 0;
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    /*//////////////////////////////////////////////////////////////
                               LIMITS
    //////////////////////////////////////////////////////////////*/

    /// @dev 0 while the engine is paused (deposits add risk capacity, so the guardian stops them) and while
    ///      the vault cannot be priced. ERC-4626 limits never revert.
    function maxDeposit(address) public view override(ERC4626, IERC4626) returns (uint256) {
        return _canFlow() ? type(uint256).max : 0;
    }

    function maxMint(address) public view override(ERC4626, IERC4626) returns (uint256) {
        return _canFlow() ? type(uint256).max : 0;
    }

    /// @dev The owner's assets, capped by the unreserved cash; 0 during the owner's cooldown or while the vault
    ///      cannot be priced.
    function maxWithdraw(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        if (block.timestamp < unlocksAt[owner] || !_isPriced()) return 0;
        return Math.min(previewRedeem(balanceOf(owner)), withdrawableAssets());
    }

    /// @dev The owner's shares, capped by the shares the unreserved cash pays for; 0 during the cooldown or
    ///      while the vault cannot be priced.
    function maxRedeem(address owner) public view override(ERC4626, IERC4626) returns (uint256) {
        if (block.timestamp < unlocksAt[owner] || !_isPriced()) return 0;
        uint256 free = withdrawableAssets();
        uint256 freeShares = _convertToShares(free + _feeOnRaw(free, exitFeeBps), Math.Rounding.Floor);
        return Math.min(balanceOf(owner), freeShares);
    }

    /// @dev Whether every market with open interest has a valid price, i.e. `totalAssets` does not revert.
    function _isPriced() private view returns (bool) {
        try engine.vaultValue() returns (int256) {
            return true;
        } catch {
            return false;
        }
    }

    function _canFlow() private view returns (bool) {
        if (engine.paused()) return false;
        try engine.vaultValue() returns (int256 value) {
            return _acceptsDeposits(value);
        } catch {
            return false;
        }
    }

    /// @dev A deposit must not buy into a hole: refused while the value is negative, or zero with shares out.
    function _acceptsDeposits(int256 value) private view returns (bool) {
        return value > 0 || (value == 0 && totalSupply() == 0);
    }

    /*//////////////////////////////////////////////////////////////
                                  FEES
    //////////////////////////////////////////////////////////////*/

    /// @dev Shares for `assets` minus the entry fee taken out of them.
    function previewDeposit(uint256 assets) public view override(ERC4626, IERC4626) returns (uint256) {
        return super.previewDeposit(assets - _feeOnTotal(assets, entryFeeBps));
    }

    /// @dev Assets for `shares` plus the entry fee on top.
    function previewMint(uint256 shares) public view override(ERC4626, IERC4626) returns (uint256) {
        uint256 assets = super.previewMint(shares);
        return assets + _feeOnRaw(assets, entryFeeBps);
    }

    /// @dev Shares to burn for `assets` plus the exit fee on top.
    function previewWithdraw(uint256 assets) public view override(ERC4626, IERC4626) returns (uint256) {
        return super.previewWithdraw(assets + _feeOnRaw(assets, exitFeeBps));
    }

    /// @dev Assets for `shares` minus the exit fee taken out of them.
    function previewRedeem(uint256 shares) public view override(ERC4626, IERC4626) returns (uint256) {
        uint256 assets = super.previewRedeem(shares);
        return assets - _feeOnTotal(assets, exitFeeBps);
    }

    /// @dev Fee on an amount that excludes it, rounded up.
    function _feeOnRaw(uint256 assets, uint256 feeBps) private pure returns (uint256) {
        return assets.mulDiv(feeBps, BPS, Math.Rounding.Ceil);
    }

    /// @dev Fee contained in an amount that includes it, rounded up.
    function _feeOnTotal(uint256 assets, uint256 feeBps) private pure returns (uint256) {
        return assets.mulDiv(feeBps, feeBps + BPS, Math.Rounding.Ceil);
    }

    /*//////////////////////////////////////////////////////////////
                                  FLOWS
    //////////////////////////////////////////////////////////////*/

    function deposit(
        uint256 assets,
        address receiver
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256 shares) {
        _requireValueForDeposits();
        shares = super.deposit(assets, receiver);
    }

    function mint(
        uint256 shares,
        address receiver
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256 assets) {
        _requireValueForDeposits();
        assets = super.mint(shares, receiver);
    }

    /// @dev The clear error for a deposit into a hole (`maxDeposit`/`maxMint` also say 0 then), checked before the
    ///      ERC-4626 limit so that the caller learns why.
    ///      While the vault cannot be priced the ERC-4626 limit (0) speaks instead.
    function _requireValueForDeposits() private view {
        try engine.vaultValue() returns (int256 value) {
            if (!_acceptsDeposits(value)) revert VaultValueNotPositive(value);
        } catch {}
    }

    function withdraw(
        uint256 assets,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256 shares) {
        shares = super.withdraw(assets, receiver, owner);
    }

    function redeem(
        uint256 shares,
        address receiver,
        address owner
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256 assets) {
        assets = super.redeem(shares, receiver, owner);
    }

    /// @dev `deposit`/`mint` have already checked `maxDeposit`/`maxMint`, which are 0 while paused or unpriced.
    ///      Checks, then the cooldown starts, then the tokens move (in to this vault, then into the engine's
    ///      ledger), then the shares are minted.
    function _deposit(address caller, address receiver, uint256 assets, uint256 shares) internal override {
        if (receiver != caller) revert ReceiverMustBeCaller(caller, receiver);
        if (assets == 0 || shares == 0) revert ZeroAmount();
        unlocksAt[receiver] = block.timestamp + cooldown;
        super._deposit(caller, receiver, assets, shares);
    }

    function _withdraw(
        address caller,
        address receiver,
        address owner,
        uint256 assets,
        uint256 shares
    ) internal override {
        if (assets == 0 || shares == 0) revert ZeroAmount();
        super._withdraw(caller, receiver, owner, assets, shares);
    }

    function _transferIn(address from, uint256 assets) internal override {
        super._transferIn(from, assets);
        engine.vaultDeposit(assets);
    }

    function _transferOut(address to, uint256 assets) internal override {
        engine.vaultWithdraw(assets, to);
    }

    /// @dev Locked shares cannot be transferred or burned, which closes the cooldown's back doors.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0)) {
            uint256 unlock = unlocksAt[from];
            if (block.timestamp < unlock) revert CooldownActive(from, unlock);
        }
        super._update(from, to, value);
    }

    /*//////////////////////////////////////////////////////////////
                               GOVERNANCE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc ILiquidityVault
    function setVaultParams(
        uint256 entryFeeBps_,
        uint256 exitFeeBps_,
        uint256 cooldown_
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setVaultParams(entryFeeBps_, exitFeeBps_, cooldown_);
    }

    /// @inheritdoc ILiquidityVault
    function sweep(address token, address to) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (to == address(0)) revert VaultParameterOutOfBounds();
        uint256 amount = IERC20(token).balanceOf(address(this));
        if (amount == 0) revert ZeroAmount();
        emit Swept(token, to, amount);
        SafeERC20.safeTransfer(IERC20(token), to, amount);
    }

    function _setVaultParams(uint256 entryFeeBps_, uint256 exitFeeBps_, uint256 cooldown_) internal {
        if (entryFeeBps_ > MAX_FEE_BPS || exitFeeBps_ > MAX_FEE_BPS || cooldown_ > MAX_COOLDOWN) {
            revert VaultParameterOutOfBounds();
        }
        entryFeeBps = entryFeeBps_;
        exitFeeBps = exitFeeBps_;
        cooldown = cooldown_;
        emit VaultParamsUpdated(entryFeeBps_, exitFeeBps_, cooldown_);
    }
}
