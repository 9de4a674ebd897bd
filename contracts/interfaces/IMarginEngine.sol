// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPriceFeed} from "./IPriceFeed.sol";
import {IPullPriceFeed} from "./IPullPriceFeed.sol";

/// @title IMarginEngine
/// @notice The Bulkhead accounting core: custody of the settlement asset, cross, isolated and portfolio margin
///         accounts, oracle-priced perpetual markets with skew impact and funding, margin views, and the
///         ledger of the liquidity vault and the insurance fund.
/// @dev Units: every price, USD value and ratio is an 18-decimal fixed-point number (`D18`). Sizes are
///      signed 18-decimal amounts of the base asset (positive long, negative short). Token amounts at the
///      edges (`deposit`, `withdraw`, events named `...Amount`) are in the settlement token's own decimals.
///      The settlement token is the unit of account: one whole token is worth 1 (no collateral oracle).
///      Rounding always favours the protocol: requirements and charges round up, equity and payouts down.
interface IMarginEngine {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    /// @notice How an account's requirement is computed, fixed at creation. Cross: the sum of its positions'
    ///         margins. Isolated: one market, its loss capped at its own collateral. Portfolio: a cross account whose
    ///         requirement is the risk model's (`IPortfolioMargin`) instead of the sum.
    enum AccountMode {
        Cross,
        Isolated,
        Portfolio
    }

    /// @notice Risk and economic parameters of one market. All ratios are D18 fractions (1e18 = 100%).
    /// @param feed Mark price source for margin, liquidation and the vault's value; reverts when it has no valid
    ///        price. Orders fill at `pullFeed`'s price instead.
    /// @param baseImrD18 Initial margin ratio of a tiny position.
    /// @param maxImrD18 Cap on the size-scaled initial margin ratio.
    /// @param imrSizeSlopeD18 Increase of the IMR per `skewScale` of position size.
    /// @param mmScalarD18 Maintenance margin = initial margin ratio x this scalar (< 1).
    /// @param maxFundingVelocityD18 Funding-rate drift per day, per day, at a skew of one full `skewScale`.
    /// @param minPositionMarginD18 Flat margin added to IM and MM of every open position (covers the flat keeper reward).
    /// @param skewScaleD18 Skew (base units) at which price impact reaches 100% and the funding velocity saturates.
    /// @param makerFeeD18 Fee on the part of a trade that reduces the market's skew.
    /// @param takerFeeD18 Fee on the part of a trade that increases the market's skew.
    /// @param liquidationFeeD18 Liquidation fee per unit of closed notional; must stay below baseImr x mmScalar.
    /// @param reserveRatioD18 Share of the larger side's notional the vault reserves as traders' plausible max profit.
    /// @param maxOiPerSideD18 Cap on long and on short open interest, in base units.
    /// @param pullFeed The pull oracle orders settle on (Pyth in production).
    /// @param maxDivergenceD18 Largest relative distance between an order's settlement price and the mark price
    ///        `feed` allows (0 disables the check, for deployments where `feed` reads the same source).
    // solhint-disable-next-line gas-struct-packing
    struct MarketParams {
        IPriceFeed feed;
        uint64 baseImrD18;
        uint64 maxImrD18;
        uint64 imrSizeSlopeD18;
        uint64 mmScalarD18;
        uint64 maxFundingVelocityD18;
        uint128 minPositionMarginD18;
        uint128 skewScaleD18;
        uint64 makerFeeD18;
        uint64 takerFeeD18;
        uint64 liquidationFeeD18;
        uint64 reserveRatioD18;
        uint128 maxOiPerSideD18;
        IPullPriceFeed pullFeed;
        uint64 maxDivergenceD18;
    }

