/**
 * `npm run playground`: a local Bulkhead to click through. Starts a Hardhat node, deploys, seeds the vault, funds
 * test wallets with mock USDC, runs the keeper (which settles orders and LP requests and liquidates) with a local
 * price publisher, and serves the web app. Prints the app's URL and the test wallets' keys; Ctrl-C stops all.
 *
 * Environment: BULKHEAD_RPC_URL (node, default http://127.0.0.1:8545), BULKHEAD_APP_PORT (default 5173),
 * PLAYGROUND_PRICES ("walk": a gentle seeded random walk, the default; "hold": prices move only when you move
 * them), PLAYGROUND_WALLETS (default 4), PLAYGROUND_BUILD ("fast": unoptimized contracts compiled in about 2
 * minutes into their own folders, the default; "production": the optimized build `npm test` uses, same behaviour,
 * real gas).
 */
import path from "node:path";

import { KEEPER_INDEX, startPlayground } from "./lib/playground.js";

const rpcUrl = process.env.BULKHEAD_RPC_URL ?? "http://127.0.0.1:8545";
const walk = (process.env.PLAYGROUND_PRICES ?? "walk") === "walk";
const startedAt = Date.now();

const playground = await startPlayground({
  rpcUrl,
  appPort: Number(process.env.BULKHEAD_APP_PORT ?? 5173),
  keeperMetricsPort: Number(process.env.KEEPER_METRICS_PORT ?? 9464),
  wallets: Number(process.env.PLAYGROUND_WALLETS ?? 4),
  walletUsdc: 100_000,
  vaultUsdc: 1_000_000,
  pricePath: JSON.stringify(walk ? { kind: "randomWalk", seed: 7, volatilityBps: 15 } : { kind: "hold" }),
  publishEveryMs: 3000,
  logDir: path.join("out", "playground"),
  fastBuild: (process.env.PLAYGROUND_BUILD ?? "fast") === "fast",
}).catch((error: unknown) => {
  console.error(`Playground failed: ${(error as Error).message}`);
  process.exit(1);
});

const { appUrl, book, wallets } = playground;
console.log(`
Bulkhead playground is up (${Math.round((Date.now() - startedAt) / 1000)} s).

  App       ${appUrl}
  Node      ${rpcUrl}   (chain ${book.chainId}; the app also proxies it at ${appUrl}rpc)
  Keeper    ${playground.keeperHealthUrl} (account #${KEEPER_INDEX}), logs in out/playground/

Test wallets (100,000 mock USDC each; import a key into your browser wallet and add the network
"chain ${book.chainId}, RPC ${rpcUrl}"):
${wallets.map((w) => `  #${w.index}  ${w.address}  ${w.privateKey}`).join("\n")}

The vault holds 1,000,000 USDC of liquidity. Prices ${walk ? "follow a gentle random walk" : "hold still"}; move one with the
app's "Move price" tool or \`BULKHEAD_RPC_URL=${rpcUrl} npx bulkhead dev price ETH 2500\`.
Ctrl-C stops everything.`);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  console.log("\nStopping the app, the keeper and the node…");
  void playground.stop().then(() => {
    console.log("Stopped.");
    process.exit(0);
  });
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
