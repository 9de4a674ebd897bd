/**
 * Gas benchmark: deploys Bulkhead with 16 markets, runs every measured operation in a warm, realistic state
 * (accounts and markets exist, users hold tokens, time moves between operations so funding accrues) and
 * records each transaction's `gasUsed`. Writes bench/gas-report.json, fails if a budget in bench/budgets.json is
 * exceeded, and checks the figures against the committed bench/gas-snapshot.json (fails more than 2% over a
 * snapshot figure; scripts/lib/gas-snapshot.ts). `npm run gas:snapshot` rewrites the snapshot instead.
 *
 * Determinism: after the deploy every transaction is mined at a timestamp set explicitly (a fixed step
 * after the previous one), so funding, prices and therefore gas are identical from run to run.
 *
 * Trades are orders: `commitOrder` then `settleOrder` one second later (the minimum delay) by a keeper, with a
 * MockPyth update proving the mark price. Every figure of a trade excludes the oracle update's own cost,
 * reported apart as `oracleUpdate`: the same update verified alone by the pull feed (`priceInWindow` from an
 * EOA, minus the 21,000 intrinsic gas); the subtraction errs high, since the feed's address is warm in that
 * transaction and cold inside the settlement. `openCross`, `increaseCross`, `closeCross` and `openCross16` are
 * settlement transactions (`settleOrder` and `settleOrder16` name the first and the last again, as the orders
 * issue asks); `openIsolatedFromWallet` and `closeIsolatedToWallet` are commit + settlement together.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { ContractTransactionResponse } from "ethers";
import {
  ethers,
  networkHelpers,
  deployBulkhead,
  marketParams,
  pythPriceId,
  ETH,
  BTC,
} from "../test/helpers/fixture.js";
import { encodeMockPythUpdate } from "../sdk/pyth.js";
import { feedAnswer, usd, wad } from "../test/helpers/constants.js";
import { checkSnapshot } from "./lib/gas-snapshot.js";

const REPORT = "bench/gas-report.json";
const BUDGETS = "bench/budgets.json";
const STEP = 60n;
const MARKET_COUNT = 16;
const EXTRA_PRICE = "100";

const { signers, contracts } = await deployBulkhead();
const { admin, lp, alice, bob, keeper, carol } = signers;
const { token, engine, vault, ethAggregator, btcAggregator, pyth } = contracts;
const [dave, erin, frank, grace, heidi, ivan, judy] = (await ethers.getSigners()).slice(6, 13);

const gas: Record<string, bigint> = {};

/** Sends one transaction at the next fixed timestamp and returns its receipt's gas. */
async function send(tx: () => Promise<ContractTransactionResponse>, step: bigint = STEP): Promise<bigint> {
  now += step;
  await networkHelpers.time.setNextBlockTimestamp(now);
  const receipt = await (await tx()).wait();
  if (receipt === null) throw new Error("no receipt");
  return receipt.gasUsed;
}

async function measure(name: string, tx: () => Promise<ContractTransactionResponse>, step?: bigint) {
  gas[name] = await send(tx, step);
}

function check(condition: boolean, what: string) {
  if (!condition) throw new Error(`benchmark scenario broken: ${what}`);
}

/** The id of the account the last transaction created. */
async function lastAccount(): Promise<bigint> {
  return engine.accountCount();
}

// ---- 14 extra markets (ids 3..16), each with its own aggregator and feed, priced at 100 ----
const aggregators = new Map([
  [ETH, ethAggregator],
  [BTC, btcAggregator],
]);
const extraFeeds: [string, string][] = [];
for (let id = 3; id <= MARKET_COUNT; ++id) {
  const aggregator = await ethers.deployContract("MockAggregatorV3", [8]);
  const feed = await ethers.deployContract("ChainlinkPriceFeed", [aggregator, 86_400, ethers.ZeroAddress, 0]);
  const pull = await ethers.deployContract("PythPriceFeed", [pyth, pythPriceId(id), admin, 86_400, 100]);
  aggregators.set(id, aggregator);
  extraFeeds.push([await feed.getAddress(), await pull.getAddress()]);
}

