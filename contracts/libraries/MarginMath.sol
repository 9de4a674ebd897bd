// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title MarginMath
/// @notice Every formula of Bulkhead's margin, pricing and funding model, in one place. Pure functions on D18
///         fixed-point numbers; the TypeScript SDK (`sdk/math.ts`) mirrors each one to the wei.
/// @dev Rounding is in every name or stated per function and always favours the protocol: requirements, fees
///      and amounts owed by traders round up (towards +inf), amounts credited to traders round down.
///      Solidity's signed division truncates towards zero; `divFloor`/`divCeil` give the directed versions.
library MarginMath {
    uint256 internal constant WAD = 1e18;
    int256 internal constant SWAD = 1e18;
    /// @dev Funding rates are quoted per day.
    int256 internal constant FUNDING_PERIOD = 1 days;
    /// @dev Hard cap on the funding rate, 100% of notional per day, so that the index can never overflow.
    int256 internal constant MAX_FUNDING_RATE = 1e18;

    /*//////////////////////////////////////////////////////////////
                            FIXED-POINT HELPERS
    //////////////////////////////////////////////////////////////*/

    /// @dev a * b / WAD, rounded down.
    function mulDown(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a * b) / WAD;
    }

    /// @dev a * b / WAD, rounded up.
    function mulUp(uint256 a, uint256 b) internal pure returns (uint256) {
        uint256 p = a * b;
        return p == 0 ? 0 : (p - 1) / WAD + 1;
    }

    /// @dev a / b for b > 0 and a + b < 2^256, rounded up: the one ceiling division of the engine and its modules,
    ///      so that its rounding is fuzzed in one place.
    function ceilDiv(uint256 a, uint256 b) internal pure returns (uint256) {
        return (a + b - 1) / b;
    }

    /// @dev a / b for b > 0, rounded towards -inf.
    function divFloor(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a < 0) q -= 1;
    }

    /// @dev a / b for b > 0, rounded towards +inf.
    function divCeil(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a > 0) q += 1;
    }

    function abs(int256 x) internal pure returns (uint256) {
        return uint256(x >= 0 ? x : -x);
    }

    function min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    /*//////////////////////////////////////////////////////////////
                                 MARGIN
    //////////////////////////////////////////////////////////////*/

    /// @notice |size| x price, rounded up.
    function notional(int256 sizeD18, uint256 priceD18) internal pure returns (uint256) {
        return mulUp(abs(sizeD18), priceD18);
    }

    /// @notice Size-scaled initial margin ratio: clamp(baseImr + |size| / skewScale x slope, baseImr, maxImr).
    /// @dev The size term rounds up.
    function imr(
        int256 sizeD18,
        uint256 baseImrD18,
        uint256 maxImrD18,
        uint256 slopeD18,
        uint256 skewScaleD18
    ) internal pure returns (uint256) {
        uint256 p = abs(sizeD18) * slopeD18;
        uint256 sizeTerm = p == 0 ? 0 : (p - 1) / skewScaleD18 + 1;
        uint256 r = baseImrD18 + sizeTerm;
        return r > maxImrD18 ? maxImrD18 : r;
    }

    /// @notice Initial margin of a position: notional x imr + minPositionMargin, rounded up.
    function initialMargin(
        uint256 notionalD18,
        uint256 imrD18,
        uint256 minPositionMarginD18
    ) internal pure returns (uint256) {
        return mulUp(notionalD18, imrD18) + minPositionMarginD18;
    }

    /// @notice Maintenance margin of a position: notional x imr x mmScalar + minPositionMargin, each product
    ///         rounded up.
    function maintenanceMargin(
        uint256 notionalD18,
        uint256 imrD18,
        uint256 mmScalarD18,
        uint256 minPositionMarginD18
    ) internal pure returns (uint256) {
        return mulUp(mulUp(notionalD18, imrD18), mmScalarD18) + minPositionMarginD18;
    }

    /// @notice Unrealised PnL = size x price - basis, with the product rounded down.
    function unrealisedPnl(int256 sizeD18, uint256 priceD18, int256 basisD18) internal pure returns (int256) {
        return divFloor(sizeD18 * int256(priceD18), SWAD) - basisD18;
    }

    /// @notice Funding owed by a position since its last settlement: size x (index - lastIndex), rounded up.
    /// @dev Positive: the position pays. Negative: the position is owed funding (rounded towards zero).
    function fundingOwed(
        int256 sizeD18,
        int256 indexD18,
        int256 lastIndexD18
    ) internal pure returns (int256) {
        return divCeil(sizeD18 * (indexD18 - lastIndexD18), SWAD);
    }

    /*//////////////////////////////////////////////////////////////
                           PRICE IMPACT AND FEES
    //////////////////////////////////////////////////////////////*/

    /// @notice fillPrice = oracle x (1 + (skewBefore + skewAfter) / 2 / skewScale).
    /// @dev skewBefore + skewAfter = 2 skew + delta. Rounded up when buying and down when selling, so the trader
    ///      always gets the worse side of the last wei. Returns 0 when the impact would reach -100%.
    function fillPrice(
        uint256 oracleD18,
        int256 skewD18,
        int256 sizeDeltaD18,
        uint256 skewScaleD18
    ) internal pure returns (uint256) {
        int256 num = int256(oracleD18) * (2 * skewD18 + sizeDeltaD18);
        int256 den = 2 * int256(skewScaleD18);
        int256 impact = sizeDeltaD18 > 0 ? divCeil(num, den) : divFloor(num, den);
        int256 fill = int256(oracleD18) + impact;
        return fill > 0 ? uint256(fill) : 0;
    }

    /// @notice Trading fee: maker rate on the part of the trade that moves skew towards zero, taker rate on the
    ///         rest, each part priced at its own segment's fill (skew -> 0, then 0 -> skew + delta).
    /// @dev Pricing each segment at its own average fill makes the fee independent of how a trade is split: along
    ///      one segment, sum(|d_i| x fill_i) telescopes exactly like the impact does. (Pricing both parts at the
    ///      whole trade's fill would let a trade that crosses zero skew save fees by splitting at zero.) Each
    ///      part's fill, notional and fee round against the trader.
    function tradingFee(
        uint256 oracleD18,
        int256 skewD18,
        int256 sizeDeltaD18,
        uint256 skewScaleD18,
        uint256 makerFeeD18,
        uint256 takerFeeD18
    ) internal pure returns (uint256 fee) {
        int256 makerDelta;
        if ((skewD18 > 0 && sizeDeltaD18 < 0) || (skewD18 < 0 && sizeDeltaD18 > 0)) {
            makerDelta = abs(sizeDeltaD18) < abs(skewD18) ? sizeDeltaD18 : -skewD18;
        }
        int256 takerDelta = sizeDeltaD18 - makerDelta;
        if (makerDelta != 0) {
            uint256 makerFill = fillPrice(oracleD18, skewD18, makerDelta, skewScaleD18);
            fee = mulUp(mulUp(abs(makerDelta), makerFill), makerFeeD18);
        }
        if (takerDelta != 0) {
            uint256 takerFill = fillPrice(oracleD18, skewD18 + makerDelta, takerDelta, skewScaleD18);
            fee += mulUp(mulUp(abs(takerDelta), takerFill), takerFeeD18);
        }
    }

    /*//////////////////////////////////////////////////////////////
                                 FUNDING
    //////////////////////////////////////////////////////////////*/

    /// @notice The funding rate after `elapsed` seconds of drift at constant skew, clamped to +-MAX_FUNDING_RATE.
    function nextFundingRate(
        int256 rateD18,
        uint256 elapsed,
        int256 skewD18,
        uint256 skewScaleD18,
        uint256 maxVelocityD18
    ) internal pure returns (int256 nextRate) {
        int256 proportionalSkew = (skewD18 * SWAD) / int256(skewScaleD18);
        if (proportionalSkew > SWAD) proportionalSkew = SWAD;
        if (proportionalSkew < -SWAD) proportionalSkew = -SWAD;
        nextRate =
            rateD18 + (int256(maxVelocityD18) * proportionalSkew * int256(elapsed)) / (SWAD * FUNDING_PERIOD);
        if (nextRate > MAX_FUNDING_RATE) nextRate = MAX_FUNDING_RATE;
        if (nextRate < -MAX_FUNDING_RATE) nextRate = -MAX_FUNDING_RATE;
    }

    /// @notice Funding rate and index accrued over `elapsed` seconds at constant skew and price.
    /// @dev dr/dt = maxFundingVelocity x clamp(skew / skewScale, -1, 1) per day; the rate is clamped to
    ///      +-MAX_FUNDING_RATE. The index grows by the average of the start and end rates x elapsed days x price
    ///      (exact for the linear drift; an approximation only while the clamp binds). Every division truncates
    ///      towards zero; the index is shared by both sides, so no side is favoured.
    /// @return rateD18 The funding rate per day at the end of the interval.
    /// @return indexD18 The cumulative funding index at the end of the interval.
    function accrueFunding(
        int256 rateD18,
        int256 indexD18,
        uint256 elapsed,
        int256 skewD18,
        uint256 skewScaleD18,
        uint256 maxVelocityD18,
        uint256 priceD18
    ) internal pure returns (int256, int256) {
        if (elapsed == 0) return (rateD18, indexD18);
        int256 nextRate = nextFundingRate(rateD18, elapsed, skewD18, skewScaleD18, maxVelocityD18);
        int256 indexDelta = ((rateD18 + nextRate) * int256(elapsed) * int256(priceD18)) /
            (2 * FUNDING_PERIOD * SWAD);
        return (nextRate, indexD18 + indexDelta);
    }
}
