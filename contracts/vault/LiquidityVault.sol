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
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IERC4626} from "@openzeppelin/contracts/interfaces/IERC4626.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {IERC7540Deposit, IERC7540Operator, IERC7540Redeem} from "../interfaces/IERC7540.sol";
import {ILiquidityVault} from "../interfaces/ILiquidityVault.sol";

/// @title LiquidityVault
/// @notice The LPs' side of Bulkhead. See `ILiquidityVault`.
/// @dev Share math uses OpenZeppelin's virtual shares with a decimals offset of 6: a first depositor would have
///      to donate a million times the victim's deposit to steal a unit of it. Every conversion rounds against
///      the LP (shares minted and assets paid round down, shares burned and assets taken round up), and fees
///      round up.
///
///      Requests use ERC-7540's `requestId == 0`: a controller has at most one pending request of each kind, and
///      its settled requests are fungible claims (the claim functions name the controller, not a request).
///
///      Custody: pending deposits and claimable redemptions are asset tokens held here; pending redemptions and
///      claimable deposits are this vault's own shares held here. Those four totals are the vault's ledger;
///      `sweep` can only take what exceeds them. Settled assets live in the engine as vault cash.
contract LiquidityVault is ILiquidityVault, ERC4626, AccessControl, ReentrancyGuardTransient {
    using Math for uint256;
    using SafeERC20 for IERC20;

    uint256 internal constant BPS = 10_000;
    uint256 public constant MAX_FEE_BPS = 100;
    uint256 public constant MAX_COOLDOWN = 7 days;
    /// @notice A price must be published at least this long after a request to settle it (no same-second price).
    uint256 public constant MIN_MIN_DELAY = 1;
    uint256 public constant MAX_MIN_DELAY = 1 hours;
    /// @notice The shortest settlement window `maxDelay - minDelay`.
    uint256 public constant MIN_SETTLEMENT_WINDOW = 1 minutes;
    uint256 public constant MAX_MAX_DELAY = 2 days;
    /// @notice Defaults until governance sets them: one L1 slot, and a day for Chainlink-priced markets whose
    ///         feeds publish only on deviation or heartbeat.
    uint256 public constant DEFAULT_MIN_DELAY = 12;
    uint256 public constant DEFAULT_MAX_DELAY = 1 days;
    /// @dev ERC-7540 `requestId` for every request: requests are told apart by controller.
    uint256 private constant REQUEST_ID = 0;

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
    /// @inheritdoc ILiquidityVault
    uint256 public minDelay;
    /// @inheritdoc ILiquidityVault
    uint256 public maxDelay;

    /// @dev One queue entry. `amount` is assets (deposit) or shares (redemption); 0 once refunded.
    ///      `readyAt` = request time + minDelay and `expiresAt` = request time + maxDelay, fixed at request.
    struct Request {
        address controller;
        uint48 readyAt;
        uint48 expiresAt;
        uint256 amount;
    }

    /// @dev A controller's settled, unclaimed requests: assets and shares at the settlement prices.
    struct Claimable {
        uint256 assets;
        uint256 shares;
    }

    /// @dev FIFO queues indexed from 1; `head` is the next entry to settle, `tail` the last one written.
    struct Queue {
        uint256 head;
        uint256 tail;
        mapping(uint256 index => Request) entries;
        mapping(address controller => uint256 index) pendingIndexOf;
    }

    Queue private _deposits;
    Queue private _redemptions;
    mapping(address controller => Claimable) private _claimableDeposit;
    mapping(address controller => Claimable) private _claimableRedeem;
    mapping(address controller => mapping(address operator => bool)) private _operators;

    uint256 private _pendingDepositAssets;
    uint256 private _claimableRedeemAssets;
    uint256 private _pendingRedeemShares;
    uint256 private _claimableDepositShares;

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
        _setRequestDelays(DEFAULT_MIN_DELAY, DEFAULT_MAX_DELAY);
        _deposits.head = 1;
        _redemptions.head = 1;
        IERC20(address(asset_)).forceApprove(address(engine_), type(uint256).max);
    }

    /*//////////////////////////////////////////////////////////////
                                VALUATION
    //////////////////////////////////////////////////////////////*/

    /// @notice Vault cash plus traders' net loss, in token units, rounded down; 0 if traders' profit exceeds cash.
    /// @dev Reverts while a market with open interest has no valid price: shares are never priced on a guess.
    ///      Escrowed and claimable tokens held here are not in it: they are not the LPs' collectively.
    function totalAssets() public view override(ERC4626, IERC4626) returns (uint256) {
        return _toTokens(engine.vaultValue());
    }

    /// @inheritdoc ILiquidityVault
    /// @dev The smaller of cash and value: traders' open profit and the funding the vault owes them (both in
    ///      `vaultValue`) are not the LPs' to take, while traders' open losses are not cash yet. The engine itself
    ///      only enforces cash >= reserve; this is the stricter LP limit.
    function withdrawableAssets() public view returns (uint256) {
        return _withdrawable(engine.vaultValue());
    }

    function _withdrawable(int256 valueD18) private view returns (uint256) {
        int256 cash = engine.vaultCash();
        return _toTokens((valueD18 < cash ? valueD18 : cash) - SafeCast.toInt256(engine.totalReserved()));
    }

    /// @dev A D18 value in token units, rounded down; 0 when not positive.
    function _toTokens(int256 valueD18) private view returns (uint256) {
        return valueD18 > 0 ? uint256(valueD18) / TOKEN_SCALE : 0;
    }

    function _decimalsOffset() internal pure override returns (uint8) {
        return 6;
    }

    /*//////////////////////////////////////////////////////////////
                                REQUESTS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IERC7540Deposit
    /// @dev Refused while paused. The vault's value is not read here: the valuation loop (one price per active
    ///      market) is paid once per settlement batch, not per LP. A deposit requested while the value is not
    ///      positive therefore waits in the queue (see `_acceptsDeposits`) until it is positive again, or until it
    ///      expires and is refunded.
    function requestDeposit(
        uint256 assets,
        address controller,
        address owner
    ) external nonReentrant returns (uint256) {
        if (assets == 0 || controller == address(0)) revert ZeroAmount();
        _checkOperator(owner);
        _checkController(controller, owner);
        if (engine.paused()) revert DepositsPaused();
        // Tokens first (the call is guarded), so that an amount the owner cannot pay fails with the token's error.
        IERC20(asset()).safeTransferFrom(owner, address(this), assets);
        _enqueue(_deposits, controller, assets);
        _pendingDepositAssets += assets;
        emit DepositRequest(controller, owner, REQUEST_ID, msg.sender, assets);
        return REQUEST_ID;
    }

    /// @inheritdoc IERC7540Redeem
    /// @dev `owner`'s shares must be out of their cooldown. The caller may be the owner, its operator, or spend
    ///      the owner's share allowance.
    function requestRedeem(
        uint256 shares,
        address controller,
        address owner
    ) external nonReentrant returns (uint256) {
        if (shares == 0 || controller == address(0)) revert ZeroAmount();
        _checkController(controller, owner);
        if (msg.sender != owner && !_operators[owner][msg.sender]) _spendAllowance(owner, msg.sender, shares);
        _transfer(owner, address(this), shares);
        _enqueue(_redemptions, controller, shares);
        _pendingRedeemShares += shares;
        emit RedeemRequest(controller, owner, REQUEST_ID, msg.sender, shares);
        return REQUEST_ID;
    }

    /// @dev A request's controller is the owner, or someone who made the caller its operator: nobody can put a
    ///      request under a stranger's name, which would block the stranger's own requests (one pending per
    ///      controller and kind).
    function _checkController(address controller, address owner) private view {
        if (controller != owner && controller != msg.sender) _checkOperator(controller);
    }

    /// @dev A deposit into a vault whose value is negative would fill the hole for the LPs already in, and one
    ///      at exactly zero would buy shares whose holders have lost everything: both are refused. The one
    ///      exception is the empty vault (no shares, value 0), which is how the first LP bootstraps it.
    function _acceptsDeposits(int256 valueD18, uint256 supply) private pure returns (bool) {
        return valueD18 > 0 || (valueD18 == 0 && supply == 0);
    }

    function _enqueue(Queue storage q, address controller, uint256 amount) private {
        if (q.pendingIndexOf[controller] != 0) revert RequestPending(controller);
        uint256 index = ++q.tail;
        q.entries[index] = Request({
            controller: controller,
            readyAt: uint48(block.timestamp + minDelay),
            expiresAt: uint48(block.timestamp + maxDelay),
            amount: amount
        });
        q.pendingIndexOf[controller] = index;
    }

    /// @inheritdoc ILiquidityVault
    /// @dev Only after expiry: before it, a cancel would let an LP walk away from a request once the price it
    ///      will settle at turns against them.
    function cancelDepositRequest(address controller) external nonReentrant {
        _refundDeposit(controller, _expiredEntry(_deposits, controller));
    }

    /// @inheritdoc ILiquidityVault
    function cancelRedeemRequest(address controller) external nonReentrant {
        _refundRedeem(controller, _expiredEntry(_redemptions, controller));
    }

    function _expiredEntry(Queue storage q, address controller) private view returns (Request storage r) {
        uint256 index = q.pendingIndexOf[controller];
        if (index == 0) revert NoPendingRequest(controller);
        r = q.entries[index];
        if (block.timestamp <= r.expiresAt) revert RequestNotExpired(controller, r.expiresAt);
    }

    function _refundDeposit(address controller, Request storage r) private {
        uint256 assets = r.amount;
        r.amount = 0;
        delete _deposits.pendingIndexOf[controller];
        _pendingDepositAssets -= assets;
        IERC20(asset()).safeTransfer(controller, assets);
        emit DepositRequestCancelled(controller, assets);
    }

    function _refundRedeem(address controller, Request storage r) private {
        uint256 shares = r.amount;
        r.amount = 0;
        delete _redemptions.pendingIndexOf[controller];
        _pendingRedeemShares -= shares;
        _transfer(address(this), controller, shares);
        emit RedeemRequestCancelled(controller, shares);
    }

    /*//////////////////////////////////////////////////////////////
                               SETTLEMENT
    //////////////////////////////////////////////////////////////*/

    /// @dev Running totals of one settlement call, in token units and shares.
    struct Batch {
        uint256 totalAssets;
        uint256 supply;
        uint256 readyBy;
        uint256 remaining;
        uint256 depositedAssets;
        uint256 redeemedAssets;
    }

    /// @inheritdoc ILiquidityVault
    /// @dev The engine values the vault once (`vaultValueAt`, O(markets)); every request in the batch is priced
    ///      from running totals, so each one moves the share price only by its rounding, in the vault's favour.
    ///      Deposits go first so that their cash can pay the redemptions behind them. Tokens move at the end: one
    ///      `vaultDeposit` and one `vaultWithdraw` (to this vault, which holds the assets for their claims).
    function settleRequests(uint256 maxRequests) external nonReentrant returns (uint256 processed) {
        (int256 valueD18, uint256 oldestPublishTime) = engine.vaultValueAt();
        Batch memory b = Batch({
            totalAssets: _toTokens(valueD18),
            supply: totalSupply(),
            readyBy: Math.min(oldestPublishTime, block.timestamp),
            remaining: maxRequests,
            depositedAssets: 0,
            redeemedAssets: 0
        });

        if (!engine.paused() && _acceptsDeposits(valueD18, b.supply)) _settleDeposits(b);
        if (b.depositedAssets > 0) engine.vaultDeposit(b.depositedAssets);

        // Deposits just settled add to both cash and value.
        uint256 withdrawable = _withdrawable(valueD18 + SafeCast.toInt256(b.depositedAssets * TOKEN_SCALE));
        _settleRedemptions(b, withdrawable);
        if (b.redeemedAssets > 0) engine.vaultWithdraw(b.redeemedAssets, address(this));

        processed = maxRequests - b.remaining;
        emit RequestsSettled(processed, valueD18, oldestPublishTime);
    }

    function _settleDeposits(Batch memory b) private {
        Queue storage q = _deposits;
        uint256 i = q.head;
        for (; i <= q.tail && b.remaining > 0; ++i) {
            Request storage r = q.entries[i];
            if (r.amount != 0) {
                if (block.timestamp > r.expiresAt) {
                    _refundDepositInSettlement(r);
                } else if (r.readyAt > b.readyBy) {
                    break;
                } else {
                    _settleDeposit(b, r);
                }
            }
            --b.remaining;
        }
        q.head = i;
    }

    /// @dev Shares for the assets net of the entry fee (fee rounded up, shares down); dust buying no share is
    ///      refunded. The assets stay here until the batch's single `vaultDeposit`.
    function _settleDeposit(Batch memory b, Request storage r) private {
        address controller = r.controller;
        uint256 assets = r.amount;
        uint256 shares = _toShares(assets - _feeOnTotal(assets, entryFeeBps), b, Math.Rounding.Floor);
        if (shares == 0) {
            _refundDepositInSettlement(r);
            return;
        }
        r.amount = 0;
        delete _deposits.pendingIndexOf[controller];
        _pendingDepositAssets -= assets;
        _claimableDepositShares += shares;
        Claimable storage c = _claimableDeposit[controller];
        c.assets += assets;
        c.shares += shares;
        b.totalAssets += assets;
        b.supply += shares;
        b.depositedAssets += assets;
        _mint(address(this), shares);
        emit DepositSettled(controller, assets, shares);
    }

    /// @dev A settlement's refund (an expired request, or dust buying no share). A transfer the token refuses (a
    ///      blacklisted controller) must not stop the queue for everyone behind: the entry is passed over and stays
    ///      pending, and `cancelDepositRequest` refunds it after its expiry, once the token accepts.
    function _refundDepositInSettlement(Request storage r) private {
        address controller = r.controller;
        uint256 assets = r.amount;
        if (!IERC20(asset()).trySafeTransfer(controller, assets)) {
            emit DepositRefundDeferred(controller, assets);
            return;
        }
        r.amount = 0;
        delete _deposits.pendingIndexOf[controller];
        _pendingDepositAssets -= assets;
        emit DepositRequestCancelled(controller, assets);
    }

    function _settleRedemptions(Batch memory b, uint256 withdrawable) private {
        Queue storage q = _redemptions;
        uint256 i = q.head;
        for (; i <= q.tail && b.remaining > 0; ++i) {
            Request storage r = q.entries[i];
            if (r.amount != 0) {
                if (block.timestamp > r.expiresAt) {
                    _refundRedeem(r.controller, r);
                } else if (r.readyAt > b.readyBy) {
                    break;
                } else {
                    uint256 assets = _redeemAssets(b, r.amount);
                    // The queue waits for cash rather than letting a later, smaller request jump ahead.
                    if (b.redeemedAssets + assets > withdrawable) break;
                    _settleRedeem(b, r, assets);
                }
            }
            --b.remaining;
        }
        q.head = i;
    }

    /// @dev Assets for `shares` net of the exit fee (assets rounded down, fee up).
    function _redeemAssets(Batch memory b, uint256 shares) private view returns (uint256) {
        uint256 gross = _toAssets(shares, b, Math.Rounding.Floor);
        return gross - _feeOnTotal(gross, exitFeeBps);
    }

    /// @dev Dust paying no asset is given back. The exit fee stays in the vault's cash.
    function _settleRedeem(Batch memory b, Request storage r, uint256 assets) private {
        address controller = r.controller;
        uint256 shares = r.amount;
        if (assets == 0) {
            _refundRedeem(controller, r);
            return;
        }
        r.amount = 0;
        delete _redemptions.pendingIndexOf[controller];
        _pendingRedeemShares -= shares;
        _claimableRedeemAssets += assets;
        Claimable storage c = _claimableRedeem[controller];
        c.assets += assets;
        c.shares += shares;
        b.totalAssets -= assets;
        b.supply -= shares;
        b.redeemedAssets += assets;
        _burn(address(this), shares);
        emit RedeemSettled(controller, shares, assets);
    }

    /// @dev OpenZeppelin's ERC-4626 conversion with virtual shares, on the batch's running totals.
    function _toShares(
        uint256 assets,
        Batch memory b,
        Math.Rounding rounding
    ) private pure returns (uint256) {
        return assets.mulDiv(b.supply + 10 ** _decimalsOffset(), b.totalAssets + 1, rounding);
    }

    function _toAssets(
        uint256 shares,
        Batch memory b,
        Math.Rounding rounding
    ) private pure returns (uint256) {
        return shares.mulDiv(b.totalAssets + 1, b.supply + 10 ** _decimalsOffset(), rounding);
    }

    /// @dev Fee contained in an amount that includes it, rounded up.
    function _feeOnTotal(uint256 assets, uint256 feeBps) private pure returns (uint256) {
        return assets.mulDiv(feeBps, feeBps + BPS, Math.Rounding.Ceil);
    }

    /*//////////////////////////////////////////////////////////////
                                 CLAIMS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IERC7540Deposit
    /// @dev Shares pro rata to the controller's claimable assets, rounded down; the last claim takes the rest.
    function deposit(
        uint256 assets,
        address receiver,
        address controller
    ) public nonReentrant returns (uint256) {
        Claimable storage c = _claimableDeposit[controller];
        uint256 shares = _claimPart(controller, assets, c.assets, c.shares, Math.Rounding.Floor);
        _claimDeposit(c, assets, shares, receiver, controller);
        return shares;
    }

    /// @inheritdoc IERC7540Deposit
    /// @dev Assets pro rata to the controller's claimable shares, rounded up; the last claim takes the rest.
    function mint(
        uint256 shares,
        address receiver,
        address controller
    ) public nonReentrant returns (uint256) {
        Claimable storage c = _claimableDeposit[controller];
        uint256 assets = _claimPart(controller, shares, c.shares, c.assets, Math.Rounding.Ceil);
        _claimDeposit(c, assets, shares, receiver, controller);
        return assets;
    }

    /// @notice Claims for the caller as controller (ERC-7540's two-argument claim).
    function deposit(uint256 assets, address receiver) public override(ERC4626, IERC4626) returns (uint256) {
        return deposit(assets, receiver, msg.sender);
    }

    /// @notice Claims for the caller as controller (ERC-7540's two-argument claim).
    function mint(uint256 shares, address receiver) public override(ERC4626, IERC4626) returns (uint256) {
        return mint(shares, receiver, msg.sender);
    }

    /// @dev The claimer's cooldown starts: its claimed shares are locked, and so are the ones it held before.
    function _claimDeposit(
        Claimable storage c,
        uint256 assets,
        uint256 shares,
        address receiver,
        address controller
    ) private {
        _checkOperator(controller);
        if (receiver != controller) revert ReceiverMustBeCaller(controller, receiver);
        if (assets == 0 || shares == 0) revert ZeroAmount();
        c.assets -= assets;
        c.shares -= shares;
        _claimableDepositShares -= shares;
        unlocksAt[receiver] = block.timestamp + cooldown;
        _transfer(address(this), receiver, shares);
        emit Deposit(controller, receiver, assets, shares);
    }

    /// @notice Claims `shares` of `controller`'s claimable redemptions, paying their assets to `receiver`.
    /// @dev ERC-7540: the third argument is the controller. Assets pro rata, rounded down; the last claim takes
    ///      the rest.
    function redeem(
        uint256 shares,
        address receiver,
        address controller
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        Claimable storage c = _claimableRedeem[controller];
        uint256 assets = _claimPart(controller, shares, c.shares, c.assets, Math.Rounding.Floor);
        _claimRedeem(c, assets, shares, receiver, controller);
        return assets;
    }

    /// @notice Claims `assets` of `controller`'s claimable redemptions for `receiver`.
    /// @dev ERC-7540: the third argument is the controller. Shares pro rata, rounded up; the last claim takes the
    ///      rest.
    function withdraw(
        uint256 assets,
        address receiver,
        address controller
    ) public override(ERC4626, IERC4626) nonReentrant returns (uint256) {
        Claimable storage c = _claimableRedeem[controller];
        uint256 shares = _claimPart(controller, assets, c.assets, c.shares, Math.Rounding.Ceil);
        _claimRedeem(c, assets, shares, receiver, controller);
        return shares;
    }

    /// @dev The other side of a partial claim: `part` of a claimable `total` claims the same share of `other`,
    ///      rounded as the caller says (against the LP: down for what it receives, up for what it gives up); the
    ///      claim that takes all of `total` takes exactly what is left of `other`, so nothing is stranded.
    function _claimPart(
        address controller,
        uint256 part,
        uint256 total,
        uint256 other,
        Math.Rounding rounding
    ) private pure returns (uint256) {
        if (part > total) revert ExceedsClaimable(controller, part, total);
        return part == total ? other : part.mulDiv(other, total, rounding);
    }

    function _claimRedeem(
        Claimable storage c,
        uint256 assets,
        uint256 shares,
        address receiver,
        address controller
    ) private {
        _checkOperator(controller);
        if (assets == 0 || shares == 0 || receiver == address(0)) revert ZeroAmount();
        c.assets -= assets;
        c.shares -= shares;
        _claimableRedeemAssets -= assets;
        IERC20(asset()).safeTransfer(receiver, assets);
        emit Withdraw(msg.sender, receiver, controller, assets, shares);
    }

    /*//////////////////////////////////////////////////////////////
                          ERC-4626 / ERC-7540 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @dev ERC-7540: the claimable assets of `controller`'s settled deposits.
    function maxDeposit(address controller) public view override(ERC4626, IERC4626) returns (uint256) {
        return _claimableDeposit[controller].assets;
    }

    /// @dev ERC-7540: the claimable shares of `controller`'s settled deposits.
    function maxMint(address controller) public view override(ERC4626, IERC4626) returns (uint256) {
        return _claimableDeposit[controller].shares;
    }

    /// @dev ERC-7540: the claimable assets of `controller`'s settled redemptions.
    function maxWithdraw(address controller) public view override(ERC4626, IERC4626) returns (uint256) {
        return _claimableRedeem[controller].assets;
    }

    /// @dev ERC-7540: the claimable shares of `controller`'s settled redemptions.
    function maxRedeem(address controller) public view override(ERC4626, IERC4626) returns (uint256) {
        return _claimableRedeem[controller].shares;
    }

    /// @dev ERC-7540: an asynchronous flow has no synchronous preview.
    function previewDeposit(uint256) public pure override(ERC4626, IERC4626) returns (uint256) {
        revert AsyncFlow();
    }

    /// @dev ERC-7540: an asynchronous flow has no synchronous preview.
    function previewMint(uint256) public pure override(ERC4626, IERC4626) returns (uint256) {
        revert AsyncFlow();
    }

    /// @dev ERC-7540: an asynchronous flow has no synchronous preview.
    function previewWithdraw(uint256) public pure override(ERC4626, IERC4626) returns (uint256) {
        revert AsyncFlow();
    }

    /// @dev ERC-7540: an asynchronous flow has no synchronous preview.
    function previewRedeem(uint256) public pure override(ERC4626, IERC4626) returns (uint256) {
        revert AsyncFlow();
    }

    /// @inheritdoc IERC7540Deposit
    function pendingDepositRequest(uint256, address controller) external view returns (uint256) {
        return _deposits.entries[_deposits.pendingIndexOf[controller]].amount;
    }

    /// @inheritdoc IERC7540Deposit
    function claimableDepositRequest(uint256, address controller) external view returns (uint256) {
        return _claimableDeposit[controller].assets;
    }

    /// @inheritdoc IERC7540Redeem
    function pendingRedeemRequest(uint256, address controller) external view returns (uint256) {
        return _redemptions.entries[_redemptions.pendingIndexOf[controller]].amount;
    }

    /// @inheritdoc IERC7540Redeem
    function claimableRedeemRequest(uint256, address controller) external view returns (uint256) {
        return _claimableRedeem[controller].shares;
    }

    /// @inheritdoc ILiquidityVault
    function depositRequestOf(
        address controller
    ) external view returns (uint256 assets, uint256 readyAt, uint256 expiresAt) {
        Request storage r = _deposits.entries[_deposits.pendingIndexOf[controller]];
        return (r.amount, r.readyAt, r.expiresAt);
    }

    /// @inheritdoc ILiquidityVault
    function redeemRequestOf(
        address controller
    ) external view returns (uint256 shares, uint256 readyAt, uint256 expiresAt) {
        Request storage r = _redemptions.entries[_redemptions.pendingIndexOf[controller]];
        return (r.amount, r.readyAt, r.expiresAt);
    }

    /// @inheritdoc ILiquidityVault
    function escrow()
        external
        view
        returns (
            uint256 pendingDepositAssets,
            uint256 claimableRedeemAssets,
            uint256 pendingRedeemShares,
            uint256 claimableDepositShares
        )
    {
        return (_pendingDepositAssets, _claimableRedeemAssets, _pendingRedeemShares, _claimableDepositShares);
    }

    /// @inheritdoc ILiquidityVault
    function queueLengths() external view returns (uint256 deposits, uint256 redemptions) {
        return (_deposits.tail + 1 - _deposits.head, _redemptions.tail + 1 - _redemptions.head);
    }

    /// @inheritdoc ILiquidityVault
    function share() external view returns (address) {
        return address(this);
    }

    /// @dev ERC-7540 and ERC-7575 interface ids, plus AccessControl's.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return
            interfaceId == type(IERC7540Deposit).interfaceId ||
            interfaceId == type(IERC7540Redeem).interfaceId ||
            interfaceId == type(IERC7540Operator).interfaceId ||
            interfaceId == 0x2f0a18c5 || // ERC-7575
            super.supportsInterface(interfaceId);
    }

    /*//////////////////////////////////////////////////////////////
                               OPERATORS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IERC7540Operator
    function setOperator(address operator, bool approved) external returns (bool) {
        if (operator == msg.sender || operator == address(0)) revert NotOperator(msg.sender, operator);
        _operators[msg.sender][operator] = approved;
        emit OperatorSet(msg.sender, operator, approved);
        return true;
    }

    /// @inheritdoc IERC7540Operator
    function isOperator(address controller, address operator) external view returns (bool) {
        return _operators[controller][operator];
    }

    function _checkOperator(address controller) private view {
        if (msg.sender != controller && !_operators[controller][msg.sender]) {
            revert NotOperator(msg.sender, controller);
        }
    }

    /// @dev Locked shares cannot be transferred or requested out, which closes the cooldown's back doors.
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

    function _setVaultParams(uint256 entryFeeBps_, uint256 exitFeeBps_, uint256 cooldown_) internal {
        if (entryFeeBps_ > MAX_FEE_BPS || exitFeeBps_ > MAX_FEE_BPS || cooldown_ > MAX_COOLDOWN) {
            revert VaultParameterOutOfBounds();
        }
        entryFeeBps = entryFeeBps_;
        exitFeeBps = exitFeeBps_;
        cooldown = cooldown_;
        emit VaultParamsUpdated(entryFeeBps_, exitFeeBps_, cooldown_);
    }

    /// @inheritdoc ILiquidityVault
    function setRequestDelays(uint256 minDelay_, uint256 maxDelay_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setRequestDelays(minDelay_, maxDelay_);
    }

    function _setRequestDelays(uint256 minDelay_, uint256 maxDelay_) internal {
        if (
            minDelay_ < MIN_MIN_DELAY ||
            minDelay_ > MAX_MIN_DELAY ||
            maxDelay_ < minDelay_ + MIN_SETTLEMENT_WINDOW ||
            maxDelay_ > MAX_MAX_DELAY
        ) revert VaultParameterOutOfBounds();
        minDelay = minDelay_;
        maxDelay = maxDelay_;
        emit RequestDelaysUpdated(minDelay_, maxDelay_);
    }

    /// @inheritdoc ILiquidityVault
    /// @dev The asset's ledger part is the pending deposits plus the claimable redemptions; the share's is the
    ///      pending redemptions plus the claimable deposits; any other token is never the vault's to hold.
    function sweep(
        address token,
        address to
    ) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant returns (uint256) {
        if (to == address(0)) revert ZeroAmount();
        uint256 held = IERC20(token).balanceOf(address(this));
        uint256 owed;
        if (token == asset()) owed = _pendingDepositAssets + _claimableRedeemAssets;
        else if (token == address(this)) owed = _pendingRedeemShares + _claimableDepositShares;
        if (held <= owed) revert NothingToSweep(token);
        uint256 amount = held - owed;
        if (token == address(this)) _transfer(address(this), to, amount);
        else IERC20(token).safeTransfer(to, amount);
        emit Swept(token, to, amount);
        return amount;
    }
}
