// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarginEngine} from "../interfaces/IMarginEngine.sol";
import {ILiquidation} from "../interfaces/ILiquidation.sol";
import {IPriceFeed} from "../interfaces/IPriceFeed.sol";
import {IPullPriceFeed} from "../interfaces/IPullPriceFeed.sol";
import {IOrders} from "../interfaces/IOrders.sol";
import {MarginMath} from "../libraries/MarginMath.sol";
import {PortfolioRisk} from "../libraries/PortfolioRisk.sol";
import {IPortfolioMargin} from "../interfaces/IPortfolioMargin.sol";
import {IVolatilityOracle} from "../interfaces/IVolatilityOracle.sol";

/// @title EngineBase
/// @notice Storage and the internal machinery shared by the margin engine and its modules: account lookup and
///         authorisation, funding accrual, pricing (fill and fee), the one position-modification routine, the one
///         health function, and the ledger of collateral, vault cash and insurance fund with its solvency order.
/// @dev The liquidation and governance modules run by delegatecall in the engine's storage, so all three inherit
///      this contract and must never declare storage of their own (immutables live in code and are set alike).
///      Custody invariant, exact in D18 and checked by the tests:
///      custody x TOKEN_SCALE == sum(collateral) + vaultCash + insuranceFund, and token.balanceOf(engine) >= custody
///      (the excess, tokens sent without a deposit, is what governance may sweep).
// One storage layout for the engine and both modules, so every variable lives here (grouped by what reads it).
// solhint-disable-next-line max-states-count
abstract contract EngineBase is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using MarginMath for uint256;

    bytes32 public constant RISK_ROLE = keccak256("RISK_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @dev Hard bound on `maxPositionsPerAccount`, and so on every loop over an account's positions.
    uint256 internal constant MAX_POSITIONS = 16;
    /// @dev Hard bound on the number of markets, which bounds the vault valuation loop.
    uint256 internal constant MAX_MARKETS = 64;
    uint256 internal constant WAD = 1e18;
    /// @dev D9 x D9_TO_D18 = D18.
    uint256 internal constant D9_TO_D18 = 1e9;

    /// @dev Storage layout of an account in two slots: a read-only header, and everything a trade changes
    ///      (collateral, position count and the list of held markets) in one slot, so a trade dirties one slot.
    ///      `markets` holds one byte per held market id (ids stay below MAX_MARKETS = 64), the first
    ///      `positionCount` bytes in use; isolated accounts leave it empty and hold at most `marketId`.
    ///      `pendingFlow` and `returnAccountId` belong to an isolated account's pending order (one market, so at most
    ///      one order): whether it opens or closes the account, and where the margin goes back (0: the owner's
    ///      wallet). Kept in the header, which an isolated opening writes anyway, instead of an order slot; they
    ///      are meaningful only while an order is pending (every commit rewrites them when they differ).
    ///      `pendingOrders` counts a cross account's pending orders (at most one per market, so below 2^8); while
    ///      it is not zero no collateral leaves the account (an isolated account checks its one order slot). It
    ///      shares the collateral's slot, which a settlement writes anyway.
    ///      Collateral range: +-2.6e15 USD (D18).
    // solhint-disable-next-line gas-struct-packing
    struct Account {
        address owner;
        IMarginEngine.AccountMode mode;
        uint32 marketId;
        IOrders.OrderKind pendingFlow;
        uint48 returnAccountId;
        int112 collateral;
        uint8 pendingOrders;
        uint8 positionCount;
        bytes16 markets;
    }

    /// @dev One slot per position, so that opening one costs one new slot and a health check one read.
    ///      size: D18 base units (|size| < 7.9e10 units); basis: D18 USD (|basis| < 7.9e10 USD);
    ///      fundingCheckpointD9: the funding index at the last settlement in 1e-9 USD per unit, rounded against
    ///      the position (down for longs, up for shorts), so the position never owes less than exact.
    struct Position {
        int96 size;
        int96 basis;
        int64 fundingCheckpointD9;
    }

    /// @dev Seven slots grouped by access: the first four are everything a health check reads, the next two
    ///      only trades, the last one only order settlement. `imVolX64` and `mmVolX64` are the volatility
    ///      multipliers (DESIGN.md, Dynamic margin) on the IM and MM ratios as 1 + x / 64 (1 to 4.98, rounded up
    ///      from the oracle's D18 figures by `IGovernance.syncVolatility`), in the slot a health check reads
    ///      anyway. Ratios are kept with 9 decimals (`D9`: governance sets D18 values that are multiples of 1e9);
    ///      base-unit quantities are D18 below 7.9e10 units; the reserve is whole USD.
    ///      `insuranceFeeShareD9` is a copy of the protocol-wide `RiskParams.insuranceFeeShareD18`, kept in every
    ///      market's fee slot (written by governance whenever either changes) so that a trade reads its fee split
    ///      from a slot it has already loaded instead of a cold one: 2,000 gas on every risk-reducing trade.
    // solhint-disable-next-line gas-struct-packing
    struct Market {
        IPriceFeed feed;
        uint32 baseImrD9;
        uint32 maxImrD9;
        uint32 mmScalarD9;
        uint80 minPositionMargin;
        uint96 skewScale;
        uint32 imrSizeSlopeD9;
        uint32 maxFundingVelocityD9;
        uint8 imVolX64;
        uint8 mmVolX64;
        uint96 longOi;
        uint96 shortOi;
        int64 fundingRate;
        int128 fundingIndex;
        uint48 lastFundingTime;
        uint80 reservedUsd;
        uint32 makerFeeD9;
        uint32 takerFeeD9;
        uint32 liquidationFeeD9;
        uint32 reserveRatioD9;
        uint96 maxOiPerSide;
        uint32 insuranceFeeShareD9;
        int128 netBasis;
        int128 netFundingBasis;
        IPullPriceFeed pullFeed;
        uint32 maxDivergenceD9;
    }

    /// @dev A pending order in one slot, so a commit writes one new slot (an isolated account's flow lives in its
    ///      header, see `Account`). `acceptablePrice` is capped at 2^96 - 1 (a buy limit above it means no
    ///      limit); `rewardD6` is the settlement reward fixed at commit, in 1e-6 USD (governance keeps the reward a
    ///      multiple of 1e-6 USD below 1,000 USD); `commitTime` is 0 when there is no order.
    struct Order {
        int96 sizeDelta;
        uint96 acceptablePrice;
        uint32 commitTime;
        uint32 rewardD6;
    }

    /// @dev Vault cash, insurance fund and total reserve share one slot because every trade touches all three.
    ///      Ranges: vault cash +-1e13 USD, insurance 7.9e10 USD (D18); the reserve is kept in whole USD, rounded up.
    struct Ledger {
        int104 vaultCash;
        uint96 insurance;
        uint56 reservedUsd;
    }

    /// @dev The result of one position change, in D18. `fill` is the execution price, `fee` the trading fee that
    ///      `_settle` charges; `realisedPnl - funding` is what the account is owed before fees.
    struct Fill {
        int256 newSize;
        int256 realisedPnl;
        int256 funding;
        uint256 fill;
        uint256 fee;
    }

    IERC20 internal immutable _token;
    /// @dev 10^(18 - token decimals): token units x TOKEN_SCALE = D18.
    uint256 internal immutable TOKEN_SCALE;

    mapping(uint256 accountId => Account) internal _accounts;
    mapping(uint256 accountId => mapping(uint32 marketId => Position)) internal _positions;
    mapping(uint32 marketId => Market) internal _markets;
    mapping(address owner => mapping(address operator => bool)) public isOperator;
    mapping(uint256 accountId => mapping(address operator => bool)) public isAccountOperator;

    /// @dev `IMarginEngine.RiskParams` as stored, with the pause flag and the order delays
    ///      (`IOrders.OrderParams`) in the first slot: a settlement reads its window, the pause flag, the position
    ///      limit and the fee split in one slot.
    ///      Keeper rewards are stored in 96 bits (7.9e10 USD), far above their hard bound.
    struct Risk {
        uint8 maxPositionsPerAccount;
        uint64 keeperShareD18;
        uint64 liquidationBufferD18;
        uint64 insuranceFeeShareD18;
        bool paused;
        uint16 minOrderDelay;
        uint32 maxOrderDelay;
        uint96 flatKeeperRewardD18;
        uint96 maxKeeperRewardD18;
        uint64 adlMinShareD18;
        uint128 partialLiquidationNotionalD18;
        uint64 adlTriggerD18;
        uint64 adlTargetD18;
    }

    Risk internal _risk;
    uint256 internal _accountCount;
    uint32 internal _marketCount;
    address public vault;

    Ledger internal _ledger;
    /// @dev Settlement tokens (token units) the ledger accounts for: every pull adds, every push subtracts.
    uint256 internal _custody;

    mapping(uint256 accountId => mapping(uint32 marketId => Order)) internal _orders;
    /// @dev `IOrders.OrderParams.settlementRewardD18` (the delays live in `Risk`), read only at commit.
    uint256 internal _settlementRewardD18;
    /// @dev The risk model of portfolio accounts (`IGovernance.setPortfolioMargin`); read only for them.
    IPortfolioMargin internal _portfolioMargin;
    /// @dev Where `IGovernance.syncVolatility` reads each market's margin multipliers.
    IVolatilityOracle internal _volatilityOracle;
    /// @dev When governance last raised each market's margin requirement (GovernanceModule's ramp).
    mapping(uint32 marketId => uint256) internal _marginTightenedAt;

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

    /// @dev Whether an order of the account is pending, which locks its collateral (`IOrders.CollateralLockedByOrder`):
    ///      a cross account counts its orders, an isolated account has its one market's slot.
    function _collateralLocked(uint256 accountId, Account storage a) internal view returns (bool) {
        return
            a.mode == IMarginEngine.AccountMode.Isolated
                ? _orders[accountId][a.marketId].commitTime != 0
                : a.pendingOrders != 0;
    }

    /// @dev The stored risk parameters in their interface shape.
    function _riskParams() internal view returns (IMarginEngine.RiskParams memory) {
        Risk storage r = _risk;
        return
            IMarginEngine.RiskParams(
                r.maxPositionsPerAccount,
                r.keeperShareD18,
                r.liquidationBufferD18,
                r.insuranceFeeShareD18,
                r.flatKeeperRewardD18,
                r.maxKeeperRewardD18,
                r.partialLiquidationNotionalD18,
                r.adlTriggerD18,
                r.adlTargetD18,
                r.adlMinShareD18
            );
    }

    function _market(uint32 marketId) internal view returns (Market storage m) {
        m = _markets[marketId];
        if (address(m.feed) == address(0)) revert IMarginEngine.UnknownMarket(marketId);
    }

    /// @dev The i-th market an account holds a position in.
    function _marketAt(Account storage a, uint256 i) internal view returns (uint32) {
        return a.mode == IMarginEngine.AccountMode.Isolated ? a.marketId : uint8(a.markets[i]);
    }

    /*//////////////////////////////////////////////////////////////
                                FUNDING
    //////////////////////////////////////////////////////////////*/

    /// @dev Funding rate and index as if accrued to now at `price`, without writing.
    function _pendingFunding(
        Market storage m,
        uint256 price
    ) internal view returns (int256 rate, int256 index) {
        return _pendingFunding(m, price, _skew(m));
    }

    /// @dev `_pendingFunding` with the market's skew already read.
    function _pendingFunding(
        Market storage m,
        uint256 price,
        int256 skew
    ) internal view returns (int256 rate, int256 index) {
        return
            MarginMath.accrueFunding(
                m.fundingRate,
                m.fundingIndex,
                block.timestamp - m.lastFundingTime,
                skew,
                m.skewScale,
                uint256(m.maxFundingVelocityD9) * D9_TO_D18,
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

    /// @dev The one health function: every margin figure of the account at current oracle prices, skews and
    ///      funding. Each position is marked at its exit fill (what a trade closing it now would get), so an entry
    ///      premium is never margin; notional and requirements use the oracle price. Loops over at most
    ///      MAX_POSITIONS positions. Reverts if any held market has no valid price.
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
        bool portfolio = a.mode == IMarginEngine.AccountMode.Portfolio;
        if (portfolio && prices.length == 0) prices = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            uint32 marketId = _marketAt(a, i);
            Market storage m = _markets[marketId];
            uint256 price = marketId == knownMarketId ? knownPrice : m.feed.latestPrice();
            if (prices.length != 0) prices[i] = price;
            int256 skew = _skew(m);
            (, int256 index) = _pendingFunding(m, price, skew);
            Position storage p = _positions[accountId][marketId];
            int256 size = p.size;
            uint256 exitFill = MarginMath.fillPrice(price, skew, -size, m.skewScale);
            s.unrealisedPnlD18 += MarginMath.unrealisedPnl(size, exitFill, p.basis);
            s.accruedFundingD18 += MarginMath.fundingOwed(size, index, _checkpoint(p));
            (uint256 notional, uint256 im, uint256 mm) = _positionMargins(m, size, price);
            s.notionalD18 += notional;
            s.initialMarginD18 += im;
            s.maintenanceMarginD18 += mm;
        }
        s.equityD18 = s.collateralD18 + s.unrealisedPnlD18 - s.accruedFundingD18;
        if (portfolio)
            (s.initialMarginD18, s.maintenanceMarginD18) = _portfolioMargins(accountId, a, prices, 0, 0, 0);
    }

    /// @dev A portfolio account's IM and MM from the risk model, for its positions at `prices` (the i-th held
    ///      market's price at i) with the position in `marketId` taken as `size` at `price` instead (added when the
    ///      account does not hold it; `marketId` 0 for none). Each leg is given with its signed notional and the
    ///      standalone margins it would have in a cross account, which the model's floor uses.
    function _portfolioMargins(
        uint256 accountId,
        Account storage a,
        uint256[] memory prices,
        uint32 marketId,
        int256 size,
        uint256 price
    ) internal view returns (uint256, uint256) {
        uint256 n = a.positionCount;
        // One leg more than held, for `marketId` if the account does not hold it (otherwise an empty leg).
        uint32[] memory ids = new uint32[](n + 1);
        int256[] memory notionals = new int256[](n + 1);
        uint256[] memory ims = new uint256[](n + 1);
        uint256[] memory mms = new uint256[](n + 1);
        for (uint256 i; i <= n; ++i) {
            uint32 id = marketId;
            int256 legSize = size;
            uint256 legPrice = price;
            if (i < n) {
                id = _marketAt(a, i);
                legPrice = prices[i];
                if (id == marketId)
                    marketId = 0; // taken here, so the spare leg stays empty
                else legSize = _positions[accountId][id].size;
            } else if (marketId == 0) {
                // No spare leg needed: drop it, so that 16 held positions stay within the model's 16 legs.
                assembly ("memory-safe") {
                    mstore(ids, n)
                    mstore(notionals, n)
                    mstore(ims, n)
                    mstore(mms, n)
                }
                break;
            }
            if (legSize == 0) continue;
            uint256 notional;
            (notional, ims[i], mms[i]) = _positionMargins(_markets[id], legSize, legPrice);
            ids[i] = id;
            notionals[i] = legSize > 0 ? int256(notional) : -int256(notional);
        }
        PortfolioRisk.Requirement memory r = _portfolioMargin.requirement(ids, notionals, ims, mms);
        return (r.imD18, r.mmD18);
    }

    /// @dev The `_fill` bound that accepts any fill of a forced close of `size` (liquidation, ADL).
    function _anyFill(int256 size) internal pure returns (uint256) {
        return size < 0 ? type(uint256).max : 0;
    }

    /// @dev The price a trade closing `size` now would get: the oracle with the close's skew impact, rounded
    ///      against the position.
    function _exitFill(Market storage m, uint256 price, int256 size) internal view returns (uint256) {
        return MarginMath.fillPrice(price, _skew(m), -size, m.skewScale);
    }

    function _skew(Market storage m) internal view returns (int256) {
        return int256(uint256(m.longOi)) - int256(uint256(m.shortOi));
    }

    /// @dev Fill price with skew impact and maker/taker fee of a trade at the market's current skew.
    function _quote(
        Market storage m,
        uint256 price,
        int256 sizeDelta
    ) internal view returns (uint256 fill, uint256 fee) {
        int256 skew = _skew(m);
        fill = MarginMath.fillPrice(price, skew, sizeDelta, m.skewScale);
        fee = MarginMath.tradingFee(
            price,
            skew,
            sizeDelta,
            m.skewScale,
            uint256(m.makerFeeD9) * D9_TO_D18,
            uint256(m.takerFeeD9) * D9_TO_D18
        );
    }

    /// @dev Notional, initial and maintenance margin of one position (all rounded up). The size-scaled ratio is
    ///      scaled by the market's volatility multipliers, the IM one for IM and the lagged MM one for MM.
    function _positionMargins(
        Market storage m,
        int256 size,
        uint256 price
    ) internal view returns (uint256 notional, uint256 im, uint256 mm) {
        notional = MarginMath.notional(size, price);
        uint256 ratio = _imr(m, size);
        uint256 minMargin = m.minPositionMargin;
        im = MarginMath.initialMargin(notional, _volScaled(ratio, m.imVolX64), minMargin);
        mm = MarginMath.maintenanceMargin(
            notional,
            _volScaled(ratio, m.mmVolX64),
            uint256(m.mmScalarD9) * D9_TO_D18,
            minMargin
        );
    }

    /// @dev `ratio` x (1 + x / 64), rounded up, at most 100%; `ratio` itself in calm markets (x = 0).
    function _volScaled(uint256 ratio, uint8 x) internal pure returns (uint256 scaled) {
        if (x == 0) return ratio;
        scaled = ratio + MarginMath.ceilDiv(ratio * x, 64);
        if (scaled > WAD) scaled = WAD;
    }

    /// @dev The position's size-scaled initial margin ratio (D18).
    function _imr(Market storage m, int256 size) internal view returns (uint256) {
        return
            MarginMath.imr(
                size,
                uint256(m.baseImrD9) * D9_TO_D18,
                uint256(m.maxImrD9) * D9_TO_D18,
                uint256(m.imrSizeSlopeD9) * D9_TO_D18,
                m.skewScale
            );
    }

    /// @dev The position's funding checkpoint in D18.
    function _checkpoint(Position storage p) internal view returns (int256) {
        return int256(p.fundingCheckpointD9) * int256(D9_TO_D18);
    }

    /// @dev The D9 checkpoint stored for a position of `size` settled at `indexD18`: rounded down for a long and
    ///      up for a short, i.e. against the position (it may owe up to 1e-9 USD per unit more than exact).
    function _toCheckpointD9(int256 size, int256 indexD18) internal pure returns (int64) {
        int256 d9 = size > 0
            ? MarginMath.divFloor(indexD18, int256(D9_TO_D18))
            : MarginMath.divCeil(indexD18, int256(D9_TO_D18));
        return SafeCast.toInt64(d9);
    }

    /*//////////////////////////////////////////////////////////////
                           POSITION CHANGES
    //////////////////////////////////////////////////////////////*/

    /// @dev The one routine that executes a position change, for trades, liquidations and ADL alike: accrues
    ///      funding at `price`, prices the change like a trade (fill with skew impact, maker/taker fee), moves the
    ///      position and the market aggregates, and refreshes the reserve. Neither checks margin nor settles money:
    ///      the caller passes the result (one or several legs, netted) to `_settle`. The fill is checked against
    ///      `acceptablePrice` before anything moves (a buy above it or a sell below it reverts); forced closes pass
    ///      the bound that accepts any fill.
    function _fill(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        Market storage m,
        uint256 price,
        int256 sizeDelta,
        uint256 acceptablePrice
    ) internal returns (Fill memory f) {
        int256 index = _accrueFunding(m, price);
        (f.fill, f.fee) = _quote(m, price, sizeDelta);
        if (sizeDelta > 0 ? f.fill > acceptablePrice : f.fill < acceptablePrice) {
            revert IMarginEngine.SlippageExceeded(f.fill, acceptablePrice);
        }
        _applyFill(accountId, a, marketId, m, index, sizeDelta, f);
        _updateReserve(m, price);
    }

    /// @dev Moves the position by `sizeDelta` at `f.fill`: settles its funding, realises the PnL of any reduced
    ///      part, and updates the market aggregates and the account's market list. Writes `f`'s size, PnL and
    ///      funding.
    /// @dev Rounding: the realised PnL rounds down (the proceeds down, the released basis up); a new basis
    ///      rounds up, which lowers the trader's future PnL on both sides.
    function _applyFill(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        Market storage m,
        int256 index,
        int256 sizeDelta,
        Fill memory f
    ) private {
        Position storage p = _positions[accountId][marketId];
        int256 oldSize = p.size;
        int256 oldBasis = p.basis;
        int256 oldCheckpoint = _checkpoint(p);
        f.newSize = oldSize + sizeDelta;
        if (f.newSize > type(int96).max || f.newSize < type(int96).min)
            revert IMarginEngine.InvalidSize(sizeDelta);
        f.funding = MarginMath.fundingOwed(oldSize, index, oldCheckpoint);
        int256 newBasis;
        (newBasis, f.realisedPnl) = _rebase(oldSize, oldBasis, sizeDelta, f.fill);
        int64 newCheckpointD9;
        int256 newFundingBasis;
        if (f.newSize != 0) {
            newCheckpointD9 = _toCheckpointD9(f.newSize, index);
            newFundingBasis = _fundingBasis(f.newSize, int256(newCheckpointD9) * int256(D9_TO_D18));
        }

        // Market aggregates, updated by exactly the positions' own deltas.
        m.netBasis = SafeCast.toInt128(m.netBasis + newBasis - oldBasis);
        m.netFundingBasis = SafeCast.toInt128(
            m.netFundingBasis + newFundingBasis - _fundingBasis(oldSize, oldCheckpoint)
        );
        _moveOpenInterest(m, oldSize, f.newSize);

        if (f.newSize == 0) {
            delete _positions[accountId][marketId];
            _removeMarket(a, marketId);
        } else {
            if (oldSize == 0) _addMarket(a, marketId);
            p.size = int96(f.newSize);
            p.basis = SafeCast.toInt96(newBasis);
            p.fundingCheckpointD9 = newCheckpointD9;
        }
    }

    /// @dev Settles an action's money between the account, the vault and the insurance fund, in one ledger write.
    ///      `pnl` is the account's netted result (realised PnL minus funding, over every leg of the action) and
    ///      `fee` its trading fees, `insuranceShareD18` the fund's share of them. The fee is paid first (the
    ///      insurance fund's share rounds down). Then the
    ///      solvency order: a loss (pnl <= 0) or a profit the vault's cash covers moves between account and vault
    ///      whatever the cash; only a profit beyond the vault's cash takes the shortfall path, where the vault
    ///      pays the cash it has, the insurance fund the rest up to its balance, and what is left is forfeited
    ///      (a haircut, evented), so a profit is never paid out of other traders' collateral.
    /// @return feeToInsurance The insurance fund's share of the fee.
    function _settle(
        uint256 accountId,
        Account storage a,
        uint32 marketId,
        int256 pnl,
        uint256 fee,
        uint256 insuranceShareD18
    ) internal returns (uint256 feeToInsurance) {
        Ledger memory ledger = _ledger;
        if (fee != 0) feeToInsurance = fee.mulDown(insuranceShareD18);
        int256 cash = ledger.vaultCash + int256(fee - feeToInsurance);
        uint256 insurance = ledger.insurance + feeToInsurance;
        int256 credited = pnl;
        if (pnl > 0 && pnl > cash) {
            uint256 fromVault = cash > 0 ? uint256(cash) : 0;
            uint256 rest = uint256(pnl) - fromVault;
            uint256 fromInsurance = rest < insurance ? rest : insurance;
            insurance -= fromInsurance;
            credited = int256(fromVault + fromInsurance);
            pnl = int256(fromVault);
            emit IMarginEngine.ProfitShortfall(
                accountId,
                marketId,
                fromVault,
                fromInsurance,
                rest - fromInsurance
            );
        }
        _credit(a, credited - int256(fee));
        ledger.vaultCash = SafeCast.toInt104(cash - pnl);
        ledger.insurance = SafeCast.toUint96(insurance);
        _ledger = ledger;
    }

    /// @dev An account closed out (no positions left) with negative collateral: the insurance fund pays first, the
    ///      vault absorbs the rest (socialised). Either way the account ends at zero and the ledger stays exact.
    ///      Every close-out path (liquidation, ADL) calls this, so no deficit is ever stranded.
    function _settleBadDebt(uint256 accountId, Account storage a) internal {
        if (a.positionCount != 0 || a.collateral >= 0) return;
        uint256 deficit = uint256(-int256(a.collateral));
        uint256 insurance = _ledger.insurance;
        uint256 covered = deficit < insurance ? deficit : insurance;
        uint256 socialised = deficit - covered;
        _addInsurance(-int256(covered));
        _addVaultCash(-int256(socialised));
        a.collateral = 0;
        emit ILiquidation.BadDebt(accountId, covered, socialised);
    }

    /*//////////////////////////////////////////////////////////////
                                 LEDGER
    //////////////////////////////////////////////////////////////*/

    /// @dev Adds `delta` (may be negative) to an account's collateral.
    function _credit(Account storage a, int256 delta) internal {
        a.collateral = SafeCast.toInt112(a.collateral + delta);
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
        m.longOi = SafeCast.toUint96(longOi);
        m.shortOi = SafeCast.toUint96(shortOi);
    }

    /// @dev A position's contribution to `netFundingBasis` (size x index, rounded down).
    function _fundingBasis(int256 size, int256 index) internal pure returns (int256) {
        return MarginMath.divFloor(size * index, MarginMath.SWAD);
    }

    function _addMarket(Account storage a, uint32 marketId) private {
        uint256 n = a.positionCount;
        if (a.mode != IMarginEngine.AccountMode.Isolated) {
            uint256 max = _risk.maxPositionsPerAccount;
            if (n >= max) revert IMarginEngine.TooManyPositions(max);
            a.markets = _withByte(a.markets, n, marketId);
        }
        a.positionCount = uint8(n + 1);
    }

    function _removeMarket(Account storage a, uint32 marketId) private {
        uint256 n = a.positionCount;
        if (a.mode != IMarginEngine.AccountMode.Isolated) {
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
        uint128 shift = uint128((15 - i) * 8);
        uint128 x = uint128(list);
        return bytes16((x & ~(uint128(0xff) << shift)) | (uint128(uint8(value)) << shift));
    }

    /// @dev Refreshes the market's reserve against open interest at `price`: max(long, short) x price x
    ///      reserveRatio, in whole USD rounded up. The vault cannot release reserved cash to LPs, and a
    ///      risk-increasing trade needs vault cash to cover the total reserve.
    function _updateReserve(Market storage m, uint256 price) internal {
        uint256 larger = m.longOi > m.shortOi ? m.longOi : m.shortOi;
        uint256 reservedUsd = MarginMath.ceilDiv(
            larger.mulUp(price).mulUp(uint256(m.reserveRatioD9) * D9_TO_D18),
            WAD
        );
        uint256 previous = m.reservedUsd;
        if (reservedUsd == previous) return;
        _ledger.reservedUsd = SafeCast.toUint56(_ledger.reservedUsd + reservedUsd - previous);
        m.reservedUsd = SafeCast.toUint80(reservedUsd);
    }

    /// @dev Net PnL of all traders in a market at the current price and funding, from aggregates in O(1):
    ///      (skew x closeFill - netBasis) - (skew x index - netFundingBasis), with closeFill the average price of
    ///      closing the whole skew. Rounded up: the vault values itself low.
    function _tradersNetPnl(Market storage m) internal view returns (int256) {
        return _tradersNetPnl(m, m.feed.latestPrice());
    }

    /// @dev `_tradersNetPnl` at a price already read.
    function _tradersNetPnl(Market storage m, uint256 price) internal view returns (int256) {
        (, int256 index) = _pendingFunding(m, price);
        int256 skew = _skew(m);
        // Closing the whole skew pays skew x price x (1 + skew / 2 skewScale) whatever the order of the closes
        // (the impact is linear in skew), so this is what the traders together could take out.
        int256 impact = skew * int256(price);
        int256 twiceScale = 2 * int256(uint256(m.skewScale));
        int256 closeFill = int256(price) +
            (skew > 0 ? MarginMath.divCeil(impact, twiceScale) : MarginMath.divFloor(impact, twiceScale));
        int256 unrealised = MarginMath.divCeil(skew * closeFill, MarginMath.SWAD) - m.netBasis;
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
            uint256(m.reservedUsd) * WAD
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
        _custody += amount;
    }

    function _push(address to, uint256 amount) internal {
        _custody -= amount;
        _token.safeTransfer(to, amount);
    }
}
