/**
 * The deployment parameter file: its shape (zod) and every bound the contracts enforce, checked off-chain so a
 * bad file fails with a message naming the field BEFORE a transaction is sent.
 *
 * Bounds mirror contracts/core/GovernanceModule.sol (its public constants, `_writeMarketParams`, `_setRiskParams`,
 * `setOrderParams`), contracts/vault/LiquidityVault.sol (`_setVaultParams`), contracts/oracle/ChainlinkPriceFeed.sol
 * and contracts/oracle/PythPriceFeed.sol (constructors).
 * Keep them in lock-step: the on-chain checks stay authoritative, these only fail earlier and say why.
 */
import { readFile } from "node:fs/promises";
import { getAddress, isAddress } from "ethers";
import { z } from "zod";

export const WAD = 10n ** 18n;

/** GovernanceModule / EngineBase hard bounds (D18 unless noted); GovernanceModule exposes each as a constant. */
export const ENGINE_BOUNDS = {
  MIN_BASE_IMR: 5n * 10n ** 15n, // 0.005
  MAX_IMR: WAD,
  MAX_IMR_SLOPE: 4n * WAD,
  MIN_MM_SCALAR: WAD / 10n,
  MAX_MM_SCALAR: (9n * WAD) / 10n,
  MAX_FUNDING_VELOCITY: 4n * WAD,
  MAX_MIN_POSITION_MARGIN: 1_000_000n * WAD,
  MAX_TRADE_FEE: WAD / 100n,
  MAX_LIQUIDATION_FEE: (5n * WAD) / 100n,
  MAX_KEEPER_REWARD: 100_000n * WAD,
  MAX_LIQUIDATION_BUFFER: WAD / 2n,
  MAX_INSURANCE_FEE_SHARE: WAD / 2n,
  MAX_ADL_MIN_SHARE: WAD / 2n,
  MAX_PRICE_DIVERGENCE: WAD / 10n,
  MAX_MIN_ORDER_DELAY: 3600n, // seconds
  MAX_ORDER_WINDOW: 24n * 3600n, // seconds, maxDelay - minDelay
  MAX_SETTLEMENT_REWARD: 1000n * WAD,
  MAX_SIZE_PARAM: 10n ** 28n, // 1e10 base units: sizes and open interest live in 96-bit storage
  MAX_POSITIONS: 16,
  MAX_MARKETS: 64,
  MAX_TOKEN_DECIMALS: 18,
} as const;

/** LiquidityVault bounds. */
export const VAULT_BOUNDS = { MAX_FEE_BPS: 100, MAX_COOLDOWN: 7 * 24 * 3600 } as const;

/** PythPriceFeed bounds (MAX_AGE_LIMIT, MAX_CONFIDENCE_BPS_LIMIT). */
export const PULL_FEED_BOUNDS = { MAX_AGE: 24 * 3600, MAX_CONFIDENCE_BPS: 1000 } as const;

/** ChainlinkPriceFeed bounds. */
export const FEED_BOUNDS = {
  MAX_HEARTBEAT: 7 * 24 * 3600,
  MAX_GRACE_PERIOD: 24 * 3600,
  MAX_DECIMALS: 36,
} as const;

const UINT64_MAX = 2n ** 64n - 1n;
const UINT96_MAX = 2n ** 96n - 1n;
const UINT128_MAX = 2n ** 128n - 1n;

/** A decimal string ("0.02", "100000") parsed to a bigint with `decimals` digits of precision. */
export function parseDecimal(value: string, decimals: number): bigint {
  const [whole, fraction = ""] = value.split(".");
  return BigInt(whole) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
}

