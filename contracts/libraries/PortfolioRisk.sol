// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Panic} from "@openzeppelin/contracts/utils/Panic.sol";

/// @title PortfolioRisk
/// @notice The risk-based requirement of a portfolio account (DESIGN.md, Portfolio margin): a factor model with a
///         VaR/expected-shortfall term, a scan of governance-set stress scenarios, and a floor tied to the positions'
///         standalone (cross-mode) margins, plus per-market size add-ons.
///
///         - Factor model: market m has loadings beta_m on K <= 6 shared factors and an idiosyncratic volatility
///           sigma_m; the factors' covariance over the margin period of risk is L * L^T, with L the lower-triangular
///           Cholesky factor governance sets (positive semi-definite by construction: any lower-triangular L with a
///           non-negative diagonal is the Cholesky factor of L * L^T).
///         - VaR term: z * sqrt(||L^T f||^2 + sum (sigma_m * e_m)^2), with f = sum beta_m * e_m the factor exposure
///           and e_m the signed notional of position m.
///         - Stress term: the worst loss over S <= 16 scenarios of factor returns r_s: loss_s = max(0, -f . r_s).
///         - Floor: max(floor * sum standalone MM, the largest standalone MM) for MM, and the same over the standalone
///           IMs for IM: it caps the hedge credit against model error, and a single position never needs less than
///           it would in a cross account.
///         - MM = max(VaR, stress, floor_MM) + add-ons; IM = max(imScalar * max(VaR, stress), floor_IM) + add-ons.
/// @dev Every intermediate is exact in int256 until one final rounding, and each rounding raises the requirement:
///      factor-space terms are rounded away from zero before squaring, the square root and every product round up,
///      and a scenario's loss rounds up. The bounds below keep every product inside int256 (see `_factorExposure`).
library PortfolioRisk {
    uint256 internal constant WAD = 1e18;
    /// @notice At most this many shared factors (K).
    uint256 internal constant MAX_FACTORS = 6;
    /// @notice At most this many stress scenarios (S).
    uint256 internal constant MAX_SCENARIOS = 16;
    /// @notice At most this many positions in one portfolio.
    uint256 internal constant MAX_LEGS = 16;
    /// @notice |beta| bound (D18): a market moves at most 5x a factor.
    int256 internal constant MAX_LOADING = 5e18;
    /// @notice |L[i][j]| bound (D18): a factor's volatility over the margin period is at most 100%.
    int256 internal constant MAX_FACTOR_VOL = 1e18;
    /// @notice Idiosyncratic volatility bound (D18 per margin period).
    uint256 internal constant MAX_IDIO_VOL = 1e18;
    /// @notice |factor return| of a scenario (D18 per margin period): at most 100%.
    int256 internal constant MAX_SHOCK = 1e18;
    /// @notice The VaR/ES multiplier z (D18): between 1 and 6 standard deviations.
    uint256 internal constant MIN_Z = 1e18;
    uint256 internal constant MAX_Z = 6e18;
    /// @notice The floor (D18): at least 10% of the standalone margins, at most all of them.
    uint256 internal constant MIN_FLOOR = 0.1e18;
    uint256 internal constant MAX_FLOOR = 1e18;
    /// @notice IM / MM of the risk terms (D18): from 1 to 4.
    uint256 internal constant MIN_IM_SCALAR = 1e18;
    uint256 internal constant MAX_IM_SCALAR = 4e18;
    /// @notice |notional| of one position (D18 USD): 10^13 USD.
    int256 internal constant MAX_NOTIONAL = 1e31;

    /// @notice The governance-set model. `cholesky` is K x K row-major (L[i][j] at i * K + j), `scenarios` S x K.
    struct Model {
        uint256 factors;
        int256[] cholesky;
        int256[] scenarios;
        uint256 zD18;
        uint256 floorD18;
        uint256 imScalarD18;
    }

    /// @notice One position as the model sees it. The standalone margins and the add-on come from the market.
    struct Leg {
        int256 notionalD18;
        int256[] loadingsD18;
        uint256 idioVolD18;
        uint256 standaloneImD18;
        uint256 standaloneMmD18;
        uint256 addOnD18;
    }

    /// @notice The requirement and its parts (D18 USD). `worstScenario` is the 1-based index of the scenario that
    ///         set the stress term, 0 when no scenario loses.
    struct Requirement {
        uint256 varD18;
        uint256 stressD18;
        uint256 worstScenario;
        uint256 floorMmD18;
        uint256 floorImD18;
        uint256 addOnsD18;
        uint256 mmD18;
        uint256 imD18;
    }

    error TooManyFactors(uint256 factors);
    error TooManyScenarios(uint256 scenarios);
    error TooManyLegs(uint256 legs);
    error ModelShape(uint256 choleskyLength, uint256 scenariosLength, uint256 factors);
    error CholeskyNotLowerTriangular(uint256 row, uint256 col);
    error CholeskyDiagonalNegative(uint256 index);
    error FactorVolOutOfBounds(uint256 row, uint256 col, int256 value);
    error ScenarioShockOutOfBounds(uint256 scenario, uint256 factor, int256 value);
    error ConfidenceOutOfBounds(uint256 zD18);
    error FloorOutOfBounds(uint256 floorD18);
    error ImScalarOutOfBounds(uint256 imScalarD18);
    error LoadingsShape(uint256 length, uint256 factors);
    error LoadingOutOfBounds(uint256 factor, int256 value);
    error IdioVolOutOfBounds(uint256 idioVolD18);
    error NotionalOutOfBounds(int256 notionalD18);

    /// @notice Reverts unless `m` is a well-formed model inside every bound.
    function validateModel(Model memory m) internal pure {
        uint256 k = m.factors;
        if (k == 0 || k > MAX_FACTORS) revert TooManyFactors(k);
        if (m.cholesky.length != k * k || m.scenarios.length % k != 0) {
            revert ModelShape(m.cholesky.length, m.scenarios.length, k);
        }
        if (m.scenarios.length / k > MAX_SCENARIOS) revert TooManyScenarios(m.scenarios.length / k);
        for (uint256 i; i < k; ++i) {
            for (uint256 j; j < k; ++j) {
                int256 v = m.cholesky[i * k + j];
                if (j > i && v != 0) revert CholeskyNotLowerTriangular(i, j);
                if (i == j && v < 0) revert CholeskyDiagonalNegative(i);
                if (v > MAX_FACTOR_VOL || v < -MAX_FACTOR_VOL) revert FactorVolOutOfBounds(i, j, v);
            }
        }
        for (uint256 i; i < m.scenarios.length; ++i) {
            int256 r = m.scenarios[i];
            if (r > MAX_SHOCK || r < -MAX_SHOCK) revert ScenarioShockOutOfBounds(i / k, i % k, r);
        }
        if (m.zD18 < MIN_Z || m.zD18 > MAX_Z) revert ConfidenceOutOfBounds(m.zD18);
        if (m.floorD18 < MIN_FLOOR || m.floorD18 > MAX_FLOOR) revert FloorOutOfBounds(m.floorD18);
        if (m.imScalarD18 < MIN_IM_SCALAR || m.imScalarD18 > MAX_IM_SCALAR) {
            revert ImScalarOutOfBounds(m.imScalarD18);
        }
    }

    /// @notice Reverts unless a market's loadings and idiosyncratic volatility fit a model of `factors` factors.
    function validateMarket(int256[] memory loadingsD18, uint256 idioVolD18, uint256 factors) internal pure {
        if (loadingsD18.length != factors) revert LoadingsShape(loadingsD18.length, factors);
        for (uint256 i; i < factors; ++i) {
            int256 b = loadingsD18[i];
            if (b > MAX_LOADING || b < -MAX_LOADING) revert LoadingOutOfBounds(i, b);
        }
        if (idioVolD18 > MAX_IDIO_VOL) revert IdioVolOutOfBounds(idioVolD18);
    }

    /// @notice A position's size add-on: notional^2 / depth (D18 USD), rounded up; 0 when the market sets no depth.
    ///         Concentration costs more than proportionally: a position the size of `depthD18` adds its notional.
    function sizeAddOn(int256 notionalD18, uint256 depthD18) internal pure returns (uint256) {
        if (depthD18 == 0) return 0;
        uint256 n = _abs(notionalD18);
        if (n < 2 ** 128) {
            // Below 2^128 (every notional within MAX_NOTIONAL < 2^104 is), n^2 < 2^256 cannot overflow, and the
            // ceiling of n^2 / depth is exactly what the 512-bit mulDiv below returns, for a fraction of its gas.
            unchecked {
                return Math.ceilDiv(n * n, depthD18);
            }
        }
        return Math.mulDiv(n, n, depthD18, Math.Rounding.Ceil);
    }

    /// @notice The portfolio's requirement. `m` must have passed `validateModel` and every leg `validateMarket`.
    /// @dev Gas: the loops below run unchecked on raw memory reads, since every product and sum is bounded by the
    ///      validated model (see `_factorExposure`); a checked, bounds-checked multiply-accumulate costs ~10x more.
    function requirement(Model memory m, Leg[] memory legs) internal pure returns (Requirement memory r) {
        if (legs.length > MAX_LEGS) revert TooManyLegs(legs.length);
        uint256 k = m.factors;
        (int256[] memory f, uint256 idioSq) = _factorExposure(k, legs);
        r.varD18 = Math.mulDiv(
            m.zD18,
            Math.sqrt(idioSq + _factorVarianceUp(k, m.cholesky, f), Math.Rounding.Ceil),
            WAD,
            Math.Rounding.Ceil
        );
        (r.stressD18, r.worstScenario) = _worstScenario(k, m.scenarios, f);

        uint256 sumMm;
        uint256 maxMm;
        uint256 sumIm;
        uint256 maxIm;
        uint256 addOns;
        for (uint256 i; i < legs.length; ++i) {
            Leg memory leg = legs[i];
            uint256 mm = leg.standaloneMmD18;
            uint256 im = leg.standaloneImD18;
            sumMm += mm;
            sumIm += im;
            if (mm > maxMm) maxMm = mm;
            if (im > maxIm) maxIm = im;
            addOns += leg.addOnD18;
        }
        r.addOnsD18 = addOns;
        r.floorMmD18 = Math.max(Math.mulDiv(m.floorD18, sumMm, WAD, Math.Rounding.Ceil), maxMm);
        r.floorImD18 = Math.max(Math.mulDiv(m.floorD18, sumIm, WAD, Math.Rounding.Ceil), maxIm);
        uint256 risk = Math.max(r.varD18, r.stressD18);
        r.mmD18 = Math.max(risk, r.floorMmD18) + r.addOnsD18;
        r.imD18 =
            Math.max(Math.mulDiv(m.imScalarD18, risk, WAD, Math.Rounding.Ceil), r.floorImD18) + r.addOnsD18;
    }

    /// @dev f_k = sum_m beta_mk * e_m, exact (D36), and sum_m (sigma_m * |e_m|)^2 with each product rounded up to D18
    ///      (D36). Bounds: |beta * e| <= 5e18 * 1e31 = 5e49, 16 legs 8e50; later L * f <= 8e68, 6 terms 4.8e69, and
    ///      f * r as much: all far inside int256 (5.7e76).
    ///
    ///      These bounds are why the arithmetic from here on is unchecked: |e| <= MAX_NOTIONAL is checked here,
    ///      |beta| <= MAX_LOADING and sigma <= MAX_IDIO_VOL hold for every leg that passed `validateMarket`, every
    ///      |L[i][j]| <= MAX_FACTOR_VOL and |r_sj| <= MAX_SHOCK for a model that passed `validateModel` (the
    ///      precondition of `requirement`), and `requirement` admits at most MAX_LEGS legs. Here: sigma * |e| <=
    ///      1e18 * 1e31 = 1e49, so the rounded s <= 1e31, s^2 <= 1e62 and idioSq <= 16 * 1e62 = 1.6e63.
    function _factorExposure(
        uint256 k,
        Leg[] memory legs
    ) private pure returns (int256[] memory f, uint256 idioSq) {
        f = new int256[](k);
        // First pass, in leg order (the first offending leg reverts, as it always has): the bounds and sigma.
        for (uint256 i; i < legs.length; ++i) {
            Leg memory leg = legs[i];
            int256 e = leg.notionalD18;
            if (e > MAX_NOTIONAL || e < -MAX_NOTIONAL) revert NotionalOutOfBounds(e);
            if (leg.loadingsD18.length != k) revert LoadingsShape(leg.loadingsD18.length, k);
            unchecked {
                // == Math.mulDiv(sigma, |e|, WAD, Ceil), as the product (<= 1e49) cannot overflow.
                uint256 s = Math.ceilDiv(leg.idioVolD18 * _abs(e), WAD);
                idioSq += s * s;
            }
        }
        // Then factor by factor, each f_k summed on the stack (every leg's loadings now hold exactly k words).
        for (uint256 j; j < k; ++j) {
            f[j] = _exposure(legs, j);
        }
    }

    /// @dev sum_m legs[m].loadingsD18[j] * legs[m].notionalD18, unchecked (bounded by 8e50, `_factorExposure`).
    ///      Reads only, and only inside the arrays: `legs` holds its length in pointers to Leg structs, whose first
    ///      two words are notionalD18 and the pointer to loadingsD18, and the caller has checked that every
    ///      loadings array holds more than j words. Two legs per iteration (after one when their number is odd),
    ///      as in `_dot`.
    function _exposure(Leg[] memory legs, uint256 j) private pure returns (int256 fj) {
        assembly ("memory-safe") {
            let offset := shl(5, add(j, 1)) // of loadings[j] from the array's length word
            let p := add(legs, 0x20)
            let end := add(p, shl(5, mload(legs)))
            if and(mload(legs), 1) {
                let leg := mload(p)
                fj := mul(mload(add(mload(add(leg, 0x20)), offset)), mload(leg))
                p := add(p, 0x20)
            }
            for {} lt(p, end) {
                p := add(p, 0x40)
            } {
                let leg0 := mload(p)
                let leg1 := mload(add(p, 0x20))
                fj := add(
                    fj,
                    add(
                        mul(mload(add(mload(add(leg0, 0x20)), offset)), mload(leg0)),
                        mul(mload(add(mload(add(leg1, 0x20)), offset)), mload(leg1))
                    )
                )
            }
        }
    }

    /// @dev ||L^T f||^2 in D36: y_j = sum_{i >= j} L[i][j] * f_i (D54, exact), rounded away from zero to D18, squared.
    ///      Unchecked (see `_factorExposure`): each L * f is at most 8e68 and y, a sum of at most 6, 4.8e69 in
    ///      absolute value; the rounded y_j is at most 4.8e33, its square 2.3e67 and the sum of 6 squares 1.4e68.
    ///      `f` holds k words, `cholesky` at least k * k (checked first: reading past it has always reverted).
    function _factorVarianceUp(
        uint256 k,
        int256[] memory cholesky,
        int256[] memory f
    ) private pure returns (uint256 sum) {
        if (cholesky.length < k * k) Panic.panic(Panic.ARRAY_OUT_OF_BOUNDS);
        uint256 lData = _dataOf(cholesky);
        uint256 fData = _dataOf(f);
        unchecked {
            // k <= MAX_FACTORS (it sized f): the addresses below are tiny.
            uint256 rowBytes = k * 32;
            for (uint256 j; j < k; ++j) {
                // Column j of L from row j down (L[i][j] at lData + (i * k + j) * 32, one row apart), times f_j..f_k-1.
                int256 y = _dot(lData + (j * k + j) * 32, rowBytes, fData + j * 32, k - j);
                uint256 yUp = Math.ceilDiv(_abs(y), WAD * WAD);
                sum += yUp * yUp;
            }
        }
    }

    /// @dev The largest loss -f . r_s over the scenarios (D54 exact, rounded up to D18) and its 1-based index.
    ///      Unchecked (see `_factorExposure`): each f * r is at most 8e68 and the sum of k <= 6 at most 4.8e69
    ///      in absolute value, and s + 1 <= count. The reads stay inside `scenarios` (count rows of k shocks,
    ///      count = its length / k) and `f` (k words).
    function _worstScenario(
        uint256 k,
        int256[] memory scenarios,
        int256[] memory f
    ) private pure returns (uint256 worst, uint256 index) {
        uint256 count = scenarios.length / k;
        uint256 fData = _dataOf(f);
        unchecked {
            uint256 rowBytes = k * 32;
            uint256 row = _dataOf(scenarios); // r_s: row s of the shocks
            for (uint256 s; s < count; ++s) {
                int256 pnl = _dot(row, 32, fData, k);
                row += rowBytes;
                if (pnl >= 0) continue;
                uint256 loss = Math.ceilDiv(uint256(-pnl), WAD * WAD);
                if (loss > worst) (worst, index) = (loss, s + 1);
            }
        }
    }

    /// @dev sum_t a_t * b_t over `count` words: the a_t `aStride` bytes apart from address `a`, the b_t contiguous
    ///      from address `b`. Unchecked (callers bound every product and the sum), reads only, and callers pass
    ///      runs that lie inside their arrays. Two terms per iteration (after one when `count` is odd): the loop's
    ///      own overhead costs about as much as a term.
    function _dot(uint256 a, uint256 aStride, uint256 b, uint256 count) private pure returns (int256 sum) {
        assembly ("memory-safe") {
            let end := add(b, shl(5, count))
            if and(count, 1) {
                sum := mul(mload(a), mload(b))
                a := add(a, aStride)
                b := add(b, 0x20)
            }
            for {} lt(b, end) {} {
                let a1 := add(a, aStride)
                sum := add(sum, add(mul(mload(a), mload(b)), mul(mload(a1), mload(add(b, 0x20)))))
                a := add(a1, aStride)
                b := add(b, 0x40)
            }
        }
    }

    /// @dev The address of a memory array's first element (past its length word).
    function _dataOf(int256[] memory a) private pure returns (uint256 data) {
        assembly ("memory-safe") {
            data := add(a, 0x20)
        }
    }

    function _abs(int256 x) private pure returns (uint256) {
        return x >= 0 ? uint256(x) : uint256(-x);
    }
}
