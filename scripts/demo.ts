/**
 * `npm run demo`: the whole Bulkhead story on the embedded Hardhat network, in numbered steps.
 *
 * Every trade is a delayed order: committed by its owner, then settled one minimum delay later by a keeper at the
 * first pull-oracle price published after the commit (a MockPyth update from the local price publisher). Two
 * scenes show what that changes: the fill follows the price of the settlement window, not the price at commit,
 * and a trader who knows of a coming move can no longer trade ahead of it.
 *
 * A correlated crash (ETH and BTC both -15%, then a partial rebound) hits four accounts:
 *   Alice's cross account, long ETH and short BTC (hedged), and her isolated account with the same ETH leg alone;
 *   Bob's cross account, short ETH at low leverage; Alice's portfolio account with the same hedged pair, whose
 *   requirement the risk model computes (a fraction of the cross account's).
 * The keeper bot (keeper/) ticks after every price update and liquidates what becomes liquidatable.
 * Equity and maintenance margin along the path are charted to out/demo/equity-vs-margin.png (and .svg).
 */
import { mkdirSync } from "node:fs";
import { formatUnits, type Signer } from "ethers";
import { network } from "hardhat";
import { BulkheadClient, LocalPriceService } from "../sdk/index.js";
import { EngineAdapter } from "../keeper/chain.js";
import { Keeper } from "../keeper/bot.js";
import { jsonLogger } from "../keeper/log.js";
import { Metrics } from "../keeper/metrics.js";
import { BTC, ETH, deployProtocol, feedAnswer, usd, wad, TOKEN_DECIMALS } from "./lib/protocol.js";
import { pad, price18, ratio18, signedUsd, toNumber, usd18, usdToken } from "./lib/format.js";
import { writeChart } from "./lib/chart.js";
import { lpDepositNow } from "../test/helpers/vault.js";

const OUT_DIR = "out/demo";
const STEP_SECONDS = 3600;
const started = Date.now();

const connection = await network.getOrCreate();
const { ethers } = connection;
const { signers, contracts } = await deployProtocol(connection);
const { token, engine, vault, ethAggregator, btcAggregator } = contracts;
const { lp, alice, bob, keeper: keeperSigner } = signers;
// Two more traders for the order scenes: Dave, and Erin who knows where ETH goes next.
const [dave, erin] = (await ethers.getSigners()).slice(5, 7);

let stepNo = 0;
const step = (title: string) => console.log(`\n${++stepNo}. ${title}`);
const line = (text = "") => console.log(`   ${text}`);
const TOKEN_TO_D18 = 10n ** BigInt(18 - TOKEN_DECIMALS);
const SHARE_UNIT = 10n ** BigInt(TOKEN_DECIMALS + 6); // vault shares carry a decimals offset of 6

async function vaultView() {
  const [assets, unit, supply] = await Promise.all([
    vault.totalAssets(),
    vault.convertToAssets(SHARE_UNIT),
    vault.totalSupply(),
  ]);
  return { assets, sharePrice: unit, supply };
}

async function accountView(id: bigint) {
  const [s, health, positions] = await Promise.all([
    engine.marginSummary(id),
    engine.healthFactor(id),
    engine.getPositions(id),
  ]);
  const legs = positions.map(
    (p) => `${p.sizeD18 > 0n ? "+" : ""}${ratio18(p.sizeD18, 2)} ${p.marketId === 1n ? "ETH" : "BTC"}`,
  );
  return { s, health, legs: legs.length > 0 ? legs.join(", ") : "no positions" };
}

/* ---------------------------------------- orders ---------------------------------------------------------- */

const SYMBOL: Record<number, string> = { [ETH]: "ETH", [BTC]: "BTC" };
/** The local price publisher: it signs MockPyth updates of the prices it is told, as Pyth's service would. */
const prices = new LocalPriceService();
/** The keeper settles every order (anyone may; the settler earns the settlement reward). */
const settler = new BulkheadClient(keeperSigner, {
  engine: await engine.getAddress(),
  vault: await vault.getAddress(),
  token: await token.getAddress(),
});
const priceIds = new Map<number, string>();
for (const id of [ETH, BTC]) priceIds.set(id, await (await settler.pullFeed(id)).priceId());

