/**
 * Decoding of Bulkhead reverts: every custom error of the engine (IMarginEngine, IOrders, ILiquidation,
 * IGovernance, MarginEngine and its liquidation and governance modules), the portfolio risk model (PortfolioMargin,
 * PortfolioRisk),
 * the vault (ILiquidityVault, OpenZeppelin ERC-4626/ERC-20), the Chainlink adapter, the Pyth pull feed and the
 * Pyth contract behind it (PythErrors, which a settlement can meet), and the OpenZeppelin
 * building blocks (AccessControl, Ownable, Pausable, ReentrancyGuard, SafeERC20, SafeCast), plus `Error(string)` and `Panic(uint256)`,
 * into `{ name, args, message }` with a human message. Two names have two signatures (`InvalidPrice` and
 * `StalePrice`, Chainlink vs Pyth): decode by selector, and encode them by signature.
 */
import { ErrorFragment, Interface, id, type InterfaceAbi, type Result } from "ethers";

import {
  ChainlinkPriceFeed__factory,
  GovernanceModule__factory,
  LiquidationModule__factory,
  LiquidityVault__factory,
  MarginEngine__factory,
  MockERC20__factory,
  MockPyth__factory,
  PortfolioMargin__factory,
  PythPriceFeed__factory,
  VolatilityOracle__factory,
} from "../types/ethers-contracts/index.js";
import type { Preview } from "./preview.js";

/** A decoded revert. `args` holds the error's arguments by name (and by position in `values`). */
export interface DecodedError {
  name: string;
  selector: string;
  signature: string;
  args: Record<string, unknown>;
  values: unknown[];
  message: string;
}

function combinedInterface(): Interface {
  const seen = new Set<string>();
  const fragments: ErrorFragment[] = [];
  const abis: InterfaceAbi[] = [
    MarginEngine__factory.abi,
    LiquidationModule__factory.abi,
    GovernanceModule__factory.abi,
    LiquidityVault__factory.abi,
    ChainlinkPriceFeed__factory.abi,
    PythPriceFeed__factory.abi,
    PortfolioMargin__factory.abi, // and the PortfolioRisk library's errors it raises
    VolatilityOracle__factory.abi, // UnknownMarket(uint256) there: the market has no estimator configured
    MockPyth__factory.abi, // PythErrors, as a real Pyth contract reverts with them
    MockERC20__factory.abi,
  ];
  for (const abi of abis) {
    for (const f of new Interface(abi).fragments) {
      if (!(f instanceof ErrorFragment)) continue;
      const sig = f.format("sighash");
      if (seen.has(sig)) continue;
      seen.add(sig);
      fragments.push(f);
    }
  }
  return new Interface(fragments);
}

/** The combined error ABI of the whole protocol (deduplicated by signature). */
export const errorInterface: Interface = combinedInterface();

/** Known role ids, for AccessControl messages. */
export const ROLE_NAMES: Record<string, string> = {
  ["0x" + "00".repeat(32)]: "DEFAULT_ADMIN_ROLE",
  [id("RISK_ROLE")]: "RISK_ROLE",
  [id("PAUSER_ROLE")]: "PAUSER_ROLE",
};

const PANIC_REASONS: Record<string, string> = {
  "1": "assertion failed",
  "17": "arithmetic overflow or underflow",
  "18": "division or modulo by zero",
  "33": "invalid enum value",
  "34": "invalid storage byte array",
  "49": "pop on an empty array",
  "50": "array index out of bounds",
  "65": "out of memory",
  "81": "call to an uninitialised function",
};

/* ------------------------------------------------------------------------------------------------------------
                                                 FORMATTING
   ------------------------------------------------------------------------------------------------------------ */

/**
 * A fixed-point bigint with `decimals` decimals, shown with `digits` decimals (truncated) and thousands commas.
 * A negative value that truncates to zero at `digits` prints without a sign ("0.00", never "-0.00").
 */
export function formatFixed(value: bigint, decimals: number, digits = 2): string {
  const negative = value < 0n;
  const v = negative ? -value : value;
  const unit = 10n ** BigInt(decimals);
  const whole = (v / unit).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let out = whole;
  if (digits > 0) {
    const frac = (v % unit).toString().padStart(decimals, "0").slice(0, digits).padEnd(digits, "0");
    out += "." + frac;
  }
  return negative && !isZeroText(out) ? "-" + out : out;
}

