/**
 * `npm run playground` as a user runs it: the entry script comes up (app answering, keeper healthy, the node
 * serving the deployment it prints) and stops everything cleanly on Ctrl-C (SIGINT), exiting 0 and freeing the
 * node's port. On its own ports and with the production build, so it reuses what `npm test` compiled.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { expect } from "chai";

const RPC = "http://127.0.0.1:8675";
const APP_PORT = "5198";
const KEEPER_PORT = "9478";

async function answers(url: string, init?: RequestInit): Promise<Response | undefined> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(3000) }).catch(() => undefined);
}

describe("npm run playground", function () {
  it("comes up with the app answering and the keeper healthy, and stops cleanly on Ctrl-C", async function () {
    const child = spawn(path.join("node_modules", ".bin", "tsx"), ["scripts/playground.ts"], {
      env: {
        ...process.env,
        BULKHEAD_RPC_URL: RPC,
        BULKHEAD_APP_PORT: APP_PORT,
        KEEPER_METRICS_PORT: KEEPER_PORT,
        PLAYGROUND_BUILD: "production",
        PLAYGROUND_PRICES: "hold",
        PLAYGROUND_WALLETS: "2",
      },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      const deadline = Date.now() + 540_000;
      while (
        !output.includes("Ctrl-C stops everything") &&
        child.exitCode === null &&
        Date.now() < deadline
      ) {
        await new Promise((r) => setTimeout(r, 500));
      }
      expect(output, output).to.include("Bulkhead playground is up");
      expect(output).to.include(`http://127.0.0.1:${APP_PORT}/`);
      expect(output.match(/^ {2}#\d+ {2}0x[0-9a-fA-F]{40} {2}0x[0-9a-f]{64}$/gm)).to.have.length(2);

      expect(await (await answers(`http://127.0.0.1:${APP_PORT}/health`))?.text()).to.equal("ok");
      const config = (await (await answers(`http://127.0.0.1:${APP_PORT}/config.json`))!.json()) as {
        chainId: number;
        book: { engine: string };
      };
      expect(config.chainId).to.equal(31337);
      expect((await answers(`http://127.0.0.1:${KEEPER_PORT}/health`))?.status).to.equal(200);
      // The app's /rpc proxy reaches the node, which holds the engine the app was configured with.
      const code = await answers(`http://127.0.0.1:${APP_PORT}/rpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "eth_getCode",
          params: [config.book.engine, "latest"],
        }),
      });
      expect(((await code!.json()) as { result: string }).result.length).to.be.greaterThan(2);
      // ...but serves reads only: the node's own methods and its unlocked accounts stay out of a web origin's reach.
      for (const body of [
        { jsonrpc: "2.0", id: 7, method: "hardhat_setBalance", params: [config.book.engine, "0x1"] },
        [
          { jsonrpc: "2.0", id: 8, method: "eth_blockNumber", params: [] },
          { jsonrpc: "2.0", id: 9, method: "eth_sendTransaction", params: [{}] },
        ],
      ]) {
        const refused = await answers(`http://127.0.0.1:${APP_PORT}/rpc`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        expect(((await refused!.json()) as { error: { code: number } }).error.code).to.equal(-32601);
      }
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).to.equal(0);
    expect(output).to.include("Stopped.");
    expect(await answers(RPC, { method: "POST", body: "{}" })).to.equal(undefined);
    expect(await answers(`http://127.0.0.1:${APP_PORT}/health`)).to.equal(undefined);
  });
});