/** The settlement reward an order agrees to pay: the current one (fixed at commit). */
const rewardBudget = async () => (await engine.getOrderParams()).settlementRewardD18;
const markOf = async (marketId: number) => (await engine.quoteTrade(marketId, 1n)).oraclePriceD18;
const signedSize = (size: bigint) => `${size > 0n ? "+" : ""}${ratio18(size, 2)}`;

/**
 * Commits an order (`commit` sends it) and prints it: side, size, limit, and the mark and quoted fill at commit.
 * Returns the order as stored.
 */
async function commitOrder(
  who: string,
  marketId: number,
  size: bigint,
  limit: bigint,
  commit: () => Promise<{ wait(): Promise<unknown> }>,
  accountId: () => Promise<bigint>,
) {
  const quote = await engine.quoteTrade(marketId, size);
  await (await commit()).wait();
  const id = await accountId();
  const order = await engine.getOrder(id, marketId);
  line(
    `${who} #${id} commits ${size > 0n ? "buy" : "sell"} ${ratio18(size < 0n ? -size : size, 2)} ${SYMBOL[marketId]} (limit $${price18(limit)}) at t=${order.commitTime}: mark $${price18(quote.oraclePriceD18)}, quoted fill $${price18(quote.fillPriceD18)}`,
  );
  return { accountId: id, order };
}

/**
 * The keeper settles the order at its ready time with the price published then (the mark, unless `pullPriceD18`
 * says the market printed another price by then) and prints the settlement: price, fill, fee.
 */
async function settleOrder(accountId: bigint, marketId: number, pullPriceD18?: bigint) {
  const order = await engine.getOrder(accountId, marketId);
  const price = pullPriceD18 ?? (await markOf(marketId));
  prices.setPrice(priceIds.get(marketId)!, price, order.readyTime);
  const latest = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  if (order.readyTime > latest)
    await ethers.provider.send("evm_setNextBlockTimestamp", [Number(order.readyTime)]);
  const receipt = (await (await settler.settleOrder(accountId, marketId, prices)).wait())!;
  const parsed = receipt.logs.map((l) => engine.interface.parseLog(l)).filter((e) => e !== null);
  const settled = parsed.find((e) => e.name === "OrderSettled")!.args;
  const filled = parsed.find((e) => e.name === "PositionModified")!.args;
  line(
    `   settled by the keeper at t=${settled.publishTime} (+${settled.publishTime - order.commitTime} s): pull price $${price18(settled.priceD18)}, fill $${price18(filled.fillPriceD18)}, fee $${usd18(filled.feeD18)}, position ${signedSize(filled.newSizeD18)} ${SYMBOL[marketId]}`,
  );
  return {
    price: settled.priceD18 as bigint,
    fill: filled.fillPriceD18 as bigint,
    fee: filled.feeD18 as bigint,
  };
}

/** A trade as an order on a cross account: committed, then settled one delay later. */
async function trade(
  who: string,
  signer: Signer,
  accountId: bigint,
  marketId: number,
  size: bigint,
  limit: bigint,
) {
  const budget = await rewardBudget();
  await commitOrder(
    who,
    marketId,
    size,
    limit,
    () => engine.connect(signer).commitOrder(accountId, marketId, size, limit, budget),
    async () => accountId,
  );
  return settleOrder(accountId, marketId);
}

function describe(name: string, v: Awaited<ReturnType<typeof accountView>>) {
  const health = v.health === ethers.MaxUint256 ? "∞" : ratio18(v.health, 2);
  line(
    `${pad(name, 26, true)} equity $${pad(usd18(v.s.equityD18), 10)}  MM $${pad(usd18(v.s.maintenanceMarginD18), 8)}  health ${pad(health, 5)}  [${v.legs}]`,
  );
}