/** The inverse of `parseDecimal`, for messages: 20000000000000000n, 18 -> "0.02". */
export function formatDecimal(value: bigint, decimals: number): string {
  const scale = 10n ** BigInt(decimals);
  const fraction = (value % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  return fraction === "" ? `${value / scale}` : `${value / scale}.${fraction}`;
}

const decimalString = (decimals: number) =>
  z
    .string({ invalid_type_error: 'must be a decimal string such as "0.02"' })
    .regex(
      new RegExp(`^\\d+(\\.\\d{1,${decimals}})?$`),
      `must be a non-negative decimal string with at most ${decimals} decimals, such as "0.02"`,
    );

/** A D18 fixed-point value written as a decimal string, checked to fit its Solidity type. */
const d18 = (bits: 64 | 96 | 128) => {
  const max = bits === 64 ? UINT64_MAX : bits === 96 ? UINT96_MAX : UINT128_MAX;
  return decimalString(18)
    .transform((value) => parseDecimal(value, 18))
    .pipe(z.bigint().max(max, `does not fit a uint${bits} in D18 (max ${formatDecimal(max, 18)})`));
};

/** A market ratio: D18 on chain, but stored with 9 decimals, so at most 9 decimals here. */
const ratio = () =>
  decimalString(9)
    .transform((value) => parseDecimal(value, 18))
    .pipe(z.bigint().max(UINT64_MAX, `does not fit a uint64 in D18 (max ${formatDecimal(UINT64_MAX, 18)})`));

const address = z
  .string({ invalid_type_error: "must be an address string" })
  .refine((value) => isAddress(value), {
    message: "is not a valid address (40 hex digits after 0x, with a correct EIP-55 checksum if mixed-case)",
  })
  .transform((value) => getAddress(value));

const nonZeroAddress = address.refine((value) => value !== "0x0000000000000000000000000000000000000000", {
  message: "must not be the zero address",
});

/** A role holder: an address, the deploying account, or the timelock this file deploys. */
const roleHolder = z.union([z.literal("deployer"), z.literal("timelock"), nonZeroAddress], {
  errorMap: () => ({ message: 'must be an address, "deployer" or "timelock"' }),
});

/** A signed D18 value written as a decimal string ("-0.08"). */
const signedD18 = z
  .string({ invalid_type_error: 'must be a decimal string such as "-0.08"' })
  .regex(/^-?\d+(\.\d{1,18})?$/, 'must be a decimal string with at most 18 decimals, such as "-0.08"')
  .transform((value) =>
    value.startsWith("-") ? -parseDecimal(value.slice(1), 18) : parseDecimal(value, 18),
  );

/**
 * The portfolio risk model (contracts/risk/PortfolioMargin.sol): factor names, the Cholesky factor L of the
 * factors' covariance over the margin period (K rows of K, lower triangular), stress scenarios of K factor
 * returns, z, floor, IM scalar, the ramp of later changes, and each market's loadings (K), idiosyncratic
 * volatility and add-on depth (USD), by market symbol. The contract's bounds are checked at deployment.
 */
const portfolioMarginSchema = z
  .object({
    rampSeconds: z
      .number()
      .int()
      .min(3600)
      .max(7 * 24 * 3600),
    factors: z.array(z.string().min(1)).min(1).max(6),
    cholesky: z.array(z.array(signedD18)),
    scenarios: z.array(z.object({ name: z.string().min(1), shocks: z.array(signedD18) }).strict()).max(16),
    z: d18(64),
    floor: d18(64),
    imScalar: d18(64),
    markets: z.record(
      z.string(),
      z.object({ loadings: z.array(signedD18), idioVol: d18(64), depth: d18(128) }).strict(),
    ),
  })
  .strict();

/**
 * The volatility oracle (contracts/risk/VolatilityOracle.sol) and its estimator's parameters, the same for every
 * market but the base volatility (per interval, by market symbol; markets not listed get no estimator).
 */
const volatilitySchema = z
  .object({
    intervalSeconds: z.number().int().min(3600).max(86_400),
    lambda: d18(64),
    winsor: d18(64),
    cap: d18(64),
    risePerHour: d18(64),
    fallPerHour: d18(64),
    baseVol: z.record(z.string(), d18(64)),
  })
  .strict();

const seconds = (max: number) => z.number().int("must be a whole number of seconds").min(0).max(max);

const tokenSchema = z.union(
  [
    z
      .object({
        mock: z
          .object({
            name: z.string().min(1),
            symbol: z.string().min(1),
            decimals: z.number().int().min(0).max(ENGINE_BOUNDS.MAX_TOKEN_DECIMALS),
          })
          .strict(),
      })
      .strict(),
    z.object({ address: nonZeroAddress }).strict(),
  ],
  { errorMap: () => ({ message: "must be {mock: {name, symbol, decimals}} or {address}" }) },
);

const timelockSchema = z
  .object({
    minDelay: seconds(365 * 24 * 3600),
    proposers: z
      .array(z.union([z.literal("deployer"), nonZeroAddress]))
      .min(1, "needs at least one proposer"),
    /** The zero address as an executor lets anyone execute a ready operation (OpenZeppelin's convention). */
    executors: z.array(z.union([z.literal("deployer"), address])).min(1, "needs at least one executor"),
  })
  .strict();

const riskParamsSchema = z
  .object({
    maxPositionsPerAccount: z.number().int().min(1).max(ENGINE_BOUNDS.MAX_POSITIONS),
    keeperShare: d18(64),
    liquidationBuffer: d18(64),
    insuranceFeeShare: d18(64),
    /** Flat part of the keeper reward (USD): pays for gas; <= every market's minPositionMargin. */
    flatKeeperReward: d18(96),
    /** Cap of the keeper reward (USD): reward = min(flat + liquidationFee x keeperShare, max). */
    maxKeeperReward: d18(96),
    partialLiquidationNotional: d18(128),
    adlTrigger: d18(64),
    adlTarget: d18(64),
    /** Only positions whose profit is at least this share of their market's traders' net profit may be ADL'd. */
    adlMinShare: d18(64),
  })
  .strict();

const vaultSchema = z
  .object({
    entryFeeBps: z.number().int().min(0).max(VAULT_BOUNDS.MAX_FEE_BPS),
    exitFeeBps: z.number().int().min(0).max(VAULT_BOUNDS.MAX_FEE_BPS),
    cooldownSeconds: seconds(VAULT_BOUNDS.MAX_COOLDOWN),
  })
  .strict();

const feedSchema = z.union(
  [
    z
      .object({
        mock: z
          .object({
            decimals: z.number().int().min(0).max(FEED_BOUNDS.MAX_DECIMALS),
            /** The price as a decimal string ("3000"), scaled by `decimals` for the aggregator's answer. */
            initialAnswer: z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal string such as "3000"'),
          })
          .strict(),
      })
      .strict(),
    z.object({ aggregator: nonZeroAddress }).strict(),
  ],
  { errorMap: () => ({ message: "must be {mock: {decimals, initialAnswer}} or {aggregator}" }) },
);

const bytes32 = z
  .string({ invalid_type_error: "must be a 0x-prefixed 32-byte hex string" })
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be a 0x-prefixed 32-byte hex string (a Pyth price id)")
  .transform((value) => value.toLowerCase())
  .refine((value) => !/^0x0{64}$/.test(value), { message: "must not be zero" });

/**
 * The Pyth contract every market's pull feed reads: a MockPyth deployed here (local networks only: it accepts
 * unsigned updates), or the chain's Pyth contract.
 */
const pythSchema = z.union(
  [
    z
      .object({
        mock: z
          .object({
            /** MockPyth's valid time period (seconds). */
            validTimePeriodSeconds: z
              .number()
              .int()
              .min(1)
              .max(365 * 24 * 3600),
            /** MockPyth's fee per price update, in wei. */
            updateFeeWei: z.number().int().min(0),
          })
          .strict(),
      })
      .strict(),
    z.object({ address: nonZeroAddress }).strict(),
  ],
  { errorMap: () => ({ message: "must be {mock: {validTimePeriodSeconds, updateFeeWei}} or {address}" }) },
);

/** A market's PythPriceFeed: the price its orders settle on. */
const pullFeedSchema = z
  .object({
    /** The Pyth price id. Required with a real Pyth contract; with the mock, BULKHEAD/<market id> by default. */
    priceId: bytes32.optional(),
    /** Oldest stored price `latestPrice` accepts (seconds). */
    maxAgeSeconds: z.number().int().min(1).max(PULL_FEED_BOUNDS.MAX_AGE),
    /** Widest confidence interval accepted, in basis points of the price. */
    maxConfidenceBps: z.number().int().min(1).max(PULL_FEED_BOUNDS.MAX_CONFIDENCE_BPS),
  })
  .strict();

/** IOrders.OrderParams: order delays and the settling keeper's flat reward. */
const ordersSchema = z
  .object({
    /** Seconds after commit before the earliest accepted settlement price (>= 1). */
    minDelaySeconds: z.number().int().min(1).max(Number(ENGINE_BOUNDS.MAX_MIN_ORDER_DELAY)),
    /** Seconds after commit after which an order expires (> minDelaySeconds). */
    maxDelaySeconds: z.number().int().min(2),
    /** Flat reward (USD) the settling keeper receives from the account, fixed at commit (at most 6 decimals). */
    settlementReward: decimalString(6).transform((value) => parseDecimal(value, 18)),
  })
  .strict();

const marketParamsSchema = z
  .object({
    baseImr: ratio(),
    maxImr: ratio(),
    imrSizeSlope: ratio(),
    mmScalar: ratio(),
    maxFundingVelocity: ratio(),
    minPositionMargin: d18(128),
    skewScale: d18(128),
    makerFee: ratio(),
    takerFee: ratio(),
    liquidationFee: ratio(),
    reserveRatio: ratio(),
    maxOiPerSide: d18(128),
    /** Largest gap between an order's settlement price and the mark price, as a fraction of the mark (0: none). */
    maxDivergence: ratio(),
  })
  .strict();

const marketSchema = z
  .object({
    symbol: z.string().regex(/^[A-Z0-9]+-[A-Z0-9]+$/, 'must look like "ETH-USD"'),
    feed: feedSchema,
    heartbeatSeconds: z.number().int().min(1).max(FEED_BOUNDS.MAX_HEARTBEAT),
    sequencerUptimeFeed: nonZeroAddress.optional(),
    gracePeriodSeconds: seconds(FEED_BOUNDS.MAX_GRACE_PERIOD).optional(),
    pullFeed: pullFeedSchema,
    params: marketParamsSchema,
  })
  .strict();

/** Error text for a bound, with the contract's own error so an on-chain revert can be matched to it. */
const bound = (rule: string, contractName: string) =>
  `${rule} (on chain: ParameterOutOfBounds("${contractName}"))`;
const show = (value: bigint) => formatDecimal(value, 18);

export const parameterFileSchema = z
  .object({
    $schema: z.string().optional(),
    description: z.string().optional(),
    token: tokenSchema,
    admin: roleHolder,
    riskAdmin: roleHolder,
    pauser: roleHolder,
    timelock: timelockSchema.optional(),
    riskParams: riskParamsSchema,
    vault: vaultSchema,
    pyth: pythSchema,
    orders: ordersSchema,
    markets: z.array(marketSchema).min(1, "list at least one market").max(ENGINE_BOUNDS.MAX_MARKETS),
    portfolioMargin: portfolioMarginSchema.optional(),
    volatility: volatilitySchema.optional(),
  })
  .strict();

export type ParameterFileInput = z.input<typeof parameterFileSchema>;
export type DeployParameters = z.output<typeof parameterFileSchema>;
export type MarketParameters = DeployParameters["markets"][number];
export type RoleHolder = DeployParameters["admin"];

type Issue = { path: (string | number)[]; message: string };

/**
 * The cross-field rules and contract bounds, run once the file has the right shape (zod refinements would also
 * run on half-parsed values).
 */
export function checkBounds(file: DeployParameters): Issue[] {
  const issues: Issue[] = [];
  const issue = (path: (string | number)[], message: string) => issues.push({ path, message });
  const B = ENGINE_BOUNDS;

  // Roles and the timelock.
  const holders = { admin: file.admin, riskAdmin: file.riskAdmin, pauser: file.pauser };
  for (const [role, holder] of Object.entries(holders)) {
    if (holder === "timelock" && file.timelock === undefined) {
      issue([role], '"timelock" needs a `timelock` section to deploy one');
    }
  }
  if (file.timelock !== undefined && !Object.values(holders).includes("timelock")) {
    issue(["timelock"], 'a timelock is configured but no role is given to it (set admin to "timelock")');
  }

  // Portfolio model and volatility oracle: shapes and market names (the contracts check the bounds).
  const listed = new Set(file.markets.map((m) => m.symbol));
  const pm = file.portfolioMargin;
  if (pm !== undefined) {
    const k = pm.factors.length;
    if (pm.cholesky.length !== k || pm.cholesky.some((row) => row.length !== k)) {
      issue(["portfolioMargin", "cholesky"], `must be ${k} rows of ${k} (one per factor)`);
    }
    pm.scenarios.forEach((s, i) => {
      if (s.shocks.length !== k)
        issue(["portfolioMargin", "scenarios", i, "shocks"], `must list ${k} shocks`);
    });
    for (const [symbol, m] of Object.entries(pm.markets)) {
      if (!listed.has(symbol)) issue(["portfolioMargin", "markets", symbol], "is not a listed market");
      if (m.loadings.length !== k)
        issue(["portfolioMargin", "markets", symbol, "loadings"], `must list ${k}`);
    }
  }
  for (const symbol of Object.keys(file.volatility?.baseVol ?? {})) {
    if (!listed.has(symbol)) issue(["volatility", "baseVol", symbol], "is not a listed market");
  }

  // Risk parameters (GovernanceModule._setRiskParams).
  const r = file.riskParams;
  if (r.keeperShare > WAD) issue(["riskParams", "keeperShare"], bound("must be <= 1", "keeperShare"));
  if (r.liquidationBuffer > B.MAX_LIQUIDATION_BUFFER) {
    issue(
      ["riskParams", "liquidationBuffer"],
      bound(`must be <= ${show(B.MAX_LIQUIDATION_BUFFER)}`, "liquidationBuffer"),
    );
  }
  if (r.insuranceFeeShare > B.MAX_INSURANCE_FEE_SHARE) {
    issue(
      ["riskParams", "insuranceFeeShare"],
      bound(`must be <= ${show(B.MAX_INSURANCE_FEE_SHARE)}`, "insuranceFeeShare"),
    );
  }
  if (r.flatKeeperReward > r.maxKeeperReward) {
    issue(
      ["riskParams", "flatKeeperReward"],
      bound(`must be <= maxKeeperReward (${show(r.maxKeeperReward)})`, "keeperReward"),
    );
  }
  if (r.maxKeeperReward > B.MAX_KEEPER_REWARD) {
    issue(
      ["riskParams", "maxKeeperReward"],
      bound(`must be <= ${show(B.MAX_KEEPER_REWARD)}`, "keeperReward"),
    );
  }
  if (r.partialLiquidationNotional === 0n) {
    issue(["riskParams", "partialLiquidationNotional"], bound("must be > 0", "partialLiquidationNotional"));
  }
  if (r.adlTarget === 0n) issue(["riskParams", "adlTarget"], bound("must be > 0", "adl"));
  if (r.adlTarget >= r.adlTrigger) {
    issue(["riskParams", "adlTarget"], bound(`must be < adlTrigger (${show(r.adlTrigger)})`, "adl"));
  }
  if (r.adlTrigger > WAD) issue(["riskParams", "adlTrigger"], bound("must be <= 1", "adl"));
  if (r.adlMinShare === 0n || r.adlMinShare > B.MAX_ADL_MIN_SHARE) {
    issue(
      ["riskParams", "adlMinShare"],
      bound(`must be in (0, ${show(B.MAX_ADL_MIN_SHARE)}]`, "adlMinShare"),
    );
  }

  // Orders (GovernanceModule.setOrderParams).
  const o = file.orders;
  if (o.maxDelaySeconds <= o.minDelaySeconds) {
    issue(
      ["orders", "maxDelaySeconds"],
      bound(`must be > minDelaySeconds (${o.minDelaySeconds})`, "maxDelay"),
    );
  } else if (BigInt(o.maxDelaySeconds - o.minDelaySeconds) > B.MAX_ORDER_WINDOW) {
    issue(
      ["orders", "maxDelaySeconds"],
      bound(`must be at most ${B.MAX_ORDER_WINDOW} s after minDelaySeconds`, "maxDelay"),
    );
  }
  if (o.settlementReward > B.MAX_SETTLEMENT_REWARD) {
    issue(
      ["orders", "settlementReward"],
      bound(`must be <= ${show(B.MAX_SETTLEMENT_REWARD)}`, "settlementReward"),
    );
  }

  // Markets (GovernanceModule._writeMarketParams, ChainlinkPriceFeed and PythPriceFeed constructors).
  const symbols = new Set<string>();
  file.markets.forEach((market, i) => {
    const at = (field: string) => ["markets", i, "params", field];
    if (symbols.has(market.symbol))
      issue(["markets", i, "symbol"], `duplicate market symbol ${market.symbol}`);
    symbols.add(market.symbol);

    if (market.gracePeriodSeconds !== undefined && market.sequencerUptimeFeed === undefined) {
      issue(["markets", i, "gracePeriodSeconds"], "only applies with a sequencerUptimeFeed");
    }

    const p = market.params;
    if (p.baseImr < B.MIN_BASE_IMR)
      issue(at("baseImr"), bound(`must be >= ${show(B.MIN_BASE_IMR)}`, "baseImr"));
    if (p.baseImr > p.maxImr) issue(at("baseImr"), bound(`must be <= maxImr (${show(p.maxImr)})`, "baseImr"));
    if (p.maxImr > B.MAX_IMR) issue(at("maxImr"), bound(`must be <= ${show(B.MAX_IMR)}`, "maxImr"));
    if (p.imrSizeSlope > B.MAX_IMR_SLOPE) {
      issue(at("imrSizeSlope"), bound(`must be <= ${show(B.MAX_IMR_SLOPE)}`, "imrSizeSlope"));
    }
    if (p.mmScalar < B.MIN_MM_SCALAR || p.mmScalar > B.MAX_MM_SCALAR) {
      issue(
        at("mmScalar"),
        bound(`must be in [${show(B.MIN_MM_SCALAR)}, ${show(B.MAX_MM_SCALAR)}]`, "mmScalar"),
      );
    }
    if (p.maxFundingVelocity > B.MAX_FUNDING_VELOCITY) {
      issue(
        at("maxFundingVelocity"),
        bound(`must be <= ${show(B.MAX_FUNDING_VELOCITY)}`, "maxFundingVelocity"),
      );
    }
    if (p.minPositionMargin < r.flatKeeperReward) {
      issue(
        at("minPositionMargin"),
        bound(
          `must be >= riskParams.flatKeeperReward (${show(r.flatKeeperReward)}) so a dust position pays its liquidator`,
          "minPositionMargin",
        ),
      );
    }
    if (p.minPositionMargin > B.MAX_MIN_POSITION_MARGIN) {
      issue(
        at("minPositionMargin"),
        bound(`must be <= ${show(B.MAX_MIN_POSITION_MARGIN)}`, "minPositionMargin"),
      );
    }
    if (p.skewScale === 0n || p.skewScale > B.MAX_SIZE_PARAM) {
      issue(at("skewScale"), bound(`must be in (0, ${show(B.MAX_SIZE_PARAM)}]`, "skewScale"));
    }
    for (const fee of ["makerFee", "takerFee"] as const) {
      if (p[fee] > B.MAX_TRADE_FEE) issue(at(fee), bound(`must be <= ${show(B.MAX_TRADE_FEE)}`, "tradeFee"));
    }
    if (p.liquidationFee > B.MAX_LIQUIDATION_FEE) {
      issue(at("liquidationFee"), bound(`must be <= ${show(B.MAX_LIQUIDATION_FEE)}`, "liquidationFee"));
    }
    // The engine rounds the product down (mulDown), so compare against the floor. A liquidation pays the trading
    // fee a close would pay plus the liquidation fee, so both together must stay below the maintenance ratio.
    const maintenanceRatio = (p.baseImr * p.mmScalar) / WAD;
    if (p.liquidationFee + p.takerFee >= maintenanceRatio) {
      issue(
        at("liquidationFee"),
        bound(
          `liquidationFee + takerFee must be < baseImr x mmScalar (${show(maintenanceRatio)}), or liquidating at the maintenance boundary leaves negative equity`,
          "liquidationFee",
        ),
      );
    }
    if (p.reserveRatio === 0n || p.reserveRatio > WAD) {
      issue(at("reserveRatio"), bound("must be in (0, 1]", "reserveRatio"));
    }
    if (p.maxOiPerSide === 0n || p.maxOiPerSide > p.skewScale) {
      issue(at("maxOiPerSide"), bound(`must be in (0, skewScale (${show(p.skewScale)})]`, "maxOiPerSide"));
    }
    if (p.maxDivergence > B.MAX_PRICE_DIVERGENCE) {
      issue(at("maxDivergence"), bound(`must be <= ${show(B.MAX_PRICE_DIVERGENCE)}`, "maxDivergence"));
    }
    // A real Pyth contract serves the ids its publishers publish: the file must name them.
    if ("address" in file.pyth && market.pullFeed.priceId === undefined) {
      issue(["markets", i, "pullFeed", "priceId"], "required with a Pyth contract address (pyth.address)");
    }
  });
  return issues;
}

/** Thrown for a parameter file that does not parse or breaks a contract bound; lists every problem. */
export class ParameterFileError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Invalid deployment parameters in ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ParameterFileError";
  }
}