    /// @notice Live state of one market.
    /// @param longOiD18 Sum of long sizes.
    /// @param shortOiD18 Sum of |short sizes|. Skew = long - short.
    /// @param fundingIndexD18 Cumulative funding per unit of long size, in USD (D18), at `lastFundingTime`.
    /// @param fundingRateD18 Funding rate per day (fraction of notional, D18) at `lastFundingTime`; > 0 longs pay.
    /// @param lastFundingTime When funding was last accrued.
    /// @param netBasisD18 Sum over positions of their cost basis (size x entry price).
    /// @param netFundingBasisD18 Sum over positions of size x funding index at their last settlement.
    /// @param reservedD18 Part of the vault's cash reserved against this market's open interest (whole USD).
    /// @param imVolMultiplierD18 Volatility multiplier on the market's IM ratios (1e18 = none; 1 + k / 64).
    /// @param mmVolMultiplierD18 Volatility multiplier on its MM ratios (lags the IM one on the way up).
    struct MarketState {
        uint128 longOiD18;
        uint128 shortOiD18;
        int128 fundingIndexD18;
        int64 fundingRateD18;
        uint48 lastFundingTime;
        int128 netBasisD18;
        int128 netFundingBasisD18;
        uint128 reservedD18;
        uint64 imVolMultiplierD18;
        uint64 mmVolMultiplierD18;
    }

    /// @notice Protocol-wide risk parameters.
    /// @param maxPositionsPerAccount Markets a cross account may hold at once (bounds every loop over positions).
    /// @param keeperShareD18 Share of the liquidation fee paid to the keeper on top of the flat part.
    /// @param flatKeeperRewardD18 Flat part of the keeper reward (USD) that covers gas; <= every market's
    ///        minPositionMargin, so even a dust position pays its liquidator.
    /// @param maxKeeperRewardD18 Cap of the keeper reward (USD): reward = min(flat + fee x keeperShare, max).
    /// @param partialLiquidationNotionalD18 Accounts whose total notional exceeds this are liquidated partially.
    /// @param liquidationBufferD18 After a partial liquidation, equity >= (1 + buffer) x maintenance margin.
    /// @param insuranceFeeShareD18 Share of trading fees paid to the insurance fund (the rest to the vault).
    /// @param adlTriggerD18 ADL is allowed in a market when traders' unrealised profit there exceeds this share of vault cash.
    /// @param adlTargetD18 ADL reduces positions until that profit is back at this share (< trigger).
    /// @param adlMinShareD18 Only positions whose profit is at least this share of the market's traders' net profit
    ///        may be auto-deleveraged (so bystanders with small profits are never touched).
    struct RiskParams {
        uint8 maxPositionsPerAccount;
        uint64 keeperShareD18;
        uint64 liquidationBufferD18;
        uint64 insuranceFeeShareD18;
        uint128 flatKeeperRewardD18;
        uint128 maxKeeperRewardD18;
        uint128 partialLiquidationNotionalD18;
        uint64 adlTriggerD18;
        uint64 adlTargetD18;
        uint64 adlMinShareD18;
    }

    /// @notice A margin account. `mode` and `marketId` are fixed at creation (`marketId` is 0 unless isolated);
    ///         `isolated` is `mode == Isolated`.
    struct AccountInfo {
        address owner;
        bool isolated;
        uint32 marketId;
        uint8 positionCount;
        int256 collateralD18;
        AccountMode mode;
    }

    /// @notice One open position. Unrealised PnL = size x exitFill - basis (see `MarginSummary`).
    struct PositionInfo {
        uint32 marketId;
        int256 sizeD18;
        int256 basisD18;
        int256 lastFundingIndexD18;
    }

