// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {ILiquidityVault} from "../../interfaces/ILiquidityVault.sol";
import {ILiquidation} from "../../interfaces/ILiquidation.sol";
import {MarginMath} from "../../libraries/MarginMath.sol";
import {BulkheadFixture} from "./BulkheadFixture.sol";

/// @notice Fuzz tests through the real engine, liquidation module and vault (deployed as in fixture.ts).
contract EngineFuzzTest is BulkheadFixture {
    function setUp() public {
        _deployBulkhead();
    }

    /* LIQUIDATION */

    /// @dev An account opened at exactly its initial margin (deposit, open, withdraw everything withdrawable), then
    ///      the price moves by up to +-15% and up to a day of funding accrues. Whenever equity >= MM the
    ///      liquidation must revert NotLiquidatable and leave the account untouched; otherwise it must succeed.
    function testFuzz_healthyAccountCannotBeLiquidated(
        uint256 sizeSeed,
        bool isLong,
        bool onBtc,
        uint256 moveSeed,
        uint256 elapsedSeed
    ) public {
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 id = _openAtInitialMargin(ALICE, marketId, _fuzzSize(sizeSeed, marketId, isLong));
        _skewOtherSide(marketId, isLong);

        vm.warp(block.timestamp + _bound(elapsedSeed, 0, 1 days));
        uint256 moveBps = _bound(moveSeed, 8_500, 11_500);
        _setPrice(ETH, (ETH_PRICE * (marketId == ETH ? moveBps : 10_000)) / 10_000);
        _setPrice(BTC, (BTC_PRICE * (marketId == BTC ? moveBps : 10_000)) / 10_000);

        IMarginEngine.MarginSummary memory s = engine.marginSummary(id);
        bool healthy = s.equityD18 >= int256(s.maintenanceMarginD18);
        vm.assertTrue(engine.isLiquidatable(id) == !healthy, "isLiquidatable disagrees with equity < MM");
        if (healthy) {
            int256 collateral = _collateral(id);
            int256 size = _size(id, marketId);
            vm.prank(KEEPER);
            vm.expectRevert(abi.encodeWithSelector(ILiquidation.NotLiquidatable.selector, id));
            engine.liquidate(id, KEEPER);
            vm.assertEq(_collateral(id), collateral, "collateral changed");
            vm.assertEq(_size(id, marketId), size, "size changed");
        } else {
            vm.prank(KEEPER);
            engine.liquidate(id, KEEPER);
        }
    }

    /// @dev Price moved to the first 8-decimal feed answer at which the account is liquidatable: liquidation
    ///      there leaves equity >= 0 (no bad debt, the insurance fund does not pay), and a partial liquidation
    ///      leaves the account healthy.
    function testFuzz_liquidationAtBoundaryLeavesNonNegativeEquity(
        uint256 sizeSeed,
        bool isLong,
        bool onBtc
    ) public {
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 id = _openAtInitialMargin(ALICE, marketId, _fuzzSize(sizeSeed, marketId, isLong));
        _moveToLiquidationBoundary(id, marketId, isLong);

        vm.assertTrue(engine.isLiquidatable(id), "not liquidatable at the boundary");
        ILiquidation.LiquidationQuote memory q = engine.quoteLiquidation(id);
        uint256 insuranceBefore = engine.insuranceFund();
        vm.prank(KEEPER);
        engine.liquidate(id, KEEPER);

        IMarginEngine.MarginSummary memory s = engine.marginSummary(id);
        vm.assertGe(s.equityD18, int256(0), "negative equity after boundary liquidation");
        vm.assertGe(engine.insuranceFund(), insuranceBefore, "insurance fund paid bad debt");
        if (q.partial_) {
            vm.assertTrue(_size(id, marketId) != 0, "partial closed everything");
            vm.assertTrue(!engine.isLiquidatable(id), "still liquidatable after partial");
        } else {
            vm.assertEq(_size(id, marketId), int256(0), "full liquidation left a position");
        }
    }

    /// @dev The owner liquidating its own account at the boundary, reward to itself: wallet + equity never grows.
    function testFuzz_selfLiquidationNeverPays(uint256 sizeSeed, bool isLong, bool onBtc) public {
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 id = _openAtInitialMargin(ALICE, marketId, _fuzzSize(sizeSeed, marketId, isLong));
        _moveToLiquidationBoundary(id, marketId, isLong);
        int256 before = engine.marginSummary(id).equityD18 + int256(token.balanceOf(ALICE) * TOKEN_SCALE);
        vm.prank(ALICE);
        uint256 reward = engine.liquidate(id, ALICE);
        vm.assertTrue(reward > 0, "no reward");
        int256 after_ = engine.marginSummary(id).equityD18 + int256(token.balanceOf(ALICE) * TOKEN_SCALE);
        vm.assertLe(after_, before, "self-liquidation paid");
    }

    /// @dev The liquidationPrice view of an isolated position (exact for isolated accounts) is the boundary the
    ///      binary search over feed answers finds, to within one 8-decimal tick.
    function testFuzz_liquidationPriceMatchesBoundary(uint256 sizeSeed, bool isLong, bool onBtc) public {
        uint32 marketId = onBtc ? BTC : ETH;
        int256 size = _fuzzSize(sizeSeed, marketId, isLong);
        uint256 id = _openIsolatedAtInitialMargin(ALICE, marketId, size);
        uint256 reported = engine.liquidationPrice(id, marketId);
        _moveToLiquidationBoundary(id, marketId, isLong);
        uint256 boundary = _price(marketId); // first liquidatable answer
        uint256 tick = FEED_SCALE;
        if (isLong) {
            // Liquidatable at `boundary`, healthy one tick above it: the exact boundary is in (boundary, +1 tick].
            vm.assertGe(reported + tick, boundary, "long: reported far below boundary");
            vm.assertLe(reported, boundary + 2 * tick, "long: reported far above boundary");
        } else {
            vm.assertLe(reported, boundary + tick, "short: reported far above boundary");
            vm.assertGe(reported + 2 * tick, boundary, "short: reported far below boundary");
        }
        // At the reported price itself (truncated to the feed's decimals, in the losing direction) it is liquidatable.
        _setPrice(marketId, isLong ? reported : reported + tick - 1);
        vm.assertTrue(engine.isLiquidatable(id), "healthy at the reported liquidation price");
    }

    /// @dev A cross account holding ETH and BTC (either sides, so sometimes hedged), opened at IM, both prices
    ///      moved by up to +-30%. Whatever the liquidation does must be consistent: a partial one closes the same
    ///      fraction of every position (pro rata, rounded up) and leaves the account healthy with equity >= 0; a
    ///      full one closes everything and leaves no debt (bad debt settled by insurance then vault). The keeper
    ///      reward is flat + liquidationFee x keeperShare capped at maxKeeperReward (5 + closed x 0.5% x 0.5, at
    ///      most 1,000), in whole token units, and on a full close at most what the account has left (never below
    ///      the flat part).
    function testFuzz_crossLiquidationOutcome(
        uint256 ethSeed,
        uint256 btcSeed,
        bool ethLong,
        bool btcLong,
        uint256 ethMoveSeed,
        uint256 btcMoveSeed
    ) public {
        int256 ethSize = _fuzzSize(ethSeed, ETH, ethLong);
        int256 btcSize = _fuzzSize(btcSeed, BTC, btcLong);
        uint256 id = _funded(ALICE, 5_000_000e6);
        vm.startPrank(ALICE);
        _trade(id, ETH, ethSize, _acceptable(ethSize));
        _trade(id, BTC, btcSize, _acceptable(btcSize));
        uint256 free = engine.maxWithdrawable(id);
        if (free > 0) engine.withdraw(id, free, ALICE);
        vm.stopPrank();

        _setPrice(ETH, (ETH_PRICE * _bound(ethMoveSeed, 7_000, 13_000)) / 10_000);
        _setPrice(BTC, (BTC_PRICE * _bound(btcMoveSeed, 7_000, 13_000)) / 10_000);
        vm.assume(engine.isLiquidatable(id));

        ILiquidation.LiquidationQuote memory q = engine.quoteLiquidation(id);
        uint256 keeperBefore = token.balanceOf(KEEPER);
        vm.prank(KEEPER);
        uint256 reward = engine.liquidate(id, KEEPER);
        vm.assertEq(reward, q.keeperRewardD18, "reward differs from quote");
        vm.assertEq(
            (token.balanceOf(KEEPER) - keeperBefore) * TOKEN_SCALE,
            reward,
            "keeper paid other than reward"
        );
        vm.assertGe(reward, 5e18, "reward below the flat part");
        vm.assertLe(reward, 1_000e18, "reward above cap");
        // The liquidation fee is 0.5% of the closed notional (rounded up per market, so within 2 wei).
        uint256 expected = 5e18 + MarginMath.mulDown(MarginMath.mulUp(q.closedNotionalD18, 0.005e18), 0.5e18);
        if (expected > 1_000e18) expected = 1_000e18;
        vm.assertLe(reward, expected + 1, "reward above flat + fee x share");
        // Below it only on a full close of an account that could not pay it: the cap leaves it less than a unit.
        if (reward + TOKEN_SCALE + 2 < expected) {
            vm.assertTrue(!q.partial_, "partial liquidation paid less than flat + fee x share");
            vm.assertLe(
                _collateral(id),
                int256(TOKEN_SCALE) - 1,
                "reward capped although the account could pay it"
            );
        }

        int256 ethAfter = _size(id, ETH);
        int256 btcAfter = _size(id, BTC);
        if (q.partial_) {
            vm.assertEq(
                MarginMath.abs(ethSize - ethAfter),
                MarginMath.mulUp(MarginMath.abs(ethSize), q.closeFractionD18),
                "eth pro rata"
            );
            vm.assertEq(
                MarginMath.abs(btcSize - btcAfter),
                MarginMath.mulUp(MarginMath.abs(btcSize), q.closeFractionD18),
                "btc pro rata"
            );
            vm.assertTrue(!engine.isLiquidatable(id), "still liquidatable after partial");
            vm.assertGe(engine.marginSummary(id).equityD18, int256(0), "negative equity after partial");
        } else {
            vm.assertEq(ethAfter, int256(0), "eth left after full");
            vm.assertEq(btcAfter, int256(0), "btc left after full");
            vm.assertGe(_collateral(id), int256(0), "debt left after full liquidation");
        }
    }

    /// @dev Risk-reducing trades never turn a healthy account liquidatable: an account opened at IM, the price moved
    ///      by up to +-3% (around the MM boundary), then a reduce (or close) of a fuzzed part of the position.
    ///      If the account was healthy and the reduce went through, it is still healthy.
    function testFuzz_reduceNeverMakesHealthyLiquidatable(
        uint256 sizeSeed,
        bool isLong,
        bool onBtc,
        uint256 moveSeed,
        uint256 fractionSeed
    ) public {
        uint32 marketId = onBtc ? BTC : ETH;
        int256 size = _fuzzSize(sizeSeed, marketId, isLong);
        uint256 id = _openAtInitialMargin(ALICE, marketId, size);
        _skewOtherSide(marketId, !isLong);
        uint256 start = marketId == ETH ? ETH_PRICE : BTC_PRICE;
        _setPrice(marketId, (start * _bound(moveSeed, 9_700, 10_300)) / 10_000);
        bool wasHealthy = !engine.isLiquidatable(id);
        int256 reduce = -int256(MarginMath.mulUp(MarginMath.abs(size), _bound(fractionSeed, 1e12, 1e18)));
        if (size < 0) reduce = -reduce;
        vm.prank(ALICE);
        (bool ok, bytes memory reason) = _tryTrade(id, marketId, reduce, _acceptable(reduce));
        if (ok) {
            if (wasHealthy)
                vm.assertTrue(!engine.isLiquidatable(id), "reduce made a healthy account liquidatable");
        } else {
            if (wasHealthy) {
                vm.assertEq(
                    uint256(bytes32(reason)) >> 224,
                    uint256(uint32(IMarginEngine.WouldBeLiquidatable.selector)),
                    "healthy reduce refused for another reason"
                );
            }
        }
    }

    /* AUTO-DELEVERAGING */

    /// @dev A large long and a price rise, bounded so that the long's profit stays below the vault's cash (beyond
    ///      that no ADL can restore the target; see README, open risks). If ADL
    ///      is triggered it must succeed on the long (it carries the whole market's profit, far above adlMinShare):
    ///      it closes at the fill of the close (skew impact) without fee; the account is marked at its exit fill and
    ///      the impact is linear, so its equity is unchanged but for wei rounding; and it brings traders' net PnL
    ///      back to the target share of the (post-ADL) vault cash. If not triggered it reverts AdlNotTriggered.
    function testFuzz_adlRestoresTarget(uint256 sizeSeed, uint256 priceSeed) public {
        int256 size = int256(_bound(sizeSeed, 100e18, 1_500e18));
        uint256 id = _openFunded(ALICE, ETH, size);
        uint256 maxPrice = ETH_PRICE + (4_900_000e18 * WAD) / uint256(size);
        _setPrice(ETH, _bound(priceSeed, ETH_PRICE, maxPrice));
        (bool triggered, int256 pnl, int256 trigger) = engine.adlStatus(ETH);
        if (!triggered) {
            vm.expectRevert(abi.encodeWithSelector(ILiquidation.AdlNotTriggered.selector, ETH, pnl, trigger));
            engine.autoDeleverage(id, ETH);
            return;
        }
        int256 equityBefore = engine.marginSummary(id).equityD18;
        vm.prank(KEEPER);
        int256 closed = engine.autoDeleverage(id, ETH);
        vm.assertTrue(closed > 0 && closed <= size, "closed size out of range");
        // Up to rounding: every fill (the whole position's exit fill before, the close's fill and the rest's exit
        // fill after) rounds against the trader by < 1 wei of price, i.e. < |size| / 1e18 wei of value each, in
        // either direction between before and after (the exact, unrounded equity is unchanged).
        int256 equityAfter = engine.marginSummary(id).equityD18;
        vm.assertApproxEqAbs(equityAfter, equityBefore, (2 * uint256(size)) / 1e18 + 4, "ADL changed equity");
        int256 target = (engine.vaultCash() * 0.4e18) / SWAD;
        vm.assertLe(engine.tradersNetPnl(ETH), target + 2, "ADL left PnL above target");
        (bool still, , ) = engine.adlStatus(ETH);
        vm.assertTrue(!still, "still triggered after ADL");
    }

    /// @dev A trader's realised profit is never paid out of other traders' collateral. Alice long 1,500 ETH at
    ///      3,000 (reserve 2.25M of 5M cash, within caps), ETH to 7,000: her ~6M profit exceeds the ~5M cash. On the
    ///      close the fee is paid first, then the vault pays its cash, the insurance fund the next part, and the rest
    ///      is a haircut: vault cash and insurance end at 0, Bob's collateral is untouched.
    function test_profitBeyondVaultCash_neverPaidFromOtherTraders() public {
        uint256 bob = _funded(BOB, 5_000_000e6);
        uint256 id = _openFunded(ALICE, ETH, 1_500e18);
        _setPrice(ETH, 7_000e18);
        vm.prank(ALICE);
        _trade(id, ETH, -1_500e18, 0);
        // The closing fee was credited before the payout, so the payout took it too: both end empty.
        vm.assertEq(engine.vaultCash(), int256(0), "vault paid less than its cash");
        vm.assertEq(engine.insuranceFund(), 0, "insurance fund did not pay next");
        vm.assertEq(_collateral(bob), int256(5_000_000e18), "bob's collateral");
    }

    /* ROUNDING */

    /// @dev Deposit then withdraw: never more than deposited, exactly the deposit back.
    function testFuzz_roundingFavoursProtocol_depositWithdraw(uint256 amountSeed, uint256 extraSeed) public {
        uint256 amount = _bound(amountSeed, 1, ACTOR_FUNDS);
        uint256 extra = _bound(extraSeed, 1, ACTOR_FUNDS);
        uint256 balanceBefore = token.balanceOf(ALICE);
        vm.startPrank(ALICE);
        uint256 id = engine.createCrossAccount();
        engine.deposit(id, amount);
        vm.expectRevert(
            abi.encodeWithSelector(
                IMarginEngine.InsufficientCollateral.selector,
                int256(amount * TOKEN_SCALE),
                (amount + extra) * TOKEN_SCALE
            )
        );
        engine.withdraw(id, amount + extra, ALICE);
        engine.withdraw(id, amount, ALICE);
        vm.stopPrank();
        vm.assertEq(token.balanceOf(ALICE), balanceBefore, "round trip changed the balance");
        vm.assertEq(_collateral(id), int256(0), "collateral left");
    }

    /// @dev Deposit, open and close at a fixed price, withdraw what is withdrawable: the wallet ends no richer.
    function testFuzz_roundingFavoursProtocol_tradeRoundTrip(
        uint256 amountSeed,
        uint256 sizeSeed,
        bool isLong,
        bool onBtc
    ) public {
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 amount = _bound(amountSeed, 1_000e6, ACTOR_FUNDS);
        // Notional up to 10x the deposit, so that the open always passes the margin check.
        uint256 price = marketId == ETH ? ETH_PRICE : BTC_PRICE;
        uint256 maxSize = (amount * TOKEN_SCALE * 10 * WAD) / price;
        uint256 capSize = marketId == ETH ? 1_500e18 : 60e18;
        if (maxSize > capSize) maxSize = capSize;
        uint256 absSize = _bound(sizeSeed, 1e12, maxSize);
        int256 size = isLong ? int256(absSize) : -int256(absSize);
        uint256 balanceBefore = token.balanceOf(ALICE);
        vm.startPrank(ALICE);
        uint256 id = engine.createCrossAccount();
        engine.deposit(id, amount);
        _trade(id, marketId, size, _acceptable(size));
        _trade(id, marketId, -size, _acceptable(-size));
        uint256 free = engine.maxWithdrawable(id);
        vm.assertLe(free, amount, "can withdraw more than deposited");
        vm.expectRevert();
        engine.withdraw(id, free + 1, ALICE);
        if (free > 0) engine.withdraw(id, free, ALICE);
        vm.stopPrank();
        vm.assertLe(token.balanceOf(ALICE), balanceBefore, "wallet richer after a round trip");
    }

    /// @dev LP deposit request, settled and claimed; cooldown; redeem request of all, settled and claimed: never
    ///      more than deposited (nothing else happened). Dust is refunded at settlement, whole.
    function testFuzz_roundingFavoursProtocol_vaultRoundTrip(uint256 amountSeed) public {
        uint256 amount = _bound(amountSeed, 1, ACTOR_FUNDS);
        uint256 balanceBefore = token.balanceOf(ALICE);
        vm.prank(ALICE);
        vault.requestDeposit(amount, ALICE, ALICE);
        _warp(vault.minDelay());
        vault.settleRequests(1);
        uint256 shares = vault.maxMint(ALICE);
        if (shares == 0) {
            vm.assertEq(token.balanceOf(ALICE), balanceBefore, "dust deposit not refunded");
            return;
        }
        // More than is claimable is refused, whole.
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(ILiquidityVault.ExceedsClaimable.selector, ALICE, shares + 1, shares)
        );
        vault.mint(shares + 1, ALICE);
        vm.prank(ALICE);
        vault.mint(shares, ALICE);
        _warp(3_600);
        vm.prank(ALICE);
        vault.requestRedeem(shares, ALICE, ALICE);
        _warp(vault.minDelay());
        vault.settleRequests(1);
        uint256 assets = vault.maxWithdraw(ALICE);
        if (assets > 0) {
            vm.prank(ALICE);
            vault.withdraw(assets, ALICE, ALICE);
            vm.assertTrue(amount < 1e6 || assets < amount, "no fee charged on a round trip");
        }
        vm.assertLe(token.balanceOf(ALICE), balanceBefore, "LP richer after a round trip");
    }

    /* TRADING ECONOMICS */

    /// @dev The same trade, once whole and once in two same-direction slices, from the same state (snapshots):
    ///      the split never leaves more equity than the whole trade, up to the whole trade's own fill rounding
    ///      (< |delta| / 1e18 wei) and the fee round-ups. Includes trades crossing zero skew (see
    ///      test_splitTradeNeverCheaper_sellerCrossingZeroSkewThroughEngine).
    function testFuzz_splitTradeNeverCheaper(
        int256 skewSeed,
        int256 deltaSeed,
        uint256 splitSeed,
        bool onBtc
    ) public {
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 cap = onBtc ? 40e18 : 1_000e18;
        int256 skew = _boundSigned(skewSeed, cap);
        int256 delta = _boundSigned(deltaSeed, cap);
        vm.assume(delta > 1 || delta < -1);
        int256 d1 = int256(_bound(splitSeed, 1, MarginMath.abs(delta) - 1));
        if (delta < 0) d1 = -d1;

        _withoutFunding(marketId);
        if (skew != 0) _openFunded(BOB, marketId, skew);
        uint256 id = _funded(ALICE, 5_000_000e6);

        uint256 snapshot = vm.snapshotState();
        vm.prank(ALICE);
        _trade(id, marketId, delta, _acceptable(delta));
        int256 wholeEquity = engine.marginSummary(id).equityD18;

        vm.revertToState(snapshot);
        vm.startPrank(ALICE);
        _trade(id, marketId, d1, _acceptable(d1));
        _trade(id, marketId, delta - d1, _acceptable(delta - d1));
        vm.stopPrank();
        int256 splitEquity = engine.marginSummary(id).equityD18;

        int256 tolerance = int256(MarginMath.abs(delta) / WAD) + 4;
        vm.assertLe(splitEquity, wholeEquity + tolerance, "split trade cheaper through the engine");
    }

    /// @dev Regression (see MarginMath.t.sol test_splitTradeNeverCheaper_sellerCrossingZeroSkew): through the
    ///      engine, with skew +1,000 ETH, selling 2,000 ETH as 1,000 + 1,000 used to leave exactly $0.60 more equity
    ///      than selling 2,000 at once (o x a1 / 2S x (a - s) x (taker - maker) = 3000 x 1000 / 2e6 x 1000 x 0.0004).
    function test_splitTradeNeverCheaper_sellerCrossingZeroSkewThroughEngine() public {
        _withoutFunding(ETH);
        _openFunded(BOB, ETH, 1_000e18);
        uint256 id = _funded(ALICE, 5_000_000e6);
        uint256 snapshot = vm.snapshotState();
        vm.prank(ALICE);
        _trade(id, ETH, -2_000e18, 0);
        int256 wholeEquity = engine.marginSummary(id).equityD18;
        vm.revertToState(snapshot);
        vm.startPrank(ALICE);
        _trade(id, ETH, -1_000e18, 0);
        _trade(id, ETH, -1_000e18, 0);
        vm.stopPrank();
        int256 splitEquity = engine.marginSummary(id).equityD18;
        vm.assertLe(splitEquity, wholeEquity + 4, "split sell cheaper through the engine");
    }

    /// @dev Open then close at a fixed oracle price, from any skew: the account's collateral ends below where it
    ///      started (strictly: fees are never zero for these sizes).
    function testFuzz_openCloseNeverProfits(int256 skewSeed, int256 deltaSeed, bool onBtc) public {
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 cap = onBtc ? 40e18 : 1_000e18;
        int256 skew = _boundSigned(skewSeed, cap);
        int256 delta = _boundSigned(deltaSeed, cap);
        vm.assume(delta != 0);
        if (skew != 0) _openFunded(BOB, marketId, skew);
        uint256 id = _funded(ALICE, 5_000_000e6);
        int256 before = _collateral(id);
        vm.startPrank(ALICE);
        (, uint256 openFee) = _trade(id, marketId, delta, _acceptable(delta));
        (, uint256 closeFee) = _trade(id, marketId, -delta, _acceptable(-delta));
        vm.stopPrank();
        vm.assertEq(_size(id, marketId), int256(0), "position left");
        int256 after_ = _collateral(id);
        vm.assertLe(after_, before - int256(openFee + closeFee), "round trip recovered more than its fees");
        if (openFee + closeFee > 0) vm.assertTrue(after_ < before, "no loss despite fees");
    }

    /* FUNDING */

    /// @dev A long and a short of different sizes, time passes (prices kept fresh), both close. Funding is
    ///      zero-sum between the two traders and the vault (the counterparty to the skew):
    ///      - each account's accrued funding from the view is what its close actually settles (exact);
    ///      - their sum is skew x index change (the vault's share), within the checkpoints' 1e-9 USD per unit
    ///        rounding (orders settle one delay apart, so the index is no longer zero at entry);
    ///      - collateral + vault cash + insurance is conserved exactly, and vault cash moves by exactly the
    ///        funding and PnL settled against it plus its share of fees.
    function testFuzz_fundingZeroSum(
        uint256 longSeed,
        uint256 shortSeed,
        uint256 daysSeed,
        bool onBtc
    ) public {
        uint32 marketId = onBtc ? BTC : ETH;
        uint256 cap = onBtc ? 40e18 : 1_000e18;
        int256 longSize = int256(_bound(longSeed, 1e15, cap));
        int256 shortSize = -int256(_bound(shortSeed, 1e15, cap));
        // Both orders settle in the same block, so the rate starts from zero with the whole skew in place.
        uint256 a = _funded(ALICE, 5_000_000e6);
        uint256 b = _funded(BOB, 5_000_000e6);
        vm.prank(ALICE);
        engine.commitOrder(a, marketId, longSize, _acceptable(longSize), type(uint256).max);
        vm.prank(BOB);
        engine.commitOrder(b, marketId, shortSize, _acceptable(shortSize), type(uint256).max);
        uint256 t = vm.getBlockTimestamp() + MIN_DELAY;
        vm.warp(t);
        engine.settleOrder(a, marketId, _priceUpdate(marketId, _price(marketId), t));
        engine.settleOrder(b, marketId, _priceUpdate(marketId, _price(marketId), t));
        (, int256 indexStart) = engine.currentFunding(marketId);
        int256 fundingAStart = engine.marginSummary(a).accruedFundingD18;

        uint256 days_ = _bound(daysSeed, 1, 30);
        for (uint256 i; i < days_; ++i) _warp(1 days);

        (, int256 indexNow) = engine.currentFunding(marketId);
        int256 fundingA = engine.marginSummary(a).accruedFundingD18;
        int256 fundingB = engine.marginSummary(b).accruedFundingD18;
        int256 skewFunding = ((longSize + shortSize) * (indexNow - indexStart)) / SWAD;
        // Checkpoints are stored in 1e-9 USD per unit, rounded against each position: up to size x 1e-9 USD each.
        uint256 checkpointRounding = (uint256(longSize) + uint256(-shortSize)) / 1e9 + 3;
        vm.assertApproxEqAbs(
            fundingA - fundingAStart + fundingB,
            skewFunding,
            checkpointRounding,
            "funding not zero-sum with the vault"
        );
        if (indexNow != indexStart) vm.assertTrue(fundingA != 0 && fundingB != 0, "no funding accrued");
        // The rate drifts with the skew from zero: the heavier side pays, the other receives.
        if (longSize + shortSize > 0)
            vm.assertTrue(fundingA >= 0 && fundingB <= 0, "long skew: longs must pay");
        if (longSize + shortSize < 0)
            vm.assertTrue(fundingA <= 0 && fundingB >= 0, "short skew: shorts must pay");
        _settleBoth(marketId, a, b);
    }

    /// @dev Closes both positions; each settles one order delay after its commit, so the funding it settles is
    ///      what had accrued at its settlement (`Settlement.accrued`), delay included.
    function _settleBoth(uint32 marketId, uint256 a, uint256 b) internal {
        int256 ledgerBefore = _ledger(a, b);
        int256 cashBefore = engine.vaultCash();
        Settlement memory sa = _closeAndImplyFunding(ALICE, a, marketId);
        Settlement memory sb = _closeAndImplyFunding(BOB, b, marketId);
        vm.assertEq(sa.funding, sa.accrued, "long settled other than accrued");
        vm.assertEq(sb.funding, sb.accrued, "short settled other than accrued");
        vm.assertEq(_ledger(a, b), ledgerBefore, "ledger not conserved");
        vm.assertEq(
            engine.vaultCash() - cashBefore,
            sa.funding + sb.funding - sa.realised - sb.realised + _vaultFee(sa.fee) + _vaultFee(sb.fee),
            "vault cash moved by other than funding, PnL and fees"
        );
    }

    struct Settlement {
        int256 funding;
        int256 accrued;
        int256 realised;
        uint256 fee;
    }

    function _ledger(uint256 a, uint256 b) internal view returns (int256) {
        return _collateral(a) + _collateral(b) + engine.vaultCash() + int256(engine.insuranceFund());
    }

    /// @dev The vault's part of a trading fee (insurance takes 20%, rounded down).
    function _vaultFee(uint256 fee) internal pure returns (int256) {
        return int256(fee - MarginMath.mulDown(fee, 0.2e18));
    }

    /* HELPERS */

    function _fuzzSize(uint256 seed, uint32 marketId, bool isLong) internal pure returns (int256) {
        // ETH: 0.1 .. 1,500 (up to $4.5M notional, partial liquidation above $100k); BTC: 0.01 .. 60 (the vault reserves half the notional of 5M of cash).
        uint256 size = marketId == ETH ? _bound(seed, 0.1e18, 1_500e18) : _bound(seed, 0.01e18, 60e18);
        return isLong ? int256(size) : -int256(size);
    }

    function _acceptable(int256 size) internal pure returns (uint256) {
        return size > 0 ? type(uint256).max : 0;
    }

    function _funded(address owner, uint256 amount) internal returns (uint256 id) {
        vm.startPrank(owner);
        id = engine.createCrossAccount();
        engine.deposit(id, amount);
        vm.stopPrank();
    }

    function _openFunded(address owner, uint32 marketId, int256 size) internal returns (uint256 id) {
        id = _funded(owner, 5_000_000e6);
        vm.prank(owner);
        _trade(id, marketId, size, _acceptable(size));
    }

    /// @dev Someone else holds a quarter of the size on the other side, so that the skew is not the account's alone.
    function _skewOtherSide(uint32 marketId, bool isLong) internal {
        int256 other = marketId == ETH ? int256(1_000e18) : int256(50e18);
        _openFunded(CAROL, marketId, isLong ? -other : other);
    }

    /// @dev Deposit plenty, open, then withdraw everything withdrawable: equity ends within a token unit of IM.
    function _openAtInitialMargin(address owner, uint32 marketId, int256 size) internal returns (uint256 id) {
        id = _funded(owner, 5_000_000e6);
        vm.startPrank(owner);
        _trade(id, marketId, size, _acceptable(size));
        uint256 free = engine.maxWithdrawable(id);
        if (free > 0) engine.withdraw(id, free, owner);
        vm.stopPrank();
        IMarginEngine.MarginSummary memory s = engine.marginSummary(id);
        vm.assertGe(s.equityD18, int256(s.initialMarginD18), "below IM after withdrawing");
        vm.assertLe(s.equityD18, int256(s.initialMarginD18 + TOKEN_SCALE), "more than a unit above IM");
    }

    /// @dev As `_openAtInitialMargin`, for an isolated account funded from the wallet.
    function _openIsolatedAtInitialMargin(
        address owner,
        uint32 marketId,
        int256 size
    ) internal returns (uint256 id) {
        vm.startPrank(owner);
        id = _openIsolated(marketId, 0, 5_000_000e6, size, _acceptable(size));
        uint256 free = engine.maxWithdrawable(id);
        if (free > 0) engine.withdraw(id, free, owner);
        vm.stopPrank();
    }

    /// @dev Binary search over 8-decimal feed answers for the first answer (from the current price, in the
    ///      losing direction) at which the account is liquidatable, and sets it.
    function _moveToLiquidationBoundary(uint256 id, uint32 marketId, bool isLong) internal {
        uint256 current = _price(marketId) / FEED_SCALE;
        uint256 healthy = current;
        uint256 liquidatable = isLong ? 1 : current * 3;
        _aggregator(marketId).setAnswer(int256(liquidatable));
        vm.assertTrue(engine.isLiquidatable(id), "search bound not liquidatable");
        while (healthy > liquidatable ? healthy - liquidatable > 1 : liquidatable - healthy > 1) {
            uint256 mid = (healthy + liquidatable) / 2;
            _aggregator(marketId).setAnswer(int256(mid));
            if (engine.isLiquidatable(id)) liquidatable = mid;
            else healthy = mid;
        }
        _aggregator(marketId).setAnswer(int256(liquidatable));
    }

    /// @dev Fully closes the account's position and returns the funding the close settled, implied from the
    ///      collateral change: Δcollateral = realised - funding - fee, realised as EngineBase._rebase computes it.
    function _closeAndImplyFunding(
        address owner,
        uint256 id,
        uint32 marketId
    ) internal returns (Settlement memory st) {
        IMarginEngine.PositionInfo memory p = engine.getPositions(id)[0];
        IMarginEngine.TradeQuote memory q = engine.quoteTrade(marketId, -p.sizeD18);
        int256 before = _collateral(id);
        vm.prank(owner);
        engine.commitOrder(id, marketId, -p.sizeD18, _acceptable(-p.sizeD18), type(uint256).max);
        uint256 t = vm.getBlockTimestamp() + MIN_DELAY;
        vm.warp(t);
        st.accrued = engine.marginSummary(id).accruedFundingD18;
        (uint256 fill, uint256 charged) = engine.settleOrder(
            id,
            marketId,
            _priceUpdate(marketId, _price(marketId), t)
        );
        vm.assertEq(fill, q.fillPriceD18, "fill differs from quote");
        vm.assertEq(charged, q.feeD18, "fee differs from quote");
        st.fee = charged;
        st.realised = MarginMath.divFloor(p.sizeD18 * int256(fill), SWAD) - p.basisD18;
        st.funding = st.realised - int256(charged) - (_collateral(id) - before);
    }
}
