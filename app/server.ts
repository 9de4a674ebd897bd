/**
 * Serves the built web app (app/dist) with the two things it needs from its host:
 *
 *  - `GET /config.json`: the chain id, whether it is a local chain, and the address book's contracts and markets;
 *  - `POST /rpc`: a proxy to the node (BULKHEAD_RPC_URL), so the page reads the chain from its own origin.
 *
 *   npm run app        # builds the app, then serves it on http://127.0.0.1:5173 (BULKHEAD_APP_PORT)
 *
 * Environment: BULKHEAD_RPC_URL (default http://127.0.0.1:8545), BULKHEAD_ADDRESS_BOOK (default
 * deployments/<chainId>.json), BULKHEAD_APP_PORT (default 5173; 0 = any free port).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { loadAddressBook, type AddressBook } from "../deploy/address-book.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const DIST_DIR = path.join(here, "dist");
const LOCAL_CHAIN_IDS = new Set([31337, 1337]);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".json": "application/json",
  ".png": "image/png",
};

/**
 * What the page may ask the node through `/rpc`: reads, and broadcasting transactions the wallet signed. The
 * node's own methods (`hardhat_*`, `evm_*`, `eth_sendTransaction` with its unlocked accounts) are never exposed to
 * a web origin, local or not.
 */
const READ_METHODS = new Set([
  "eth_blockNumber",
  "eth_call",
  "eth_chainId",
  "eth_estimateGas",
  "eth_feeHistory",
  "eth_gasPrice",
  "eth_getBalance",
  "eth_getBlockByHash",
  "eth_getBlockByNumber",
  "eth_getCode",
  "eth_getLogs",
  "eth_getStorageAt",
  "eth_getTransactionByHash",
  "eth_getTransactionCount",
  "eth_getTransactionReceipt",
  "eth_maxPriorityFeePerGas",
  // Already signed by the user's wallet: a wallet that added the chain with this server's /rpc broadcasts here.
  "eth_sendRawTransaction",
  "net_version",
]);

function rpcError(response: ServerResponse, id: unknown, code: number, message: string, status = 200): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } }));
}

export interface AppServerOptions {
  rpcUrl: string;
  book: AddressBook;
  port?: number;
  host?: string;
  distDir?: string;
}

export interface AppServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

async function body(request: IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startAppServer(options: AppServerOptions): Promise<AppServer> {
  const dist = options.distDir ?? DIST_DIR;
  if (!existsSync(path.join(dist, "index.html"))) {
    throw new Error(`${dist} has no built app: run \`npx vite build --config app/vite.config.ts\` first`);
  }
  const config = JSON.stringify({
    chainId: options.book.chainId,
    rpcUrl: "./rpc",
    local: LOCAL_CHAIN_IDS.has(options.book.chainId),
    book: options.book,
  });
  const server = createServer((request, response) => {
    void (async () => {
      const url = new URL(request.url ?? "/", "http://app");
      if (url.pathname === "/rpc" && request.method === "POST") {
        let payload: unknown;
        try {
          payload = JSON.parse((await body(request)).toString("utf8"));
        } catch {
          return rpcError(response, null, -32700, "parse error");
        }
        const refused = (Array.isArray(payload) ? payload : [payload]).find(
          (call) => !READ_METHODS.has((call as { method?: string } | null)?.method ?? ""),
        ) as { id?: unknown; method?: unknown } | undefined;
        if (refused !== undefined) {
          return rpcError(
            response,
            refused?.id ?? null,
            -32601,
            `${String(refused?.method)} is not served here`,
          );
        }
        try {
          const upstream = await fetch(options.rpcUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(payload),
          });
          response.writeHead(upstream.status, { "content-type": "application/json" });
          response.end(Buffer.from(await upstream.arrayBuffer()));
        } catch (error) {
          rpcError(response, null, -32603, `node unreachable: ${(error as Error).message}`, 502);
        }
        return;
      }
      if (url.pathname === "/config.json") {
        response.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
        response.end(config);
        return;
      }
      if (url.pathname === "/health") {
        response.writeHead(200, { "content-type": "text/plain" });
        response.end("ok");
        return;
      }
      const relative = path.normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, "");
      let file = path.join(dist, relative);
      // Anything outside dist (`..`), missing, or a folder is the single-page app's index.
      if (!file.startsWith(dist + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
        file = path.join(dist, "index.html");
      }
      response.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
      response.end(readFileSync(file));
    })().catch((error: unknown) => {
      response.writeHead(500);
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 5173, options.host ?? "127.0.0.1", resolve);
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The address book at BULKHEAD_ADDRESS_BOOK, else deployments/<chainId of the node>.json. */
export async function addressBookFor(rpcUrl: string): Promise<AddressBook> {
  const file = process.env.BULKHEAD_ADDRESS_BOOK;
  if (file) return JSON.parse(readFileSync(file, "utf8")) as AddressBook;
  const response = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
  });
  const { result } = (await response.json()) as { result: string };
  return loadAddressBook(BigInt(result));
}

async function main() {
  const rpcUrl = process.env.BULKHEAD_RPC_URL ?? "http://127.0.0.1:8545";
  const book = await addressBookFor(rpcUrl);
  const app = await startAppServer({ rpcUrl, book, port: Number(process.env.BULKHEAD_APP_PORT ?? 5173) });
  console.log(`Bulkhead app: ${app.url} (chain ${book.chainId}, node ${rpcUrl})`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error((error as Error).message);
    process.exitCode = 1;
  });
}
