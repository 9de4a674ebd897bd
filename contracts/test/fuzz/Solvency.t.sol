// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {ILiquidation} from "../../interfaces/ILiquidation.sol";
import {BulkheadFixture} from "./BulkheadFixture.sol";

/// @notice Properties of the solvency rules (issue 8, DESIGN.md section Liquidation), fuzzed through the real engine:
///         - S-2 closing through liquidation never returns more to owner and keeper together than closing the same
///           size by trade, at any size, skew, market depth and distance past the boundary;
///         - S-1 a realised loss always reaches the vault, whatever its cash, and the insurance fund never pays more
///           than the profit a trader is owed beyond the vault's cash.
contract SolvencyFuzzTest is BulkheadFixture {
    uint256 internal constant THIN_SKEW_SCALE = 1_000e18;

    function setUp() public {
        _deployBulkhead();
    }

    /// @dev S-2. An isolated position opened at 110% of its initial margin next to a random skew from another
    ///      account, on the normal or a thin market, with the price moved 0.01-20% past its liquidation boundary.
    ///      The same close executed by trade (from a snapshot) and by liquidation from a second wallet: equity left
    ///      plus the reward the keeper took never exceeds the equity left by the trade.
    function testFuzz_liquidationNeverBeatsTradeClose(
        uint256 sizeSeed,
        bool isLong,
        int256 skewSeed,
        uint256 beyondSeed,
        bool thin
    ) public {
        uint256 skewScale = 1_000_000e18;
        if (thin) {
            skewScale = THIN_SKEW_SCALE;
            IMarginEngine.MarketParams memory p = _marketParams(ethFeed, ethPull, uint128(THIN_SKEW_SCALE));
            engine.setMarketParams(ETH, p);
        }
        // At most 1,000 ETH of skew and 800 ETH of position: the reserve stays within the vault's 5M.
        uint256 maxOi = skewScale / 10 < 2_000e18 ? skewScale / 10 : 2_000e18;
        int256 otherSkew = _boundSigned(skewSeed, maxOi / 2);
        if (otherSkew != 0) {
            uint256 bob = _funded(BOB, 5_000_000e6);
            vm.prank(BOB);
            _trade(bob, ETH, otherSkew, _acceptable(otherSkew));
        }
        int256 size = int256(_bound(sizeSeed, 1e15, (maxOi * 2) / 5));
        if (!isLong) size = -size;
        uint256 id = _openIsolatedAt110(size);

        uint256 boundary = engine.liquidationPrice(id, ETH);
        uint256 beyondBps = _bound(beyondSeed, 1, 2_000);
        uint256 price = isLong
            ? (boundary * (10_000 - beyondBps)) / 10_000
            : (boundary * (10_000 + beyondBps)) / 10_000;
        vm.assume(price > 1e16);
        _setPrice(ETH, price);
        vm.assume(engine.isLiquidatable(id));

        ILiquidation.LiquidationQuote memory q = engine.quoteLiquidation(id);
        int256 closeSize = _fractionOf(size, q.closeFractionD18);

        uint256 snapshot = vm.snapshotState();
        vm.prank(ALICE);
        (bool ok, ) = _tryTrade(id, ETH, -closeSize, _acceptable(-closeSize));
        if (ok) {
            int256 byTrade = engine.marginSummary(id).equityD18;
            vm.revertToState(snapshot);
            // Liquidate at the moment the close order settled, so funding is the same.
            vm.warp(vm.getBlockTimestamp() + MIN_DELAY);
            vm.prank(CAROL);
            uint256 reward = engine.liquidate(id, CAROL);
            int256 byLiquidation = engine.marginSummary(id).equityD18 + int256(reward);
            // The one allowance: a keeper is always paid the flat reward, even by an account whose equity a gap
            // carried below it (the excess is bad debt the insurance fund covers).
            int256 bound = byTrade > FLAT_REWARD ? byTrade : FLAT_REWARD;
            vm.assertLe(byLiquidation, bound, "liquidation returned more than a trade close");
        } else {
            // A trade close that would leave negative equity is refused: the account is past insolvency and
            // liquidation's bad-debt path applies; there is no trade outcome to compare with.
            vm.revertToState(snapshot);
        }
    }

    /// @dev The deep profile's counterexample before the cap: a 0.4 ETH isolated short on a thin market, the price
    ///      20% past its boundary, equity 4.36 USD against a full reward of 8.08 USD. The keeper now gets the flat
    ///      5 USD and the owner nothing; a trade close would have left 4.12 USD.
    function test_gappedDustAccountPaysOnlyTheFlatReward() public {
        testFuzz_liquidationNeverBeatsTradeClose(
            394780757602169505,
            false,
            -1956923127421189,
            95051287080231,
            true
        );
    }

    /// @dev S-1, losses. Vault cash is driven below zero (a profit the vault cannot pay, then a bankrupt account
    ///      whose liquidation charge is socialised), the insurance fund is topped up, then a long opened at 3000 is
    ///      reduced by a random amount at a random lower price: the insurance fund gains exactly the fee share, the
    ///      vault gets the loss, and the trader's collateral falls.
    function testFuzz_realisedLossNeverCredited(uint256 reduceSeed, uint256 priceSeed) public {
        uint256 carol = _negativeVaultCash();
        uint256 price = _bound(priceSeed, 1_000e18, 2_900e18);
        _setPrice(ETH, price);
        int256 size = _size(carol, ETH);
        int256 reduce = -int256(_bound(reduceSeed, 1e12, uint256(size)));
        IMarginEngine.TradeQuote memory q = engine.quoteTrade(ETH, reduce);

        uint256 insurance = engine.insuranceFund();
        int256 cash = engine.vaultCash();
        int256 collateral = _collateral(carol);
        vm.prank(CAROL);
        _trade(carol, ETH, reduce, 0);

        uint256 feeToInsurance = (q.feeD18 * 0.2e18) / WAD;
        vm.assertEq(
            engine.insuranceFund(),
            insurance + feeToInsurance,
            "insurance changed beyond its fee share"
        );
        int256 collateralDelta = _collateral(carol) - collateral;
        vm.assertTrue(collateralDelta < -int256(q.feeD18), "a loss was not charged");
        // What the account lost (beyond the fee) is exactly what the vault gained (beyond its fee share).
        vm.assertEq(
            engine.vaultCash() - cash,
            -collateralDelta - int256(feeToInsurance),
            "loss did not reach the vault"
        );
    }

    /// @dev S-1, profits. From the same state, a position in profit is closed at a random higher price: the
    ///      insurance fund pays at most what the trader is credited beyond the vault's cash, and the trader is never
    ///      credited more than the close realises.
    function testFuzz_insurancePaysAtMostTheShortfall(uint256 priceSeed) public {
        uint256 carol = _negativeVaultCash();
        uint256 price = _bound(priceSeed, 3_100e18, 9_000e18);
        _setPrice(ETH, price);
        int256 size = _size(carol, ETH);
        int256 owedAtExit = engine.marginSummary(carol).unrealisedPnlD18 -
            engine.marginSummary(carol).accruedFundingD18;
        IMarginEngine.TradeQuote memory q = engine.quoteTrade(ETH, -size);

        uint256 insurance = engine.insuranceFund();
        int256 collateral = _collateral(carol);
        vm.prank(CAROL);
        _trade(carol, ETH, -size, 0);

        int256 credited = _collateral(carol) - collateral + int256(q.feeD18);
        vm.assertLe(credited, owedAtExit, "credited more than the close realised");
        uint256 feeToInsurance = (q.feeD18 * 0.2e18) / WAD;
        uint256 paid = insurance + feeToInsurance - engine.insuranceFund();
        vm.assertLe(int256(paid), credited, "insurance paid more than the trader received");
        vm.assertTrue(engine.vaultCash() >= -1_000e18, "vault cash fell beyond its deficit");
    }

    /* HELPERS */

    /// @dev Vault cash below zero by the keeper reward of a bankrupt account; CAROL long 0.05 ETH from 3000;
    ///      insurance topped up to 50,000. Returns CAROL's account.
    function _negativeVaultCash() internal returns (uint256 carol) {
        uint256 alice = _funded(ALICE, 400_000e6);
        vm.prank(ALICE);
        _trade(alice, ETH, 3_000e18, type(uint256).max); // reserves 4.5M of the vault's 5M
        uint256 bob = _funded(BOB, 1_000e6);
        vm.prank(BOB);
        _trade(bob, ETH, 10e18, type(uint256).max);
        carol = _funded(CAROL, 5_000e6);
        vm.prank(CAROL);
        _trade(carol, ETH, 0.05e18, type(uint256).max);

        _setPrice(ETH, 5_000e18);
        uint256 free = engine.maxWithdrawable(bob);
        vm.prank(BOB);
        engine.withdraw(bob, free, BOB);
        vm.prank(ALICE);
        _trade(alice, ETH, -3_000e18, 0); // a 6M profit beyond the vault's cash: cash and insurance to 0
        vm.assertEq(engine.vaultCash(), 0, "cash not drained");
        _setPrice(ETH, 2_000e18);
        vm.prank(KEEPER);
        engine.liquidate(bob, KEEPER);
        vm.assertTrue(engine.vaultCash() < 0, "cash not negative");
        vm.prank(KEEPER);
        engine.fundInsurance(50_000e6);
    }

    function _openIsolatedAt110(int256 size) internal returns (uint256 id) {
        uint256 notional = (uint256(size > 0 ? size : -size) * ETH_PRICE) / WAD;
        uint256 imr = 0.02e18 + (uint256(size > 0 ? size : -size) * WAD) / _skewScale();
        if (imr > 0.5e18) imr = 0.5e18;
        uint256 im = (notional * imr) / WAD + 20e18;
        uint256 margin = (im * 11) / 10 / TOKEN_SCALE + 1;
        vm.prank(ALICE);
        id = _openIsolated(ETH, 0, margin, size, _acceptable(size));
    }

    function _skewScale() internal view returns (uint256) {
        return engine.getMarketParams(ETH).skewScaleD18;
    }

    function _fractionOf(int256 size, uint256 fraction) internal pure returns (int256) {
        if (fraction >= WAD) return size;
        uint256 a = uint256(size > 0 ? size : -size);
        uint256 closed = (a * fraction + WAD - 1) / WAD;
        if (closed > a) closed = a;
        return size > 0 ? int256(closed) : -int256(closed);
    }

    function _funded(address owner, uint256 amount) internal returns (uint256 id) {
        vm.startPrank(owner);
        id = engine.createCrossAccount();
        engine.deposit(id, amount);
        vm.stopPrank();
    }

    function _acceptable(int256 size) internal pure returns (uint256) {
        return size > 0 ? type(uint256).max : 0;
    }
}
