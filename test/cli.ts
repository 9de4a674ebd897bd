/**
 * The `bulkhead` bin end to end: a real `hardhat node` started here, Bulkhead deployed to it from
 * deploy/parameters/local.json, and `node bin/bulkhead.js ...` run as a child process against it. Checks human
 * and --json output, the figures against the engine's own views, and a reverted action's decoded error. Trades
 * are orders: the CLI commits them, and a keeper (here the SDK with a local price publisher, signed by the LP)
 * settles them one delay later at the mark.
 */
import { expect } from "chai";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, rmdir } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet, parseEther, type TransactionReceipt } from "ethers";
import { network } from "hardhat";

import type { AddressBook } from "../deploy/address-book.js";
import { deployFromFile } from "../deploy/deploy.js";
import * as fmt from "../cli/format.js";
import { BulkheadClient } from "../sdk/client.js";
import { LocalPriceService } from "../sdk/pyth.js";
import {
  IBulkhead__factory,
  LiquidityVault__factory,
  MockAggregatorV3__factory,
  MockERC20__factory,
  PythPriceFeed__factory,
} from "../types/ethers-contracts/index.js";
import { FEED_DECIMALS, TOKEN_SCALE, WAD, usd, wad } from "./helpers/constants.js";
import { type Run, runProcess } from "./helpers/process.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "bin", "bulkhead.js");
const HARDHAT = path.join(ROOT, "node_modules", ".bin", "hardhat");
const ETH = 1;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitForNode(url: string, node: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (node.exitCode !== null) throw new Error(`hardhat node exited with code ${node.exitCode}`);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`hardhat node did not answer at ${url} within ${timeoutMs} ms`);
}