/** Whether a formatted magnitude ("0.00", "0", "0.0000") shows zero. */
export function isZeroText(text: string): boolean {
  return /^[0,.]*$/.test(text);
}

/** A D18 amount, e.g. 1234560000000000000000n -> "1,234.56". */
export function formatD18(value: bigint, digits = 2): string {
  return formatFixed(value, 18, digits);
}

/** A D18 ratio as a percentage, e.g. 0.05e18 -> "5.00%". */
export function formatPercentD18(value: bigint): string {
  return formatFixed(value * 100n, 18, 2) + "%";
}

function bytes32Name(value: string): string {
  const hex = value.replace(/^0x/, "").replace(/(00)+$/, "");
  try {
    return Buffer.from(hex, "hex").toString("utf8");
  } catch {
    return value;
  }
}

/** The message of a decoded error (token amounts shown in raw units, `tokenDecimals` formats them). */
function messageFor(name: string, a: Result, tokenDecimals: number): string {
  const d18 = (x: unknown, digits = 2) => formatD18(x as bigint, digits);
  const tok = (x: unknown) => formatFixed(x as bigint, tokenDecimals);
  const time = (x: unknown) => new Date(Number(x as bigint) * 1000).toISOString();
  switch (name) {
    // IMarginEngine
    case "ZeroAmount":
      return "ZeroAmount: the amount is zero (or rounds to zero)";
    case "ZeroAddress":
      return "ZeroAddress: an address argument is the zero address";
    case "InvalidSize":
      return `InvalidSize: size delta ${d18(a[0])} is zero or does not fit the position`;
    case "UnknownAccount":
      return `UnknownAccount: account ${a[0]} does not exist`;
    case "UnknownMarket":
      return `UnknownMarket: market ${a[0]} does not exist`;
    case "Unauthorized":
      return `Unauthorized: ${a[0]} is neither the owner nor an operator of account ${a[1]}`;
    case "InvalidTransfer":
      return `InvalidTransfer: cannot move margin from account ${a[0]} to account ${a[1]}`;
    case "WrongAccountMode":
      return `WrongAccountMode: account ${a[0]} has the wrong mode (cross/isolated/portfolio) or market for this action`;
    case "TooManyPositions":
      return `TooManyPositions: a cross account may hold at most ${a[0]} positions`;
    case "InsufficientMargin":
      return `InsufficientMargin: equity ${d18(a[0])} < initial margin ${d18(a[1])}`;
    case "WouldBeLiquidatable":
      return `WouldBeLiquidatable: equity ${d18(a[0])} < maintenance margin ${d18(a[1])} after this action`;
    case "InsufficientCollateral":
      return `InsufficientCollateral: collateral ${d18(a[0])} < requested ${d18(a[1])}`;
    case "SlippageExceeded":
      return `SlippageExceeded: fill price ${d18(a[0])} is worse than the acceptable price ${d18(a[1])}`;
    case "OpenInterestCapExceeded":
      return `OpenInterestCapExceeded: market ${a[0]} open interest ${d18(a[1], 4)} > cap ${d18(a[2], 4)}`;
    case "VaultCapacityExceeded":
      return `VaultCapacityExceeded: reserved ${d18(a[0])} > vault cash ${d18(a[1])}`;
    case "UnsupportedToken":
      return `UnsupportedToken: expected to receive ${a[0]} token units, received ${a[1]}`;
    case "ParameterOutOfBounds":
      return `ParameterOutOfBounds: parameter "${bytes32Name(a[0] as string)}" is outside its bounds`;
    case "NotVault":
      return `NotVault: ${a[0]} is not the vault`;
    case "VaultAlreadySet":
      return "VaultAlreadySet: the vault is already connected";
    case "NoPosition":
      return `NoPosition: account ${a[0]} has no position in market ${a[1]}`;
    case "TooManyMarkets":
      return "TooManyMarkets: the market limit is reached";
    case "PortfolioMarginUnset":
      return "PortfolioMarginUnset: governance has not set the portfolio risk model yet";
    case "MarginParameterJump":
      return `MarginParameterJump: "${bytes32Name(a[0] as string)}" may move to ${a[1]} at most now (margin raises ramp at 10% an hour while the market has open interest)`;
    case "TooEarly":
      return `TooEarly: market ${a[0]}'s next volatility sample is due at ${a[1]} (one per interval)`;
    case "VolatilityParamOutOfBounds":
      return `VolatilityParamOutOfBounds: ${a[0]} = ${a[1]} is outside the oracle's bounds`;
    case "VolatilityOracleUnset":
      return "VolatilityOracleUnset: governance has not set the volatility oracle yet";
    case "PortfolioMarginAlreadySet":
      return "PortfolioMarginAlreadySet: the portfolio risk model is set once (its configuration ramps instead)";
    case "TooManyFactors":
      return `TooManyFactors: ${a[0]} factors (the model takes 1 to 6)`;
    case "TooManyScenarios":
      return `TooManyScenarios: ${a[0]} stress scenarios (at most 16)`;
    case "TooManyLegs":
      return `TooManyLegs: ${a[0]} positions (a portfolio holds at most 16)`;
    case "ModelShape":
      return `ModelShape: ${a[0]} Cholesky entries and ${a[1]} scenario shocks do not fit ${a[2]} factors`;
    case "CholeskyNotLowerTriangular":
      return `CholeskyNotLowerTriangular: L[${a[0]}][${a[1]}] above the diagonal must be 0`;
    case "CholeskyDiagonalNegative":
      return `CholeskyDiagonalNegative: L[${a[0]}][${a[0]}] must not be negative`;
    case "FactorVolOutOfBounds":
      return `FactorVolOutOfBounds: L[${a[0]}][${a[1]}] = ${a[2]} is beyond +-1e18 (100% per period)`;
    case "ScenarioShockOutOfBounds":
      return `ScenarioShockOutOfBounds: scenario ${a[0]} shocks factor ${a[1]} by ${a[2]}, beyond +-1e18`;
    case "ConfidenceOutOfBounds":
      return `ConfidenceOutOfBounds: z = ${a[0]} is outside [1e18, 6e18]`;
    case "FloorOutOfBounds":
      return `FloorOutOfBounds: floor ${a[0]} is outside [0.1e18, 1e18]`;
    case "ImScalarOutOfBounds":
      return `ImScalarOutOfBounds: IM scalar ${a[0]} is outside [1e18, 4e18]`;
    case "LoadingsShape":
      return `LoadingsShape: ${a[0]} loadings for a model of ${a[1]} factors`;
    case "LoadingOutOfBounds":
      return `LoadingOutOfBounds: loading ${a[1]} on factor ${a[0]} is beyond +-5e18`;
    case "IdioVolOutOfBounds":
      return `IdioVolOutOfBounds: idiosyncratic volatility ${a[0]} is above 1e18 (100% per period)`;
    case "NotionalOutOfBounds":
      return `NotionalOutOfBounds: notional ${a[0]} is beyond the model's 1e31 bound`;
    case "DepthOutOfBounds":
      return `DepthOutOfBounds: market ${a[0]}'s add-on depth ${a[1]} is neither 0 nor within [1e21, 1e31]`;
    case "MarketIdOutOfBounds":
      return `MarketIdOutOfBounds: market id ${a[0]} is listed twice or not below 64`;
    case "RampInProgress":
      return `RampInProgress: the previous configuration ramps in until ${a[0]}`;
    case "RampDurationOutOfBounds":
      return `RampDurationOutOfBounds: ${a[0]} s is outside [1 hour, 7 days]`;
    case "LegsShape":
      return "LegsShape: the leg arrays differ in length";
    case "ModuleMismatch":
      return "ModuleMismatch: a module (liquidation or governance) was built for another token";
    // IOrders
    case "OrderPending":
      return `OrderPending: account ${a[0]} already has a pending order in market ${a[1]}`;
    case "NoPendingOrder":
      return `NoPendingOrder: account ${a[0]} has no pending order in market ${a[1]}`;
    case "OrderNotReady":
      return `OrderNotReady: the order cannot settle before ${time(a[0])} (its minimum delay)`;
    case "OrderExpired":
      return `OrderExpired: the order expired at ${time(a[0])}; anyone may cancel it`;
    case "OrderNotExpired":
      return `OrderNotExpired: the order can only be cancelled after it expires at ${time(a[0])}`;
    case "SettlementRewardAboveBudget":
      return `SettlementRewardAboveBudget: the settlement reward ${d18(a[0], 6)} exceeds the order's budget ${d18(a[1], 6)}`;
    case "OrdersNotConfigured":
      return "OrdersNotConfigured: the order parameters (delays, settlement reward) were never set";
    case "CollateralLockedByOrder":
      return `CollateralLockedByOrder: account ${a[0]} has a pending order; no collateral may leave it until the order settles or is cancelled`;
    case "PriceDivergence":
      return `PriceDivergence: settlement price ${d18(a[0])} is further from the mark price ${d18(a[1])} than the market allows`;
    // IGovernance
    case "AlreadyInitialized":
      return "AlreadyInitialized: the risk parameters were already initialised (only the engine's constructor may)";
    case "NothingToSweep":
      // The engine's (token, requested, available) and the vault's (token).
      return a.length === 3
        ? `NothingToSweep: sweeping ${a[1]} units of token ${a[0]} exceeds the ${a[2]} recoverable beyond the ledger`
        : `NothingToSweep: the vault holds no ${a[0]} beyond what its LPs are owed`;
    // ILiquidation
    case "NotLiquidatable":
      return `NotLiquidatable: account ${a[0]} is not liquidatable (equity >= maintenance margin)`;
    case "AdlNotTriggered":
      return `AdlNotTriggered: market ${a[0]} traders' PnL ${d18(a[1])} <= trigger ${d18(a[2])}`;
    case "OnlySelf":
      return "OnlySelf: only the engine itself may call this";
    case "PositionNotProfitable":
      return `PositionNotProfitable: account ${a[0]}'s position in market ${a[1]} is not in profit`;
    case "AdlNotEligible":
      return `AdlNotEligible: account ${a[0]}'s profit ${d18(a[2])} in market ${a[1]} is below the ADL minimum ${d18(a[3])} (adlMinShare of the market's traders' net profit)`;
    // ILiquidityVault
    case "ReceiverMustBeCaller":
      return `ReceiverMustBeCaller: caller ${a[0]} must be the receiver, not ${a[1]}`;
    case "CooldownActive":
      return `CooldownActive: ${a[0]}'s shares are locked until ${time(a[1])}`;
    case "VaultParameterOutOfBounds":
      return "VaultParameterOutOfBounds: a vault parameter is outside its bounds";
    case "AssetMismatch":
      return "AssetMismatch: the vault asset is not the engine's settlement token";
    case "DepositsPaused":
      return "DepositsPaused: the engine is paused; vault deposits add risk capacity and wait until it resumes";
    case "NotOperator":
      return `NotOperator: ${a[0]} is neither ${a[1]} nor its operator`;
    case "RequestPending":
      return `RequestPending: ${a[0]} already has a pending request of this kind; wait for it to settle or expire`;
    case "NoPendingRequest":
      return `NoPendingRequest: ${a[0]} has no pending request of this kind`;
    case "RequestNotExpired":
      return `RequestNotExpired: ${a[0]}'s request can be cancelled only after it expires at ${time(a[1])}`;
    case "ExceedsClaimable":
      return `ExceedsClaimable: ${a[0]} asked for ${a[1]} but only ${a[2]} is claimable (settled requests)`;
    case "AsyncFlow":
      return "AsyncFlow: the vault is asynchronous (ERC-7540); request a deposit or redemption and claim it once settled";
    // IChainlinkPriceFeed
    case "AnswerAtCircuitBreaker":
      return `AnswerAtCircuitBreaker: the oracle answer ${a[0]} is at the aggregator's bound [${a[1]}, ${a[2]}], not a price`;
    case "InvalidAnswerBounds":
      return `InvalidAnswerBounds: the aggregator's bounds [${a[0]}, ${a[1]}] are empty`;
    case "InvalidPrice":
      return a.length === 2
        ? `InvalidPrice: the Pyth price ${a[0]} x 10^${a[1]} is not a positive price`
        : `InvalidPrice: the oracle answer ${a[0]} is not positive`;
    case "StalePrice":
      return a.length === 0
        ? "StalePrice: the Pyth price is older than the contract's valid time period"
        : `StalePrice: the oracle was last updated at ${time(a[0])}, older than the heartbeat of ${a[1]} s`;
    case "IncompleteRound":
      return `IncompleteRound: round ${a[0]} was answered in round ${a[1]}`;
    case "SequencerDown":
      return "SequencerDown: the L2 sequencer is down";
    case "SequencerGracePeriodNotOver":
      return `SequencerGracePeriodNotOver: sequencer up since ${time(a[0])}, grace period ${a[1]} s`;
    case "InvalidHeartbeat":
      return "InvalidHeartbeat: the heartbeat is zero";
    case "InvalidGracePeriod":
      return `InvalidGracePeriod: grace period ${a[0]} s is invalid`;
    case "InvalidDecimals":
      return `InvalidDecimals: aggregator decimals ${a[0]} are not supported`;
    // IPythPriceFeed
    case "InvalidExponent":
      return `InvalidExponent: the Pyth exponent ${a[0]} is outside the supported range`;
    case "ConfidenceTooWide":
      return `ConfidenceTooWide: the Pyth confidence ${a[0]} is wider than ${a[2]} bps of the price ${a[1]}`;
    case "InvalidWindow":
      return `InvalidWindow: the settlement window [${a[0]}, ${a[1]}] is empty`;
    case "PriceOutsideWindow":
      return `PriceOutsideWindow: the price was published at ${a[0]}, outside the window [${a[1]}, ${a[2]}]`;
    case "WrongPriceId":
      return `WrongPriceId: expected a price for ${a[0]}, received ${a[1]}`;
    case "InsufficientUpdateFee":
      return `InsufficientUpdateFee: sent ${a[0]} wei, the oracle's update fee is ${a[1]} wei (send it exactly)`;
    case "RefundFailed":
      return `RefundFailed: could not refund ${a[1]} wei of excess update fee to ${a[0]}`;
    case "InvalidMaxAge":
      return `InvalidMaxAge: max age ${a[0]} s is zero or above the limit`;
    case "InvalidMaxConfidence":
      return `InvalidMaxConfidence: max confidence ${a[0]} bps is zero or above the limit`;
    // PythErrors (the Pyth contract)
    case "InsufficientFee":
      return "InsufficientFee: Pyth: the fee sent does not cover the update fee";
    case "InvalidArgument":
      return "InvalidArgument: Pyth: an argument is invalid";
    case "NoFreshUpdate":
      return "NoFreshUpdate: Pyth: the update carries no price fresher than the stored one";
    case "PriceFeedNotFound":
      return "PriceFeedNotFound: Pyth: no price for this id in the update";
    case "PriceFeedNotFoundWithinRange":
      return "PriceFeedNotFoundWithinRange: Pyth: the update has no price for this id published inside the window (the first price at or after the order's ready time)";
    case "InvalidTwapUpdateDataSet":
      return "InvalidTwapUpdateDataSet: Pyth: invalid TWAP update data";
    // OpenZeppelin
    case "AccessControlUnauthorizedAccount": {
      const role = ROLE_NAMES[(a[1] as string).toLowerCase()] ?? (a[1] as string);
      return `AccessControlUnauthorizedAccount: ${a[0]} lacks ${role}`;
    }
    case "OwnableUnauthorizedAccount":
      return `OwnableUnauthorizedAccount: ${a[0]} is not the owner`;
    case "OwnableInvalidOwner":
      return `OwnableInvalidOwner: ${a[0]} cannot be the owner`;
    case "AccessControlBadConfirmation":
      return "AccessControlBadConfirmation: renounceRole must be called by the account itself";
    case "EnforcedPause":
      return "EnforcedPause: the protocol is paused (risk-increasing actions are stopped)";
    case "ExpectedPause":
      return "ExpectedPause: the protocol is not paused";
    case "AddressEmptyCode":
      return `AddressEmptyCode: ${a[0]} has no code (a module address is wrong)`;
    case "FailedCall":
      return "FailedCall: a low-level call failed without a reason";
    case "ReentrancyGuardReentrantCall":
      return "ReentrancyGuardReentrantCall: reentrant call";
    case "SafeERC20FailedOperation":
      return `SafeERC20FailedOperation: a transfer of token ${a[0]} failed`;
    case "ERC20InsufficientBalance":
      return `ERC20InsufficientBalance: ${a[0]} has ${tok(a[1])} tokens, needs ${tok(a[2])}`;
    case "ERC20InsufficientAllowance":
      return `ERC20InsufficientAllowance: ${a[0]} is allowed ${tok(a[1])} tokens, needs ${tok(a[2])}`;
    case "ERC20InvalidApprover":
    case "ERC20InvalidReceiver":
    case "ERC20InvalidSender":
    case "ERC20InvalidSpender":
      return `${name}: invalid address ${a[0]}`;
    case "SafeCastOverflowedIntDowncast":
    case "SafeCastOverflowedUintDowncast":
      return `${name}: ${a[1]} does not fit in ${a[0]} bits (a balance or aggregate left its storage range)`;
    case "SafeCastOverflowedIntToUint":
      return `SafeCastOverflowedIntToUint: ${a[0]} is negative (e.g. the insurance fund would go below zero)`;
    case "SafeCastOverflowedUintToInt":
      return `SafeCastOverflowedUintToInt: ${a[0]} does not fit in int256`;
    case "ERC4626ExceededMaxDeposit":
      return `ERC4626ExceededMaxDeposit: deposit of ${tok(a[1])} for ${a[0]} exceeds the max ${tok(a[2])}`;
    case "ERC4626ExceededMaxMint":
      return `ERC4626ExceededMaxMint: mint of ${a[1]} shares for ${a[0]} exceeds the max ${a[2]}`;
    case "ERC4626ExceededMaxWithdraw":
      return `ERC4626ExceededMaxWithdraw: withdrawal of ${tok(a[1])} by ${a[0]} exceeds the max ${tok(a[2])}`;
    case "ERC4626ExceededMaxRedeem":
      return `ERC4626ExceededMaxRedeem: redemption of ${a[1]} shares by ${a[0]} exceeds the max ${a[2]}`;
    default:
      return `${name}(${Array.from(a).map(String).join(", ")})`;
  }
}