    /// @notice Every margin figure of an account at current oracle prices and skews. Each position is marked at
    ///         its exit fill, the price a trade closing it now would get (oracle with the skew impact of the close),
    ///         so an entry premium is never margin and liquidation can never return more than a close by trade.
    ///         Notional and margin requirements use the oracle price.
    /// @param collateralD18 Realised cash balance (may be negative inside a cross account with unrealised profit).
    /// @param unrealisedPnlD18 Sum of size x exitFill - basis, rounded down.
    /// @param accruedFundingD18 Funding owed by the account (negative when it is owed funding), rounded up.
    /// @param equityD18 collateral + unrealisedPnl - accruedFunding.
    /// @param initialMarginD18 Sum of IM, rounded up.
    /// @param maintenanceMarginD18 Sum of MM, rounded up.
    /// @param notionalD18 Sum of |size| x price, rounded up.
    struct MarginSummary {
        int256 collateralD18;
        int256 unrealisedPnlD18;
        int256 accruedFundingD18;
        int256 equityD18;
        uint256 initialMarginD18;
        uint256 maintenanceMarginD18;
        uint256 notionalD18;
    }

    /// @notice The quote of a trade of `sizeDeltaD18` at the current oracle price and skew.
    struct TradeQuote {
        uint256 oraclePriceD18;
        uint256 fillPriceD18;
        uint256 feeD18;
    }

    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Emitted when a margin account is created.
    event AccountCreated(
        uint256 indexed accountId,
        address indexed owner,
        bool isolated,
        uint32 marketId,
        AccountMode mode
    );
    /// @notice Emitted when an owner approves or revokes an operator over all its accounts.
    event OperatorSet(address indexed owner, address indexed operator, bool approved);
    /// @notice Emitted when an owner approves or revokes an operator over one account.
    event AccountOperatorSet(uint256 indexed accountId, address indexed operator, bool approved);
    /// @notice Emitted when tokens are deposited into an account.
    event Deposited(uint256 indexed accountId, address indexed from, uint256 amount);
    /// @notice Emitted when tokens leave an account.
    event Withdrawn(uint256 indexed accountId, address indexed receiver, uint256 amount);
    /// @notice Emitted when collateral moves between two accounts of one owner.
    event MarginTransferred(uint256 indexed fromAccountId, uint256 indexed toAccountId, uint256 amountD18);
    /// @notice Emitted on every trade. It also carries the market's funding rate and index as accrued by the trade
    ///         (one log per trade instead of a separate `MarketUpdated`); the market's open interest follows from
    ///         `sizeDeltaD18`, and its reserve is readable with `getMarketState`.
    /// @param feeD18 Trading fee charged to the account.
    /// @param feeToInsuranceD18 The insurance fund's share of the fee; the vault receives the rest.
    /// @param realisedPnlD18 PnL realised by the reduced part (credited to the account, debited from the vault).
    /// @param fundingPaidD18 Funding settled from the account to the vault (negative: paid to the account).
    /// @param fundingRateD18 The market's funding rate per day after accrual.
    /// @param fundingIndexD18 The market's funding index after accrual.
    event PositionModified(
        uint256 indexed accountId,
        uint32 indexed marketId,
        int256 sizeDeltaD18,
        int256 newSizeD18,
        uint256 fillPriceD18,
        uint256 feeD18,
        uint256 feeToInsuranceD18,
        int256 realisedPnlD18,
        int256 fundingPaidD18,
        int256 fundingRateD18,
        int256 fundingIndexD18
    );
    /// @notice Emitted when an account's netted realised profit exceeds the vault's cash: the vault pays what cash
    ///         it has, the insurance fund pays next, and the rest is forfeited (a haircut), so profits never come out
    ///         of other traders' collateral. Decided once per action on the account's net result (all legs of a
    ///         liquidation together; `marketId` is 0 then). A realised loss never takes this path. ADL exists to
    ///         keep this from happening.
    event ProfitShortfall(
        uint256 indexed accountId,
        uint32 indexed marketId,
        uint256 paidByVaultD18,
        uint256 paidByInsuranceD18,
        uint256 haircutD18
    );
    /// @notice Emitted when a liquidation or ADL changes a market's funding, open interest or reserve (trades
    ///         report theirs in `PositionModified`).
    event MarketUpdated(
        uint32 indexed marketId,
        int256 fundingRateD18,
        int256 fundingIndexD18,
        uint256 longOiD18,
        uint256 shortOiD18,
        uint256 reservedD18
    );
    /// @notice Emitted when a market is listed.
    event MarketListed(uint32 indexed marketId, MarketParams params);
    /// @notice Emitted when a market's parameters change.
    event MarketParamsUpdated(uint32 indexed marketId, MarketParams params);
    /// @notice Emitted when the risk parameters change.
    event RiskParamsUpdated(RiskParams params);
    /// @notice Emitted once, when the liquidity vault is connected.
    event VaultSet(address indexed vault);
    /// @notice Emitted when the liquidity vault's cash changes through LP flows.
    event VaultCashMoved(int256 deltaD18, int256 vaultCashD18);
    /// @notice Emitted when the pause guardian stops risk-increasing actions.
    event Paused(address account);
    /// @notice Emitted when the pause guardian resumes risk-increasing actions.
    event Unpaused(address account);
    /// @notice Emitted when anyone adds to the insurance fund.
    event InsuranceFunded(address indexed from, uint256 amount, uint256 insuranceFundD18);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice Thrown when an amount is zero, or rounds to zero.
    error ZeroAmount();
    /// @notice Thrown when an address argument is the zero address.
    error ZeroAddress();
    /// @notice Thrown when a size delta is zero or does not fit the position's storage.
    error InvalidSize(int256 sizeDeltaD18);
    /// @notice Thrown when an account id does not exist.
    error UnknownAccount(uint256 accountId);
    /// @notice Thrown when a market id does not exist.
    error UnknownMarket(uint32 marketId);
    /// @notice Thrown when the caller is neither the owner nor an approved operator of the account.
    error Unauthorized(address caller, uint256 accountId);
    /// @notice Thrown when margin would move between accounts of different owners, or to the same account.
    error InvalidTransfer(uint256 fromAccountId, uint256 toAccountId);
    /// @notice Thrown when an isolated account is used for another market, or a flow needs another account mode.
    error WrongAccountMode(uint256 accountId);
    /// @notice Thrown when a cross account would hold more than `maxPositionsPerAccount` positions.
    error TooManyPositions(uint256 max);
    /// @notice Thrown when an action that adds risk would leave equity below initial margin.
    error InsufficientMargin(int256 equityD18, uint256 initialMarginD18);
    /// @notice Thrown when a risk-reducing action would leave the account liquidatable.
    error WouldBeLiquidatable(int256 equityD18, uint256 maintenanceMarginD18);
    /// @notice Thrown when more collateral is requested than the account's realised balance holds.
    error InsufficientCollateral(int256 collateralD18, uint256 requestedD18);
    /// @notice Thrown when the fill price is worse than the caller's bound.
    error SlippageExceeded(uint256 fillPriceD18, uint256 acceptablePriceD18);
    /// @notice Thrown when a trade would push one side's open interest over its cap.
    error OpenInterestCapExceeded(uint32 marketId, uint256 openInterestD18, uint256 capD18);
    /// @notice Thrown when the vault's cash would no longer cover the reserve against open interest.
    error VaultCapacityExceeded(uint256 reservedD18, int256 vaultCashD18);
    /// @notice Thrown when a token delivers less than the amount asked (fee-on-transfer, rebasing).
    error UnsupportedToken(uint256 expected, uint256 received);
    /// @notice Thrown when a parameter is outside its hard bounds.
    error ParameterOutOfBounds(bytes32 name);
    /// @notice Thrown when a vault-only entry point is called by anyone else.
    error NotVault(address caller);
    /// @notice Thrown when the vault is set twice.
    error VaultAlreadySet();
    /// @notice Thrown when there is no position to act on.
    error NoPosition(uint256 accountId, uint32 marketId);
    /// @notice Thrown when a risk-increasing action is attempted while paused, or pause is called twice.
    error EnforcedPause();
    /// @notice Thrown when unpause is called while not paused.
    error ExpectedPause();
    /// @notice Thrown when the market limit is reached.
    error TooManyMarkets();
    /// @notice Thrown when a portfolio account is requested before governance has set the portfolio risk model.
    error PortfolioMarginUnset();