let now = BigInt(await networkHelpers.time.latest());
for (const [index, [feed, pull]] of extraFeeds.entries()) {
  await send(() => aggregators.get(index + 3)!.setAnswer(feedAnswer(EXTRA_PRICE)));
  await send(() => engine.connect(admin).listMarket(marketParams(feed, "ETH", pull)));
}
check(Number(await engine.marketCount()) === MARKET_COUNT, "16 markets");

/** Update data proving the market's mark price, published at `publishTime`, with its fee. */
async function priceUpdate(marketId: number, publishTime: bigint) {
  const params = await engine.getMarketParams(marketId);
  const pull = await ethers.getContractAt("PythPriceFeed", params.pullFeed);
  const mark = await ethers.getContractAt("IPriceFeed", params.feed);
  const data = [encodeMockPythUpdate(await pull.priceId(), await mark.latestPrice(), publishTime)];
  return { pull, data, fee: await pull.updateFee(data) };
}

/**
 * The oracle update's own cost: an update verified alone by a pull feed (from an EOA, minus the intrinsic
 * 21,000), measured once, as a settlement meets it: a fresh transaction (the feed and MockPyth cold) on a market
 * whose price MockPyth already stores (its parse also stores a fresher price, as inside every settlement).
 */
async function measureOracleUpdate(marketId: number): Promise<bigint> {
  const publishTime = now + 1n;
  const { pull, data, fee } = await priceUpdate(marketId, publishTime);
  const used = await send(() => pull.priceInWindow(data, publishTime, publishTime + 59n, { value: fee }), 1n);
  return used - 21_000n;
}

/**
 * Settles the pending order one second (the minimum delay) after the last transaction, by the keeper. Returns
 * the settlement's gas without the oracle update's (`oracleUpdate`).
 */
async function settle(accountId: bigint, marketId: number): Promise<bigint> {
  const { data, fee } = await priceUpdate(marketId, now + 1n);
  const used = await send(
    () => engine.connect(keeper).settleOrder(accountId, marketId, data, { value: fee }),
    1n,
  );
  return used - (gas.oracleUpdate ?? 0n); // background orders before the measurement are not reported
}

/** A trade as an order: commit, then settlement one second later. Returns [commit gas, settlement gas]. */
async function order(
  who: typeof alice,
  accountId: bigint,
  marketId: number,
  size: bigint,
  acceptable: bigint,
): Promise<[bigint, bigint]> {
  const commit = await send(() =>
    engine.connect(who).commitOrder(accountId, marketId, size, acceptable, ethers.MaxUint256),
  );
  return [commit, await settle(accountId, marketId)];
}

/** A new isolated account funded from the wallet, as an order. Returns its id and the gas of both steps. */
async function orderIsolated(
  who: typeof alice,
  marketId: number,
  margin: bigint,
  size: bigint,
  acceptable: bigint,
) {
  const args = [marketId, 0, margin, size, acceptable, ethers.MaxUint256] as const;
  const id = await engine.connect(who).commitIsolatedOrder.staticCall(...args);
  const commit = await send(() => engine.connect(who).commitIsolatedOrder(...args));
  return { id, gas: commit + (await settle(id, marketId)) };
}

async function setPrice(marketId: number, price: string) {
  await send(() => aggregators.get(marketId)!.setAnswer(feedAnswer(price)));
}

for (const user of [dave, erin, frank, grace, heidi, ivan, judy]) {
  await send(() => token.mint(user, usd("10000000")));
  await send(() => token.connect(user).approve(engine, ethers.MaxUint256));
}

const BUY = wad("1000000");
const SELL = 1n;
const MARKET_ETH = ETH;
const MARKET_BTC = BTC;
const M_CROSS16 = 3;
const M_CROSS1 = 4;
const M_ISOLATED = 5;
const M_PARTIAL = 6;
const M_BATCH = 7;
const M_ADL = 8;
const M_PARTIAL16 = 9;