/**
 * Decodes revert data. Returns undefined for empty or unknown data.
 * @param tokenDecimals Decimals of the settlement token, for messages of ERC-20/ERC-4626 errors (default 6).
 */
export function decodeError(data: string | null | undefined, tokenDecimals = 6): DecodedError | undefined {
  if (!data || data === "0x" || data.length < 10) return undefined;
  const selector = data.slice(0, 10).toLowerCase();
  if (selector === "0x08c379a0" || selector === "0x4e487b71") {
    const iface = new Interface(["error Error(string)", "error Panic(uint256)"]);
    const parsed = iface.parseError(data);
    if (!parsed) return undefined;
    const value = parsed.args[0];
    const message =
      parsed.name === "Error"
        ? `Error: ${value as string}`
        : `Panic: ${PANIC_REASONS[(value as bigint).toString()] ?? `code ${value}`}`;
    const key = parsed.name === "Error" ? "message" : "code";
    return {
      name: parsed.name,
      selector,
      signature: parsed.signature,
      args: { [key]: value },
      values: [value],
      message,
    };
  }
  let parsed;
  try {
    parsed = errorInterface.parseError(data);
  } catch {
    return undefined;
  }
  if (!parsed) return undefined;
  const args: Record<string, unknown> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name || String(i)] = parsed.args[i];
  });
  return {
    name: parsed.name,
    selector,
    signature: parsed.signature,
    args,
    values: Array.from(parsed.args),
    message: messageFor(parsed.name, parsed.args, tokenDecimals),
  };
}

