/**
 * The local playground as a library (used by `npm run playground` and the browser tests): a Hardhat node, a fresh
 * deployment on it, a seeded vault, funded test wallets, the keeper with its local price publisher, and the web
 * app's server, all on loopback; `stop()` ends them in reverse order.
 *
 * The node, the deployment and the keeper run as child processes of Hardhat (their output goes to
 * `<logDir>/*.log`); the seeding and the app server run in this process. Accounts of the node's default mnemonic:
 * #0 deploys and seeds the vault, #1.. are the test wallets, #18 is the keeper, #19 the price publisher.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Contract, HDNodeWallet, JsonRpcProvider, Mnemonic, Network, parseUnits, type Signer } from "ethers";

import { startAppServer, type AppServer } from "../../app/server.js";
import { addressBookSchema, type AddressBook } from "../../deploy/address-book.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = (name: string) => path.join(ROOT, "node_modules", ".bin", name);
const MNEMONIC = "test test test test test test test test test test test junk";
export const KEEPER_INDEX = 18;

export interface PlaygroundOptions {
  /** The node's URL (BULKHEAD_RPC_URL); the node is started on its host and port. */
  rpcUrl: string;
  /** The app server's port (0: any free port). */
  appPort: number;
  /** The keeper's metrics and /health port (0: any free port is not supported by the child: pick one). */
  keeperMetricsPort: number;
  /** How many test wallets to fund, and with how much mock USDC each (whole tokens). */
  wallets: number;
  walletUsdc: number;
  /** What the deployer deposits into the vault (whole tokens). */
  vaultUsdc: number;
  /** The keeper's local price path (keeper/price-publisher.ts), as JSON. */
  pricePath: string;
  /** How often the publisher republishes prices (ms). */
  publishEveryMs: number;
  logDir: string;
  /**
   * Compile for start-up time (BULKHEAD_BUILD=playground, see hardhat.config.ts: unoptimized, own artifacts, larger
   * contracts allowed) instead of the production build. Same behaviour, different gas.
   */
  fastBuild: boolean;
  /** Progress lines (default: console.log). */
  say?: (line: string) => void;
}

export interface TestWallet {
  index: number;
  address: string;
  privateKey: string;
}

export interface Playground {
  rpcUrl: string;
  appUrl: string;
  keeperHealthUrl: string;
  book: AddressBook;
  wallets: TestWallet[];
  stop(): Promise<void>;
}

export function testWallet(index: number): TestWallet {
  const w = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(MNEMONIC), `m/44'/60'/0'/0/${index}`);
  return { index, address: w.address, privateKey: w.privateKey };
}

async function rpc(url: string, method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}

async function answers(url: string): Promise<boolean> {
  try {
    await rpc(url, "eth_chainId");
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what}: the process exited (${child.exitCode})`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not ready after ${timeoutMs / 1000} s`);
}

/** A child in its own process group (so stopping it stops what it spawned), its output appended to `log`. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv, log: string): ChildProcess {
  const out = createWriteStream(log, { flags: "a" });
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

async function stopChild(child: ChildProcess | undefined, timeoutMs = 10_000): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    process.kill(-child.pid, "SIGINT");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutMs);
  await exited;
  clearTimeout(timer);
}

async function run(command: string, args: string[], env: NodeJS.ProcessEnv, log: string): Promise<void> {
  const child = start(command, args, env, log);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0)
    throw new Error(`${path.basename(command)} ${args.join(" ")} failed (exit ${code}): see ${log}`);
}

const ERC20 = ["function mint(address to, uint256 amount)", "function decimals() view returns (uint8)"];
const VAULT = [
  "function requestDeposit(uint256 assets, address controller, address owner) returns (uint256)",
  "function maxDeposit(address) view returns (uint256)",
  "function deposit(uint256 assets, address receiver) returns (uint256)",
  "function minDelay() view returns (uint256)",
];
const TOKEN_APPROVE = ["function approve(address spender, uint256 amount) returns (bool)"];

/** Mints the test wallets' USDC and files the deployer's vault deposit request (settled by the keeper later). */
async function seed(
  provider: JsonRpcProvider,
  book: AddressBook,
  o: PlaygroundOptions,
  wallets: TestWallet[],
) {
  const deployer: Signer = await provider.getSigner(0);
  const token = new Contract(book.token, [...ERC20, ...TOKEN_APPROVE], deployer);
  const decimals = Number(await token.decimals());
  const units = (n: number) => parseUnits(String(n), decimals);
  for (const w of wallets) await (await token.mint(w.address, units(o.walletUsdc))).wait();
  const me = await deployer.getAddress();
  await (await token.mint(me, units(o.vaultUsdc))).wait();
  await (await token.approve(book.vault, units(o.vaultUsdc))).wait();
  const vault = new Contract(book.vault, VAULT, deployer);
  await (await vault.requestDeposit(units(o.vaultUsdc), me, me)).wait();
}

