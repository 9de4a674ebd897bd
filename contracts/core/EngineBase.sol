// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {IPriceFeed} from "../interfaces/IPriceFeed.sol";
import {MarginMath} from "../libraries/MarginMath.sol";

/// @title EngineBase
/// @notice Storage and the internal machinery shared by the margin engine and its liquidation module: account
///         lookup and authorisation, funding accrual, the one position-modification routine, the one health
///         function, and the ledger of collateral, vault cash and insurance fund.
/// @dev The liquidation module runs by delegatecall in the engine's storage, so both inherit this contract and
///      must never declare storage of their own (immutables live in code and are set alike in both). Custody invariant, exact in D18 and checked by the tests:
///      token.balanceOf(engine) x TOKEN_SCALE == sum(collateral) + vaultCash + insuranceFund.
abstract contract EngineBase is AccessControl, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using MarginMath for uint256;

    bytes32 public constant RISK_ROLE = keccak256("RISK_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @dev Hard bound on `maxPositionsPerAccount`, and so on every loop over an account's positions.
    uint256 internal constant MAX_POSITIONS = 16;
    /// @dev Hard bound on the number of markets, which bounds the vault valuation loop.
    uint256 internal constant MAX_MARKETS = 64;
    uint256 internal constant WAD = 1e18;

    /// @dev Storage layout of an account in two slots: a read-only header, and everything a trade changes
    ///      (collateral, position count and the list of held markets) in one slot, so a trade dirties one slot.
    ///      `markets` holds one byte per held market id (ids stay below MAX_MARKETS = 64), the first
    ///      `positionCount` bytes in use; isolated accounts leave it empty and hold at most `marketId`.
    ///      Collateral range: +-6.6e17 USD (D18).
    struct Account {
        address owner;
        bool isolated;
        uint32 marketId;
        int120 collateral;
        uint8 positionCount;
        bytes16 markets;
    }

    struct Position {
        int128 size;
        int128 basis;
        int128 lastFundingIndex;
    }

    /// @dev Grouped by access: slots 0-4 are read by every health check, 5-7 by trades only.
    struct Market {
        IPriceFeed feed;
        uint64 baseImr;
        uint64 maxImr;
        uint64 imrSizeSlope;
        uint64 mmScalar;
        uint64 maxFundingVelocity;
        uint128 minPositionMargin;
        uint128 skewScale;
        uint128 longOi;
        uint128 shortOi;
        int128 fundingIndex;
        int64 fundingRate;
        uint48 lastFundingTime;
        uint64 makerFee;
        uint64 takerFee;
        uint64 liquidationFee;
        uint64 reserveRatio;
        uint128 maxOiPerSide;
        uint128 reserved;
        int128 netBasis;
        int128 netFundingBasis;
    }

    /// @dev Vault cash, insurance fund and total reserve share one slot because every trade touches all three.
    ///      Ranges: vault cash +-1e13 USD, insurance 7.9e10 USD (D18); the reserve is kept in whole USD, rounded up.
    struct Ledger {
        int104 vaultCash;
        uint96 insurance;
        uint56 reservedUsd;
    }

    /// @dev The result of one position change, in D18.
    struct Fill {
        int256 newSize;
        int256 realisedPnl;
        int256 funding;
    }

    IERC20 internal immutable _token;
    /// @dev 10^(18 - token decimals): token units x TOKEN_SCALE = D18.
    uint256 internal immutable TOKEN_SCALE;

    mapping(uint256 accountId => Account) internal _accounts;
    mapping(uint256 accountId => mapping(uint32 marketId => Position)) internal _positions;
    mapping(uint32 marketId => Market) internal _markets;
    mapping(address owner => mapping(address operator => bool)) public isOperator;
    mapping(uint256 accountId => mapping(address operator => bool)) public isAccountOperator;

    IMarginEngine.RiskParams internal _risk;
    uint256 internal _accountCount;
    uint32 internal _marketCount;
    address public vault;

    Ledger internal _ledger;

    /// @param token The settlement asset, at most 18 decimals.
    constructor(IERC20Metadata token) {
        if (address(token) == address(0)) revert IMarginEngine.ZeroAddress();
        uint8 decimals = token.decimals();
        if (decimals > 18) revert IMarginEngine.ParameterOutOfBounds("tokenDecimals");
        _token = IERC20(address(token));
        TOKEN_SCALE = 10 ** (18 - decimals);
    }

    /*//////////////////////////////////////////////////////////////
                               ACCOUNTS
    //////////////////////////////////////////////////////////////*/

    function _account(uint256 accountId) internal view returns (Account storage a) {
        a = _accounts[accountId];
        if (a.owner == address(0)) revert IMarginEngine.UnknownAccount(accountId);
    }

    /// @dev Loads the account and checks that the caller is its owner or an approved operator.
    function _authorizedAccount(uint256 accountId) internal view returns (Account storage a) {
        a = _account(accountId);
        address owner = a.owner;
        if (
            msg.sender != owner && !isOperator[owner][msg.sender] && !isAccountOperator[accountId][msg.sender]
        ) {
            revert IMarginEngine.Unauthorized(msg.sender, accountId);
        }
    }

    function _market(uint32 marketId) internal view returns (Market storage m) {
        m = _markets[marketId];
        if (address(m.feed) == address(0)) revert IMarginEngine.UnknownMarket(marketId);
    }

    /// @dev The i-th market an account holds a position in.
    function _marketAt(Account storage a, uint256 i) internal view returns (uint32) {
        return a.isolated ? a.marketId : uint8(a.markets[i]);
    }

    /*//////////////////////////////////////////////////////////////
                                FUNDING
    //////////////////////////////////////////////////////////////*/

    /// @dev Funding rate and index as if accrued to now at `price`, without writing.
    function _pendingFunding(
        Market storage m,
        uint256 price
    ) internal view returns (int256 rate, int256 index) {
        return
            MarginMath.accrueFunding(
                m.fundingRate,
                m.fundingIndex,
                block.timestamp - m.lastFundingTime,
                int256(uint256(m.longOi)) - int256(uint256(m.shortOi)),
                m.skewScale,
                m.maxFundingVelocity,
                price
            );
    }

    /// @dev Accrues funding to now and stores it. Must run before any change of skew.
    function _accrueFunding(Market storage m, uint256 price) internal returns (int256 index) {
        int256 rate;
        (rate, index) = _pendingFunding(m, price);
        m.fundingRate = int64(rate);
        m.fundingIndex = int128(index);
        m.lastFundingTime = uint48(block.timestamp);
    }

    /*//////////////////////////////////////////////////////////////
                                HEALTH
    //////////////////////////////////////////////////////////////*/

    /// @dev The one health function: every margin figure of the account at current oracle prices and funding.
    ///      Loops over at most MAX_POSITIONS positions. Reverts if any held market has no valid price.
    function _summary(
        uint256 accountId,
        Account storage a
    ) internal view returns (IMarginEngine.MarginSummary memory) {
        return _summaryAt(accountId, a, 0, 0, new uint256[](0));
    }

    /// @dev `_summary` with the price of one market already read in this transaction (`knownMarketId`, 0 for
    ///      none), and, if `prices` is not empty, the price of the i-th held market written to `prices[i]` so
    ///      that the caller never reads an oracle twice.
    function _summaryAt(
        uint256 accountId,
        Account storage a,
        uint32 knownMarketId,
        uint256 knownPrice,
        uint256[] memory prices
    ) internal view returns (IMarginEngine.MarginSummary memory s) {
        s.collateralD18 = a.collateral;
        uint256 n = a.positionCount;
        for (uint256 i; i < n; ++i) {
            uint32 marketId = _marketAt(a, i);
            Market storage m = _markets[marketId];
            uint256 price = marketId == knownMarketId ? knownPrice : m.feed.latestPrice();
            if (prices.length != 0) prices[i] = price;
            (, int256 index) = _pendingFunding(m, price);
            Position storage p = _positions[accountId][marketId];
            int256 size = p.size;
            s.unrealisedPnlD18 += MarginMath.unrealisedPnl(size, price, p.basis);
            s.accruedFundingD18 += MarginMath.fundingOwed(size, index, p.lastFundingIndex);
            (uint256 notional, uint256 im, uint256 mm) = _positionMargins(m, size, price);
            s.notionalD18 += notional;
            s.initialMarginD18 += im;
            s.maintenanceMarginD18 += mm;
        }
        s.equityD18 = s.collateralD18 + s.unrealisedPnlD18 - s.accruedFundingD18;
    }

    /// @dev Notional, initial and maintenance margin of one position (all rounded up).
    function _positionMargins(
        Market storage m,
        int256 size,
        uint256 price
    ) internal view returns (uint256 notional, uint256 im, uint256 mm) {
        notional = MarginMath.notional(size, price);
        uint256 ratio = MarginMath.imr(size, m.baseImr, m.maxImr, m.imrSizeSlope, m.skewScale);
        uint256 minMargin = m.minPositionMargin;
        im = MarginMath.initialMargin(notional, ratio, minMargin);
        mm = MarginMath.maintenanceMargin(notional, ratio, m.mmScalar, minMargin);
    }

    /*//////////////////////////////////////////////////////////////
                           POSITION CHANGES
    //////////////////////////////////////////////////////////////*/

    /// @dev The one routine that changes a position, for trades, liquidations and ADL alike. The caller has
    ///      accrued funding (`index`) and chosen the execution price. It settles the position's funding, realises
    ///      the PnL of any reduced part against the vault, updates the market aggregates and the account's
    ///      market list. Fees are the caller's business. Does not check margin.
    /// @dev Rounding: the realised PnL rounds down (the proceeds down, the released basis up); a new basis
    ///      rounds up, which lowers the trader's future PnL on both sides.
    function _applyFill(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        Market storage m,
        int256 index,
        int256 sizeDelta,
        uint256 execPrice
    ) internal returns (Fill memory f) {
        Position storage p = _positions[accountId][marketId];
        int256 oldSize = p.size;
        int256 oldBasis = p.basis;
        f.newSize = oldSize + sizeDelta;
        if (f.newSize > type(int128).max || f.newSize < type(int128).min)
            revert IMarginEngine.InvalidSize(sizeDelta);
        f.funding = MarginMath.fundingOwed(oldSize, index, p.lastFundingIndex);
        int256 newBasis;
        (newBasis, f.realisedPnl) = _rebase(oldSize, oldBasis, sizeDelta, execPrice);

        // Market aggregates, updated by exactly the positions' own deltas.
        m.netBasis = SafeCast.toInt128(m.netBasis + newBasis - oldBasis);
        m.netFundingBasis = SafeCast.toInt128(
            m.netFundingBasis + _fundingBasis(f.newSize, index) - _fundingBasis(oldSize, p.lastFundingIndex)
        );
        _moveOpenInterest(m, oldSize, f.newSize);

        if (f.newSize == 0) {
            delete _positions[accountId][marketId];
            _removeMarket(a, marketId);
        } else {
            if (oldSize == 0) _addMarket(a, marketId);
            p.size = int128(f.newSize);
            p.basis = SafeCast.toInt128(newBasis);
            p.lastFundingIndex = int128(index);
        }

        // Realised PnL and funding settle between the account and the vault, exactly.
        int256 toAccount = f.realisedPnl - f.funding;
        _credit(a, toAccount);
        _addVaultCash(-toAccount);
    }

    /*//////////////////////////////////////////////////////////////
                                 LEDGER
    //////////////////////////////////////////////////////////////*/

    /// @dev Adds `delta` (may be negative) to an account's collateral.
    function _credit(Account storage a, int256 delta) internal {
        a.collateral = SafeCast.toInt120(a.collateral + delta);
    }

    function _addVaultCash(int256 delta) internal {
        _ledger.vaultCash = SafeCast.toInt104(_ledger.vaultCash + delta);
    }

    function _addInsurance(int256 delta) internal {
        _ledger.insurance = SafeCast.toUint96(SafeCast.toUint256(int256(uint256(_ledger.insurance)) + delta));
    }

    function _totalReservedD18() internal view returns (uint256) {
        return uint256(_ledger.reservedUsd) * WAD;
    }

    /// @dev New cost basis and realised PnL of a position of `oldSize` changed by `sizeDelta` at `price`.
    function _rebase(
        int256 oldSize,
        int256 oldBasis,
        int256 sizeDelta,
        uint256 price
    ) internal pure returns (int256 newBasis, int256 realised) {
        int256 newSize = oldSize + sizeDelta;
        if (oldSize == 0 || (oldSize > 0) == (sizeDelta > 0)) {
            // Opening or increasing: the added part's basis rounds up.
            newBasis = oldBasis + MarginMath.divCeil(sizeDelta * int256(price), MarginMath.SWAD);
        } else if (MarginMath.abs(sizeDelta) <= MarginMath.abs(oldSize)) {
            // Reducing or closing: release the closed fraction's basis (rounded up).
            int256 released = newSize == 0
                ? oldBasis
                : MarginMath.divCeil(
                    oldBasis * int256(MarginMath.abs(sizeDelta)),
                    int256(MarginMath.abs(oldSize))
                );
            realised = MarginMath.divFloor(-sizeDelta * int256(price), MarginMath.SWAD) - released;
            newBasis = oldBasis - released;
        } else {
            // Flipping: close everything, then open the remainder on the other side.
            realised = MarginMath.divFloor(oldSize * int256(price), MarginMath.SWAD) - oldBasis;
            newBasis = MarginMath.divCeil(newSize * int256(price), MarginMath.SWAD);
        }
    }

    function _moveOpenInterest(Market storage m, int256 oldSize, int256 newSize) private {
        uint256 longOi = m.longOi;
        uint256 shortOi = m.shortOi;
        if (oldSize > 0) longOi -= uint256(oldSize);
        else shortOi -= uint256(-oldSize);
        if (newSize > 0) longOi += uint256(newSize);
        else shortOi += uint256(-newSize);
        m.longOi = SafeCast.toUint128(longOi);
        m.shortOi = SafeCast.toUint128(shortOi);
    }

    /// @dev A position's contribution to `netFundingBasis` (size x index, rounded down).
    function _fundingBasis(int256 size, int256 index) internal pure returns (int256) {
        return MarginMath.divFloor(size * index, MarginMath.SWAD);
    }

    function _addMarket(Account storage a, uint32 marketId) private {
        uint256 n = a.positionCount;
        if (!a.isolated) {
            uint256 max = _risk.maxPositionsPerAccount;
            if (n >= max) revert IMarginEngine.TooManyPositions(max);
            a.markets = _withByte(a.markets, n, marketId);
        }
        a.positionCount = uint8(n + 1);
    }

    function _removeMarket(Account storage a, uint32 marketId) private {
        uint256 n = a.positionCount;
        if (!a.isolated) {
            bytes16 list = a.markets;
            for (uint256 i; i < n; ++i) {
                if (uint8(list[i]) == marketId) {
                    list = _withByte(list, i, uint8(list[n - 1]));
                    a.markets = _withByte(list, n - 1, 0);
                    break;
                }
            }
        }
        a.positionCount = uint8(n - 1);
    }

    /// @dev `list` with byte `i` (0 = most significant) set to `value`.
    function _withByte(bytes16 list, uint256 i, uint32 value) private pure returns (bytes16) {
        uint256 shift = (15 - i) * 8;
        uint128 x = uint128(list);
        return bytes16((x & ~(uint128(0xff) << shift)) | (uint128(uint8(value)) << shift));
    }

    /// @dev Refreshes the market's reserve against open interest at `price`: max(long, short) x price x
    ///      reserveRatio, in whole USD rounded up. The vault cannot release reserved cash to LPs, and a
    ///      risk-increasing trade needs vault cash to cover the total reserve.
    function _updateReserve(Market storage m, uint256 price) internal {
        uint256 larger = m.longOi > m.shortOi ? m.longOi : m.shortOi;
        uint256 reservedUsd = (larger.mulUp(price).mulUp(m.reserveRatio) + WAD - 1) / WAD;
        uint256 previous = m.reserved;
        if (reservedUsd == previous) return;
        _ledger.reservedUsd = SafeCast.toUint56(_ledger.reservedUsd + reservedUsd - previous);
        m.reserved = uint128(reservedUsd);
    }

    /// @dev Net PnL of all traders in a market at the current price and funding, from aggregates in O(1):
    ///      (skew x price - netBasis) - (skew x index - netFundingBasis). Rounded up: the vault values itself low.
    function _tradersNetPnl(Market storage m) internal view returns (int256) {
        uint256 price = m.feed.latestPrice();
        (, int256 index) = _pendingFunding(m, price);
        int256 skew = int256(uint256(m.longOi)) - int256(uint256(m.shortOi));
        int256 unrealised = MarginMath.divCeil(skew * int256(price), MarginMath.SWAD) - m.netBasis;
        int256 funding = MarginMath.divFloor(skew * index, MarginMath.SWAD) - m.netFundingBasis;
        return unrealised - funding;
    }

    function _emitMarketUpdated(uint32 marketId, Market storage m) internal {
        emit IMarginEngine.MarketUpdated(
            marketId,
            m.fundingRate,
            m.fundingIndex,
            m.longOi,
            m.shortOi,
            uint256(m.reserved) * WAD
        );
    }

    /*//////////////////////////////////////////////////////////////
                                TOKENS
    //////////////////////////////////////////////////////////////*/

    /// @dev Pulls exactly `amount` tokens; rejects tokens that deliver less (fee-on-transfer, rebasing).
    function _pullExact(address from, uint256 amount) internal {
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(from, address(this), amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert IMarginEngine.UnsupportedToken(amount, received);
    }

    function _push(address to, uint256 amount) internal {
        _token.safeTransfer(to, amount);
    }
}