describe("bulkhead CLI against a local node", function () {
  this.timeout(120_000);

  let node: ChildProcess | undefined;
  let rpc: string;
  let bookDir: string;
  let deploymentId: string;
  let book: AddressBook;
  let provider: JsonRpcProvider;
  const trader = Wallet.createRandom();
  const lp = Wallet.createRandom();
  let aggregatorEth: { setAnswer(answer: bigint): Promise<{ wait(): Promise<unknown> }> };

  /** Runs the real bin with the project's Node; `key` is the trader's unless given (null: no key). */
  function cli(
    args: string[],
    opts: { key?: string | null; env?: Record<string, string>; rpc?: string } = {},
  ): Promise<Run> {
    const env: NodeJS.ProcessEnv = { ...process.env, BULKHEAD_DEPLOYMENTS_DIR: bookDir, ...opts.env };
    delete env.BULKHEAD_PRIVATE_KEY;
    const key = opts.key === undefined ? trader.privateKey : opts.key;
    if (key !== null) env.BULKHEAD_PRIVATE_KEY = key;
    return runProcess(process.execPath, [BIN, "--rpc", opts.rpc ?? rpc, ...args], { cwd: ROOT, env });
  }

  /** Runs with --json, expects success, and parses the single JSON object on stdout. */
  async function cliJson(args: string[], opts: Parameters<typeof cli>[1] = {}) {
    const r = await cli([...args, "--json"], opts);
    expect(r.code, `bulkhead ${args.join(" ")}: ${r.stderr}`).to.equal(0);
    return JSON.parse(r.stdout);
  }

  before(async function () {
    const port = await freePort();
    rpc = `http://127.0.0.1:${port}`;
    node = spawn(process.execPath, [HARDHAT, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
      cwd: ROOT,
      stdio: "ignore",
    });
    await waitForNode(rpc, node);

    bookDir = await mkdtemp(path.join(tmpdir(), "bulkhead-cli-"));
    deploymentId = `cli-test-${port}-${Date.now()}`;
    const connection = await network.create({ network: "localhost", override: { url: rpc } });
    ({ addressBook: book } = await deployFromFile(connection, "deploy/parameters/local.json", {
      addressBookDir: bookDir,
      deploymentId,
    }));

    // Fund a fresh trader and LP: gas from the node's first account, tokens from the mock's public mint.
    const { ethers } = connection;
    const [deployer] = await ethers.getSigners();
    const token = await ethers.getContractAt("MockERC20", book.token, deployer);
    for (const who of [trader, lp]) {
      await (await deployer.sendTransaction({ to: who.address, value: parseEther("10") })).wait();
      await (await token.mint(who.address, usd("10000000"))).wait();
    }
    const eth = book.markets.find((m) => m.id === ETH)!;
    aggregatorEth = await ethers.getContractAt("MockAggregatorV3", eth.aggregator, deployer);
    provider = new JsonRpcProvider(rpc, undefined, {
      staticNetwork: true,
      cacheTimeout: -1,
      pollingInterval: 100,
    });
  });

  after(async function () {
    provider?.destroy();
    if (node !== undefined && node.exitCode === null) {
      const exited = new Promise((r) => node!.once("exit", r));
      node.kill("SIGTERM");
      await exited;
    }
    if (bookDir !== undefined) await rm(bookDir, { recursive: true, force: true });
    // A live network leaves an Ignition journal in the repo: remove ours (and the folders if now empty).
    if (deploymentId !== undefined) {
      await rm(path.join(ROOT, "ignition", "deployments", deploymentId), { recursive: true, force: true });
      await rmdir(path.join(ROOT, "ignition", "deployments")).catch(() => undefined);
      await rmdir(path.join(ROOT, "ignition")).catch(() => undefined);
    }
  });

  const engine = () => IBulkhead__factory.connect(book.engine, provider);
  const vault = () => LiquidityVault__factory.connect(book.vault, provider);

  /**
   * Settles the pending order of `accountId` on `marketId` as a keeper would: the LP's wallet signs, a local price
   * publisher proves the mark price at the order's ready time (the price id from the address book).
   */
  async function settle(accountId: bigint, marketId: number): Promise<TransactionReceipt> {
    const keeper = new BulkheadClient(new Wallet(lp.privateKey, provider), {
      engine: book.engine,
      vault: book.vault,
      token: book.token,
    });
    const order = await keeper.getOrder(accountId, marketId);
    expect(order.status, `order of ${accountId} on ${marketId}`).to.not.equal("none");
    const prices = new LocalPriceService();
    const priceId = book.markets.find((m) => m.id === marketId)!.priceId;
    prices.setPrice(priceId, (await keeper.getMarket(marketId)).priceD18, order.readyTime);
    // local.json's minimum delay is 1 s, and the node gives every block a later timestamp than the last: the
    // settlement's block is at or after the ready time whatever the wall clock says (the chain runs ahead of it
    // after the deployment's many blocks).
    expect(order.readyTime - order.commitTime).to.equal(1n);
    const receipt = await (await keeper.settleOrder(accountId, marketId, prices)).wait();
    expect(receipt?.status).to.equal(1);
    return receipt!;
  }

  /** The engine's events of a receipt, by name. */
  function engineEvents(receipt: TransactionReceipt, name: string) {
    const iface = engine().interface;
    return receipt.logs
      .filter((l) => l.address.toLowerCase() === book.engine.toLowerCase())
      .map((l) => iface.parseLog(l))
      .filter((e) => e?.name === name)
      .map((e) => e!.args);
  }

  it("markets --json lists ETH and BTC with the engine's parameters and prices", async function () {
    const out = await cliJson(["markets"]);
    expect(out.chainId).to.equal("31337");
    expect(out.markets.map((m: { id: number; symbol: string }) => [m.id, m.symbol])).to.deep.equal([
      [1, "ETH-USD"],
      [2, "BTC-USD"],
    ]);
    expect(out.markets.map((m: { priceD18: string }) => m.priceD18)).to.deep.equal([
      wad("3000").toString(),
      wad("60000").toString(),
    ]);
    for (const m of out.markets) {
      const p = await engine().getMarketParams(m.id);
      expect(m.params.feed).to.equal(p.feed);
      expect(m.params.baseImrD18).to.equal(p.baseImrD18.toString());
      expect(m.params.takerFeeD18).to.equal(p.takerFeeD18.toString());
      expect(m.params.skewScaleD18).to.equal(p.skewScaleD18.toString());
      expect(m.params.maxOiPerSideD18).to.equal(p.maxOiPerSideD18.toString());
    }
  });

  it("markets prints an aligned table without a key", async function () {
    const r = await cli(["markets"], { key: null });
    expect(r.code).to.equal(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).to.match(/^ID\s+MARKET\s+PRICE\s+LONG OI\s+SHORT OI\s+FUNDING\/DAY\s+MAX LEV/);
    expect(lines[1]).to.match(/^-+(\s+-+)+$/);
    expect(lines[2]).to.match(
      /^ 1\s+ETH-USD\s+3,000\.00\s+0\.0000\s+0\.0000\s+0\.00%\s+50\.0x\s+0\.02%\s+0\.06%\s+100,000$/,
    );
    expect(lines[3]).to.match(/^ 2\s+BTC-USD\s+60,000\.00\s.*\s5,000$/);
    // Right-aligned last column: every table line has the header's width.
    expect(new Set(lines.slice(0, 4).map((l) => l.length)).size).to.equal(1);
  });

  it("a write without a key says which variable to set", async function () {
    const r = await cli(["deposit", "1", "100"], { key: null });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("set BULKHEAD_PRIVATE_KEY");
  });

  it("vault request-deposit, settle and claim (key from --private-key-env); vault status --json matches the vault", async function () {
    const asLp = { key: null, env: { LP_KEY: lp.privateKey } };
    const request = await cliJson(
      ["vault", "request-deposit", "5,000,000", "--private-key-env", "LP_KEY"],
      asLp,
    );
    expect(request.transaction.status).to.equal(1);
    const event = request.events.find((e: { name: string }) => e.name === "DepositRequest");
    expect(event.args.assets).to.equal(usd("5000000").toString());
    expect(request.preview.minDelaySeconds).to.equal((await vault().minDelay()).toString());

    let status = await cliJson(["vault", "status", "--owner", lp.address]);
    expect(status.position.requests.pendingDeposit.assets).to.equal(usd("5000000").toString());
    const nothing = await cli(["vault", "claim", "--private-key-env", "LP_KEY"], asLp);
    expect(nothing.code).to.equal(1);
    expect(nothing.stderr).to.contain("Nothing to claim");

    // A keeper settles once the delay has passed (no market holds open interest yet: no price to wait for).
    await provider.send("evm_increaseTime", [Number(await vault().minDelay())]);
    await provider.send("evm_mine", []);
    const settled = await cliJson(["vault", "settle", "--private-key-env", "LP_KEY"], asLp);
    const done = settled.events.find((e: { name: string }) => e.name === "DepositSettled");
    expect(done.args.assets).to.equal(usd("5000000").toString());
    // Human output shows shares in whole shares (the vault's 12 decimals), never raw base units.
    const shareDecimals = Number(await vault().decimals());
    const settledShares = fmt.shares(BigInt(done.args.shares), shareDecimals);
    // 4,995,000 USD after the 10 bps entry fee, at a share price just under 1 (the virtual shares' rounding).
    expect(settledShares).to.match(/^4,995,0\d\d(\.\d{1,6})?$/);
    const pendingClaim = await cli(["vault", "claim", "--dry-run", "--private-key-env", "LP_KEY"], asLp);
    expect(pendingClaim.code, pendingClaim.stderr).to.equal(0);
    expect(pendingClaim.stdout).to.contain(`Claimable: ${settledShares} shares from settled deposits`);
    const claim = await cliJson(["vault", "claim", "--private-key-env", "LP_KEY"], asLp);
    expect(claim.claimed.claimableDepositShares).to.equal(done.args.shares);

    status = await cliJson(["vault", "status", "--owner", lp.address]);
    const at = { blockTag: status.blockNumber };
    expect(status.totalAssets).to.equal((await vault().totalAssets(at)).toString());
    expect(status.position.shares).to.equal((await vault().balanceOf(lp.address, at)).toString());
    expect(status.position.shares).to.equal(done.args.shares);
    expect(status.vaultCashD18).to.equal((await engine().vaultCash(at)).toString());
    expect(BigInt(status.position.unlocksAt)).to.be.greaterThan(0n);
    expect(status.queuedDeposits).to.equal("0");

    const human = await cli(["vault", "status", "--owner", lp.address], { key: null });
    expect(human.code, human.stderr).to.equal(0);
    const supply = BigInt(status.totalSupply);
    const line = (label: string, value: string) => `\n${label}${" ".repeat(22 - label.length)}${value}\n`;
    expect(human.stdout).to.contain(line("total shares", fmt.shares(supply, shareDecimals)));
    expect(human.stdout).to.contain(line("your shares", settledShares));
    expect(human.stdout).to.contain(line("claimable", "0 shares, $0.00"));
    expect(human.stdout).to.not.contain(supply.toString());
    expect(human.stdout).to.not.match(/\d{13,}/);

    // The redemption preview names the shares the same way (refused here: the claim's cooldown runs).
    const redeem = await cli(
      ["vault", "request-redeem", "all", "--dry-run", "--private-key-env", "LP_KEY"],
      asLp,
    );
    expect(redeem.code).to.equal(1);
    expect(redeem.stdout).to.contain(`Preview: request the redemption of ${settledShares} shares (worth $`);
    expect(redeem.stderr).to.contain("CooldownActive");
  });

  it("creates an account, deposits and commits a trade; its settlement fills at the preview's price", async function () {
    const created = await cliJson(["create-account"]);
    expect(created.accountId).to.equal("1");
    const deposit = await cliJson(["deposit", "1", "10000"]);
    const deposited = deposit.events.find((e: { name: string }) => e.name === "Deposited");
    expect(deposited.args).to.include({ accountId: "1", amount: usd("10000").toString() });
    expect(deposit.preview.after.collateralD18).to.equal(wad("10000").toString());

    const trade = await cliJson(["trade", "1", "ETH", "30"]);
    const committed = trade.events.find((e: { name: string }) => e.name === "OrderCommitted");
    expect(committed.args.sizeDeltaD18).to.equal(wad("30").toString());
    expect(trade.order).to.include({ accountId: "1", marketId: "1" });
    expect(trade.preview.allowed).to.equal(true);
    expect(await engine().getPositions(1n)).to.deep.equal([]);

    const status = await cliJson(["order", "status", "1"]);
    expect(status.orders).to.have.length(1);
    expect(status.orders[0].sizeDeltaD18).to.equal(wad("30").toString());
    expect(status.orders[0].acceptablePriceD18).to.equal(committed.args.acceptablePriceD18);

    // Settled at the unchanged mark: the fill and fee the preview showed.
    const [fill] = engineEvents(await settle(1n, ETH), "PositionModified");
    expect(fill.newSizeD18).to.equal(wad("30"));
    expect(trade.preview.fillPriceD18).to.equal(fill.fillPriceD18.toString());
    expect(trade.preview.feeD18).to.equal(fill.feeD18.toString());
    expect((await engine().getPositions(1n))[0].sizeD18).to.equal(wad("30"));
    expect((await cliJson(["order", "status", "1"])).orders).to.deep.equal([]);
  });

  it("status --json equals the engine's views at the same block; status prints the position", async function () {
    const s = await cliJson(["status", "1"]);
    const at = { blockTag: s.blockNumber };
    const e = engine();
    const summary = await e.marginSummary(1n, at);
    for (const k of [
      "collateralD18",
      "unrealisedPnlD18",
      "accruedFundingD18",
      "equityD18",
      "initialMarginD18",
      "maintenanceMarginD18",
      "notionalD18",
    ] as const) {
      expect(s.summary[k], k).to.equal(summary[k].toString());
    }
    expect(s.healthFactorD18).to.equal((await e.healthFactor(1n, at)).toString());
    expect(s.maxWithdrawable).to.equal((await e.maxWithdrawable(1n, at)).toString());
    expect(s.positions).to.have.length(1);
    expect(s.positions[0].symbol).to.equal("ETH-USD");
    expect(s.positions[0].sizeD18).to.equal(wad("30").toString());
    expect(s.positions[0].liquidationPriceD18).to.equal((await e.liquidationPrice(1n, ETH, at)).toString());
    expect(s.liquidatable).to.equal(false);

    const human = await cli(["status", "1"]);
    expect(human.code).to.equal(0);
    expect(human.stdout).to.match(/^Account 1 \(cross, owner 0x[0-9a-fA-F]{40}\) at block \d+/);
    expect(human.stdout).to.match(/\nhealth factor\s+\d+\.\d\d\n/);
    expect(human.stdout).to.match(/\nETH-USD\s+\+30\.0000\s+3,0\d\d\.\d\d\s+3,000\.00\s/);
  });

  it("a trade that breaks initial margin exits 1 with the decoded InsufficientMargin, human and --json", async function () {
    const human = await cli(["trade", "1", "ETH", "1000"]);
    expect(human.code).to.equal(1);
    expect(human.stderr).to.match(
      /^Error: InsufficientMargin: equity [\d,]+\.\d\d < initial margin [\d,]+\.\d\d\n$/,
    );
    expect(human.stdout).to.contain("Preview: commit an order: buy 1,000.0000 ETH-USD in account 1");
    expect(human.stdout).to.contain("The engine would reject this: InsufficientMargin");

    const r = await cli(["trade", "1", "ETH", "1000", "--json"]);
    expect(r.code).to.equal(1);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).to.deep.equal(["error"]);
    expect(out.error).to.include({ name: "InsufficientMargin", source: "chain" });
    expect(out.error.message).to.match(/^InsufficientMargin: equity/);
    // Refused at commit: the error's arguments are equity (after the order's fee) below the IM it would need.
    expect(BigInt(out.error.args.equityD18)).to.be.lessThan(BigInt(out.error.args.initialMarginD18));
    expect((await engine().getPositions(1n))[0].sizeD18).to.equal(wad("30"));
  });

  it("trade --dry-run from a wallet that is neither owner nor operator shows the Unauthorized verdict", async function () {
    const asLp = { key: lp.privateKey };
    const verdict = `Unauthorized: ${lp.address} is neither the owner nor an operator of account 1`;
    const human = await cli(["trade", "1", "ETH", "1", "--dry-run"], asLp);
    expect(human.code).to.equal(1);
    expect(human.stdout).to.contain("Preview: commit an order: buy 1.0000 ETH-USD in account 1");
    expect(human.stdout).to.contain(`The engine would reject this: ${verdict}`);
    expect(human.stdout).to.not.contain("(dry run: nothing sent)");
    expect(human.stderr).to.equal(`Error: ${verdict}\n`);

    const r = await cli(["trade", "1", "ETH", "1", "--dry-run", "--json"], asLp);
    expect(r.code).to.equal(1);
    const out = JSON.parse(r.stdout);
    expect(out.error).to.deep.include({ name: "Unauthorized", source: "preview", message: verdict });
    expect(out.error.args).to.deep.equal({ caller: lp.address, accountId: "1" });

    // The owner's dry run of the same order is fine, and nothing was committed either way.
    const own = await cliJson(["trade", "1", "ETH", "1", "--dry-run"]);
    expect(own.preview.allowed).to.equal(true);
    expect((await engine().getOrder(1n, ETH)).commitTime).to.equal(0n);
  });

  it("open-isolated, close (orders, each settled), and accounts --json listing both", async function () {
    const opened = await cliJson(["open-isolated", "BTC", "1000", "-0.1"]);
    expect(opened.accountId).to.equal("2");
    expect(opened.preview.after.positions[0].sizeD18).to.equal(wad("-0.1").toString());
    const info = await engine().getAccount(2n);
    expect(info.isolated).to.equal(true);
    const [open] = engineEvents(await settle(2n, 2), "PositionModified");
    expect(open.newSizeD18).to.equal(wad("-0.1"));
    expect(opened.preview.fillPriceD18).to.equal(open.fillPriceD18.toString());

    const closed = await cliJson(["close", "2"]);
    expect(closed.events.map((e: { name: string }) => e.name)).to.include("OrderCommitted");
    const receipt = await settle(2n, 2);
    const [fill] = engineEvents(receipt, "PositionModified");
    expect(fill.newSizeD18).to.equal(0n);
    // Paid out to the wallet in whole token units: only sub-unit dust stays behind.
    expect((await engine().getAccount(2n)).collateralD18).to.be.lessThan(TOKEN_SCALE);
    const [withdrawn] = engineEvents(receipt, "Withdrawn");
    expect(withdrawn.receiver).to.equal(trader.address);

    const list = await cliJson(["accounts"]);
    expect(list.owner).to.equal(trader.address);
    expect(
      list.accounts.map((a: { accountId: string; mode: string }) => [a.accountId, a.mode]),
    ).to.deep.equal([
      ["1", "cross"],
      ["2", "isolated"],
    ]);
  });

  it("liquidatable --json lists the account after the price falls below its liquidation price", async function () {
    const before = await cliJson(["liquidatable"]);
    expect(before.liquidatable).to.deep.equal([]);
    expect(before.scanned).to.equal(2);

    const liqPrice = await engine().liquidationPrice(1n, ETH);
    const below = (liqPrice * 99n) / 100n / 10n ** BigInt(18 - FEED_DECIMALS);
    await (await aggregatorEth.setAnswer(below)).wait();

    const after = await cliJson(["liquidatable"]);
    expect(after.liquidatable.map((a: { accountId: string }) => a.accountId)).to.deep.equal(["1"]);
    const quote = (await engine().liquidationQuotes([1n], { blockTag: after.blockNumber }))[0];
    expect(after.liquidatable[0].keeperRewardD18).to.equal(quote.keeperRewardD18.toString());
    expect(BigInt(after.liquidatable[0].healthFactorD18)).to.be.lessThan(WAD);

    const human = await cli(["liquidatable"]);
    expect(human.code).to.equal(0);
    expect(human.stdout).to.match(/^1 of 2 accounts liquidatable at block \d+\n/);
    expect(human.stdout).to.contain(trader.address);
  });
  it("dev mint mints the mock USDC: to the key's address, to --to, or from the node's account without a key", async function () {
    const token = MockERC20__factory.connect(book.token, provider);
    const before = await token.balanceOf(trader.address);
    const minted = await cliJson(["dev", "mint", "2,500"]);
    expect(minted).to.deep.include({ action: "dev mint", to: trader.address, from: trader.address });
    expect(minted.amount).to.equal(usd("2500").toString());
    expect(await token.balanceOf(trader.address)).to.equal(before + usd("2500"));
    expect(minted.balance).to.equal((before + usd("2500")).toString());

    const stranger = Wallet.createRandom().address;
    const human = await cli(["dev", "mint", "1000", "--to", stranger], { key: null });
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.match(
      new RegExp(`Minted \\$1,000\\.00 of USDC to ${stranger} in block \\d+: balance \\$1,000\\.00\\n$`),
    );
    expect(await token.balanceOf(stranger)).to.equal(usd("1000"));

    const nobody = await cli(["dev", "mint", "1000"], { key: null });
    expect(nobody.code).to.equal(1);
    expect(nobody.stderr).to.contain("Pass --to <address> or set BULKHEAD_PRIVATE_KEY");
  });

  it("dev price moves the mark and the pull feed together; an order committed afterwards settles at it", async function () {
    const eth = book.markets.find((m) => m.id === ETH)!;
    const out = await cliJson(["dev", "price", "ETH", "3,100"], { key: null });
    expect(out).to.deep.include({ action: "dev price", marketId: ETH, symbol: "ETH-USD" });
    expect(out.aggregatorAnswer).to.equal((3100n * 10n ** BigInt(FEED_DECIMALS)).toString());
    expect(out.markPriceD18).to.equal(wad("3100").toString());
    expect(out.pullPriceD18).to.equal(wad("3100").toString());
    expect(out.publishTime).to.equal(out.updatedAt);
    const [, answer, , updatedAt] = await MockAggregatorV3__factory.connect(
      eth.aggregator,
      provider,
    ).latestRoundData();
    expect(answer).to.equal(3100n * 10n ** BigInt(FEED_DECIMALS));
    const [pullPrice, publishTime] = await PythPriceFeed__factory.connect(
      eth.pullFeed,
      provider,
    ).latestPriceData();
    expect(pullPrice).to.equal(wad("3100"));
    expect(publishTime).to.equal(updatedAt);
    expect((await engine().quoteTrade(ETH, wad("1"))).oraclePriceD18).to.equal(wad("3100"));

    // Back above its liquidation price, account 1 buys 1 ETH; the order settles at the new mark.
    const trade = await cliJson(["trade", "1", "ETH", "1"]);
    expect(trade.preview.allowed).to.equal(true);
    const [fill] = engineEvents(await settle(1n, ETH), "PositionModified");
    expect(fill.fillPriceD18).to.be.greaterThanOrEqual(wad("3100"));
    expect(fill.fillPriceD18).to.be.lessThan(wad("3101"));

    const human = await cli(["dev", "price", "btc", "61000.5"], { key: null });
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout).to.match(
      /^Sent 0x[0-9a-f]{64} \(aggregator\)\nSent 0x[0-9a-f]{64} \(Pyth update\)\n/,
    );
    expect(human.stdout).to.match(/\nBTC-USD moved to 61,000\.50 at /);
    expect(human.stdout).to.match(/\n {2}mark \(aggregator 0x[0-9a-fA-F]{40}, round \d+\): 61,000\.50\n/);
    expect(human.stdout).to.match(/\n {2}pull feed \(MockPyth update, published \d+\): 61,000\.50\n/);

    const tooPrecise = await cli(["dev", "price", "ETH", "3000.123456789"], { key: null });
    expect(tooPrecise.code).to.equal(1);
    expect(tooPrecise.stderr).to.contain("the ETH-USD feed has 8 decimals");
  });

  it("dev commands refuse a node that is not a local network", async function () {
    // A node answering as Sepolia (chain 11155111).
    const server = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        const { id } = JSON.parse(body) as { id: number };
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ jsonrpc: "2.0", id, result: "0xaa36a7" }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const remote = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      for (const args of [
        ["dev", "mint", "100", "--to", trader.address],
        ["dev", "price", "ETH", "3000"],
      ]) {
        const r = await cli(args, { rpc: remote });
        expect(r.code).to.equal(1);
        expect(r.stderr).to.equal(
          `Error: bulkhead dev commands run on local networks only (chain id 31337 or 1337); the node at ${remote} is chain 11155111\n`,
        );
      }
      const json = await cli(["dev", "mint", "100", "--json"], { rpc: remote });
      expect(JSON.parse(json.stdout).error).to.include({ name: "NotLocalNetwork", source: "cli" });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
  it("the keeper without KEEPER_ADDRESS_BOOK reads the same default address book and indexes from its startBlock", async function () {
    expect(book.startBlock).to.be.greaterThan(0);
    // One dry-run tick of the real entry point, with only a node and a key: the engine and the start block come
    // from <BULKHEAD_DEPLOYMENTS_DIR>/31337.json, the file the CLI reads.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BULKHEAD_DEPLOYMENTS_DIR: bookDir,
      KEEPER_RPC_URL: rpc,
      KEEPER_PRIVATE_KEY: lp.privateKey,
      KEEPER_ONCE: "1",
      KEEPER_DRY_RUN: "1",
    };
    for (const name of ["KEEPER_ADDRESS_BOOK", "KEEPER_ENGINE", "KEEPER_START_BLOCK", "KEEPER_CONFIG"]) {
      delete env[name];
    }
    const run = await runProcess(process.execPath, [HARDHAT, "run", "keeper/main.ts"], { cwd: ROOT, env });
    expect(run.code, run.stderr + run.stdout).to.equal(0);
    const lines = run.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const found = lines.find((l) => l.msg === "default_address_book");
    expect(found).to.deep.include({ file: path.join(bookDir, "31337.json"), chainId: "31337" });
    const start = lines.find((l) => l.msg === "keeper_start");
    expect(start).to.deep.include({
      engine: book.engine,
      startBlock: book.startBlock,
      resumedFrom: book.startBlock,
    });
  });
});
