// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MarginMath} from "../../libraries/MarginMath.sol";
import {Vm, VM_ADDRESS} from "../utils/Vm.sol";

/// @notice Fuzzes the rounding direction of every MarginMath formula against the exact rational value, computed by
///         cross-multiplication on inputs bounded so that no product overflows. Each check is tight: the rounded
///         result is the closest integer on the protocol's side, not merely "somewhere on the right side".
contract MarginMathFuzzTest {
    // solhint-disable-next-line const-name-snakecase
    Vm private constant vm = Vm(VM_ADDRESS);

    uint256 private constant WAD = 1e18;
    int256 private constant SWAD = 1e18;

    /* FIXED-POINT HELPERS */

    function testFuzz_mulUpAndMulDownBracketTheExactProduct(uint256 a, uint256 b) public pure {
        a = _bound(a, 0, 2 ** 120);
        b = _bound(b, 0, 2 ** 120);
        uint256 up = MarginMath.mulUp(a, b);
        uint256 down = MarginMath.mulDown(a, b);
        // down <= a*b/WAD <= up, and each is the nearest integer on its side.
        vm.assertLe(down * WAD, a * b, "mulDown above exact");
        vm.assertGe(up * WAD, a * b, "mulUp below exact");
        vm.assertTrue((down + 1) * WAD > a * b, "mulDown not tight");
        vm.assertTrue(up == 0 || (up - 1) * WAD < a * b, "mulUp not tight");
        vm.assertLe(up - down, 1, "more than one wei apart");
    }

    function testFuzz_ceilDivIsTheCeiling(uint256 a, uint256 b) public pure {
        a = _bound(a, 0, 2 ** 150);
        b = _bound(b, 1, 2 ** 100);
        uint256 c = MarginMath.ceilDiv(a, b);
        vm.assertGe(c * b, a, "ceilDiv below the quotient");
        vm.assertTrue(c == 0 || (c - 1) * b < a, "ceilDiv not tight");
        // Exact quotients (the boundary a rounding slip shows at) and zero.
        vm.assertEq(MarginMath.ceilDiv(a * b, b), a, "exact quotient moved");
        vm.assertEq(MarginMath.ceilDiv(0, b), 0, "zero is not zero");
    }

    function testFuzz_divFloorAndDivCeilBracketTheQuotient(int256 a, uint256 bSeed) public pure {
        a = _boundSigned(a, 2 ** 200);
        int256 b = int256(_bound(bSeed, 1, 2 ** 50));
        int256 f = MarginMath.divFloor(a, b);
        int256 c = MarginMath.divCeil(a, b);
        vm.assertTrue(f * b <= a && a < (f + 1) * b, "divFloor is not floor");
        vm.assertTrue((c - 1) * b < a && a <= c * b, "divCeil is not ceil");
        vm.assertTrue(c - f == (a % b == 0 ? int256(0) : int256(1)), "floor/ceil gap");
    }

    /* MARGIN */

    function testFuzz_notionalRoundsUp(int256 size, uint256 price) public pure {
        size = _boundSigned(size, 1e33);
        price = _bound(price, 1, 1e30);
        uint256 n = MarginMath.notional(size, price);
        uint256 exact = MarginMath.abs(size) * price;
        vm.assertGe(n * WAD, exact, "notional below exact");
        vm.assertTrue(n == 0 || (n - 1) * WAD < exact, "notional not tight");
    }

    function testFuzz_imrSizeTermRoundsUpAndIsClamped(
        int256 size,
        uint256 baseImr,
        uint256 maxImr,
        uint256 slope,
        uint256 skewScale
    ) public pure {
        size = _boundSigned(size, 1e33);
        baseImr = _bound(baseImr, 0.005e18, 1e18);
        maxImr = _bound(maxImr, baseImr, 1e18);
        slope = _bound(slope, 0, 10e18);
        skewScale = _bound(skewScale, 1, 1e36);
        uint256 r = MarginMath.imr(size, baseImr, maxImr, slope, skewScale);
        vm.assertGe(r, baseImr, "below base");
        vm.assertLe(r, maxImr, "above max");
        if (r < maxImr) {
            // Unclamped: r - base = ceil(|size| x slope / skewScale).
            uint256 exact = MarginMath.abs(size) * slope;
            uint256 term = r - baseImr;
            vm.assertGe(term * skewScale, exact, "size term below exact");
            vm.assertTrue(term == 0 || (term - 1) * skewScale < exact, "size term not tight");
        }
    }

    function testFuzz_initialMarginRoundsUp(uint256 notional, uint256 ratio, uint256 minMargin) public pure {
        notional = _bound(notional, 0, 1e33);
        ratio = _bound(ratio, 0, 1e18);
        minMargin = _bound(minMargin, 0, 1e24);
        uint256 im = MarginMath.initialMargin(notional, ratio, minMargin);
        vm.assertGe(im, minMargin, "below minimum margin");
        uint256 v = im - minMargin;
        vm.assertGe(v * WAD, notional * ratio, "IM below exact");
        vm.assertTrue(v == 0 || (v - 1) * WAD < notional * ratio, "IM not tight");
    }

    function testFuzz_maintenanceMarginRoundsUp(
        uint256 notional,
        uint256 ratio,
        uint256 mmScalar,
        uint256 minMargin
    ) public pure {
        notional = _bound(notional, 0, 1e33);
        ratio = _bound(ratio, 0, 1e18);
        mmScalar = _bound(mmScalar, 0.1e18, 0.9e18);
        minMargin = _bound(minMargin, 0, 1e24);
        uint256 mm = MarginMath.maintenanceMargin(notional, ratio, mmScalar, minMargin);
        uint256 v = mm - minMargin;
        uint256 exact = notional * ratio * mmScalar; // scale WAD^2
        vm.assertGe(v * WAD * WAD, exact, "MM below exact");
        // Two round-ups: at most 2 wei above the exact value (1 from the inner product, scaled by mmScalar < 1).
        vm.assertTrue(v < 2 || (v - 2) * WAD * WAD < exact, "MM more than 2 wei above exact");
        // Never above IM (mmScalar < 1).
        vm.assertLe(mm, MarginMath.initialMargin(notional, ratio, minMargin), "MM above IM");
    }

    function testFuzz_unrealisedPnlRoundsDown(int256 size, uint256 price, int256 basis) public pure {
        size = _boundSigned(size, 1e33);
        price = _bound(price, 1, 1e30);
        basis = _boundSigned(basis, 1e45);
        int256 u = MarginMath.unrealisedPnl(size, price, basis);
        int256 exact = size * int256(price); // (u + basis) x WAD should be floor of this
        vm.assertTrue((u + basis) * SWAD <= exact, "PnL above exact");
        vm.assertTrue(exact < (u + basis + 1) * SWAD, "PnL not tight");
    }

    function testFuzz_fundingOwedRoundsUp(int256 size, int256 index, int256 lastIndex) public pure {
        size = _boundSigned(size, 1e33);
        index = _boundSigned(index, 1e30);
        lastIndex = _boundSigned(lastIndex, 1e30);
        int256 f = MarginMath.fundingOwed(size, index, lastIndex);
        int256 exact = size * (index - lastIndex);
        vm.assertTrue(f * SWAD >= exact, "funding owed below exact");
        vm.assertTrue((f - 1) * SWAD < exact, "funding owed not tight");
    }

    /* PRICE IMPACT AND FEES */

    /// @dev exact fill = oracle x (2 skewScale + 2 skew + delta) / (2 skewScale).
    function testFuzz_fillPriceIsWorseSideForTrader(
        uint256 oracle,
        int256 skew,
        int256 delta,
        uint256 skewScale
    ) public pure {
        oracle = _bound(oracle, 1, 1e30);
        skewScale = _bound(skewScale, 1e18, 1e30);
        skew = _boundSigned(skew, skewScale / 2);
        delta = _boundSigned(delta, skewScale / 2);
        vm.assume(delta != 0);
        uint256 fill = MarginMath.fillPrice(oracle, skew, delta, skewScale);
        int256 den = 2 * int256(skewScale);
        int256 exactNum = int256(oracle) * (den + 2 * skew + delta);
        // |2 skew + delta| <= 1.5 skewScale: the impact never reaches -100%, so fill > 0 unless oracle is tiny.
        int256 scaled = int256(fill) * den;
        if (delta > 0) {
            vm.assertTrue(scaled >= exactNum, "buyer's fill below exact");
            vm.assertTrue(scaled - den < exactNum, "buyer's fill not tight");
        } else if (fill > 0) {
            vm.assertTrue(scaled <= exactNum, "seller's fill above exact");
            vm.assertTrue(scaled + den > exactNum, "seller's fill not tight");
        } else {
            vm.assertTrue(exactNum < den, "seller got 0 for a positive exact price");
        }
    }

    /// @dev Given each segment's fill (skew -> 0 at the maker rate, then onwards at the taker rate), the fee is
    ///      never below the exact product and at most a few wei above it.
    function testFuzz_tradingFeeRoundsUp(
        int256 skew,
        int256 delta,
        uint256 oracle,
        uint256 makerFee,
        uint256 takerFee
    ) public pure {
        uint256 skewScale = 1_000_000e18;
        skew = _boundSigned(skew, 1e23);
        delta = _boundSigned(delta, 1e23);
        oracle = _bound(oracle, 1e14, 1e24);
        makerFee = _bound(makerFee, 0, 0.01e18);
        takerFee = _bound(takerFee, 0, 0.01e18);
        uint256 fee = MarginMath.tradingFee(oracle, skew, delta, skewScale, makerFee, takerFee);
        int256 makerDelta;
        if ((skew > 0 && delta < 0) || (skew < 0 && delta > 0)) {
            makerDelta = MarginMath.abs(delta) < MarginMath.abs(skew) ? delta : -skew;
        }
        int256 takerDelta = delta - makerDelta;
        uint256 makerFill = MarginMath.fillPrice(oracle, skew, makerDelta, skewScale);
        uint256 takerFill = MarginMath.fillPrice(oracle, skew + makerDelta, takerDelta, skewScale);
        uint256 exact = MarginMath.abs(makerDelta) * makerFill * makerFee +
            MarginMath.abs(takerDelta) * takerFill * takerFee; // scale WAD^2
        vm.assertGe(fee * WAD * WAD, exact, "fee below exact");
        // Four round-ups: each part is < 1.01 wei above exact (rates <= 1%, so the inner one adds < 0.01 wei).
        vm.assertTrue(fee < 3 || (fee - 3) * WAD * WAD < exact, "fee more than 3 wei above exact");
    }

    /* ECONOMIC PROPERTIES OF THE FORMULAS */

    /// @dev Cost to the trader of a trade of `delta` from skew `skew` at a fixed oracle price: what its fill and fee
    ///      take from equity, measured at the oracle price, as the engine books it (basis rounds up for an open).
    ///      cost = ceil(delta x fill) - floor(delta x oracle) + fee, in D18.
    function _openCost(
        uint256 oracle,
        int256 skew,
        int256 delta,
        uint256 skewScale,
        uint256 makerFee,
        uint256 takerFee
    ) private pure returns (int256 cost, uint256 fill) {
        fill = MarginMath.fillPrice(oracle, skew, delta, skewScale);
        uint256 fee = MarginMath.tradingFee(oracle, skew, delta, skewScale, makerFee, takerFee);
        cost =
            MarginMath.divCeil(delta * int256(fill), SWAD) -
            MarginMath.divFloor(delta * int256(oracle), SWAD) +
            int256(fee);
    }

    /// @dev Impact is quadratic in the skew path, so two halves cost exactly what the whole does before rounding;
    ///      with maker <= taker the maker/taker split can only cost the splitter more. The only way a split can be
    ///      cheaper is the whole trade's own fill-price rounding (< 1 wei of price, i.e. < |delta| / 1e18 wei of
    ///      D18 value) plus the fee's final round-up; the tolerance is exactly that.
    function testFuzz_splitTradeNeverCheaper(
        uint256 oracle,
        int256 skew,
        int256 delta,
        uint256 splitSeed,
        uint256 makerFee,
        uint256 takerFee
    ) public pure {
        oracle = _bound(oracle, 1e14, 1e24); // $0.0001 .. $1M
        uint256 skewScale = 1_000_000e18;
        skew = _boundSigned(skew, 100_000e18);
        delta = _boundSigned(delta, 100_000e18);
        vm.assume(delta > 1 || delta < -1);
        takerFee = _bound(takerFee, 0, 0.01e18);
        makerFee = _bound(makerFee, 0, 0.01e18);
        int256 d1 = int256(_bound(splitSeed, 1, MarginMath.abs(delta) - 1));
        if (delta < 0) d1 = -d1;
        int256 d2 = delta - d1;

        (int256 whole, ) = _openCost(oracle, skew, delta, skewScale, makerFee, takerFee);
        (int256 first, ) = _openCost(oracle, skew, d1, skewScale, makerFee, takerFee);
        (int256 second, ) = _openCost(oracle, skew + d1, d2, skewScale, makerFee, takerFee);
        int256 tolerance = int256(MarginMath.abs(delta) / WAD) + 3;
        vm.assertGe(first + second, whole - tolerance, "split trade cheaper than whole");
    }

    /// @dev Regression: a sell crossing from positive to negative skew used to pay the maker rate on the
    ///      skew-reducing part at the whole trade's average fill, so splitting it saved
    ///      o x a1 / (2 S) x (a - s) x (taker - maker): here (ETH at 3000, skewScale 1M, skew +50k, sell 100k as
    ///      50k + 50k, maker 2 bps, taker 6 bps) $1,500. Fees are now priced per segment.
    function test_splitTradeNeverCheaper_sellerCrossingZeroSkew() public pure {
        uint256 oracle = 3_000e18;
        uint256 skewScale = 1_000_000e18;
        int256 skew = 50_000e18;
        int256 delta = -100_000e18;
        int256 d1 = -50_000e18;
        (int256 whole, ) = _openCost(oracle, skew, delta, skewScale, 0.0002e18, 0.0006e18);
        (int256 first, ) = _openCost(oracle, skew, d1, skewScale, 0.0002e18, 0.0006e18);
        (int256 second, ) = _openCost(oracle, skew + d1, delta - d1, skewScale, 0.0002e18, 0.0006e18);
        vm.assertGe(first + second, whole - 3, "split sell cheaper than whole");
    }

    /// @dev Opening delta then closing it at the same oracle price: the impact paid on open equals the impact
    ///      earned on close before rounding, and both fills round against the trader, so realised PnL <= 0 and
    ///      the fees make it a strict loss whenever a fee is charged. Mirrors EngineBase._rebase.
    function testFuzz_openThenCloseNeverProfits(
        uint256 oracle,
        int256 skew,
        int256 delta,
        uint256 makerFee,
        uint256 takerFee
    ) public pure {
        oracle = _bound(oracle, 1e14, 1e24);
        uint256 skewScale = _bound(uint256(keccak256(abi.encode(oracle))), 1_000e18, 10_000_000e18);
        skew = _boundSigned(skew, skewScale / 4);
        delta = _boundSigned(delta, skewScale / 4);
        vm.assume(delta != 0);
        takerFee = _bound(takerFee, 0, 0.01e18);
        makerFee = _bound(makerFee, 0, 0.01e18);

        uint256 openFill = MarginMath.fillPrice(oracle, skew, delta, skewScale);
        uint256 openFee = MarginMath.tradingFee(oracle, skew, delta, skewScale, makerFee, takerFee);
        int256 basis = MarginMath.divCeil(delta * int256(openFill), SWAD);

        uint256 closeFill = MarginMath.fillPrice(oracle, skew + delta, -delta, skewScale);
        uint256 closeFee = MarginMath.tradingFee(oracle, skew + delta, -delta, skewScale, makerFee, takerFee);
        int256 realised = MarginMath.divFloor(delta * int256(closeFill), SWAD) - basis;

        vm.assertLe(realised, int256(0), "round trip realised a profit");
        int256 net = realised - int256(openFee) - int256(closeFee);
        vm.assertLe(net, int256(0), "round trip profitable");
        if (openFee + closeFee > 0) vm.assertTrue(net < 0, "fee charged but no loss");
    }

    /* HELPERS */

    function _bound(uint256 x, uint256 min, uint256 max) private pure returns (uint256) {
        if (max == type(uint256).max && min == 0) return x;
        return min + (x % (max - min + 1));
    }

    /// @dev Maps x into [-limit, limit].
    function _boundSigned(int256 x, uint256 limit) private pure returns (int256) {
        uint256 u = uint256(keccak256(abi.encode(x))) % (2 * limit + 1);
        // Keep small and boundary values reachable: use x itself when already in range.
        if (x >= -int256(limit) && x <= int256(limit)) return x;
        return int256(u) - int256(limit);
    }
}