/* ------------------------------------------------------------------ */

step("Deploy Bulkhead on the embedded Hardhat network");
line(
  `engine ${await engine.getAddress()}, vault ${await vault.getAddress()}, USDC ${await token.getAddress()}`,
);
line("markets: 1 = ETH at $3,000.00, 2 = BTC at $60,000.00 (50x max leverage, 0.06% taker fee)");
{
  const p = await engine.getOrderParams();
  const eth = await engine.getMarketParams(ETH);
  line(
    `orders: settled ${p.minDelay} s to ${p.maxDelay} s after commit on each market's Pyth pull feed (MockPyth here), within ${ratio18(eth.maxDivergenceD18 * 100n, 1)}% of the Chainlink mark; settlement reward $${usd18(p.settlementRewardD18)}`,
  );
}

step("Fund the LP, the traders and the keeper; the LP deposits $5,000,000.00 into the vault");
for (const user of [lp, alice, bob, keeperSigner, dave, erin]) {
  await token.mint(user, usd("10000000"));
  await token.connect(user).approve(engine, ethers.MaxUint256);
  await token.connect(user).approve(vault, ethers.MaxUint256);
}
await lpDepositNow(vault, lp, usd("5000000")); // an ERC-7540 request, settled after the delay, then claimed
let vaultBefore = await vaultView();
line(
  `vault totalAssets ${usdToken(vaultBefore.assets, TOKEN_DECIMALS)}, share price $${ratio18(vaultBefore.sharePrice * 10n ** 12n, 6)} (entry fee 0.10%)`,
);

step("Traders open positions: each trade is an order, committed, then settled by the keeper one delay later");
await engine.connect(alice).createCrossAccount();
const hedged = await engine.accountCount();
await engine.connect(alice).deposit(hedged, usd("3000"));
await trade("Alice", alice, hedged, ETH, wad("10"), wad("3100"));
await trade("Alice", alice, hedged, BTC, wad("-0.5"), wad("59000"));
const { accountId: isolated } = await commitOrder(
  "Alice (new isolated account, $3,000.00 from her wallet)",
  ETH,
  wad("10"),
  wad("3100"),
  async () =>
    engine
      .connect(alice)
      .commitIsolatedOrder(ETH, 0, usd("3000"), wad("10"), wad("3100"), await rewardBudget()),
  () => engine.accountCount(),
);
await settleOrder(isolated, ETH);
await engine.connect(bob).createCrossAccount();
const bobCross = await engine.accountCount();
await engine.connect(bob).deposit(bobCross, usd("10000"));
await trade("Bob", bob, bobCross, ETH, wad("-5"), wad("2900"));
// The same hedged pair in a portfolio account: its requirement is the risk model's, which nets the two legs.
// The first leg alone is a naked position (the model's crash scenario), hence the larger deposit.
await engine.connect(alice).createPortfolioAccount();
const portfolioId = await engine.accountCount();
await engine.connect(alice).deposit(portfolioId, usd("6000"));
await trade("Alice", alice, portfolioId, ETH, wad("10"), wad("3100"));
await trade("Alice", alice, portfolioId, BTC, wad("-0.5"), wad("59000"));
const [crossIm, portfolioIm] = await Promise.all([
  engine.marginSummary(hedged).then((x) => x.initialMarginD18),
  engine.marginSummary(portfolioId).then((x) => x.initialMarginD18),
]);
line(
  `the same hedged pair needs $${usd18(crossIm)} of initial margin in Alice's cross account and $${usd18(portfolioIm)} in her portfolio account`,
);
line();

