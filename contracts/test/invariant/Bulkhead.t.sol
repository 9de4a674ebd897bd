// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IBulkhead} from "../../interfaces/IBulkhead.sol";
import {ILiquidation} from "../../interfaces/ILiquidation.sol";
import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {IOrders} from "../../interfaces/IOrders.sol";
import {MarginMath} from "../../libraries/MarginMath.sol";
import {Vm, VM_ADDRESS} from "../utils/Vm.sol";
import {BulkheadFixture} from "../fuzz/BulkheadFixture.sol";
import {IPortfolioMargin} from "../../interfaces/IPortfolioMargin.sol";
import {PortfolioRisk} from "../../libraries/PortfolioRisk.sol";
import {PortfolioMargin} from "../../risk/PortfolioMargin.sol";

/// @notice Test only. The invariant suite's handler: it deploys the real protocol (BulkheadFixture, the twin of
///         fixture.ts), opens two sentinel positions nobody touches afterwards, and exposes bounded actions for
///         three actors; CAROL's "cross" account is a portfolio account (the reference calibration's two-factor
///         model over ETH and BTC), so every action and every invariant covers that mode too. Actions that may
///         legitimately fail (margin, caps, cooldowns, slippage) are wrapped in
///         try/catch and ignored; what must never happen is recorded in ghost flags that the invariants read.
// solhint-disable-next-line max-states-count
contract BulkheadHandler is BulkheadFixture {
    address internal constant SENTINEL = address(0x1006);
    uint256 internal constant SENTINEL_FUNDS = 1_000_000e6;

    address[3] internal actors = [ALICE, BOB, CAROL];
    mapping(address actor => uint256 accountId) public crossOf;
    /// @dev Every account the actions may touch (cross and isolated), never the sentinels.
    uint256[] public accounts;
    mapping(address actor => uint256[] ids) internal isolatedOf;

    /// @notice Sentinels: an isolated BTC account and a cross account holding ETH, opened in the constructor.
    uint256 public sentinelIsolated;
    uint256 public sentinelCross;
    IMarginEngine.PositionInfo public sentinelIsolatedPosition;
    IMarginEngine.PositionInfo public sentinelCrossPosition;
    int256 public sentinelIsolatedCollateral;
    int256 public sentinelCrossCollateral;

    /* GHOSTS */

    /// @notice Set when a liquidation succeeded on an account the view called healthy just before.
    bool public healthyLiquidated;
    /// @notice Set when a liquidation of an account the view called liquidatable reverted.
    bool public liquidationBlocked;
    bytes public liquidationBlockedReason;
    /// @notice Set when liquidateBatch's count differs from the number of liquidatable accounts it was given.
    bool public batchMiscounted;
    /// @notice Set when withdrawing at most `maxWithdrawable` reverted.
    bool public maxWithdrawableRefused;
    bytes public maxWithdrawableReason;
    /// @notice Set when closing a healthy isolated account reverted.
    bool public healthyCloseRefused;
    bytes public healthyCloseReason;
    /// @notice Set when an LP's claim of its whole claimable deposit or redemption reverted.
    bool public maxRedeemRefused;
    bytes public maxRedeemReason;
    /// @notice Set when ADL succeeded although `adlStatus` said it was not triggered.
    bool public adlUntriggered;
    /// @notice Set when collateral left an account (withdraw or transfer) while one of its orders was pending.
    bool public lockedCollateralLeft;
    /// @notice Set when cancelling an expired order reverted.
    bool public expiredCancelRefused;
    bytes public expiredCancelReason;
    /// @notice Set when a settled order filled beyond its acceptable price, or left the order in place.
    bool public settlementBrokeItsOrder;
    /// @notice Set when an LP request was settled on a valuation whose oldest mark was published before the
    ///         request's ready time (request time + minDelay), or before that time had come.
    bool public requestSettledEarly;
    /// @notice Set when a liquidation that left the account with positions lowered its health (equity / MM).
    bool public liquidationLoweredHealth;
    /// @notice Set when a step that realised a net loss on the account it acted on raised that account's
    ///         collateral (beyond the bad debt settled for it).
    bool public lossCredited;
    /// @notice Set when a step moved the insurance fund by other than its fee income minus the bad debt and profit
    ///         shortfall it reported paying, or paid a shortfall beyond the profit the step realised.
    bool public insuranceMisbooked;
    /// @notice The first misbooking: actual minus expected insurance after the step.
    int256 public insuranceMisbookedBy;

    /// @dev The step in progress (see `booked`): insurance before it, and the account it acts on with its
    ///      collateral before (0 when it acts on none or several).
    uint256 internal stepInsurance;
    uint256 internal stepAccount;
    int256 internal stepCollateral;
    /// @dev Whether the step attempted its action (`_count`) and whether the action succeeded (`_ok`).
    bool internal stepAttempted;
    bool internal stepSucceeded;

    /// @dev Orders committed by `commitOrder` and not yet known to be gone: (account, market) pairs.
    uint256[] internal pendingAccounts;
    uint32[] internal pendingMarkets;

    mapping(bytes32 action => uint256) public calls;
    mapping(bytes32 action => uint256) public successes;

    constructor() {
        _deployBulkhead();
        token.mint(SENTINEL, 2 * SENTINEL_FUNDS);
        vm.startPrank(SENTINEL);
        token.approve(address(engine), type(uint256).max);
        sentinelIsolated = _openIsolated(BTC, 0, SENTINEL_FUNDS / 2, 1e18, type(uint256).max);
        sentinelCross = engine.createCrossAccount();
        engine.deposit(sentinelCross, SENTINEL_FUNDS);
        _trade(sentinelCross, ETH, -10e18, 0);
        vm.stopPrank();
        sentinelIsolatedPosition = engine.getPositions(sentinelIsolated)[0];
        sentinelCrossPosition = engine.getPositions(sentinelCross)[0];
        sentinelIsolatedCollateral = _collateral(sentinelIsolated);
        sentinelCrossCollateral = _collateral(sentinelCross);

        engine.setPortfolioMargin(_portfolioMargin());
        for (uint256 i; i < actors.length; ++i) {
            vm.startPrank(actors[i]);
            uint256 id = actors[i] == CAROL ? engine.createPortfolioAccount() : engine.createCrossAccount();
            engine.deposit(id, 100_000e6);
            vm.stopPrank();
            crossOf[actors[i]] = id;
            accounts.push(id);
        }
    }

    /// @dev The reference calibration (scripts/lib/risk-model.ts): factors `crypto` and `rotation` at 0.9% and 0.3%
    ///      per hour, z 3.5, floor 50%, IM 1.5 x risk, eight crash, squeeze and correlation-break scenarios.
    function _portfolioMargin() internal returns (PortfolioMargin) {
        int256[] memory cholesky = new int256[](4);
        (cholesky[0], cholesky[3]) = (0.009e18, 0.003e18);
        int256[16] memory shocks = [
            int256(-0.08e18),
            0,
            0.08e18,
            0,
            -0.05e18,
            -0.008e18,
            0.05e18,
            0.008e18,
            0.01e18,
            -0.01e18,
            -0.01e18,
            0.01e18,
            -0.05e18,
            0,
            0.05e18,
            0
        ];
        int256[] memory scenarios = new int256[](16);
        for (uint256 i; i < 16; ++i) scenarios[i] = shocks[i];
        PortfolioRisk.Model memory model = PortfolioRisk.Model(
            2,
            cholesky,
            scenarios,
            3.5e18,
            0.5e18,
            1.5e18
        );
        IPortfolioMargin.MarketRisk[] memory markets = new IPortfolioMargin.MarketRisk[](2);
        int256[] memory ethLoadings = new int256[](2);
        (ethLoadings[0], ethLoadings[1]) = (1.1e18, 0.6e18);
        int256[] memory btcLoadings = new int256[](2);
        (btcLoadings[0], btcLoadings[1]) = (1e18, -0.6e18);
        markets[0] = IPortfolioMargin.MarketRisk(ETH, ethLoadings, 0.002e18, 2e27);
        markets[1] = IPortfolioMargin.MarketRisk(BTC, btcLoadings, 0.0015e18, 4e27);
        return new PortfolioMargin(address(this), model, markets, 1 hours);
    }

    /* VIEWS FOR THE INVARIANTS */

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    function bulkhead()
        external
        view
        returns (address engine_, address token_, address vault_, address keeper_, address sentinel_)
    {
        return (address(engine), address(token), address(vault), KEEPER, SENTINEL);
    }

    /* STEP BOOKKEEPING (PNL_A, INS_A) */

    /// @dev Every action is a step: the insurance fund and the logs are read around it, and what the logs say
    ///      was paid in and out must be exactly what moved.
    modifier booked() {
        stepInsurance = engine.insuranceFund();
        stepAccount = 0;
        stepAttempted = false;
        stepSucceeded = false;
        vm.recordLogs();
        vm.getRecordedLogs(); // drop anything from before the step
        _;
        _closeStep(vm.getRecordedLogs());
    }

    /// @dev The step acts on one account: PNL_A compares its collateral before and after.
    function _watch(uint256 accountId) internal {
        stepAccount = accountId;
        stepCollateral = _collateral(accountId);
    }

    function _closeStep(Vm.Log[] memory logs) internal {
        // The runner also records the logs of reverted frames, so a step whose action failed is not booked (its
        // logs describe what did not happen; that it changed nothing is CUSTODY_A's and the sentinels' concern).
        if (stepAttempted && !stepSucceeded) return;
        int256 expected = int256(stepInsurance);
        uint256 share = engine.getRiskParams().insuranceFeeShareD18;
        uint256 liquidationTradingFees;
        int256 realised; // net realised PnL of the watched account in this step
        int256 profit; // realised profits (before shortfall) of every settlement in this step
        int256 shortfallPaid; // what ProfitShortfall says was paid or forfeited for them
        int256 badDebt; // covered + socialised for the watched account
        int256 liquidationNet; // a liquidation's legs, netted as its one settlement is
        bool adl; // ADL's event carries no funding: its profit is not known exactly, so the bound is not checked
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(engine)) continue;
            bytes32 topic = logs[i].topics[0];
            uint256 accountId = logs[i].topics.length > 1 ? uint256(logs[i].topics[1]) : 0;
            if (topic == IMarginEngine.PositionModified.selector) {
                (, , , , uint256 feeToInsurance, int256 pnl, int256 funding, , ) = abi.decode(
                    logs[i].data,
                    (int256, int256, uint256, uint256, uint256, int256, int256, int256, int256)
                );
                expected += int256(feeToInsurance);
                if (accountId == stepAccount) realised += pnl - funding;
                if (pnl - funding > 0) profit += pnl - funding;
            } else if (topic == ILiquidation.PositionLiquidated.selector) {
                (, , int256 pnl, int256 funding, uint256 fee) = abi.decode(
                    logs[i].data,
                    (int256, uint256, int256, int256, uint256)
                );
                liquidationTradingFees += fee;
                if (accountId == stepAccount) realised += pnl - funding;
                liquidationNet += pnl - funding;
            } else if (topic == ILiquidation.Liquidated.selector) {
                (, , , , , uint256 toInsurance) = abi.decode(
                    logs[i].data,
                    (address, bool, uint256, uint256, uint256, uint256)
                );
                expected += int256(toInsurance + (liquidationTradingFees * share) / 1e18);
                if (liquidationNet > 0) profit += liquidationNet;
                liquidationTradingFees = 0;
                liquidationNet = 0;
            } else if (topic == ILiquidation.AutoDeleveraged.selector) {
                (, , int256 pnl) = abi.decode(logs[i].data, (int256, uint256, int256));
                if (accountId == stepAccount) realised += pnl;
                adl = true;
            } else if (topic == ILiquidation.BadDebt.selector) {
                (uint256 covered, uint256 socialised) = abi.decode(logs[i].data, (uint256, uint256));
                expected -= int256(covered);
                if (accountId == stepAccount) badDebt += int256(covered + socialised);
            } else if (topic == IMarginEngine.ProfitShortfall.selector) {
                (uint256 byVault, uint256 byInsurance, uint256 haircut) = abi.decode(
                    logs[i].data,
                    (uint256, uint256, uint256)
                );
                expected -= int256(byInsurance);
                shortfallPaid += int256(byVault + byInsurance + haircut);
            }
        }
        int256 actual = int256(engine.insuranceFund());
        if (!insuranceMisbooked && (actual != expected || (!adl && shortfallPaid > profit))) {
            insuranceMisbooked = true;
            insuranceMisbookedBy = actual - expected;
        }
        if (stepAccount != 0 && realised < 0 && _collateral(stepAccount) - badDebt > stepCollateral) {
            lossCredited = true;
        }
    }

    /* ACTIONS */

    function deposit(uint256 actorSeed, uint256 amountSeed) external booked {
        address actor = _actor(actorSeed);
        uint256 amount = _bound(amountSeed, 1, 200_000e6);
        _count("deposit");
        vm.prank(actor);
        try engine.deposit(crossOf[actor], amount) {
            _ok("deposit");
        } catch {} // the wallet ran dry
    }

    /// @dev Withdraws a part of `maxWithdrawable`, which must always succeed.
    function withdraw(uint256 actorSeed, uint256 amountSeed) external booked {
        address actor = _actor(actorSeed);
        uint256 id = crossOf[actor];
        _count("withdraw");
        uint256 max = engine.maxWithdrawable(id);
        if (max == 0) return;
        uint256 amount = _bound(amountSeed, 1, max);
        vm.prank(actor);
        try engine.withdraw(id, amount, actor) {
            _ok("withdraw");
        } catch (bytes memory reason) {
            maxWithdrawableRefused = true;
            maxWithdrawableReason = reason;
        }
    }

    function trade(uint256 actorSeed, bool onBtc, int256 sizeSeed, bool isolated) external booked {
        address actor = _actor(actorSeed);
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 id = crossOf[actor];
        if (isolated) {
            uint256[] storage ids = isolatedOf[actor];
            if (ids.length == 0) return;
            id = ids[uint256(keccak256(abi.encode(sizeSeed))) % ids.length];
            marketId = engine.getAccount(id).marketId;
        }
        int256 size = _leveraged(marketId, engine.marginSummary(id).equityD18, sizeSeed);
        if (size == 0) return;
        _count("trade");
        _watch(id);
        vm.prank(actor);
        (bool ok, ) = _tryTrade(id, marketId, size, size > 0 ? type(uint256).max : 0);
        if (ok) _ok("trade");
    }

    function openIsolated(
        uint256 actorSeed,
        bool onBtc,
        uint256 marginSeed,
        int256 sizeSeed,
        bool fromCross
    ) external booked {
        address actor = _actor(actorSeed);
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 margin = _bound(marginSeed, 10e6, 100_000e6);
        int256 size = _leveraged(marketId, int256(margin * TOKEN_SCALE), sizeSeed);
        if (size == 0) return;
        _count("openIsolated");
        vm.prank(actor);
        (bool ok, uint256 id) = _tryOpenIsolated(
            marketId,
            fromCross ? crossOf[actor] : 0,
            margin,
            size,
            size > 0 ? type(uint256).max : 0
        );
        if (ok) {
            isolatedOf[actor].push(id);
            accounts.push(id);
            _ok("openIsolated");
        }
    }

    function closeIsolated(uint256 actorSeed, uint256 indexSeed, bool toCross) external booked {
        address actor = _actor(actorSeed);
        uint256[] storage ids = isolatedOf[actor];
        if (ids.length == 0) return;
        uint256 id = ids[indexSeed % ids.length];
        int256 size = _size(id, engine.getAccount(id).marketId);
        if (size == 0) return; // nothing to close (withdraw covers an empty isolated account)
        bool healthy = !engine.isLiquidatable(id);
        _count("closeIsolated");
        _watch(id);
        vm.prank(actor);
        (bool ok, bytes memory reason) = _tryCloseIsolated(
            id,
            size > 0 ? 0 : type(uint256).max,
            toCross ? crossOf[actor] : 0
        );
        if (ok) {
            _ok("closeIsolated");
        } else {
            if (healthy) {
                healthyCloseRefused = true;
                healthyCloseReason = reason;
            }
        }
    }

    /// @dev Moves margin between an actor's cross account and one of its isolated accounts, either way.
    function transferMargin(
        uint256 actorSeed,
        uint256 indexSeed,
        uint256 amountSeed,
        bool toIsolated
    ) external booked {
        address actor = _actor(actorSeed);
        uint256[] storage ids = isolatedOf[actor];
        if (ids.length == 0) return;
        uint256 isolatedId = ids[indexSeed % ids.length];
        (uint256 from, uint256 to) = toIsolated ? (crossOf[actor], isolatedId) : (isolatedId, crossOf[actor]);
        uint256 amount = _bound(amountSeed, 1, 50_000e18);
        _count("transferMargin");
        vm.prank(actor);
        try engine.transferMargin(from, to, amount) {
            _ok("transferMargin");
        } catch {}
    }

    /// @dev Moves one market by up to +-20%, within [1/4, 4] of its starting price; up to an hour passes first
    ///      and both feeds are republished, so that neither goes stale.
    function movePrice(bool onBtc, uint256 bpsSeed, uint256 elapsedSeed) external booked {
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 start = marketId == ETH ? ETH_PRICE : BTC_PRICE;
        uint256 price = (_price(marketId) * _bound(bpsSeed, 8_000, 12_000)) / 10_000;
        if (price < start / 4) price = start / 4;
        if (price > start * 4) price = start * 4;
        _count("movePrice");
        _warp(_bound(elapsedSeed, 0, 1 hours));
        _setPrice(marketId, price);
    }

    /// @dev Up to a day passes (funding accrues; cooldowns run out); both feeds are republished.
    function warpTime(uint256 secondsSeed) external booked {
        _count("warpTime");
        _warp(_bound(secondsSeed, 1, 1 days));
    }

    function liquidate(uint256 accountSeed) external booked {
        uint256 id = accounts[accountSeed % accounts.length];
        bool wasLiquidatable = engine.isLiquidatable(id);
        IMarginEngine.MarginSummary memory before = engine.marginSummary(id);
        _count("liquidate");
        _watch(id);
        vm.prank(KEEPER);
        try engine.liquidate(id, KEEPER) {
            if (!wasLiquidatable) healthyLiquidated = true;
            _ok("liquidate");
            if (engine.getAccount(id).positionCount != 0) {
                // equity / MM may only rise: after x before.mm >= before.equity x after.mm (both MMs positive).
                IMarginEngine.MarginSummary memory afterwards = engine.marginSummary(id);
                if (
                    afterwards.equityD18 * int256(before.maintenanceMarginD18) <
                    before.equityD18 * int256(afterwards.maintenanceMarginD18)
                ) liquidationLoweredHealth = true;
            }
        } catch (bytes memory reason) {
            if (wasLiquidatable) {
                liquidationBlocked = true;
                liquidationBlockedReason = reason;
            }
        }
    }

    /// @dev Three distinct accounts: the batch liquidates exactly those the view calls liquidatable.
    function liquidateBatch(uint256 seed) external booked {
        uint256 n = accounts.length;
        uint256[] memory ids = new uint256[](n < 3 ? n : 3);
        uint256 expected;
        for (uint256 i; i < ids.length; ++i) {
            ids[i] = accounts[(seed + i) % n];
            if (engine.isLiquidatable(ids[i])) ++expected;
        }
        _count("liquidateBatch");
        vm.prank(KEEPER);
        (uint256 liquidated, ) = engine.liquidateBatch(ids, KEEPER);
        if (liquidated != expected) batchMiscounted = true;
        if (liquidated > 0) _ok("liquidateBatch");
    }

    function autoDeleverage(uint256 accountSeed, bool onBtc) external booked {
        uint256 id = accounts[accountSeed % accounts.length];
        uint32 marketId = onBtc ? BTC : ETH;
        (bool triggered, , ) = engine.adlStatus(marketId);
        _count("autoDeleverage");
        _watch(id);
        vm.prank(KEEPER);
        try engine.autoDeleverage(id, marketId) {
            if (!triggered) adlUntriggered = true;
            _ok("autoDeleverage");
        } catch {}
    }

    function vaultDeposit(uint256 actorSeed, uint256 amountSeed) external booked {
        address actor = _actor(actorSeed);
        uint256 amount = _bound(amountSeed, 1, 1_000_000e6);
        _count("vaultDeposit");
        vm.prank(actor);
        try vault.requestDeposit(amount, actor, actor) {
            _ok("vaultDeposit");
        } catch {}
    }

    function vaultRedeem(uint256 actorSeed, uint256 sharesSeed, bool isLp) external booked {
        address owner = isLp ? LP : _actor(actorSeed);
        uint256 balance = vault.balanceOf(owner);
        if (balance == 0) return;
        uint256 shares = _bound(sharesSeed, 1, balance);
        _count("vaultRedeem");
        vm.prank(owner);
        try vault.requestRedeem(shares, owner, owner) {
            _ok("vaultRedeem");
        } catch {}
    }

    /// @dev A keeper settles what is ready, then every LP claims everything claimable: a claim within the
    ///      claimable amounts must never fail.
    function vaultSettle() external booked {
        _count("vaultSettle");
        address[4] memory lps = [LP, actors[0], actors[1], actors[2]];
        uint256[4] memory depositReadyAt;
        uint256[4] memory redeemReadyAt;
        uint256[4] memory claimableShares;
        uint256[4] memory claimableAssets;
        for (uint256 i; i < lps.length; ++i) {
            (, depositReadyAt[i], ) = vault.depositRequestOf(lps[i]);
            (, redeemReadyAt[i], ) = vault.redeemRequestOf(lps[i]);
            claimableShares[i] = vault.maxMint(lps[i]);
            claimableAssets[i] = vault.maxWithdraw(lps[i]);
        }
        uint256 readyBy;
        try engine.vaultValueAt() returns (int256, uint256 oldestPublishTime) {
            readyBy = oldestPublishTime < vm.getBlockTimestamp() ? oldestPublishTime : vm.getBlockTimestamp();
        } catch {}
        vm.prank(KEEPER);
        try vault.settleRequests(16) {
            _ok("vaultSettle");
            // VAULT_C: whatever became claimable was requested at least minDelay before every price it used.
            for (uint256 i; i < lps.length; ++i) {
                if (vault.maxMint(lps[i]) > claimableShares[i] && depositReadyAt[i] > readyBy) {
                    requestSettledEarly = true;
                }
                if (vault.maxWithdraw(lps[i]) > claimableAssets[i] && redeemReadyAt[i] > readyBy) {
                    requestSettledEarly = true;
                }
            }
        } catch {}
        _claimAll(LP);
        for (uint256 i; i < actors.length; ++i) _claimAll(actors[i]);
    }

    function _claimAll(address lp) private {
        uint256 assets = vault.maxDeposit(lp);
        if (assets > 0) {
            vm.prank(lp);
            try vault.deposit(assets, lp) {} catch (bytes memory reason) {
                (maxRedeemRefused, maxRedeemReason) = (true, reason);
            }
        }
        uint256 shares = vault.maxRedeem(lp);
        if (shares > 0) {
            vm.prank(lp);
            try vault.redeem(shares, lp, lp) {} catch (bytes memory reason) {
                (maxRedeemRefused, maxRedeemReason) = (true, reason);
            }
        }
    }

    /// @dev Commits an order on the actor's cross account and leaves it pending (settled, expired or cancelled
    ///      later by other actions). While it is pending, pulling any collateral out must be refused.
    function commitOrder(uint256 actorSeed, bool onBtc, int256 sizeSeed) external booked {
        address actor = _actor(actorSeed);
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 id = crossOf[actor];
        int256 size = _leveraged(marketId, engine.marginSummary(id).equityD18, sizeSeed);
        if (size == 0) return;
        _count("commitOrder");
        vm.prank(actor);
        try engine.commitOrder(id, marketId, size, size > 0 ? type(uint256).max : 0, type(uint256).max) {
            _ok("commitOrder");
            pendingAccounts.push(id);
            pendingMarkets.push(marketId);
            vm.prank(actor);
            try engine.withdraw(id, 1, actor) {
                lockedCollateralLeft = true;
            } catch {}
            uint256 other = _openIsolatedOf(actor);
            if (other != 0) {
                vm.prank(actor);
                try engine.transferMargin(id, other, 1) {
                    lockedCollateralLeft = true;
                } catch {}
            }
        } catch {} // margin, pause, a pending order already on this market
    }

    /// @dev Settles one of the pending orders one delay after its commit (or now, if later) at the mark price.
    ///      It may fail (margin, slippage, pause, liquidated in between); if it succeeds the order is gone.
    function settleOrder(uint256 indexSeed) external booked {
        uint256 n = pendingAccounts.length;
        if (n == 0) return;
        uint256 i = indexSeed % n;
        (uint256 id, uint32 marketId) = (pendingAccounts[i], pendingMarkets[i]);
        IOrders.OrderInfo memory o = engine.getOrder(id, marketId);
        if (o.commitTime == 0 || vm.getBlockTimestamp() > o.expiryTime) return _dropPending(i);
        _count("settleOrder");
        _watch(id);
        if (vm.getBlockTimestamp() < o.readyTime) vm.warp(o.readyTime);
        bytes[] memory update = _priceUpdate(marketId, _price(marketId), o.readyTime);
        vm.prank(KEEPER);
        try engine.settleOrder(id, marketId, update) returns (uint256 fill, uint256) {
            _ok("settleOrder");
            bool beyond = o.sizeDeltaD18 > 0 ? fill > o.acceptablePriceD18 : fill < o.acceptablePriceD18;
            if (beyond || engine.getOrder(id, marketId).commitTime != 0) settlementBrokeItsOrder = true;
            _dropPending(i);
        } catch {}
    }

    /// @dev Moves past one pending order's expiry and cancels it: that must always work.
    function cancelExpired(uint256 indexSeed) external booked {
        uint256 n = pendingAccounts.length;
        if (n == 0) return;
        uint256 i = indexSeed % n;
        (uint256 id, uint32 marketId) = (pendingAccounts[i], pendingMarkets[i]);
        IOrders.OrderInfo memory o = engine.getOrder(id, marketId);
        if (o.commitTime == 0) return _dropPending(i);
        _count("cancelExpired");
        if (vm.getBlockTimestamp() <= o.expiryTime) _warp(o.expiryTime + 1 - vm.getBlockTimestamp());
        try engine.cancelOrder(id, marketId) {
            _ok("cancelExpired");
            _dropPending(i);
        } catch (bytes memory reason) {
            expiredCancelRefused = true;
            expiredCancelReason = reason;
        }
    }

    /* HELPERS */

    function _dropPending(uint256 i) internal {
        uint256 last = pendingAccounts.length - 1;
        pendingAccounts[i] = pendingAccounts[last];
        pendingMarkets[i] = pendingMarkets[last];
        pendingAccounts.pop();
        pendingMarkets.pop();
    }

    /// @dev One of the actor's isolated accounts, or 0.
    function _openIsolatedOf(address actor) internal view returns (uint256) {
        uint256[] storage ids = isolatedOf[actor];
        return ids.length == 0 ? 0 : ids[0];
    }

    /// @dev A size worth up to 45x `equity` in notional, either side, capped at 300 ETH / 15 BTC per trade so
    ///      that the vault's reserve (half of the larger side's notional) stays within its cash most of the time.
    function _leveraged(uint32 marketId, int256 equity, int256 seed) internal view returns (int256 size) {
        if (equity <= 0) return 0;
        int256 leverageBps = _boundSigned(seed, 450_000); // +-45x in bps
        size = (equity * leverageBps * SWAD) / int256(_price(marketId)) / 10_000;
        int256 cap = marketId == ETH ? int256(300e18) : int256(15e18);
        if (size > cap) size = cap;
        if (size < -cap) size = -cap;
    }

    function _actor(uint256 seed) internal view returns (address) {
        return actors[seed % actors.length];
    }

    function _count(bytes32 action) internal {
        stepAttempted = true;
        ++calls[action];
    }

    function _ok(bytes32 action) internal {
        stepSucceeded = true;
        ++successes[action];
    }
}