/** Waits for the keeper to settle the deployer's deposit, then claims the shares. */
async function claimSeed(provider: JsonRpcProvider, book: AddressBook, timeoutMs: number) {
  const deployer = await provider.getSigner(0);
  const vault = new Contract(book.vault, VAULT, deployer);
  const me = await deployer.getAddress();
  await waitFor("the vault deposit's settlement", async () => (await vault.maxDeposit(me)) > 0n, timeoutMs);
  await (await vault["deposit(uint256,address)"](await vault.maxDeposit(me), me)).wait();
}

export async function startPlayground(o: PlaygroundOptions): Promise<Playground> {
  const say = o.say ?? ((line: string) => console.log(line));
  mkdirSync(o.logDir, { recursive: true });
  const url = new URL(o.rpcUrl);
  if (await answers(o.rpcUrl)) {
    throw new Error(
      `Something already answers at ${o.rpcUrl}: stop it, or point BULKHEAD_RPC_URL at a free port (e.g. http://127.0.0.1:8546)`,
    );
  }
  const env: NodeJS.ProcessEnv = {
    BULKHEAD_RPC_URL: o.rpcUrl,
    BULKHEAD_BUILD: o.fastBuild ? "playground" : "default",
  };
  const children: ChildProcess[] = [];
  let app: AppServer | undefined;
  const stop = async () => {
    await app?.close();
    for (const child of children.reverse()) await stopChild(child);
  };
  try {
    say(
      `Starting a node at ${o.rpcUrl}; the first run compiles the contracts ` +
        `(${o.fastBuild ? "about 2 min, unoptimized for a fast start" : "about 3-4 min"}), later runs reuse them…`,
    );
    const node = start(
      BIN("hardhat"),
      ["node", "--hostname", url.hostname, "--port", url.port || "8545"],
      env,
      path.join(o.logDir, "node.log"),
    );
    children.push(node);
    await waitFor("the node", () => answers(o.rpcUrl), 600_000, node);
    say("Deploying (a restarted node gets a fresh deployment)…");
    await run(
      BIN("hardhat"),
      ["run", "deploy/deploy.ts", "--network", "localhost"],
      env,
      path.join(o.logDir, "deploy.log"),
    );
    // The app imports the typechain bindings the deploy's compile just wrote: build it now, alongside the rest.
    const building = run(
      BIN("vite"),
      ["build", "--config", "app/vite.config.ts"],
      {},
      path.join(o.logDir, "app-build.log"),
    );
    building.catch(() => undefined); // awaited below; a failure before that point must not go unhandled
    const chainId = Number(await rpc(o.rpcUrl, "eth_chainId"));
    const bookFile = path.join(ROOT, "deployments", `${chainId}.json`);
    const book = addressBookSchema.parse(JSON.parse(readFileSync(bookFile, "utf8")));
    const provider = new JsonRpcProvider(o.rpcUrl, Network.from(chainId), {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    const wallets = Array.from({ length: o.wallets }, (_, i) => testWallet(i + 1));
    say(
      `Funding ${o.wallets} test wallets with ${o.walletUsdc.toLocaleString("en-US")} USDC each and requesting the vault's seed deposit…`,
    );
    await seed(provider, book, o, wallets);
    say("Starting the keeper and its local price publisher…");
    const keeper = start(
      BIN("hardhat"),
      ["run", "keeper/main.ts", "--network", "localhost"],
      {
        ...env,
        KEEPER_ADDRESS_BOOK: bookFile,
        KEEPER_PRIVATE_KEY: testWallet(KEEPER_INDEX).privateKey,
        KEEPER_METRICS_PORT: String(o.keeperMetricsPort),
        KEEPER_PRICE_PATH: o.pricePath,
        KEEPER_PUBLISH_EVERY_MS: String(o.publishEveryMs),
        KEEPER_POLL_MS: "500",
      },
      path.join(o.logDir, "keeper.log"),
    );
    children.push(keeper);
    const keeperHealthUrl = `http://127.0.0.1:${o.keeperMetricsPort}/health`;
    await waitFor(
      "the keeper",
      async () => (await fetch(keeperHealthUrl).catch(() => undefined))?.ok === true,
      180_000,
      keeper,
    );
    say("Waiting for the keeper to settle the vault's seed deposit (one request delay)…");
    await claimSeed(provider, book, 120_000);
    await building;
    app = await startAppServer({ rpcUrl: o.rpcUrl, book, port: o.appPort });
    provider.destroy();
    return { rpcUrl: o.rpcUrl, appUrl: app.url, keeperHealthUrl, book, wallets, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
