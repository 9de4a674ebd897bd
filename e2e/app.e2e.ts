/**
 * The web app end to end in a real browser (Debian's chromium through playwright-core), against the playground:
 * a node, a fresh deployment, the keeper and its local price publisher, the app server. A test wallet injected
 * into the page signs with a local key. The story: connect, create a cross account, deposit, commit an order and
 * see the keeper settle it, provide liquidity, move the price, watch the health fall and the keeper liquidate.
 * Screenshots of every page go to out/e2e/; any console error or page error fails the run.
 *
 *   npm run test:e2e      (CHROMIUM_PATH overrides /usr/bin/chromium)
 */
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider, Network } from "ethers";
import { chromium, type Browser, type Page } from "playwright-core";

import { BulkheadClient, math } from "../sdk/index.js";
import { AccountMode } from "../sdk/types.js";
import { startPlayground, type Playground } from "../scripts/lib/playground.js";
import { TestWallet } from "./wallet.js";

const OUT = path.join("out", "e2e");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("web app (browser, end to end)", function () {
  let playground: Playground;
  let browser: Browser;
  let page: Page;
  let provider: JsonRpcProvider;
  let wallet: TestWallet;
  let reader: BulkheadClient;
  const problems: string[] = [];
  let shot = 0;

  const screenshot = async (name: string) => {
    shot += 1;
    await page.screenshot({
      path: path.join(OUT, `${String(shot).padStart(2, "0")}-${name}.png`),
      fullPage: true,
    });
  };
  const nav = (name: string) => page.getByTestId(`nav-${name}`).click();
  const notice = () => page.getByTestId("notice");
  /** Waits until the app says `label: done.` (every write reports its outcome in the notice line). */
  const done = async (label: string) => {
    await expect_text(notice(), `${label}: done.`);
  };
  const expect_text = async (locator: ReturnType<Page["getByTestId"]>, text: string, timeout = 60_000) => {
    await locator.filter({ hasText: text }).first().waitFor({ timeout });
  };

  before(async function () {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    playground = await startPlayground({
      rpcUrl: process.env.E2E_RPC_URL ?? "http://127.0.0.1:8655",
      appPort: 0,
      keeperMetricsPort: Number(process.env.E2E_KEEPER_METRICS_PORT ?? 9475),
      wallets: 1,
      walletUsdc: 50_000,
      vaultUsdc: 1_000_000,
      pricePath: JSON.stringify({ kind: "hold" }),
      publishEveryMs: 1000,
      logDir: path.join(OUT, "logs"),
      // The production build (the one `npm test` compiled): the browser drives the bytecode that ships.
      fastBuild: false,
      say: () => undefined,
    });
    provider = new JsonRpcProvider(playground.rpcUrl, Network.from(playground.book.chainId), {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    reader = new BulkheadClient(provider, playground.book);
    wallet = new TestWallet(playground.wallets[0].privateKey, provider);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    await wallet.install(context);
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  });

  after(async function () {
    await browser?.close();
    provider?.destroy();
    await playground?.stop();
  });

  afterEach(function () {
    expect(problems, "the browser reported errors").to.deep.equal([]);
  });

  it("connects the injected wallet and shows the markets", async function () {
    await page.goto(playground.appUrl);
    await page.getByTestId("connect").waitFor();
    await screenshot("connect");
    await page.getByTestId("connect").click();
    await expect_text(page.getByTestId("wallet"), "50,000.00");
    await nav("Markets");
    await expect_text(page.getByTestId("markets-table"), "ETH-USD");
    await expect_text(page.getByTestId("markets-table"), "3,000.00");
    await screenshot("markets");
  });

  it("creates a cross account and deposits", async function () {
    await nav("Accounts");
    await page.getByTestId("create-cross").click();
    await done("Create cross account");
    await page.getByTestId("amount").fill("10,000");
    await page.getByTestId("deposit").click();
    await done("Deposit");
    await expect_text(page.getByTestId("account-summary"), "$10,000.00");
    const [id] = await reader.accountsOf(wallet.address);
    expect(id).to.equal(1n);
    expect((await reader.getAccount(id)).collateralD18).to.equal(10_000n * math.WAD);
    await screenshot("account");
  });

  it("previews and commits an order, which the keeper settles one delay later", async function () {
    await nav("Trade");
    await page.getByTestId("side-long").click();
    await page.getByTestId("trade-size").fill("20");
    await expect_text(page.getByTestId("verdict"), "would accept");
    await expect_text(page.getByTestId("preview-table"), "health factor");
    await screenshot("trade-preview");
    // Too large for the margin: the preview says why, in words, and the button stays disabled.
    await page.getByTestId("trade-size").fill("400");
    await expect_text(page.getByTestId("verdict"), "InsufficientMargin");
    expect(await page.getByTestId("commit-order").isDisabled()).to.equal(true);
    await page.getByTestId("trade-size").fill("20");
    await expect_text(page.getByTestId("verdict"), "would accept");
    await page.getByTestId("commit-order").click();
    await done("Commit order");
    await nav("Accounts");
    // The keeper settles it at the first price published after the delay: the position appears.
    await expect_text(page.getByTestId("positions-table"), "+20.0000", 90_000);
    const positions = await reader.getPositions(1n);
    expect(positions.map((p) => p.sizeD18)).to.deep.equal([20n * math.WAD]);
    await screenshot("position");
  });

  it("requests a vault deposit", async function () {
    await nav("Vault");
    await page.getByTestId("vault-deposit-amount").fill("5,000");
    await page.getByTestId("vault-request-deposit").click();
    await done("Request deposit");
    await expect_text(page.getByTestId("my-vault-stats"), "$5,000.00");
    await screenshot("vault");
  });

  it("moves the price: the health falls, then the keeper liquidates", async function () {
    await nav("Accounts");
    const healthBefore = Number((await page.getByTestId("health").innerText()).replace(/,/g, ""));
    await page.getByTestId("dev-move").fill("-5");
    await page.getByTestId("dev-price").click();
    await done("Move ETH-USD price");
    await page.waitForFunction(
      `Number(document.querySelector("[data-testid=health]")?.textContent?.replace(/,/g, "")) < ${healthBefore}`,
    );
    await screenshot("health-falls");

    // Just past the liquidation price the SDK computes (the same figure the positions table shows).
    const snapshot = await reader.getProtocolSnapshot();
    const account = await reader.getAccountSnapshot(1n);
    const summary = math.marginSummary(account.info, account.positions, snapshot.markets, snapshot.timestamp);
    const eth = snapshot.markets.get(1)!;
    const liquidation = math.liquidationPrice(summary, account.positions[0], eth);
    const pct = (Number((liquidation * 10_000n) / eth.priceD18) / 100 - 100 - 0.3).toFixed(2);
    await page.getByTestId("dev-move").fill(pct);
    await page.getByTestId("dev-price").click();
    await done("Move ETH-USD price");
    await nav("Activity");
    await expect_text(page.getByTestId("feed"), "#1", 90_000);
    await screenshot("liquidated");
    const liquidated = await reader.engine.queryFilter(reader.engine.filters.Liquidated(1n));
    expect(liquidated.length).to.be.greaterThan(0);
    await nav("Accounts");
    await screenshot("account-after");
  });

  it("creates a portfolio account (the local deployment has the risk model)", async function () {
    await nav("Accounts");
    await page.getByTestId("create-portfolio").click();
    await done("Create portfolio account");
    await expect_text(page.getByTestId("accounts-table"), "(portfolio)");
    const ids = await reader.accountsOf(wallet.address);
    expect((await reader.getAccount(ids[ids.length - 1])).mode).to.equal(AccountMode.Portfolio);
  });
});
