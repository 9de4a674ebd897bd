// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "../../interfaces/AggregatorV3Interface.sol";
import {IBulkhead} from "../../interfaces/IBulkhead.sol";
import {IMarginEngine} from "../../interfaces/IMarginEngine.sol";
import {IPriceFeed} from "../../interfaces/IPriceFeed.sol";
import {ChainlinkPriceFeed} from "../../oracle/ChainlinkPriceFeed.sol";
import {LiquidationModule} from "../../core/LiquidationModule.sol";
import {GovernanceModule} from "../../core/GovernanceModule.sol";
import {MarginEngine} from "../../core/MarginEngine.sol";
import {LiquidityVault} from "../../vault/LiquidityVault.sol";
import {MockAggregatorV3} from "../MockAggregatorV3.sol";
import {MockERC20} from "../MockTokens.sol";
import {Vm, VM_ADDRESS} from "../utils/Vm.sol";

/// @notice Test only. The Solidity twin of test/helpers/fixture.ts `deployBulkhead`: a 6-decimal stablecoin, ETH at
///         3000 and BTC at 60000 behind Chainlink adapters (1-day heartbeat), the same market and risk parameters,
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

    address internal constant LP = address(0x1001);
    address internal constant ALICE = address(0x1002);
    address internal constant BOB = address(0x1003);
    address internal constant CAROL = address(0x1004);
    address internal constant KEEPER = address(0x1005);

    MockERC20 internal token;
    MockAggregatorV3 internal ethAggregator;
    MockAggregatorV3 internal btcAggregator;
    ChainlinkPriceFeed internal ethFeed;
    ChainlinkPriceFeed internal btcFeed;
    LiquidationModule internal module;
    MarginEngine internal engineImpl;
    IBulkhead internal engine;
    LiquidityVault internal vault;

    function _deployBulkhead() internal {
        vm.warp(START);
        token = new MockERC20("USD Coin", "USDC", 6);
        ethAggregator = new MockAggregatorV3(8);
        btcAggregator = new MockAggregatorV3(8);
        ethAggregator.setAnswer(int256(ETH_PRICE / FEED_SCALE));
        btcAggregator.setAnswer(int256(BTC_PRICE / FEED_SCALE));
        ethFeed = new ChainlinkPriceFeed(ethAggregator, HEARTBEAT, AggregatorV3Interface(address(0)), 0);
        btcFeed = new ChainlinkPriceFeed(btcAggregator, HEARTBEAT, AggregatorV3Interface(address(0)), 0);

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
        engineImpl.setVault(address(vault));
        engineImpl.grantRole(engineImpl.RISK_ROLE(), address(this));
        engineImpl.grantRole(engineImpl.PAUSER_ROLE(), address(this));
        engine.listMarket(_marketParams(ethFeed, 1_000_000e18));
        engine.listMarket(_marketParams(btcFeed, 50_000e18));

        address[5] memory actors = [LP, ALICE, BOB, CAROL, KEEPER];
        for (uint256 i; i < actors.length; ++i) {
            token.mint(actors[i], ACTOR_FUNDS);
            vm.startPrank(actors[i]);
            token.approve(address(engine), type(uint256).max);
            token.approve(address(vault), type(uint256).max);
            vm.stopPrank();
        }
        vm.prank(LP);
        vault.deposit(LP_DEPOSIT, LP);
    }

    function _marketParams(
        IPriceFeed feed,
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
                maxOiPerSideD18: skewScale / 10
            });
    }

    function _riskParams() internal pure returns (IMarginEngine.RiskParams memory) {
        return
            IMarginEngine.RiskParams({
                maxPositionsPerAccount: 16,
                keeperShareD18: 0.5e18,
                liquidationBufferD18: 0.1e18,
                insuranceFeeShareD18: 0.2e18,
                flatKeeperRewardD18: 5e18,
                maxKeeperRewardD18: 1_000e18,
                partialLiquidationNotionalD18: 100_000e18,
                adlTriggerD18: 0.5e18,
                adlTargetD18: 0.4e18,
                adlMinShareD18: 0.01e18
            });
    }

    /* HELPERS */

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
        vm.warp(block.timestamp + seconds_);
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
