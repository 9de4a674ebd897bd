/**
 * Keeper configuration: a JSON file (optional), then environment variables, then `--flag value` command-line
 * flags, each overriding the one before; validated by zod. keeper/README.md documents every setting.
 *
 *   file key / env var / flag                                  default
 *   rpcUrl            KEEPER_RPC_URL             --rpc-url            BULKHEAD_RPC_URL, else the network `hardhat run --network` connects to
 *   engine            KEEPER_ENGINE              --engine             (or from the address book)
 *   addressBook       KEEPER_ADDRESS_BOOK        --address-book       deployments/<chainId>.json if it exists (engine, startBlock)
 *   (no key)          KEEPER_PRIVATE_KEY         (no flag)            env var or Hardhat configuration variable only
 *   startBlock        KEEPER_START_BLOCK         --start-block        the address book's startBlock, else 0
 *   checkpointFile    KEEPER_CHECKPOINT_FILE     --checkpoint-file    none (index kept in memory only)
 *   pollMs            KEEPER_POLL_MS             --poll-ms            1000
 *   batchSize         KEEPER_BATCH_SIZE          --batch-size         100 accounts per liquidation tx (1..500)
 *   quoteBatchSize    KEEPER_QUOTE_BATCH_SIZE    --quote-batch-size   200 accounts per liquidationQuotes call (keep x ~30k gas under the eth_call cap)
 *   gasTargetPerTx    KEEPER_GAS_TARGET_PER_TX   --gas-target-per-tx  3000000
 *   blockGasBudget    KEEPER_BLOCK_GAS_BUDGET    --block-gas-budget   15000000 (gas this keeper sends per block)
 *   logRange          KEEPER_LOG_RANGE           --log-range          2000 blocks per eth_getLogs
 *   rewardReceiver    KEEPER_REWARD_RECEIVER     --reward-receiver    the keeper's address
 *   dryRun            KEEPER_DRY_RUN=1           --dry-run            false
 *   metricsPort       KEEPER_METRICS_PORT        --metrics-port       9464 on 127.0.0.1 (0 = ephemeral)
 *   maxGasPriceGwei   KEEPER_MAX_GAS_PRICE_GWEI  --max-gas-price-gwei no cap
 *   minProfitUsd      KEEPER_MIN_PROFIT_USD      --min-profit-usd     no floor under the cap, 0 above it
 *   nativeUsd         KEEPER_NATIVE_USD          --native-usd         3000 (USD per native token, prices gas)
 *   tipGwei           KEEPER_TIP_GWEI            --tip-gwei           the node's suggestion
 *   replaceAfterBlocks KEEPER_REPLACE_AFTER_BLOCKS --replace-after-blocks 3
 *   feeBumpPercent    KEEPER_FEE_BUMP_PERCENT    --fee-bump-percent   15
 *   screenMarginBps   KEEPER_SCREEN_MARGIN_BPS   --screen-margin-bps  200
 *   fullQuoteEvery    KEEPER_FULL_QUOTE_EVERY    --full-quote-every   20 ticks
 *   settleOrders      KEEPER_SETTLE_ORDERS       --settle-orders      true (settle delayed orders once ready)
 *   cancelExpiredOrders KEEPER_CANCEL_EXPIRED_ORDERS --cancel-expired-orders true (fee-free clean-up, gas only)
 *   settleLpRequests  KEEPER_SETTLE_LP_REQUESTS  --settle-lp-requests true (settle the vault's ERC-7540 requests)
 *   lpRequestsPerTx   KEEPER_LP_REQUESTS_PER_TX  --lp-requests-per-tx 50 queue entries per settleRequests tx (1..500)
 *   volatilityUpkeep  KEEPER_VOLATILITY_UPKEEP   --volatility-upkeep  true (poke the volatility oracle, sync the engine)
 *   priceService.kind KEEPER_PRICE_SERVICE       --price-service      local chains: "local", else none (no settlement)
 *   priceService.url  KEEPER_HERMES_URL          --hermes-url         (kind "hermes") e.g. https://hermes.pyth.network
 *   priceService.timeoutMs KEEPER_HERMES_TIMEOUT_MS (no flag)         (kind "hermes") 5000
 *   priceService.path KEEPER_PRICE_PATH (JSON)   (no flag)            (kind "local") {"kind":"hold"}
 *   priceService.publishEveryMs KEEPER_PUBLISH_EVERY_MS (no flag)     (kind "local") 2000
 *   (no key)          KEEPER_HERMES_API_KEY      (no flag)            none (sent as a bearer token)
 *   (no key)          KEEPER_PUBLISHER_PRIVATE_KEY (no flag)          local chains: the last local signer
 *   once              KEEPER_ONCE=1              --once               false
 *   (file path)       KEEPER_CONFIG              --config             none
 */