// ---- background open interest on both sides of ETH and BTC, so measured trades hit live markets ----
await send(() => engine.connect(ivan).createCrossAccount());
const ivanId = await lastAccount();
await send(() => engine.connect(ivan).deposit(ivanId, usd("100000")));
await order(ivan, ivanId, MARKET_ETH, wad("-10"), SELL);
await order(ivan, ivanId, MARKET_BTC, wad("0.5"), BUY);

gas.oracleUpdate = await measureOracleUpdate(MARKET_BTC);

// ---- cross margin: alice's account exists, is funded and holds an ETH position ----
await send(() => engine.connect(alice).createCrossAccount());
const aliceId = await lastAccount();
await send(() => engine.connect(alice).deposit(aliceId, usd("100000")));
await order(alice, aliceId, MARKET_ETH, wad("5"), BUY);
await measure("deposit", () => engine.connect(alice).deposit(aliceId, usd("1000")));
await measure("withdraw", () => engine.connect(alice).withdraw(aliceId, usd("1000"), alice));
[gas.commitOrder, gas.openCross] = await order(alice, aliceId, MARKET_BTC, wad("-0.2"), SELL);
gas.settleOrder = gas.openCross;
[, gas.increaseCross] = await order(alice, aliceId, MARKET_ETH, wad("2"), BUY);
[, gas.closeCross] = await order(alice, aliceId, MARKET_BTC, wad("0.2"), BUY);

// ---- an order nobody settled: expired, then cleaned up by anyone ----
await send(() => engine.connect(alice).commitOrder(aliceId, MARKET_BTC, wad("0.1"), BUY, ethers.MaxUint256));
await measure("cancelOrder", () => engine.connect(keeper).cancelOrder(aliceId, MARKET_BTC), 61n);

// ---- isolated from and to the wallet: carol has traded this market and holds tokens ----
const carol1 = await orderIsolated(carol, MARKET_ETH, usd("2000"), wad("-3"), SELL);
gas.openIsolatedFromWallet = carol1.gas;
const carolIsolated = carol1.id;
gas.closeIsolatedToWallet =
  (await send(() => engine.connect(carol).commitCloseIsolated(carolIsolated, BUY, 0, ethers.MaxUint256))) +
  (await settle(carolIsolated, MARKET_ETH));

// ---- a cross account with 15 positions opens its 16th; bob's big long in market 3 makes it liquidatable later ----
await send(() => engine.connect(bob).createCrossAccount());
const bobId = await lastAccount();
await send(() => engine.connect(bob).deposit(bobId, usd("2000")));
await order(bob, bobId, M_CROSS16, wad("500"), BUY);
await order(bob, bobId, MARKET_ETH, wad("0.03"), BUY);
for (let id = 4; id <= MARKET_COUNT; ++id) {
  await order(bob, bobId, id, wad("1"), BUY);
}
[, gas.openCross16] = await order(bob, bobId, MARKET_BTC, wad("0.002"), BUY);
gas.settleOrder16 = gas.openCross16;
check(Number((await engine.getAccount(bobId)).positionCount) === 16, "bob holds 16 positions");