    /*//////////////////////////////////////////////////////////////
                                ACCOUNTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Creates a cross margin account owned by the caller.
    function createCrossAccount() external returns (uint256 accountId);

    /// @notice Creates an isolated margin account owned by the caller, restricted to `marketId`.
    function createIsolatedAccount(uint32 marketId) external returns (uint256 accountId);

    /// @notice Creates a portfolio margin account owned by the caller: a cross account whose requirement comes from
    ///         the portfolio risk model (`portfolioMargin`). Reverts `PortfolioMarginUnset` before one is set.
    function createPortfolioAccount() external returns (uint256 accountId);

    /// @notice Approves or revokes `operator` over every account the caller owns.
    function setOperator(address operator, bool approved) external;

    /// @notice Approves or revokes `operator` over one account; only its owner may call.
    function setAccountOperator(uint256 accountId, address operator, bool approved) external;

    /*//////////////////////////////////////////////////////////////
                                 MARGIN
    //////////////////////////////////////////////////////////////*/

    /// @notice Adds `amount` tokens from the caller to an account. Anyone may add margin; allowed while paused.
    /// @dev Reverts with UnsupportedToken if the engine receives less than `amount`.
    function deposit(uint256 accountId, uint256 amount) external;

    /// @notice Sends `amount` tokens of the account's realised collateral to `receiver`.
    /// @dev Requires equity >= initial margin afterwards (or no positions). Allowed while paused.
    function withdraw(uint256 accountId, uint256 amount, address receiver) external;