import { existsSync, readFileSync } from "node:fs";
import { isAddress, parseUnits } from "ethers";
import { z } from "zod";

import { addressBookPath, defaultAddressBookDir } from "../deploy/address-book.js";

const flag = z
  .union([z.boolean(), z.string()])
  .transform((v) => v === true || v === "1" || v === "true" || v === "yes");
const address = z.string().refine((v) => isAddress(v), "not an address");
const decimal = z
  .union([z.number(), z.string()])
  .transform(String)
  .pipe(z.string().regex(/^\d+(\.\d+)?$/));
const gas = z
  .union([z.number(), z.string()])
  .pipe(z.coerce.bigint())
  .refine((v) => v >= 21_000n, "below 21000");

/** A local price path (keeper/price-publisher.ts): hold, scripted prices per market id, or a seeded random walk. */
export const pricePathSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("hold") }).strict(),
  z
    .object({
      kind: z.literal("scripted"),
      prices: z.record(z.string().regex(/^\d+$/, "a market id"), z.array(decimal).min(1)),
      loop: z.boolean().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("randomWalk"),
      seed: z.coerce.number().int(),
      volatilityBps: z.coerce.number().int().min(0).max(5_000).optional(),
    })
    .strict(),
]);

/** JSON text (from the environment) parsed, anything else as is. */
const jsonText = (v: unknown) => {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
};

/**
 * Where order settlements get their prices: `local` (the local price publisher signs MockPyth updates from the
 * marks it publishes along `path`) or `hermes` (Pyth's price service at `url`).
 */
export const priceServiceSchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("local"),
      path: z.preprocess(jsonText, pricePathSchema).optional(),
      publishEveryMs: z.coerce.number().int().min(100).default(2000),
    })
    .strict(),
  z
    .object({
      kind: z.literal("hermes"),
      url: z.string().url(),
      timeoutMs: z.coerce.number().int().min(100).default(5000),
    })
    .strict(),
]);

export type PriceServiceConfig = z.infer<typeof priceServiceSchema>;

export const configSchema = z
  .object({
    rpcUrl: z.string().url().optional(),
    engine: address.optional(),
    addressBook: z.string().optional(),
    startBlock: z.coerce.number().int().nonnegative().optional(),
    checkpointFile: z.string().optional(),
    pollMs: z.coerce.number().int().min(100).default(1000),
    batchSize: z.coerce.number().int().min(1).max(500).default(100),
    quoteBatchSize: z.coerce.number().int().min(1).max(5000).default(200),
    gasTargetPerTx: gas.default(3_000_000),
    blockGasBudget: gas.default(15_000_000),
    logRange: z.coerce.number().int().min(1).max(100_000).default(2000),
    rewardReceiver: address.optional(),
    dryRun: flag.default(false),
    metricsPort: z.coerce.number().int().min(0).max(65535).default(9464),
    maxGasPriceGwei: decimal.optional(),
    minProfitUsd: decimal.optional(),
    nativeUsd: decimal.default("3000"),
    tipGwei: decimal.optional(),
    replaceAfterBlocks: z.coerce.number().int().min(1).max(1000).default(3),
    feeBumpPercent: z.coerce.number().int().min(10).max(500).default(15),
    screenMarginBps: z.coerce.number().int().min(0).max(10_000).default(200),
    fullQuoteEvery: z.coerce.number().int().min(1).default(20),
    settleOrders: flag.default(true),
    cancelExpiredOrders: flag.default(true),
    settleLpRequests: flag.default(true),
    lpRequestsPerTx: z.coerce.number().int().min(1).max(500).default(50),
    volatilityUpkeep: flag.default(true),
    priceService: priceServiceSchema.optional(),
    once: flag.default(false),
  })
  .strict();