/** Finds revert data inside an error thrown by ethers or a provider (nested `data`, `error.data`, `info`). */
export function revertDataOf(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const o = e as Record<string, unknown>;
    if (typeof o.data === "string" && /^0x[0-9a-fA-F]{8}/.test(o.data)) return o.data;
    for (const k of ["data", "error", "info", "cause", "revert", "payload"]) if (k in o) stack.push(o[k]);
  }
  return undefined;
}

/** Decodes the revert carried by a thrown error, if any. */
export function decodeRevert(err: unknown, tokenDecimals = 6): DecodedError | undefined {
  return decodeError(revertDataOf(err), tokenDecimals);
}

/**
 * A refused preview's error in words, as `decodeError` words the same revert from the chain (e.g.
 * "Unauthorized: 0x… is neither the owner nor an operator of account 1"); undefined for an allowed preview.
 */
export function previewErrorMessage(p: Preview, tokenDecimals = 6): string | undefined {
  if (p.allowed) return undefined;
  const name = p.error?.name ?? p.reason ?? "Rejected";
  const values = p.error?.args ?? [];
  try {
    const decoded = decodeError(errorInterface.encodeErrorResult(name, values), tokenDecimals);
    if (decoded !== undefined) return decoded.message;
  } catch {
    // Not in the protocol's error ABI: the raw form.
  }
  return `${name}(${values.join(", ")})`;
}