const accounts = [
  { id: hedged, name: `#${hedged} Alice cross (hedged)`, color: "#1f77b4" },
  { id: isolated, name: `#${isolated} Alice isolated ETH`, color: "#d62728" },
  { id: bobCross, name: `#${bobCross} Bob cross (short)`, color: "#2ca02c" },
  { id: portfolioId, name: `#${portfolioId} Alice portfolio (hedged)`, color: "#9467bd" },
];
for (const a of accounts) describe(a.name, await accountView(a.id));
line(
  `isolated liquidation price: ETH $${price18(await engine.liquidationPrice(isolated, ETH))}; hedged cross: ETH $${price18(await engine.liquidationPrice(hedged, ETH))} with BTC held fixed`,
);

step("An order committed, settled one delay later at the new price");
await engine.connect(dave).createCrossAccount();
const daveId = await engine.accountCount();
await engine.connect(dave).deposit(daveId, usd("20000"));
const daveOrder = await commitOrder(
  "Dave",
  ETH,
  wad("5"),
  wad("3100"),
  async () => engine.connect(dave).commitOrder(daveId, ETH, wad("5"), wad("3100"), await rewardBudget()),
  async () => daveId,
);
line(
  `   ETH moves to $3,012.00 before the order's ready time (t=${daveOrder.order.readyTime}); the oracle publishes it`,
);
await ethAggregator.setAnswer(feedAnswer("3012"));
const daveFill = await settleOrder(daveId, ETH, wad("3012"));
line(
  `   the fill follows the first price published after the commit, $${price18(daveFill.price)}, not the $3,000.00 Dave saw when he committed`,
);
line("Dave closes at the same price (another order), and ETH goes back to $3,000.00:");
await trade("Dave", dave, daveId, ETH, wad("-5"), wad("2900"));
await ethAggregator.setAnswer(feedAnswer("3000"));

step("The informed trade no longer profits");
await engine.connect(erin).createCrossAccount();
const erinId = await engine.accountCount();
await engine.connect(erin).deposit(erinId, usd("200000"));
const erinStart = (await engine.getAccount(erinId)).collateralD18;
const [cashStart, insuranceStart] = await Promise.all([engine.vaultCash(), engine.insuranceFund()]);
const SIZE = wad("200");
line(
  "Erin knows ETH will print +0.5% ($3,000.00 -> $3,015.00) within the next second, and buys 200 ETH ahead of it:",
);
const erinBuy = await commitOrder(
  "Erin",
  ETH,
  SIZE,
  wad("3100"),
  async () => engine.connect(erin).commitOrder(erinId, ETH, SIZE, wad("3100"), await rewardBudget()),
  async () => erinId,
);
await ethAggregator.setAnswer(feedAnswer("3015"));
line(
  `   the move lands before her order's ready time (t=${erinBuy.order.readyTime}): her buy settles after it`,
);
const bought = await settleOrder(erinId, ETH, wad("3015"));
line("after the move she sells it all:");
const sold = await trade("Erin", erin, erinId, ETH, -SIZE, wad("2900"));
const erinPnl = (await engine.getAccount(erinId)).collateralD18 - erinStart;
const [cashEnd, insuranceEnd] = await Promise.all([engine.vaultCash(), engine.insuranceFund()]);
const fees = bought.fee + sold.fee;
line(
  `Erin's PnL: ${signedUsd(erinPnl)}, i.e. ${centsOrZero(erinPnl + fees)} before her fees of $${usd18(fees)}: both fills came after the move, so knowing it was worth nothing`,
);
line(
  `the vault's gain: ${signedUsd(cashEnd - cashStart)} of cash (insurance fund ${signedUsd(insuranceEnd - insuranceStart)}: its share of the fees)`,
);
/** A signed amount, shown as $0.00 when it rounds to less than a cent either way. */
function centsOrZero(d18: bigint): string {
  return (d18 < 0n ? -d18 : d18) < 10n ** 16n ? "$0.00" : signedUsd(d18);
}
const immediate = (SIZE * (wad("3015") - wad("3000"))) / 10n ** 18n;
line(
  `had trades filled at the price of the moment, the same round trip would have made about ${signedUsd(immediate - fees)} (200 x $15.00 - fees), paid by the vault`,
);
await ethAggregator.setAnswer(feedAnswer("3000"));

