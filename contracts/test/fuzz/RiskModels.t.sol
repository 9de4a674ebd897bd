// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PortfolioRisk} from "../../libraries/PortfolioRisk.sol";
import {IPriceFeed} from "../../interfaces/IPriceFeed.sol";
import {VolatilityOracle} from "../../risk/VolatilityOracle.sol";
import {Vm, VM_ADDRESS} from "../utils/Vm.sol";

/// @notice Properties of the portfolio risk model and the volatility oracle over fuzzed inputs:
///         - a single position never needs less than its standalone (cross) margin, and IM >= MM;
///         - diversification never costs: a two-position portfolio needs at most what the two need apart (up to
///           the few wei each rounding adds);
///         - a volatility sample keeps the IM multiplier in [1, cap], moves it at most at its hourly rates, and MM
///           never exceeds IM.
contract RiskModelsFuzzTest {
    // solhint-disable-next-line const-name-snakecase
    Vm private constant vm = Vm(VM_ADDRESS);

    uint256 private constant WAD = 1e18;

    VolatilityOracle private oracle;

    function setUp() public {
        oracle = new VolatilityOracle(address(this), address(this));
    }

    /* PORTFOLIO RISK */

    function testFuzz_singlePositionNeverBelowItsStandaloneMargin(
        int256 notional,
        int256 beta0,
        int256 beta1,
        uint256 idio,
        uint256 mm,
        uint256 depth
    ) public pure {
        PortfolioRisk.Leg[] memory legs = new PortfolioRisk.Leg[](1);
        legs[0] = _leg(notional, beta0, beta1, idio, mm, depth);
        PortfolioRisk.Requirement memory r = PortfolioRisk.requirement(_model(), legs);
        vm.assertGe(r.mmD18, legs[0].standaloneMmD18 + legs[0].addOnD18, "RISK_A: MM below the cross MM");
        vm.assertGe(r.imD18, legs[0].standaloneImD18 + legs[0].addOnD18, "RISK_A: IM below the cross IM");
        vm.assertGe(r.imD18, r.mmD18, "RISK_A: IM below MM");
    }

    function testFuzz_diversificationNeverCosts(
        int256[2] memory notionals,
        int256[2] memory betas0,
        int256[2] memory betas1,
        uint256[2] memory idios,
        uint256[2] memory mms
    ) public pure {
        PortfolioRisk.Model memory m = _model();
        PortfolioRisk.Leg[] memory both = new PortfolioRisk.Leg[](2);
        PortfolioRisk.Leg[] memory first = new PortfolioRisk.Leg[](1);
        PortfolioRisk.Leg[] memory second = new PortfolioRisk.Leg[](1);
        for (uint256 i; i < 2; ++i) {
            both[i] = _leg(notionals[i], betas0[i], betas1[i], idios[i], mms[i], 0);
        }
        first[0] = both[0];
        second[0] = both[1];
        PortfolioRisk.Requirement memory together = PortfolioRisk.requirement(m, both);
        PortfolioRisk.Requirement memory a = PortfolioRisk.requirement(m, first);
        PortfolioRisk.Requirement memory b = PortfolioRisk.requirement(m, second);
        // sqrt is subadditive and the stress loss of a sum is at most the sum of the losses; each side rounds up by a
        // few wei (the square root, the product with z, the factor terms), hence the slack.
        vm.assertLe(together.varD18, a.varD18 + b.varD18 + 16, "RISK_B: VaR is not subadditive");
        vm.assertLe(together.stressD18, a.stressD18 + b.stressD18 + 2, "RISK_B: stress is not subadditive");
        vm.assertLe(together.mmD18, a.mmD18 + b.mmD18 + 16, "RISK_B: a portfolio costs more than its parts");
    }

    /* VOLATILITY ORACLE */

    function testFuzz_multiplierStaysInBoundsAndMovesAtBoundedRates(
        uint256 priceSeed,
        uint256 lastPriceSeed,
        uint256 varianceSeed,
        uint256 imSeed,
        uint256 previousSeed,
        uint256 elapsedSeed
    ) public view {
        VolatilityOracle.Params memory p = VolatilityOracle.Params({
            feed: IPriceFeed(address(1)),
            interval: 3600,
            lambdaD18: 0.9e18,
            winsorD18: 4e18,
            baseVolD18: 0.01e18,
            capD18: 3e18,
            risePerHourD18: 0.25e18,
            fallPerHourD18: 0.05e18
        });
        uint256 im = _bound(imSeed, WAD, p.capD18);
        VolatilityOracle.State memory s = VolatilityOracle.State({
            lastPrice: uint128(_bound(lastPriceSeed, 1e12, 1e30)),
            lastSample: 1_000_000,
            varianceD18: uint128(_bound(varianceSeed, 1e10, 1e18)),
            imMultiplierD18: uint64(im),
            previousImMultiplierD18: uint64(_bound(previousSeed, WAD, p.capD18))
        });
        uint256 elapsed = _bound(elapsedSeed, 3600, 30 days);
        uint256 price = _bound(priceSeed, uint256(s.lastPrice) / 2, uint256(s.lastPrice) * 2);
        (VolatilityOracle.State memory n, , uint256 target) = oracle.sample(
            p,
            s,
            price,
            s.lastSample + elapsed
        );
        uint256 next = n.imMultiplierD18;
        vm.assertGe(next, WAD, "VOL_A: IM multiplier below 1");
        vm.assertLe(next, p.capD18, "VOL_A: IM multiplier above the cap");
        vm.assertLe(next, im + (p.risePerHourD18 * elapsed) / 3600, "VOL_A: rose faster than risePerHour");
        vm.assertGe(next + (p.fallPerHourD18 * elapsed) / 3600, im, "VOL_A: fell faster than fallPerHour");
        vm.assertTrue(
            next == target || (next > im ? next < target : next > target),
            "VOL_A: moved past its target"
        );
        vm.assertLe(_min(n.imMultiplierD18, n.previousImMultiplierD18), next, "VOL_A: MM above IM");
        vm.assertEq(n.previousImMultiplierD18, im, "VOL_A: the lag copy is not the previous IM");
    }

    /* HELPERS */

    /// @dev Two factors (crypto 0.9%, rotation 0.3% per hour, independent), two scenarios, z 3.5, floor 50%, IM 1.5x.
    function _model() private pure returns (PortfolioRisk.Model memory m) {
        m.factors = 2;
        m.cholesky = new int256[](4);
        m.cholesky[0] = 0.009e18;
        m.cholesky[3] = 0.003e18;
        m.scenarios = new int256[](4);
        m.scenarios[0] = -0.08e18;
        m.scenarios[2] = 0.01e18;
        m.scenarios[3] = -0.01e18;
        m.zD18 = 3.5e18;
        m.floorD18 = 0.5e18;
        m.imScalarD18 = 1.5e18;
    }

    function _leg(
        int256 notional,
        int256 beta0,
        int256 beta1,
        uint256 idio,
        uint256 mm,
        uint256 depth
    ) private pure returns (PortfolioRisk.Leg memory leg) {
        leg.notionalD18 = _boundSigned(notional, 1e31);
        leg.loadingsD18 = new int256[](2);
        leg.loadingsD18[0] = _boundSigned(beta0, 5e18);
        leg.loadingsD18[1] = _boundSigned(beta1, 5e18);
        leg.idioVolD18 = _bound(idio, 0, 1e18);
        leg.standaloneMmD18 = _bound(mm, 0, 1e30);
        leg.standaloneImD18 = leg.standaloneMmD18 * 2;
        leg.addOnD18 = PortfolioRisk.sizeAddOn(leg.notionalD18, _bound(depth, 0, 1e30));
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _bound(uint256 x, uint256 lo, uint256 hi) private pure returns (uint256) {
        return lo + (x % (hi - lo + 1));
    }

    function _boundSigned(int256 x, uint256 limit) private pure returns (int256) {
        if (x >= -int256(limit) && x <= int256(limit)) return x;
        return int256(uint256(keccak256(abi.encode(x))) % (2 * limit + 1)) - int256(limit);
    }
}