/**
 * zod reports a failed union as one `invalid_union` issue. When exactly one branch has the right shape (its own
 * keys, literal or type), that branch's issues say what is actually wrong (`token.address: is not a valid
 * address`), so report them instead.
 */
function explainUnions(issues: z.ZodIssue[]): Issue[] {
  return issues.flatMap((issue): Issue[] => {
    if (issue.code !== z.ZodIssueCode.invalid_union) return [issue];
    const depth = issue.path.length;
    const fits = issue.unionErrors.filter(
      (branch) =>
        !branch.issues.some(
          (i) =>
            (i.code === z.ZodIssueCode.unrecognized_keys && i.path.length === depth) ||
            ((i.code === z.ZodIssueCode.invalid_type || i.code === z.ZodIssueCode.invalid_literal) &&
              i.path.length <= depth + 1),
        ),
    );
    return fits.length === 1 ? explainUnions(fits[0].issues) : [issue];
  });
}

/** Validates already-parsed JSON; `source` names it in error messages. */
export function parseParameters(json: unknown, source = "parameters"): DeployParameters {
  const result = parameterFileSchema.safeParse(json);
  const issues: Issue[] = result.success ? checkBounds(result.data) : explainUnions(result.error.issues);
  if (result.success && issues.length === 0) return result.data;
  const problems = issues.map(({ path, message }) => {
    const where = path.map((key) => (typeof key === "number" ? `[${key}]` : `.${key}`)).join("");
    return `${where.replace(/^\./, "") || "(file)"}: ${message}`;
  });
  throw new ParameterFileError(source, problems);
}

/** Reads and validates a parameter file. */
export async function readParameterFile(file: string): Promise<DeployParameters> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new ParameterFileError(file, [`cannot read JSON: ${(error as Error).message}`]);
  }
  return parseParameters(json, file);
}