step("The informed LP no longer profits: LP flows are requests settled on later prices (ERC-7540)");
/** Moves the chain's clock (the embedded network). */
async function wait(seconds: bigint) {
  await ethers.provider.send("evm_increaseTime", [Number(seconds)]);
  await ethers.provider.send("evm_mine", []);
}
await wait(await vault.cooldown()); // the LP's shares are out of their cooldown
await ethAggregator.setAnswer(feedAnswer("3000")); // (a fresh round after the wait)
const ethState = await engine.getMarketState(ETH);
const tradersLong = ethState.longOiD18 > ethState.shortOiD18;
const movePrice = tradersLong ? "3030" : "2970"; // the move the vault, the traders' counterparty, loses on
const exitShares = (await vault.balanceOf(lp)) / 2n;
const worthBefore = await vault.convertToAssets(exitShares);
line(
  `the traders are net ${tradersLong ? "long" : "short"} ETH, so the vault loses if ETH prints $${movePrice}.00; the LP knows it will, and requests out half her shares first (worth ${usdToken(worthBefore, TOKEN_DECIMALS)} now)`,
);
await vault.connect(lp).requestRedeem(exitShares, lp, lp);
const minDelay = await vault.minDelay();
await ethAggregator.setAnswer(feedAnswer(movePrice));
const early = await vault.connect(keeperSigner).settleRequests.staticCall(10);
line(
  `   the move lands at once; a keeper cannot settle her request yet (${early} settled): it waits ${minDelay} s, and only for prices published after that`,
);
await wait(minDelay);
// The next rounds, published after her request's ready time (BTC holds open interest too: its mark counts).
await ethAggregator.setAnswer(feedAnswer(movePrice));
await btcAggregator.setAnswer((await btcAggregator.latestRoundData()).answer);
await vault.connect(keeperSigner).settleRequests(10);
const paid = await vault.maxWithdraw(lp);
await vault.connect(lp).redeem(await vault.maxRedeem(lp), lp, lp);
line(
  `   settled and claimed: ${usdToken(paid, TOKEN_DECIMALS)} (0.10% exit fee included), ${signedUsd((paid - worthBefore) * TOKEN_TO_D18)} against the value before the move: leaving ahead of it saved her nothing`,
);
await ethAggregator.setAnswer(feedAnswer("3000"));
line("ETH is back at $3,000.00; she requests her money back in, settled one delay later and claimed:");
const back = await lpDepositNow(vault, lp, paid, async () => {
  await ethAggregator.setAnswer(feedAnswer("3000"));
  await btcAggregator.setAnswer((await btcAggregator.latestRoundData()).answer);
});
line(
  `   ${formatUnits(back, TOKEN_DECIMALS + 6)} shares for ${usdToken(paid, TOKEN_DECIMALS)} (0.10% entry fee), priced after her request too`,
);
vaultBefore = await vaultView();

step("Start the keeper bot (keeper/, the same code as `npx hardhat run keeper/main.ts`)");
const keeperLog: Record<string, unknown>[] = [];
const metrics = new Metrics();
const bot = new Keeper({
  chain: new EngineAdapter(await engine.getAddress(), keeperSigner),
  rewardReceiver: keeperSigner.address,
  log: jsonLogger((l) => keeperLog.push(JSON.parse(l))),
  metrics,
  startBlock: 0,
  logRange: 2000,
  batchSize: 50,
  dryRun: false,
});
line(`keeper ${keeperSigner.address}, ticks after every price update`);
const keeperBalanceBefore = await token.balanceOf(keeperSigner);
const insuranceBefore = await engine.insuranceFund();

/* ------------------------------------------------------------------ */

