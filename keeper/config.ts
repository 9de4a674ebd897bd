/**
 * Keeper configuration: environment variables, overridden by `--flag value` command-line flags, validated by zod.
 *
 *   KEEPER_RPC_URL        --rpc-url          JSON-RPC endpoint; unset = the network `hardhat run --network` connects to
 *   KEEPER_ENGINE         --engine           engine address (bind IBulkhead here)
 *   KEEPER_ADDRESS_BOOK   --address-book     address book JSON (deployments/<chainId>.json) used when no engine is given
 *   KEEPER_PRIVATE_KEY    (no flag)          keeper key: env var or Hardhat configuration variable, never a repo file;
 *                                            unset = the network's first signer (local networks only)
 *   KEEPER_START_BLOCK    --start-block      first block to index (default 0)
 *   KEEPER_POLL_MS        --poll-ms          delay between ticks (default 5000)
 *   KEEPER_BATCH_SIZE     --batch-size       accounts per quote/liquidation call, 1..50 (default 50)
 *   KEEPER_LOG_RANGE      --log-range        blocks per eth_getLogs (default 2000)
 *   KEEPER_REWARD_RECEIVER --reward-receiver where rewards go (default: the keeper's address)
 *   KEEPER_DRY_RUN=1      --dry-run          simulate and log, send nothing
 *   KEEPER_METRICS_PORT   --metrics-port     metrics/health port on 127.0.0.1 (default 9464; 0 = ephemeral)
 *   KEEPER_MAX_GAS_PRICE_GWEI --max-gas-price-gwei  skip sending while the network asks more (default: no cap)
 *   KEEPER_ONCE=1         --once             run one tick and exit
 */
import { readFileSync } from "node:fs";
import { isAddress, parseUnits } from "ethers";
import { z } from "zod";

const flag = z
  .union([z.boolean(), z.string()])
  .transform((v) => v === true || v === "1" || v === "true" || v === "yes");
const address = z.string().refine((v) => isAddress(v), "not an address");

export const configSchema = z
  .object({
    rpcUrl: z.string().url().optional(),
    engine: address.optional(),
    addressBook: z.string().optional(),
    startBlock: z.coerce.number().int().nonnegative().default(0),
    pollMs: z.coerce.number().int().min(100).default(5000),
    batchSize: z.coerce.number().int().min(1).max(50).default(50),
    logRange: z.coerce.number().int().min(1).max(100_000).default(2000),
    rewardReceiver: address.optional(),
    dryRun: flag.default(false),
    metricsPort: z.coerce.number().int().min(0).max(65535).default(9464),
    maxGasPriceGwei: z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .optional(),
    once: flag.default(false),
  })
  .refine((c) => c.engine !== undefined || c.addressBook !== undefined, {
    message: "set KEEPER_ENGINE (--engine) or KEEPER_ADDRESS_BOOK (--address-book)",
  });

export type KeeperConfig = Omit<z.infer<typeof configSchema>, "maxGasPriceGwei"> & {
  maxGasPriceWei?: bigint;
};

const ENV: Record<string, string> = {
  rpcUrl: "KEEPER_RPC_URL",
  engine: "KEEPER_ENGINE",
  addressBook: "KEEPER_ADDRESS_BOOK",
  startBlock: "KEEPER_START_BLOCK",
  pollMs: "KEEPER_POLL_MS",
  batchSize: "KEEPER_BATCH_SIZE",
  logRange: "KEEPER_LOG_RANGE",
  rewardReceiver: "KEEPER_REWARD_RECEIVER",
  dryRun: "KEEPER_DRY_RUN",
  metricsPort: "KEEPER_METRICS_PORT",
  maxGasPriceGwei: "KEEPER_MAX_GAS_PRICE_GWEI",
  once: "KEEPER_ONCE",
};
const BOOLEAN_FLAGS = new Set(["dryRun", "once"]);

const camel = (kebab: string) => kebab.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Reads the configuration; throws a readable error listing every invalid field. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: string[] = process.argv.slice(2),
  overrides: Record<string, unknown> = {},
): KeeperConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV))
    if (env[name] !== undefined && env[name] !== "") raw[key] = env[name];
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith("--")) continue;
    const key = camel(argv[i].slice(2));
    if (!(key in ENV)) continue;
    if (BOOLEAN_FLAGS.has(key)) raw[key] = true;
    else raw[key] = argv[++i];
  }
  const parsed = configSchema.safeParse({ ...raw, ...overrides });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`);
    throw new Error(`invalid keeper config: ${issues.join("; ")}`);
  }
  const { maxGasPriceGwei, ...rest } = parsed.data;
  return {
    ...rest,
    maxGasPriceWei: maxGasPriceGwei === undefined ? undefined : parseUnits(maxGasPriceGwei, "gwei"),
  };
}

/** The engine address: the configured one, or the address book's (several layouts accepted until it settles). */
export function resolveEngineAddress(config: KeeperConfig): string {
  if (config.engine !== undefined) return config.engine;
  const book = JSON.parse(readFileSync(config.addressBook!, "utf8")) as Record<string, unknown>;
  const contracts = (book.contracts ?? book) as Record<string, unknown>;
  for (const key of ["engine", "MarginEngine", "Bulkhead", "marginEngine"]) {
    const entry = contracts[key];
    const candidate =
      typeof entry === "object" && entry !== null ? (entry as { address?: unknown }).address : entry;
    if (typeof candidate === "string" && isAddress(candidate)) return candidate;
  }
  throw new Error(`no engine address in ${config.addressBook}`);
}