type Parsed = z.infer<typeof configSchema>;
export type KeeperConfig = Omit<Parsed, "maxGasPriceGwei" | "minProfitUsd" | "nativeUsd" | "tipGwei"> & {
  maxGasPriceWei?: bigint;
  minProfitD18?: bigint;
  nativeUsdD18: bigint;
  tipWei?: bigint;
};

const ENV: Record<string, string> = {
  rpcUrl: "KEEPER_RPC_URL",
  engine: "KEEPER_ENGINE",
  addressBook: "KEEPER_ADDRESS_BOOK",
  startBlock: "KEEPER_START_BLOCK",
  checkpointFile: "KEEPER_CHECKPOINT_FILE",
  pollMs: "KEEPER_POLL_MS",
  batchSize: "KEEPER_BATCH_SIZE",
  quoteBatchSize: "KEEPER_QUOTE_BATCH_SIZE",
  gasTargetPerTx: "KEEPER_GAS_TARGET_PER_TX",
  blockGasBudget: "KEEPER_BLOCK_GAS_BUDGET",
  logRange: "KEEPER_LOG_RANGE",
  rewardReceiver: "KEEPER_REWARD_RECEIVER",
  dryRun: "KEEPER_DRY_RUN",
  metricsPort: "KEEPER_METRICS_PORT",
  maxGasPriceGwei: "KEEPER_MAX_GAS_PRICE_GWEI",
  minProfitUsd: "KEEPER_MIN_PROFIT_USD",
  nativeUsd: "KEEPER_NATIVE_USD",
  tipGwei: "KEEPER_TIP_GWEI",
  replaceAfterBlocks: "KEEPER_REPLACE_AFTER_BLOCKS",
  feeBumpPercent: "KEEPER_FEE_BUMP_PERCENT",
  screenMarginBps: "KEEPER_SCREEN_MARGIN_BPS",
  fullQuoteEvery: "KEEPER_FULL_QUOTE_EVERY",
  settleOrders: "KEEPER_SETTLE_ORDERS",
  cancelExpiredOrders: "KEEPER_CANCEL_EXPIRED_ORDERS",
  settleLpRequests: "KEEPER_SETTLE_LP_REQUESTS",
  lpRequestsPerTx: "KEEPER_LP_REQUESTS_PER_TX",
  volatilityUpkeep: "KEEPER_VOLATILITY_UPKEEP",
  once: "KEEPER_ONCE",
};
/** The `priceService` object's fields from the environment and flags (flag names in camel case). */
const PRICE_ENV: Record<string, string> = {
  kind: "KEEPER_PRICE_SERVICE",
  url: "KEEPER_HERMES_URL",
  timeoutMs: "KEEPER_HERMES_TIMEOUT_MS",
  path: "KEEPER_PRICE_PATH",
  publishEveryMs: "KEEPER_PUBLISH_EVERY_MS",
};
const PRICE_FLAGS: Record<string, string> = { priceService: "kind", hermesUrl: "url" };
const BOOLEAN_FLAGS = new Set(["dryRun", "once"]);