// ---- the liquidity vault (ERC-7540): ten LPs request deposits, every mark is republished after the requests'
// ready time, and one keeper transaction settles all ten at one valuation of the 16 active markets ----
const lps = [lp, alice, bob, carol, dave, erin, frank, grace, heidi, ivan];
for (const who of lps) {
  await send(() => token.mint(who, usd("100000")));
  await send(() => token.connect(who).approve(vault, ethers.MaxUint256));
}
for (const [i, who] of lps.entries()) {
  const used = await send(() => vault.connect(who).requestDeposit(usd("10000"), who, who));
  if (i === 1) gas.lpRequestDeposit = used; // a second request: the queue exists, as in steady state
}
for (const [id, aggregator] of aggregators) {
  const mark = await ethers.getContractAt("IPriceFeed", (await engine.getMarketParams(id)).feed);
  const answer = (await mark.latestPrice()) / 10n ** 10n;
  await send(() => aggregator.setAnswer(answer));
}
check((await engine.vaultValueAt())[1] > now - 16n * STEP - 1n, "marks republished after the requests");
await measure("lpSettleBatch10", () => vault.connect(keeper).settleRequests(10));
check(
  (await vault.queueLengths())[0] === 0n && (await vault.maxDeposit(ivan)) === usd("10000"),
  "ten settled",
);
await measure("lpClaimDeposit", () => vault.connect(ivan)["deposit(uint256,address)"](usd("10000"), ivan));
const ivanShares = await vault.balanceOf(ivan);
await measure(
  "lpRequestRedeem",
  () => vault.connect(ivan).requestRedeem(ivanShares, ivan, ivan),
  3_600n + STEP,
);

// ---- liquidations: each scenario's price move is in a market only its victims (and bob's 1-unit long) hold ----
// Isolated, 25x long.
const erinId = (await orderIsolated(erin, M_ISOLATED, usd("150"), wad("40"), BUY)).id;
// One position in a cross account.
await send(() => engine.connect(dave).createCrossAccount());
const daveId = await lastAccount();
await send(() => engine.connect(dave).deposit(daveId, usd("150")));
await order(dave, daveId, M_CROSS1, wad("40"), BUY);
// A cross account above the partial-liquidation notional (150,000 USD).
await send(() => engine.connect(frank).createCrossAccount());
const frankId = await lastAccount();
await send(() => engine.connect(frank).deposit(frankId, usd("4000")));
await order(frank, frankId, M_PARTIAL, wad("1500"), BUY);
// Ten isolated accounts in one market.
const batchIds: bigint[] = [];
for (let i = 0; i < 10; ++i) {
  batchIds.push((await orderIsolated(grace, M_BATCH, usd("150"), wad("40"), BUY)).id);
}

await setPrice(M_ISOLATED, "97");
check(await engine.isLiquidatable(erinId), "isolated account liquidatable");
await measure("liquidateIsolated", () => engine.connect(keeper).liquidate(erinId, keeper));

await setPrice(M_CROSS1, "97");
check(await engine.isLiquidatable(daveId), "cross account with one position liquidatable");
await measure("liquidateCross1", () => engine.connect(keeper).liquidate(daveId, keeper));

await setPrice(M_PARTIAL, "98.4");
const partialQuote = await engine.quoteLiquidation(frankId);
check(partialQuote.liquidatable && partialQuote.partial_, "account above the threshold liquidated partially");
await measure("liquidatePartial", () => engine.connect(keeper).liquidate(frankId, keeper));

await setPrice(M_BATCH, "97");
for (const id of batchIds) check(await engine.isLiquidatable(id), `batch account ${id} liquidatable`);
await measure("liquidateBatch10", () => engine.connect(keeper).liquidateBatch(batchIds, keeper));
for (const id of batchIds)
  check((await engine.getAccount(id)).positionCount === 0n, `batch account ${id} closed`);

await setPrice(M_CROSS16, "97");
const cross16Quote = await engine.quoteLiquidation(bobId);
check(cross16Quote.liquidatable && !cross16Quote.partial_, "16-position account fully liquidatable");
await measure("liquidateCross16", () => engine.connect(keeper).liquidate(bobId, keeper));