/// @notice Invariant suite: random sequences of the handler's actions (deposits, withdrawals, cross and isolated
///         trades, margin transfers, price moves, time, liquidations, batches, ADL, LP flows) against the real protocol; after every
///         call each invariant below must hold. Only the handler is fuzzed (`targetContracts`/`targetSelectors`).
/// @dev The handler lives in this file on purpose: Hardhat identifies fuzz targets by the artifacts of the test
///      files it compiles, so a handler in a file of its own is unknown when only this file is run.
/// @dev Every property has a stable id (CUSTODY_A, LIQ_B, …) listed with one sentence in test/INVARIANTS.md; function
///      names start with the ids they check and every assertion message starts with its id. Runs and depth come
///      from the profile in hardhat.config.ts: fast in `npm test`, 100,000 calls per invariant in `npm run test:deep`.
contract BulkheadInvariantTest {
    // solhint-disable-next-line const-name-snakecase
    Vm private constant vm = Vm(VM_ADDRESS);

    uint256 private constant TOKEN_SCALE = 1e12;
    uint32 private constant MARKETS = 2;
    address private constant ALICE = address(0x1002); // the handler's first actor

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    BulkheadHandler private handler;
    IBulkhead private engine;
    IERC20 private token;

    function setUp() public {
        handler = new BulkheadHandler();
        (address engine_, address token_, , , ) = handler.bulkhead();
        engine = IBulkhead(engine_);
        token = IERC20(token_);
    }

    /// @dev Foundry's target hooks: only the handler, only its actions.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](20);
        selectors[0] = BulkheadHandler.deposit.selector;
        selectors[1] = BulkheadHandler.withdraw.selector;
        selectors[2] = BulkheadHandler.trade.selector;
        selectors[3] = BulkheadHandler.trade.selector; // trading twice as likely
        selectors[4] = BulkheadHandler.openIsolated.selector;
        selectors[5] = BulkheadHandler.closeIsolated.selector;
        selectors[6] = BulkheadHandler.movePrice.selector;
        selectors[7] = BulkheadHandler.warpTime.selector;
        selectors[8] = BulkheadHandler.liquidate.selector;
        selectors[9] = BulkheadHandler.liquidateBatch.selector;
        selectors[10] = BulkheadHandler.autoDeleverage.selector;
        selectors[11] = BulkheadHandler.vaultDeposit.selector;
        selectors[12] = BulkheadHandler.vaultRedeem.selector;
        selectors[13] = BulkheadHandler.movePrice.selector; // prices move twice as often
        selectors[14] = BulkheadHandler.liquidate.selector;
        selectors[15] = BulkheadHandler.transferMargin.selector;
        selectors[16] = BulkheadHandler.commitOrder.selector;
        selectors[17] = BulkheadHandler.settleOrder.selector;
        selectors[18] = BulkheadHandler.cancelExpired.selector;
        selectors[19] = BulkheadHandler.vaultSettle.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    /* INVARIANTS */

    /// @notice token.balanceOf(engine) x 10^12 == Σ collateral + vaultCash + insuranceFund, exactly.
    function invariant_CUSTODY_A_custodyIdentity() public view {
        int256 sum;
        uint256 n = engine.accountCount();
        for (uint256 id = 1; id <= n; ++id) sum += engine.getAccount(id).collateralD18;
        int256 custody = int256(token.balanceOf(address(engine)) * TOKEN_SCALE);
        vm.assertEq(
            custody,
            sum + engine.vaultCash() + int256(engine.insuranceFund()),
            "CUSTODY_A custody identity"
        );
    }

    /// @notice AGG_B: the vault's O(1) view of traders' net PnL (Σ markets tradersNetPnl, from aggregates) equals the sum
    ///         over accounts of unrealisedPnl - accruedFunding from marginSummary, once the two markings are
    ///         reconciled. Each account marks a position s_i at its own exit fill P (1 + (2K - s_i) / 2S) (K the
    ///         market's skew, S its skewScale), the vault at closing the whole skew, K P (1 + K / 2S); so per market
    ///         Σ accounts - aggregate = P (K^2 - Σ s_i^2) / 2S exactly, up to rounding.
    /// @dev Tolerance per market: 3 wei per open position + 2 (as before: per position the view floors size x fill
    ///      (1) and ceils size x Δindex (1), the aggregate ceils skew x fill once, floors skew x index once and
    ///      floors each size x lastIndex), plus the fills' own rounding (1 wei of fill per unit of size, i.e.
    ///      |s_i| / 1e18 per position and |K| / 1e18 for the aggregate) and 1 for the reconciling term.
    ///      VAULT_B: the vault's value is its cash minus the aggregate (traders' losses are its gains), exactly.
    function invariant_AGG_B_VAULT_B_netPnlAndVaultValue() public view {
        int256 aggregate;
        int256 reconcile;
        uint256 tolerance = 2;
        uint256 n = engine.accountCount();
        for (uint32 m = 1; m <= MARKETS; ++m) {
            aggregate += engine.tradersNetPnl(m);
            IMarginEngine.MarketState memory st = engine.getMarketState(m);
            int256 skew = int256(uint256(st.longOiD18)) - int256(uint256(st.shortOiD18));
            int256 sumSquares;
            for (uint256 id = 1; id <= n; ++id) {
                IMarginEngine.PositionInfo[] memory ps = engine.getPositions(id);
                for (uint256 i; i < ps.length; ++i) {
                    if (ps[i].marketId != m) continue;
                    sumSquares += ps[i].sizeD18 * ps[i].sizeD18;
                    tolerance += 3 + _abs(ps[i].sizeD18) / 1e18;
                }
            }
            int256 price = int256(engine.quoteTrade(m, 0).oraclePriceD18);
            int256 twiceScale = 2 * int256(uint256(engine.getMarketParams(m).skewScaleD18));
            reconcile += (price * ((skew * skew - sumSquares) / twiceScale)) / 1e18;
            tolerance += 2 + _abs(skew) / 1e18 + uint256(price) / 1e18;
        }
        int256 perAccount;
        for (uint256 id = 1; id <= n; ++id) {
            IMarginEngine.MarginSummary memory s = engine.marginSummary(id);
            perAccount += s.unrealisedPnlD18 - s.accruedFundingD18;
        }
        vm.assertApproxEqAbs(perAccount, aggregate + reconcile, tolerance, "AGG_B traders' net PnL");
        vm.assertEq(
            engine.vaultValue(),
            engine.vaultCash() - aggregate,
            "VAULT_B vault value != cash - traders' net PnL"
        );
    }

    /// @notice No liquidation ever succeeded on an account the view called healthy, none called liquidatable
    ///         was refused, and liquidateBatch liquidated exactly the liquidatable ones.
    function invariant_LIQ_A_B_C_ADL_A_liquidationRules() public view {
        vm.assertTrue(!handler.healthyLiquidated(), "LIQ_A healthy account liquidated");
        vm.assertTrue(!handler.liquidationBlocked(), "LIQ_B liquidatable account could not be liquidated");
        vm.assertTrue(
            !handler.batchMiscounted(),
            "LIQ_C batch liquidated other than the liquidatable accounts"
        );
        vm.assertTrue(!handler.adlUntriggered(), "ADL_A ADL ran while not triggered");
    }

    /// @notice VAULT_C: an LP request is only ever settled on prices published at least minDelay after it.
    function invariant_VAULT_C_requestsSettleOnLaterPrices() public view {
        vm.assertTrue(
            !handler.requestSettledEarly(),
            "VAULT_C a request settled on a price published before it"
        );
    }

    /// @notice LIQ_D: a liquidation step that leaves positions open never lowers the account's health.
    function invariant_LIQ_D_liquidationNeverLowersHealth() public view {
        vm.assertTrue(!handler.liquidationLoweredHealth(), "LIQ_D liquidation lowered the account's health");
    }

    /// @notice PNL_A: no step that realised a net loss on an account raised its collateral. INS_A: every step moved
    ///         the insurance fund by exactly its fee income (trading fee shares, liquidation fees beyond the
    ///         keeper reward) minus the bad debt and profit shortfall it reported covering, and no shortfall paid
    ///         more than the profit realised.
    function invariant_PNL_A_INS_A_moneyFlows() public view {
        vm.assertTrue(!handler.lossCredited(), "PNL_A a realised loss raised the account's collateral");
        vm.assertEq(
            handler.insuranceMisbookedBy(),
            int256(0),
            "INS_A insurance moved by other than it booked"
        );
        vm.assertTrue(
            !handler.insuranceMisbooked(),
            "INS_A insurance paid a shortfall beyond the profit owed"
        );
    }

    /// @notice Withdrawing up to `maxWithdrawable` always works, so does closing a healthy isolated account, and so
    ///         does an LP claiming its settled deposits and redemptions.
    function invariant_EXIT_A_B_VAULT_A_exitsAlwaysWork() public view {
        vm.assertTrue(!handler.maxWithdrawableRefused(), "EXIT_A withdrawal within maxWithdrawable refused");
        vm.assertTrue(!handler.healthyCloseRefused(), "EXIT_B closing a healthy isolated account refused");
        vm.assertTrue(!handler.maxRedeemRefused(), "VAULT_A LP claim within the claimable amounts refused");
    }

    /// @notice The vault actions really request, settle and claim (so VAULT_A and VAULT_C are not vacuous), and
    ///         nothing settles before its delay.
    function test_handlerSettlesVaultRequests() public {
        (, , address vault_, , ) = handler.bulkhead();
        IERC20 shares = IERC20(vault_);
        handler.vaultDeposit(0, 1_000e6); // alice requests 1,000 USDC in
        handler.vaultSettle(); // too early: nothing settles
        vm.assertEq(shares.balanceOf(ALICE), 0, "settled before its delay");
        handler.warpTime(60); // past minDelay; the marks are republished
        handler.vaultSettle();
        vm.assertTrue(shares.balanceOf(ALICE) > 0, "deposit not settled and claimed");
        vm.assertTrue(
            !handler.requestSettledEarly(),
            "VAULT_C a request settled on a price published before it"
        );
    }

    /// @notice CAROL's account is a portfolio account the trade actions really drive (a hedged pair), so every
    ///         invariant covers that mode.
    function test_handlerDrivesPortfolioAccount() public {
        uint256 id = handler.crossOf(address(0x1004)); // CAROL
        vm.assertTrue(
            engine.getAccount(id).mode == IMarginEngine.AccountMode.Portfolio,
            "not a portfolio account"
        );
        handler.trade(2, false, 30_000, false); // carol buys ETH, about 3x her equity
        handler.trade(2, true, -30_000, false); // and sells as much BTC
        vm.assertEq(handler.successes("trade"), 2, "portfolio trades not settled");
        vm.assertEq(engine.getAccount(id).positionCount, 2, "hedged pair not held");
        IMarginEngine.MarginSummary memory s = engine.marginSummary(id);
        vm.assertTrue(s.equityD18 >= int256(s.initialMarginD18), "portfolio account below IM");
    }

    /// @notice The order actions really commit, settle and cancel (so ORD_A-C are not vacuous).
    function test_handlerDrivesOrders() public {
        handler.commitOrder(0, false, 10_000); // alice buys about 1x her equity in ETH
        handler.settleOrder(0);
        vm.assertEq(handler.successes("settleOrder"), 1, "order not settled");
        handler.commitOrder(1, true, -10_000); // bob sells BTC
        handler.cancelExpired(0);
        vm.assertEq(handler.successes("cancelExpired"), 1, "expired order not cancelled");
        vm.assertEq(handler.successes("commitOrder"), 2, "orders not committed");
        vm.assertTrue(
            !handler.lockedCollateralLeft(),
            "ORD_A collateral left an account with a pending order"
        );
    }

    /// @notice Orders: no collateral leaves an account while one of its orders is pending, an expired order can
    ///         always be cancelled, and a settlement fills within the order's limit and removes the order.
    function invariant_ORD_A_B_C_orders() public view {
        vm.assertTrue(
            !handler.lockedCollateralLeft(),
            "ORD_A collateral left an account with a pending order"
        );
        vm.assertTrue(!handler.expiredCancelRefused(), "ORD_B cancelling an expired order refused");
        vm.assertTrue(!handler.settlementBrokeItsOrder(), "ORD_C settlement beyond its limit or order left");
    }

    /// @notice The sentinels (an isolated BTC account and a cross account short ETH, well collateralised, never
    ///         acted on after setup) keep their collateral and positions to the wei, whatever happens to every
    ///         other account: others' losses, liquidations, bad debt and ADL never reach them.
    function invariant_ISO_A_isolationContainment() public view {
        _assertSentinel(handler.sentinelIsolated(), handler.sentinelIsolatedCollateral(), true);
        _assertSentinel(handler.sentinelCross(), handler.sentinelCrossCollateral(), false);
    }

    /// @notice Per market, in one pass over every position: longOi == Σ long sizes and shortOi == Σ |short sizes|
    ///         (AGG_A), net basis == Σ basis and net funding basis == Σ size x checkpoint rounded down (AGG_C), all
    ///         exactly; and the total reserve is the sum of the markets' reserves (AGG_C).
    function invariant_AGG_A_C_aggregatesMatchPositions() public view {
        uint256 n = engine.accountCount();
        uint256 reserves;
        for (uint32 m = 1; m <= MARKETS; ++m) {
            int256 longs;
            int256 shorts;
            int256 basis;
            int256 fundingBasis;
            for (uint256 id = 1; id <= n; ++id) {
                IMarginEngine.PositionInfo[] memory ps = engine.getPositions(id);
                for (uint256 i; i < ps.length; ++i) {
                    if (ps[i].marketId != m) continue;
                    if (ps[i].sizeD18 > 0) longs += ps[i].sizeD18;
                    else shorts -= ps[i].sizeD18;
                    basis += ps[i].basisD18;
                    fundingBasis += MarginMath.divFloor(
                        ps[i].sizeD18 * ps[i].lastFundingIndexD18,
                        MarginMath.SWAD
                    );
                }
            }
            IMarginEngine.MarketState memory st = engine.getMarketState(m);
            vm.assertEq(uint256(longs), st.longOiD18, "AGG_A long open interest");
            vm.assertEq(uint256(shorts), st.shortOiD18, "AGG_A short open interest");
            vm.assertEq(int256(st.netBasisD18), basis, "AGG_C net basis");
            vm.assertEq(int256(st.netFundingBasisD18), fundingBasis, "AGG_C net funding basis");
            reserves += st.reservedD18;
        }
        vm.assertEq(engine.totalReserved(), reserves, "AGG_C total reserve");
    }

    /// @notice Solvency: an account without positions never holds debt (bad debt is always settled to zero),
    ///         and vault cash stays non-negative (the LP deposit covers every loss the bounded handler can cause).
    function invariant_SOLV_A_B_solvency() public view {
        uint256 n = engine.accountCount();
        for (uint256 id = 1; id <= n; ++id) {
            IMarginEngine.AccountInfo memory a = engine.getAccount(id);
            if (a.positionCount == 0) vm.assertGe(a.collateralD18, int256(0), "SOLV_A flat account in debt");
        }
        vm.assertGe(engine.vaultCash(), int256(0), "SOLV_B vault cash negative");
    }

    /* HELPERS */

    function _abs(int256 x) private pure returns (uint256) {
        return uint256(x >= 0 ? x : -x);
    }

    function _assertSentinel(uint256 id, int256 collateral, bool isolated) private view {
        (uint32 marketId, int256 size, int256 basis, int256 lastIndex) = isolated
            ? handler.sentinelIsolatedPosition()
            : handler.sentinelCrossPosition();
        IMarginEngine.AccountInfo memory a = engine.getAccount(id);
        vm.assertEq(a.collateralD18, collateral, "ISO_A sentinel collateral");
        vm.assertEq(a.positionCount, 1, "ISO_A sentinel position count");
        IMarginEngine.PositionInfo memory p = engine.getPositions(id)[0];
        vm.assertEq(p.marketId, marketId, "ISO_A sentinel market");
        vm.assertEq(p.sizeD18, size, "ISO_A sentinel size");
        vm.assertEq(p.basisD18, basis, "ISO_A sentinel basis");
        vm.assertEq(p.lastFundingIndexD18, lastIndex, "ISO_A sentinel funding index");
    }
}