const camel = (kebab: string) => kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Reads the configuration: the JSON file named by `--config` or KEEPER_CONFIG, then the environment, then flags,
 * then `overrides`. Throws a readable error listing every invalid field (unknown keys in the file included).
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: string[] = process.argv.slice(2),
  overrides: Record<string, unknown> = {},
): KeeperConfig {
  const fromEnv: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV))
    if (env[name] !== undefined && env[name] !== "") fromEnv[key] = env[name];
  const fromFlags: Record<string, unknown> = {};
  const priceOverrides: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(PRICE_ENV))
    if (env[name] !== undefined && env[name] !== "") priceOverrides[key] = env[name];
  let file = env.KEEPER_CONFIG || undefined;
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const key = camel(argv[i].slice(2));
    if (key === "config") file = argv[++i];
    else if (key in PRICE_FLAGS) priceOverrides[PRICE_FLAGS[key]] = argv[++i];
    else if (!(key in ENV)) continue;
    else if (BOOLEAN_FLAGS.has(key)) fromFlags[key] = true;
    else fromFlags[key] = argv[++i];
  }
  let fromFile: Record<string, unknown> = {};
  if (file !== undefined) {
    try {
      fromFile = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`invalid keeper config: cannot read ${file}: ${(error as Error).message}`);
    }
  }
  // priceService: the file's object, its fields overridden by the environment, then flags (another kind: anew).
  let priceService = fromFile.priceService as Record<string, unknown> | undefined;
  if (Object.keys(priceOverrides).length > 0) {
    const base =
      priceService !== undefined &&
      (priceOverrides.kind === undefined || priceOverrides.kind === priceService.kind)
        ? priceService
        : {};
    priceService = { ...base, ...priceOverrides };
    // KEEPER_HERMES_URL alone means Hermes; KEEPER_PRICE_PATH or KEEPER_PUBLISH_EVERY_MS alone mean local.
    priceService.kind ??= "url" in priceService || "timeoutMs" in priceService ? "hermes" : "local";
  }
  const merged: Record<string, unknown> = { ...fromFile, ...fromEnv, ...fromFlags, ...overrides };
  // The project-wide RPC setting (deploy, CLI, app) is the keeper's last resort, below every keeper-specific one.
  if (merged.rpcUrl === undefined && env.BULKHEAD_RPC_URL) merged.rpcUrl = env.BULKHEAD_RPC_URL;
  if (priceService !== undefined && !("priceService" in overrides)) merged.priceService = priceService;
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`);
    throw new Error(`invalid keeper config: ${issues.join("; ")}`);
  }
  const { maxGasPriceGwei, minProfitUsd, nativeUsd, tipGwei, ...rest } = parsed.data;
  return {
    ...rest,
    maxGasPriceWei: maxGasPriceGwei === undefined ? undefined : parseUnits(maxGasPriceGwei, "gwei"),
    minProfitD18: minProfitUsd === undefined ? undefined : parseUnits(minProfitUsd, 18),
    nativeUsdD18: parseUnits(nativeUsd, 18),
    tipWei: tipGwei === undefined ? undefined : parseUnits(tipGwei, "gwei"),
  };
}

function readBook(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
}

/**
 * The configuration with the chain's default address book, as the CLI and SDK find it: with no `addressBook`
 * configured, `deployments/<chainId>.json` (or BULKHEAD_DEPLOYMENTS_DIR/<chainId>.json) when it exists, so its
 * `startBlock` is where indexing starts. With an `engine` configured, that book counts only if it names the same
 * engine: another deployment's start block could skip this engine's first events.
 */
export function withDefaultAddressBook(
  config: KeeperConfig,
  chainId: bigint | number,
  dir: string = defaultAddressBookDir(),
): KeeperConfig {
  if (config.addressBook !== undefined) return config;
  const file = addressBookPath(chainId, dir);
  if (!existsSync(file)) return config;
  if (config.engine !== undefined) {
    let engine: string | undefined;
    try {
      engine = resolveEngineAddress({ ...config, engine: undefined, addressBook: file });
    } catch {
      return config;
    }
    if (engine.toLowerCase() !== config.engine.toLowerCase()) return config;
  }
  return { ...config, addressBook: file };
}

/** The engine address: the configured one, or the address book's (several layouts accepted until it settles). */
export function resolveEngineAddress(config: KeeperConfig): string {
  if (config.engine !== undefined) return config.engine;
  if (config.addressBook === undefined) {
    throw new Error(
      "invalid keeper config: set KEEPER_ENGINE (--engine) or KEEPER_ADDRESS_BOOK (--address-book), " +
        "or deploy so that deployments/<chainId>.json exists",
    );
  }
  const book = readBook(config.addressBook);
  const contracts = (book.contracts ?? book) as Record<string, unknown>;
  for (const key of ["engine", "MarginEngine", "Bulkhead", "marginEngine"]) {
    const entry = contracts[key];
    const candidate =
      typeof entry === "object" && entry !== null ? (entry as { address?: unknown }).address : entry;
    if (typeof candidate === "string" && isAddress(candidate)) return candidate;
  }
  throw new Error(`no engine address in ${config.addressBook}`);
}

/** The first block to index: the configured one, else the address book's `startBlock` (the engine's), else 0. */
export function resolveStartBlock(config: KeeperConfig): number {
  if (config.startBlock !== undefined) return config.startBlock;
  if (config.addressBook === undefined) return 0;
  const start = readBook(config.addressBook).startBlock;
  return typeof start === "number" && Number.isInteger(start) && start >= 0 ? start : 0;
}
