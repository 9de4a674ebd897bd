// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../../interfaces/AggregatorV3Interface.sol";
import {IBulkhead} from "../../interfaces/IBulkhead.sol";
import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {IOrders} from "../../interfaces/IOrders.sol";
import {IPriceFeed} from "../../interfaces/IPriceFeed.sol";
import {IPullPriceFeed} from "../../interfaces/IPullPriceFeed.sol";
import {MockPyth} from "@pythnetwork/pyth-sdk-solidity/MockPyth.sol";
import {PythPriceFeed} from "../../oracle/PythPriceFeed.sol";
import {ChainlinkPriceFeed} from "../../oracle/ChainlinkPriceFeed.sol";
import {LiquidationModule} from "../../core/LiquidationModule.sol";
import {GovernanceModule} from "../../core/GovernanceModule.sol";
import {MarginEngine} from "../../core/MarginEngine.sol";
import {LiquidityVault} from "../../vault/LiquidityVault.sol";
import {MockAggregatorV3} from "../MockAggregatorV3.sol";
import {MockERC20} from "../MockTokens.sol";
import {Vm, VM_ADDRESS} from "../utils/Vm.sol";

/// @notice Test only. The Solidity twin of test/helpers/fixture.ts `deployBulkhead`: a 6-decimal stablecoin, ETH at
///         3000 and BTC at 60000 behind Chainlink adapters (1-day heartbeat) with Pyth pull feeds (MockPyth) for order
///         settlement, orders settling 1 to 60 seconds after commit with no settlement reward (order tests set one),
///         the same market and risk parameters,
///         a 10/10 bps vault with a one-hour cooldown, funded actors and a 5,000,000 LP deposit. The deploying
///         contract is the admin (RISK_ROLE and PAUSER_ROLE).
abstract contract BulkheadFixture {
    // solhint-disable-next-line const-name-snakecase
    Vm internal constant vm = Vm(VM_ADDRESS);

    uint256 internal constant WAD = 1e18;
    int256 internal constant SWAD = 1e18;
    uint256 internal constant TOKEN_SCALE = 1e12;
    uint256 internal constant FEED_SCALE = 1e10; // D18 / 8-decimal answers
    uint256 internal constant START = 1_700_000_000;
    uint256 internal constant HEARTBEAT = 1 days;
    uint32 internal constant ETH = 1;
    uint32 internal constant BTC = 2;
    uint256 internal constant ETH_PRICE = 3_000e18;
    uint256 internal constant BTC_PRICE = 60_000e18;
    uint256 internal constant ACTOR_FUNDS = 10_000_000e6;
    uint256 internal constant LP_DEPOSIT = 5_000_000e6;
    int256 internal constant FLAT_REWARD = 5e18;
    uint256 internal constant VAULT_MIN_DELAY = 12;

    address internal constant LP = address(0x1001);
    address internal constant ALICE = address(0x1002);
    address internal constant BOB = address(0x1003);
    address internal constant CAROL = address(0x1004);
    address internal constant KEEPER = address(0x1005);
    bytes32 internal constant ETH_PRICE_ID = keccak256("ETH/USD");
    bytes32 internal constant BTC_PRICE_ID = keccak256("BTC/USD");
    uint32 internal constant MIN_DELAY = 1;
    uint32 internal constant MAX_DELAY = 60;

    MockERC20 internal token;
    MockAggregatorV3 internal ethAggregator;
    MockAggregatorV3 internal btcAggregator;
    ChainlinkPriceFeed internal ethFeed;
    ChainlinkPriceFeed internal btcFeed;
    MockPyth internal pyth;
    PythPriceFeed internal ethPull;
    PythPriceFeed internal btcPull;
    LiquidationModule internal module;
    MarginEngine internal engineImpl;
    IBulkhead internal engine;
    LiquidityVault internal vault;

    /// @dev Deploys one vault delay before `START`, so that the LP's deposit request settles at `START` exactly.
    function _deployBulkhead() internal {
        vm.warp(START - VAULT_MIN_DELAY);
        token = new MockERC20("USD Coin", "USDC", 6);
        ethAggregator = new MockAggregatorV3(8);
        btcAggregator = new MockAggregatorV3(8);
        ethAggregator.setAnswer(int256(ETH_PRICE / FEED_SCALE));
        btcAggregator.setAnswer(int256(BTC_PRICE / FEED_SCALE));
        ethFeed = new ChainlinkPriceFeed(ethAggregator, HEARTBEAT, AggregatorV3Interface(address(0)), 0);
        btcFeed = new ChainlinkPriceFeed(btcAggregator, HEARTBEAT, AggregatorV3Interface(address(0)), 0);

        pyth = new MockPyth(60, 0);
        ethPull = new PythPriceFeed(pyth, ETH_PRICE_ID, address(this), HEARTBEAT, 100);
        btcPull = new PythPriceFeed(pyth, BTC_PRICE_ID, address(this), HEARTBEAT, 100);

        module = new LiquidationModule(token);
        engineImpl = new MarginEngine(
            token,
            address(this),
            _riskParams(),
            module,
            new GovernanceModule(token)
        );
        engine = IBulkhead(address(engineImpl));
        vault = new LiquidityVault(token, engine, address(this), 10, 10, 3600);
        engine.setVault(address(vault));
        engineImpl.grantRole(engineImpl.RISK_ROLE(), address(this));
        engineImpl.grantRole(engineImpl.PAUSER_ROLE(), address(this));
        engine.listMarket(_marketParams(ethFeed, ethPull, 1_000_000e18));
        engine.listMarket(_marketParams(btcFeed, btcPull, 50_000e18));
        engine.setOrderParams(IOrders.OrderParams(MIN_DELAY, MAX_DELAY, 0));

        address[5] memory actors = [LP, ALICE, BOB, CAROL, KEEPER];
        for (uint256 i; i < actors.length; ++i) {
            token.mint(actors[i], ACTOR_FUNDS);
            vm.startPrank(actors[i]);
            token.approve(address(engine), type(uint256).max);
            token.approve(address(vault), type(uint256).max);
            vm.stopPrank();
        }
        vm.prank(LP);
        vault.requestDeposit(LP_DEPOSIT, LP, LP);
        vm.warp(START);
        ethAggregator.setAnswer(int256(ETH_PRICE / FEED_SCALE));
        btcAggregator.setAnswer(int256(BTC_PRICE / FEED_SCALE));
        vault.settleRequests(1);
        vm.prank(LP);
        vault.deposit(LP_DEPOSIT, LP);
    }

    function _marketParams(
        IPriceFeed feed,
        IPullPriceFeed pullFeed,
        uint128 skewScale
    ) internal pure returns (IMarginEngine.MarketParams memory) {
        return
            IMarginEngine.MarketParams({
                feed: feed,
                baseImrD18: 0.02e18,
                maxImrD18: 0.5e18,
                imrSizeSlopeD18: 1e18,
                mmScalarD18: 0.5e18,
                maxFundingVelocityD18: 0.05e18,
                minPositionMarginD18: 20e18,
                skewScaleD18: skewScale,
                makerFeeD18: 0.0002e18,
                takerFeeD18: 0.0006e18,
                liquidationFeeD18: 0.005e18,
                reserveRatioD18: 0.5e18,
                maxOiPerSideD18: skewScale / 10,
                pullFeed: pullFeed,
                maxDivergenceD18: 0.05e18
            });
    }

    function _riskParams() internal pure returns (IMarginEngine.RiskParams memory) {
        return
            IMarginEngine.RiskParams({
                maxPositionsPerAccount: 16,
                keeperShareD18: 0.5e18,
                liquidationBufferD18: 0.1e18,
                insuranceFeeShareD18: 0.2e18,
                flatKeeperRewardD18: uint128(uint256(FLAT_REWARD)),
                maxKeeperRewardD18: 1_000e18,
                partialLiquidationNotionalD18: 100_000e18,
                adlTriggerD18: 0.5e18,
                adlTargetD18: 0.4e18,
                adlMinShareD18: 0.01e18
            });
    }

    /* ORDERS */

    /// @dev A trade as an order: commits (the first external call, so a preceding `vm.prank` applies to it), moves
    ///      time by the minimum delay and settles at the market's mark price published then.
    function _trade(
        uint256 accountId,
        uint32 marketId,
        int256 size,
        uint256 acceptable
    ) internal returns (uint256 fill, uint256 fee) {
        engine.commitOrder(accountId, marketId, size, acceptable, type(uint256).max);
        return _settleNext(accountId, marketId);
    }

    /// @dev `_trade` that reports failure instead of reverting (commit or settlement). An order whose settlement
    ///      fails is cancelled after its expiry, and time is put back, so nothing is left pending.
    function _tryTrade(
        uint256 accountId,
        uint32 marketId,
        int256 size,
        uint256 acceptable
    ) internal returns (bool ok, bytes memory reason) {
        // solhint-disable-next-line avoid-low-level-calls
        (ok, reason) = address(engine).call(
            abi.encodeCall(IOrders.commitOrder, (accountId, marketId, size, acceptable, type(uint256).max))
        );
        if (ok) (ok, reason) = _trySettleNext(accountId, marketId);
    }

    /// @dev Opens an isolated account funded from the wallet (`source` 0) or a cross account, as an order.
    function _openIsolated(
        uint32 marketId,
        uint256 source,
        uint256 margin,
        int256 size,
        uint256 acceptable
    ) internal returns (uint256 accountId) {
        accountId = engine.commitIsolatedOrder(marketId, source, margin, size, acceptable, type(uint256).max);
        _settleNext(accountId, marketId);
    }

    /// @dev `_openIsolated` that reports failure; a failed settlement is cancelled (the margin goes back).
    function _tryOpenIsolated(
        uint32 marketId,
        uint256 source,
        uint256 margin,
        int256 size,
        uint256 acceptable
    ) internal returns (bool ok, uint256 accountId) {
        bytes memory ret;
        // solhint-disable-next-line avoid-low-level-calls
        (ok, ret) = address(engine).call(
            abi.encodeCall(
                IOrders.commitIsolatedOrder,
                (marketId, source, margin, size, acceptable, type(uint256).max)
            )
        );
        if (!ok) return (false, 0);
        accountId = abi.decode(ret, (uint256));
        (ok, ) = _trySettleNext(accountId, marketId);
    }

    /// @dev Closes an isolated account's position as an order and returns the rest (`destination` 0: wallet).
    function _tryCloseIsolated(
        uint256 accountId,
        uint256 acceptable,
        uint256 destination
    ) internal returns (bool ok, bytes memory reason) {
        // solhint-disable-next-line avoid-low-level-calls
        (ok, reason) = address(engine).call(
            abi.encodeCall(
                IOrders.commitCloseIsolated,
                (accountId, acceptable, destination, type(uint256).max)
            )
        );
        if (ok) (ok, reason) = _trySettleNext(accountId, engine.getAccount(accountId).marketId);
    }

    /// @dev Settles the pending order one minimum delay later at the mark price.
    function _settleNext(uint256 accountId, uint32 marketId) internal returns (uint256, uint256) {
        uint256 t = vm.getBlockTimestamp() + MIN_DELAY;
        vm.warp(t);
        return engine.settleOrder(accountId, marketId, _priceUpdate(marketId, _price(marketId), t));
    }

    function _trySettleNext(
        uint256 accountId,
        uint32 marketId
    ) internal returns (bool ok, bytes memory reason) {
        uint256 t = vm.getBlockTimestamp() + MIN_DELAY;
        vm.warp(t);
        // solhint-disable-next-line avoid-low-level-calls
        (ok, reason) = address(engine).call(
            abi.encodeCall(
                IOrders.settleOrder,
                (accountId, marketId, _priceUpdate(marketId, _price(marketId), t))
            )
        );
        if (!ok) {
            uint256 expiry = engine.getOrder(accountId, marketId).expiryTime;
            vm.warp(expiry + 1);
            engine.cancelOrder(accountId, marketId);
            vm.warp(t);
        }
    }

    /// @dev MockPyth update data proving `priceD18` for the market, published at `publishTime` as the first price
    ///      after `publishTime - 1`. The exponent is chosen so that the price is exact (prices from the 8-decimal
    ///      Chainlink mocks always are).
    function _priceUpdate(
        uint32 marketId,
        uint256 priceD18,
        uint256 publishTime
    ) internal view returns (bytes[] memory data) {
        int32 expo = -18;
        while (priceD18 > uint256(uint64(type(int64).max))) {
            priceD18 /= 10;
            ++expo;
        }
        int64 price = int64(uint64(priceD18));
        data = new bytes[](1);
        data[0] = pyth.createPriceFeedUpdateData(
            marketId == ETH ? ETH_PRICE_ID : BTC_PRICE_ID,
            price,
            0,
            expo,
            price,
            0,
            uint64(publishTime),
            uint64(publishTime - 1)
        );
    }

    /* HELPERS */

    /// @dev Sets the market's funding velocity to zero, so that comparisons of trades settled one order delay
    ///      apart see their trading costs only (the rate starts at zero and stays there).
    function _withoutFunding(uint32 marketId) internal {
        IMarginEngine.MarketParams memory p = engine.getMarketParams(marketId);
        p.maxFundingVelocityD18 = 0;
        engine.setMarketParams(marketId, p);
    }

    function _aggregator(uint32 marketId) internal view returns (MockAggregatorV3) {
        return marketId == ETH ? ethAggregator : btcAggregator;
    }

    /// @dev Sets the market's oracle price (truncated to the feed's 8 decimals), fresh at the current time.
    function _setPrice(uint32 marketId, uint256 priceD18) internal {
        _aggregator(marketId).setAnswer(int256(priceD18 / FEED_SCALE));
    }

    function _price(uint32 marketId) internal view returns (uint256) {
        return (marketId == ETH ? ethFeed : btcFeed).latestPrice();
    }

    /// @dev Moves time forward and re-publishes both prices so that the feeds stay fresh.
    function _warp(uint256 seconds_) internal {
        uint256 eth = _price(ETH);
        uint256 btc = _price(BTC);
        vm.warp(vm.getBlockTimestamp() + seconds_);
        _setPrice(ETH, eth);
        _setPrice(BTC, btc);
    }

    /// @dev custody: token.balanceOf(engine) x TOKEN_SCALE - vaultCash - insurance, i.e. what accounts must hold.
    function _custodyAccountsShare() internal view returns (int256) {
        return
            int256(token.balanceOf(address(engine)) * TOKEN_SCALE) -
            engine.vaultCash() -
            int256(engine.insuranceFund());
    }

    function _collateral(uint256 accountId) internal view returns (int256) {
        return engine.getAccount(accountId).collateralD18;
    }

    function _size(uint256 accountId, uint32 marketId) internal view returns (int256 size) {
        IMarginEngine.PositionInfo[] memory ps = engine.getPositions(accountId);
        for (uint256 i; i < ps.length; ++i) if (ps[i].marketId == marketId) return ps[i].sizeD18;
    }

    function _bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        return min + (x % (max - min + 1));
    }

    /// @dev Maps x into [-limit, limit].
    function _boundSigned(int256 x, uint256 limit) internal pure returns (int256) {
        if (x >= -int256(limit) && x <= int256(limit)) return x;
        return int256(uint256(keccak256(abi.encode(x))) % (2 * limit + 1)) - int256(limit);
    }
}