    /// @notice Moves `amountD18` of collateral between two accounts of the same owner.
    /// @dev The source must keep equity >= initial margin.
    function transferMargin(uint256 fromAccountId, uint256 toAccountId, uint256 amountD18) external;

    /// @notice Adds `amount` tokens from the caller to the insurance fund.
    function fundInsurance(uint256 amount) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice The settlement token.
    function settlementToken() external view returns (address);

    /// @notice The liquidity vault's realised cash held by the engine.
    function vaultCash() external view returns (int256);

    /// @notice The part of vault cash reserved against open interest.
    function totalReserved() external view returns (uint256);

    /// @notice Vault cash plus traders' net loss over all markets (O(markets), never a loop over positions).
    function vaultValue() external view returns (int256);

    /// @notice `vaultValue()` together with the oldest publish time of the prices it used, so that an LP request
    ///         settles only on prices published after it (ERC-7540 flows of the vault).
    /// @dev Same loop and same prices as `vaultValue()`: for every market with open interest the price comes from
    ///      `feed.latestPriceData()`. With no open interest anywhere the value depends on no price and
    ///      `oldestPublishTime` is `block.timestamp`. Reverts whenever `vaultValue()` would.
    /// @return valueD18 Vault cash plus traders' net loss, D18.
    /// @return oldestPublishTime The smallest `publishTime` among the prices used, in seconds.
    function vaultValueAt() external view returns (int256 valueD18, uint256 oldestPublishTime);

    /*//////////////////////////////////////////////////////////////
                                 VAULT
    //////////////////////////////////////////////////////////////*/

    /// @notice Pulls `amount` tokens from the vault into the engine and credits vault cash. Vault only.
    function vaultDeposit(uint256 amount) external;

    /// @notice Sends `amount` tokens of unreserved vault cash to `receiver`. Vault only.
    function vaultWithdraw(uint256 amount, address receiver) external;

    /// @notice Whether risk-increasing actions (opening, increasing, vault deposits) are stopped.
    function paused() external view returns (bool);
}