step("Walk the price path: a correlated crash, ETH and BTC -15% in 9 hours, then a partial rebound");
const ethPath = [3000, 2950, 2900, 2850, 2800, 2760, 2720, 2680, 2600, 2550, 2600, 2650, 2700];
const btcPath = ethPath.map((p) => p * 20);
const history = accounts.map(() => ({ equity: [] as bigint[], mm: [] as bigint[] }));
let liquidation:
  | {
      step: number;
      before: Awaited<ReturnType<typeof accountView>>[];
      after: Awaited<ReturnType<typeof accountView>>[];
      log: Record<string, unknown>;
    }
  | undefined;

line(
  `${pad("step", 4)} ${pad("ETH", 9)} ${pad("BTC", 10)}   ${accounts.map((a) => pad(`#${a.id} equity / MM`, 24)).join(" ")}   keeper tick`,
);
for (const [i, ethPrice] of ethPath.entries()) {
  if (i > 0) {
    await ethers.provider.send("evm_increaseTime", [STEP_SECONDS]);
    await ethAggregator.setAnswer(feedAnswer(String(ethPrice)));
    await btcAggregator.setAnswer(feedAnswer(String(btcPath[i])));
  }
  const before = await Promise.all(accounts.map((a) => accountView(a.id)));
  const logged = keeperLog.length;
  const report = await bot.tick();
  const after = await Promise.all(accounts.map((a) => accountView(a.id)));
  if (report.liquidated.length > 0 && liquidation === undefined) {
    liquidation = {
      step: i,
      before,
      after,
      log: keeperLog.slice(logged).find((l) => l.msg === "liquidated")!,
    };
  }
  // Recorded as the price move left them, before the keeper acted: a liquidation shows as equity under MM.
  before.forEach((v, k) => {
    history[k].equity.push(v.s.equityD18);
    history[k].mm.push(v.s.maintenanceMarginD18);
  });
  const cells = before.map((v) => pad(`${usd18(v.s.equityD18)} / ${usd18(v.s.maintenanceMarginD18)}`, 24));
  const action =
    report.liquidated.length > 0
      ? `liquidates #${report.liquidated.join(", #")} (equity left: $${after.map((v, k) => (report.liquidated.includes(accounts[k].id) ? usd18(v.s.equityD18) : "")).join("")})`
      : "-";
  line(
    `${pad(String(i), 4)} ${pad(ethPrice.toLocaleString("en-US"), 9)} ${pad(btcPath[i].toLocaleString("en-US"), 10)}   ${cells.join(" ")}   ${action}`,
  );
}

/* ------------------------------------------------------------------ */

step("(a) Hedging: the cross account survives what kills the unhedged isolated one");
const trough = ethPath.indexOf(Math.min(...ethPath));
line(
  `at the trough (ETH $${ethPath[trough].toLocaleString("en-US")}, BTC $${btcPath[trough].toLocaleString("en-US")}): hedged cross equity $${usd18(history[0].equity[trough])} vs MM $${usd18(history[0].mm[trough])}`,
);
line(
  "the ETH long lost what the BTC short gained: both legs share one pool of equity, so the losses netted out",
);
line(
  `the same ETH leg alone, isolated with the same $3,000.00, was liquidated at step ${liquidation?.step ?? "-"} (ETH $${liquidation === undefined ? "-" : ethPath[liquidation.step].toLocaleString("en-US")})`,
);

step("(b) The keeper liquidates the isolated account; Alice's cross account is untouched");
if (liquidation !== undefined) {
  line(`before the keeper's tick at step ${liquidation.step}:`);
  describe(accounts[0].name, liquidation.before[0]);
  describe(accounts[1].name, liquidation.before[1]);
  line("after:");
  describe(accounts[0].name, liquidation.after[0]);
  describe(accounts[1].name, liquidation.after[1]);
  line(`keeper log: ${JSON.stringify(liquidation.log)}`);
}