// ---- the worst case: a 16-position account above the partial threshold, closed pro rata in all 16 ----
await send(() => engine.connect(judy).createCrossAccount());
const judyId = await lastAccount();
await send(() => engine.connect(judy).deposit(judyId, usd("4000")));
await order(judy, judyId, M_PARTIAL16, wad("1500"), BUY);
await order(judy, judyId, MARKET_ETH, wad("0.03"), BUY);
await order(judy, judyId, MARKET_BTC, wad("0.002"), BUY);
for (let id = 3; id <= MARKET_COUNT; ++id) {
  if (id !== M_PARTIAL16) await order(judy, judyId, id, wad("1"), BUY);
}
check(Number((await engine.getAccount(judyId)).positionCount) === 16, "judy holds 16 positions");
await setPrice(M_PARTIAL16, "98.6");
const partial16Quote = await engine.quoteLiquidation(judyId);
check(partial16Quote.liquidatable && partial16Quote.partial_, "16-position account liquidated partially");
await measure("liquidatePartial16", () => engine.connect(keeper).liquidate(judyId, keeper));
check(Number((await engine.getAccount(judyId)).positionCount) === 16, "partial close keeps all 16 positions");
check((await engine.getAccount(bobId)).positionCount === 0n, "16 positions closed");

// ---- a large isolated account: about 1,000,000 USD notional, partially liquidated with a scaled reward ----
const largeId = (await orderIsolated(judy, MARKET_ETH, usd("21000"), wad("333"), BUY)).id;
await setPrice(MARKET_ETH, "2950");
const largeQuote = await engine.quoteLiquidation(largeId);
check(
  largeQuote.liquidatable && largeQuote.closedNotionalD18 > wad("900000"),
  "the large account is liquidatable",
);
await measure("liquidateLarge", () => engine.connect(keeper).liquidate(largeId, keeper));

// ---- ADL: a big long whose profit in its market exceeds the trigger share of vault cash ----
await send(() => engine.connect(heidi).createCrossAccount());
const heidiId = await lastAccount();
await send(() => engine.connect(heidi).deposit(heidiId, usd("200000")));
await order(heidi, heidiId, M_ADL, wad("20000"), BUY);
await setPrice(M_ADL, "250");
const [triggered] = await engine.adlStatus(M_ADL);
check(triggered, "ADL triggered");
await measure("autoDeleverage", () => engine.connect(keeper).autoDeleverage(heidiId, M_ADL));

const ethFeed = (await engine.getMarketParams(MARKET_ETH)).feed;
// ---- dynamic margin: a market's volatility sample, one interval after the first (the steady-state poke) ----
const volatilityOracle = await ethers.deployContract("VolatilityOracle", [admin, admin]);
await send(() =>
  volatilityOracle.connect(admin).setParams(MARKET_ETH, {
    feed: ethFeed,
    interval: 3600,
    lambdaD18: wad("0.9"),
    winsorD18: wad("4"),
    baseVolD18: wad("0.01"),
    capD18: wad("3"),
    risePerHourD18: wad("0.3"),
    fallPerHourD18: wad("0.05"),
  }),
);
await send(() => volatilityOracle.connect(keeper).poke(MARKET_ETH));
await setPrice(MARKET_ETH, "2990");
await measure("pokeVolatility", () => volatilityOracle.connect(keeper).poke(MARKET_ETH), 3600n);