step("(c) Keeper reward and insurance fund");
const keeperBalanceAfter = await token.balanceOf(keeperSigner);
const insuranceAfter = await engine.insuranceFund();
line(
  `keeper wallet   ${usdToken(keeperBalanceBefore, TOKEN_DECIMALS)} -> ${usdToken(keeperBalanceAfter, TOKEN_DECIMALS)}  (+${usdToken(keeperBalanceAfter - keeperBalanceBefore, TOKEN_DECIMALS)})`,
);
line(
  `insurance fund  $${usd18(insuranceBefore)} -> $${usd18(insuranceAfter)}  (${signedUsd(insuranceAfter - insuranceBefore)}: liquidation fee minus keeper reward, plus 20% of trading fees, minus bad debt)`,
);
line(
  `keeper metrics: ticks ${metrics.get("keeper_ticks_total")}, liquidations ${metrics.get("keeper_liquidations_total")}, rewards $${metrics.get("keeper_rewards_usd_total").toFixed(2)}, races lost ${metrics.get("keeper_races_lost_total")}, errors ${metrics.get("keeper_errors_total")}`,
);

const badDebt = await engine.queryFilter(engine.filters.BadDebt());
line(
  badDebt.length === 0
    ? "bad debt: none (the keeper closed every account while its equity was still positive)"
    : `bad debt: ${badDebt.map((e) => `#${e.args.accountId} insurance $${usd18(e.args.coveredByInsuranceD18)}, vault $${usd18(e.args.socialisedD18)}`).join("; ")}`,
);

step("(d) Liquidity vault before and after");
const vaultAfter = await vaultView();
line(
  `totalAssets  ${usdToken(vaultBefore.assets, TOKEN_DECIMALS)} -> ${usdToken(vaultAfter.assets, TOKEN_DECIMALS)}  (${signedUsd((vaultAfter.assets - vaultBefore.assets) * TOKEN_TO_D18)})`,
);
line(
  `share price  $${ratio18(vaultBefore.sharePrice * 10n ** 12n, 6)} -> $${ratio18(vaultAfter.sharePrice * 10n ** 12n, 6)}  (vault cash $${usd18(await engine.vaultCash())}, traders' open PnL is the vault's counter-position)`,
);

step("Summary along the price path");
line(
  `${pad("account", 28, true)} ${pad("start equity", 13)} ${pad("lowest", 11)} ${pad("end equity", 11)} ${pad("end MM", 9)}  outcome`,
);
accounts.forEach((a, k) => {
  const h = history[k];
  const liquidatedAt =
    liquidation !== undefined && liquidation.after[k].legs === "no positions" && h.mm[0] > 0n
      ? liquidation.step
      : -1;
  const outcome = liquidatedAt >= 0 ? `liquidated at step ${liquidatedAt}` : "survived";
  line(
    `${pad(a.name, 28, true)} ${pad(usd18(h.equity[0]), 13)} ${pad(usd18(h.equity.reduce((m, v) => (v < m ? v : m))), 11)} ${pad(usd18(h.equity.at(-1)!), 11)} ${pad(usd18(h.mm.at(-1)!), 9)}  ${outcome}`,
  );
});

mkdirSync(OUT_DIR, { recursive: true });
writeChart(`${OUT_DIR}/equity-vs-margin`, {
  title: "Equity vs maintenance margin along a correlated crash",
  subtitle:
    "Solid: equity; dashed: maintenance margin. An account is liquidatable when its equity line falls below its margin line.",
  xTitle: "step (one hour each) / ETH price / BTC price",
  yTitle: "USD",
  xLabels: ethPath.map((p, i) => `${i}\n${p.toLocaleString("en-US")}\n${btcPath[i] / 1000}k`),
  series: accounts.flatMap((a, k) => [
    { label: `${a.name} equity`, color: a.color, values: history[k].equity.map(toNumber) },
    { label: `${a.name} MM`, color: a.color, dashed: true, values: history[k].mm.map(toNumber) },
  ]),
  markers:
    liquidation === undefined
      ? []
      : [{ x: liquidation.step, text: `keeper liquidates #${isolated}`, color: "#d62728" }],
});
line(`finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`\nChart written to ${OUT_DIR}/ (equity-vs-margin.png and .svg)`);