// ---- portfolio margin at the model's worst case: 6 factors, 16 scenarios, all 16 markets listed ----
// Market m loads 1.0 on factor m mod 6 and 0.3 on the next one, 0.5% idiosyncratic volatility, a 1e9 USD add-on
// depth; factor volatilities 1% per period with some correlation; scenarios shock factor pairs by +-5%.
const FACTORS = 6;
const cholesky = Array.from({ length: FACTORS * FACTORS }, (_, i) => {
  const [row, col] = [Math.floor(i / FACTORS), i % FACTORS];
  return row === col ? wad("0.008") : col < row ? wad("0.002") : 0n;
});
const scenarios = Array.from({ length: 16 * FACTORS }, (_, i) => {
  const [s, f] = [Math.floor(i / FACTORS), i % FACTORS];
  const sign = s % 2 === 0 ? -1n : 1n;
  return f === Math.floor(s / 2) % FACTORS || f === (Math.floor(s / 2) + 1) % FACTORS
    ? sign * wad("0.05")
    : 0n;
});
const portfolioModel = {
  factors: FACTORS,
  cholesky,
  scenarios,
  zD18: wad("3.5"),
  floorD18: wad("0.5"),
  imScalarD18: wad("1.5"),
};
const marketRisks = Array.from({ length: MARKET_COUNT }, (_, i) => ({
  marketId: i + 1,
  loadingsD18: Array.from({ length: FACTORS }, (_, f) =>
    f === i % FACTORS ? wad("1") : f === (i + 1) % FACTORS ? wad("0.3") : 0n,
  ),
  idioVolD18: wad("0.005"),
  depthD18: wad("1000000000"),
}));
const portfolioMargin = await ethers.deployContract("PortfolioMargin", [
  admin,
  portfolioModel,
  marketRisks,
  3600,
]);
await send(() => engine.connect(admin).setPortfolioMargin(portfolioMargin));
// A portfolio account with 15 positions opens its 16th (one unit in every market but a big long in M_CROSS1,
// which only it holds from now on, to make it liquidatable below).
const M_PORTFOLIO = M_CROSS1;
await send(() => engine.connect(dave).createPortfolioAccount());
const portfolioId = await lastAccount();
await send(() => engine.connect(dave).deposit(portfolioId, usd("16000")));
await order(dave, portfolioId, M_PORTFOLIO, wad("1500"), BUY);
for (let id = 3; id <= MARKET_COUNT; ++id) {
  if (id !== M_PORTFOLIO) await order(dave, portfolioId, id, wad("1"), BUY);
}
await order(dave, portfolioId, MARKET_ETH, wad("0.03"), BUY);
[, gas.openPortfolio16] = await order(dave, portfolioId, MARKET_BTC, wad("0.002"), BUY);
check(
  Number((await engine.getAccount(portfolioId)).positionCount) === 16,
  "the portfolio holds 16 positions",
);
// Its big leg falls 0.5% at a time until it is liquidatable: liquidated in proportional slices of all 16.
const portfolioMark = await ethers.getContractAt(
  "IPriceFeed",
  (await engine.getMarketParams(M_PORTFOLIO)).feed,
);
let portfolioPrice = Number((await portfolioMark.latestPrice()) / 10n ** 14n) / 1e4;
while (!(await engine.isLiquidatable(portfolioId))) {
  portfolioPrice = Math.round(portfolioPrice * 0.995 * 1e4) / 1e4;
  await setPrice(M_PORTFOLIO, String(portfolioPrice));
}
const portfolioQuote = await engine.quoteLiquidation(portfolioId);
check(portfolioQuote.liquidatable && portfolioQuote.partial_, "the portfolio is liquidated partially");
await measure("liquidatePortfolio16", () => engine.connect(keeper).liquidate(portfolioId, keeper));
check(Number((await engine.getAccount(portfolioId)).positionCount) === 16, "a slice keeps all 16 positions");

// ---- report ----
const names = Object.keys(gas).sort();
const report: Record<string, number> = {};
for (const name of names) report[name] = Number(gas[name]);
writeFileSync(REPORT, JSON.stringify(report, null, 2) + "\n");

const budgets = JSON.parse(readFileSync(BUDGETS, "utf8")) as Record<string, number>;
const rows = names.map((name) => {
  const budget = budgets[name];
  const over = budget !== undefined && report[name] > budget;
  return {
    operation: name,
    gas: report[name],
    budget: budget ?? "-",
    status: budget === undefined ? "" : over ? "OVER" : "ok",
  };
});
console.table(rows);
for (const name of Object.keys(budgets)) {
  if (!(name in report)) {
    console.error(`budget for unknown operation: ${name}`);
    process.exitCode = 1;
  }
}
const over = rows.filter((row) => row.status === "OVER");
if (over.length > 0) {
  console.error(`gas budget exceeded: ${over.map((row) => row.operation).join(", ")}`);
  process.exitCode = 1;
}
console.log(`wrote ${REPORT}`);
checkSnapshot(report, process.env.GAS_SNAPSHOT_UPDATE === "1");
