/**
 * Differential tests of the SDK against the chain: seeded random accounts, trades, prices and time steps; after
 * every step each SDK figure must equal the engine's view at the same block to the wei, and each previewed action
 * must match what the transaction did (or the custom error it reverted with). Trades are orders: committed (the
 * engine's commit-time checks mirrored by `commitRevert`), then settled one minimum delay later at a pull price
 * that may differ from the mark, with a settlement reward, as `previewSettlement` predicts.
 */
import { expect } from "chai";
import type { Signer } from "ethers";

import { ethers, networkHelpers, deployBulkhead, ETH, BTC } from "../helpers/fixture.js";
import { TOKEN_SCALE, feedAnswer, usd, wad } from "../helpers/constants.js";
import * as math from "../../sdk/math.js";
import {
  acceptablePrice,
  toLiquidationQuote,
  toMarketState,
  toMarginSummary,
  toTradeQuote,
} from "../../sdk/client.js";
import type { BulkheadClient } from "../../sdk/client.js";
import { decodeRevert } from "../../sdk/errors.js";
import {
  previewDeposit,
  previewLiquidation,
  previewOpenIsolated,
  previewSettlement,
  previewTransferMargin,
  previewWithdraw,
  settlementReward,
} from "../../sdk/preview.js";
import type { Preview } from "../../sdk/preview.js";
import type { AccountSnapshot, ProtocolSnapshot } from "../../sdk/types.js";
import { AccountMode } from "../../sdk/types.js";
import type { IBulkhead } from "../../types/ethers-contracts/index.js";
import {
  Rng,
  START_PRICES,
  clientFor,
  commitRevert,
  expectFields,
  orderTrade,
  setPrices,
  settleAtReady,
  sortedPositions,
  walk,
  withPrice,
  type Deployment,
  type ExpectedRevert,
} from "./harness.js";
import { ANY_REWARD, settleNext, trade } from "../helpers/orders.js";

const SEED = Number(process.env.SDK_SEED ?? 0xb01d);
const CASES = 320;
const MARKETS = [ETH, BTC];

interface Trader {
  accountId: bigint;
  signer: Signer;
}

describe("SDK differential (chain vs sdk/math, to the wei)", function () {
  this.timeout(240_000);

  it("views are evaluated at the latest block's timestamp (eth_call 'latest')", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice } = d.signers;
    const client = await clientFor(d, alice);
    const id = await client.createCrossAccount();
    await client.deposit(id, usd("100000"));
    await orderTrade(client, id, ETH, 10n ** 19n);
    await networkHelpers.time.increase(3600);
    const snap = await client.getProtocolSnapshot();
    const eth = snap.markets.get(ETH)!;
    const [rate, index] = await d.contracts.engine.currentFunding(ETH);
    const atLatest = math.pendingFunding(eth.state, eth.params, eth.priceD18, snap.timestamp);
    const atNext = math.pendingFunding(eth.state, eth.params, eth.priceD18, snap.timestamp + 1n);
    expect([rate, index]).to.deep.equal([atLatest.rateD18, atLatest.indexD18]);
    expect(atNext.indexD18).to.not.equal(atLatest.indexD18);
    expect(await client.computeSummary(id)).to.deep.equal(await client.marginSummary(id));
  });

  it("settles at the pull price of the window, not the commit-time mark: previewSettlement agrees to the wei", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, ethAggregator, token } = d.contracts;
    const { alice, bob, keeper } = d.signers;
    // A settlement reward, fixed for each order when it is committed: governance raises it half-way.
    const REWARD = wad("2.75");
    const RAISED = wad("4.2");
    const setReward = async (reward: bigint) =>
      (await engine.setOrderParams({ minDelay: 5, maxDelay: 120, settlementRewardD18: reward })).wait();
    await setReward(REWARD);
    const a = await clientFor(d, alice);
    const b = await clientFor(d, bob);
    const k = await clientFor(d, keeper);
    // Bob's short skews the market: fills carry a price impact and funding runs.
    const bobId = await b.createCrossAccount();
    await b.deposit(bobId, usd("200000"));
    await orderTrade(b, bobId, ETH, -wad("40"), 100n);
    const id = await a.createCrossAccount();
    await a.deposit(id, usd("100000"));

    /** The order's settlement at `priceD18` by the keeper, against `preview`, figure by figure. */
    async function settleAndCompare(
      what: string,
      accountId: bigint,
      preview: Preview,
      order: { sizeDeltaD18: bigint; readyTime: bigint },
      priceD18: bigint,
      reward: bigint,
    ) {
      expect(preview.allowed, `${what}: ${preview.reason}`).to.equal(true);
      const keeperBefore = await token.balanceOf(keeper);
      const ownerBefore = await token.balanceOf(alice);
      const tx = await settleAtReady(k, accountId, ETH, { priceD18 });
      const block = (await tx.wait())!.blockNumber;
      const [ev] = await engine.queryFilter(engine.filters.PositionModified(accountId, ETH), block, block);
      const [settled] = await engine.queryFilter(engine.filters.OrderSettled(accountId, ETH), block, block);
      expect(
        [
          ev.args.sizeDeltaD18,
          ev.args.fillPriceD18,
          ev.args.feeD18,
          ev.args.feeToInsuranceD18,
          ev.args.realisedPnlD18,
          ev.args.fundingPaidD18,
        ],
        `${what}: PositionModified (size, fill, fee, fee to insurance, realised, funding)`,
      ).to.deep.equal([
        order.sizeDeltaD18,
        preview.fillPriceD18,
        preview.feeD18,
        preview.feeToInsuranceD18,
        preview.realisedPnlD18,
        preview.fundingPaidD18,
      ]);
      expect(
        [settled.args.keeper, settled.args.priceD18, settled.args.publishTime, settled.args.rewardD18],
        `${what}: OrderSettled`,
      ).to.deep.equal([keeper.address, priceD18, order.readyTime, reward]);
      expect(await token.balanceOf(keeper), `${what}: keeper paid in whole token units`).to.equal(
        keeperBefore + reward / TOKEN_SCALE,
      );
      expect(await a.viewTimestamp(), `${what}: settled at the ready time`).to.equal(order.readyTime);
      await expectLedger(d, preview.result!.snapshot);
      return { block, walletDelta: (await token.balanceOf(alice)) - ownerBefore };
    }

    // Cross account: open, increase, reduce, flip, close. The mark at commit, the mark at settlement and the
    // pull price published at the ready time all differ.
    const steps = [
      // The reward goes up after this order is committed: its settlement still pays the committed one.
      {
        what: "open long 10",
        size: wad("10"),
        commitMark: "3000",
        settleMark: "3000",
        pull: "3027",
        raise: true,
      },
      { what: "increase to 25", size: wad("15"), commitMark: "3010", settleMark: "3020", pull: "3033.5" },
      { what: "reduce to 9", size: -wad("16"), commitMark: "3040", settleMark: "3040", pull: "3012.25" },
      { what: "flip to short 12", size: -wad("21"), commitMark: "3000", settleMark: "2995", pull: "2971.8" },
      { what: "close the short", size: wad("12"), commitMark: "2980", settleMark: "2980", pull: "3001.33" },
    ];
    for (const step of steps) {
      await networkHelpers.time.increase(3600);
      await ethAggregator.setAnswer(feedAnswer(step.commitMark));
      const atCommit = await a.quoteTrade(ETH, step.size);
      await (await a.commitOrder(id, ETH, step.size, { toleranceBps: 200n })).wait();
      const order = await a.getOrder(id, ETH);
      expect(order.acceptablePriceD18, `${step.what}: bound from the commit-time quote`).to.equal(
        acceptablePrice(atCommit.fillPriceD18, step.size, 200n),
      );
      const committedReward = (await a.getOrderParams()).settlementRewardD18;
      expect(order.settlementRewardD18, `${step.what}: reward fixed at commit`).to.equal(committedReward);
      if ("raise" in step) await setReward(RAISED);
      if (step.settleMark !== step.commitMark) await ethAggregator.setAnswer(feedAnswer(step.settleMark));

      const snap = await a.getProtocolSnapshot();
      const acct = await a.getAccountSnapshot(id);
      const price = wad(step.pull);
      const reward = settlementReward(order.settlementRewardD18, order.settlementRewardD18, snap.tokenScale);
      expect(reward, `${step.what}: reward`).to.equal("raise" in step ? REWARD : RAISED);
      const preview = previewSettlement(snap, acct, ETH, order, price, reward, order.readyTime);
      // The fill follows the settlement price (with the skew impact at settlement), not the commit's quote.
      const atPull = math.quoteTrade({ ...snap.markets.get(ETH)!, priceD18: price }, step.size);
      expect(preview.fillPriceD18, `${step.what}: fill at the pull price`).to.equal(atPull.fillPriceD18);
      expect(preview.fillPriceD18, `${step.what}: not the commit-time fill`).to.not.equal(
        atCommit.fillPriceD18,
      );

      await settleAndCompare(step.what, id, preview, order, price, reward);
      await expectAccount(a, preview.result!.account, step.what);
      const markets = withPrice(preview.result!.snapshot, ETH, wad(step.settleMark)).markets;
      const account = preview.result!.account;
      expectFields(
        await a.marginSummary(id),
        math.marginSummary(account.info, account.positions, markets, order.readyTime),
        `${step.what}: summary after, at the mark`,
      );
    }
    expect(await a.getPositions(id)).to.deep.equal([]);

    // Isolated: opened from the wallet at one price, closed at another; the rest goes back to the wallet.
    await networkHelpers.time.increase(3600);
    await ethAggregator.setAnswer(feedAnswer("3000"));
    const before = await a.getProtocolSnapshot();
    const { accountId: iso, tx: commit } = await a.commitIsolatedOrder(ETH, usd("5000"), wad("4"), {
      toleranceBps: 200n,
    });
    await commit.wait();
    const openOrder = await a.getOrder(iso, ETH);
    const openPrice = wad("3015.4");
    const openReward = settlementReward(
      openOrder.settlementRewardD18,
      openOrder.settlementRewardD18,
      before.tokenScale,
    );
    const opened = previewOpenIsolated(before, alice.address, ETH, usd("5000"), wad("4"), {
      acceptablePriceD18: openOrder.acceptablePriceD18,
      newAccountId: iso,
      now: openOrder.readyTime,
      settlementPriceD18: openPrice,
      rewardD18: openReward,
    });
    await settleAndCompare("isolated open", iso, opened, openOrder, openPrice, openReward);
    await expectAccount(a, opened.result!.account, "isolated open");

    await networkHelpers.time.increase(1800);
    await (await a.commitCloseIsolated(iso, { toleranceBps: 200n })).wait();
    const closeOrder = await a.getOrder(iso, ETH);
    expect(closeOrder.sizeDeltaD18).to.equal(-wad("4"));
    const snap = await a.getProtocolSnapshot();
    const isoAcct = await a.getAccountSnapshot(iso);
    const closePrice = wad("2990.05");
    const closeReward = settlementReward(
      closeOrder.settlementRewardD18,
      closeOrder.settlementRewardD18,
      snap.tokenScale,
    );
    const closed = previewSettlement(
      snap,
      isoAcct,
      ETH,
      closeOrder,
      closePrice,
      closeReward,
      closeOrder.readyTime,
    );
    const { walletDelta } = await settleAndCompare(
      "isolated close",
      iso,
      closed,
      closeOrder,
      closePrice,
      closeReward,
    );
    // The collateral left goes to the wallet in whole token units; the sub-unit dust stays.
    const left = closed.result!.account.info.collateralD18;
    expect(walletDelta, "isolated close: paid to the wallet").to.equal(left / TOKEN_SCALE);
    const after = await a.getAccountSnapshot(iso);
    expect(after.positions).to.deep.equal([]);
    expect(after.info.collateralD18, "isolated close: dust left").to.equal(left % TOKEN_SCALE);

    // A settlement price beyond the order's bound: previewSettlement and the chain refuse it alike, the order
    // stays pending until it expires, and cancelling it charges nothing.
    await ethAggregator.setAnswer(feedAnswer("2980"));
    await (await a.commitOrder(id, ETH, wad("5"), { toleranceBps: 50n })).wait();
    const order = await a.getOrder(id, ETH);
    const snap2 = await a.getProtocolSnapshot();
    const acct2 = await a.getAccountSnapshot(id);
    const reward2 = settlementReward(order.settlementRewardD18, order.settlementRewardD18, snap2.tokenScale);
    const refused = previewSettlement(snap2, acct2, ETH, order, wad("3060"), reward2, order.readyTime);
    expect(refused.allowed).to.equal(false);
    expect(refused.reason).to.equal("SlippageExceeded");
    let error: unknown;
    try {
      await settleAtReady(k, id, ETH, { priceD18: wad("3060") });
    } catch (e) {
      error = e;
    }
    const decoded = decodeRevert(error);
    expect([decoded?.name, decoded?.values], "chain refusal").to.deep.equal([
      refused.reason,
      refused.error!.args,
    ]);
    expect((await a.getOrder(id, ETH)).commitTime).to.equal(order.commitTime);
    await networkHelpers.time.increaseTo(order.expiryTime + 1n);
    expect((await a.getOrder(id, ETH)).status).to.equal("expired");
    await (await k.cancelOrder(id, ETH)).wait();
    expect((await a.getOrder(id, ETH)).status).to.equal("none");
    expect(await a.getAccountSnapshot(id)).to.deep.equal(acct2);
  });

  it(`agrees with the chain on ${CASES} random cases`, async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const rng = new Rng(SEED);
    const { engine } = d.contracts;
    const { alice, bob, carol } = d.signers;
    const owners = [alice, bob, carol];
    const clients = new Map<Signer, BulkheadClient>();
    for (const s of owners) clients.set(s, await clientFor(d, s));
    const reader = clients.get(alice)!;
    // Orders wait 2 s and pay their settling keeper (the trader itself here) 1.5 USD.
    const ORDER_PARAMS = { minDelay: 2, maxDelay: 60, settlementRewardD18: wad("1.5") };
    await (await engine.setOrderParams(ORDER_PARAMS)).wait();
    const delay = BigInt(ORDER_PARAMS.minDelay);
    const traders: Trader[] = [];
    for (const signer of [alice, alice, bob, carol]) {
      const c = clients.get(signer)!;
      const accountId = await c.createCrossAccount();
      await c.deposit(accountId, usd(String(rng.int(5_000, 200_000))));
      traders.push({ accountId, signer });
    }
    let eth = START_PRICES.eth;
    let btc = START_PRICES.btc;
    const counts: Record<string, number> = {};
    const tally = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);

    for (let step = 0; step < CASES; step++) {
      await networkHelpers.time.increase(rng.int(1, 6 * 3600));
      eth = walk(rng, eth, 300);
      btc = walk(rng, btc, 300);
      await setPrices(d, eth, btc);
      const paused = await reader.paused();
      if (rng.chance(paused ? 0.3 : 0.02)) {
        // Pause or resume: risk-increasing trades must then fail with EnforcedPause, reductions still pass.
        await (await (paused ? d.contracts.engine.unpause() : d.contracts.engine.pause())).wait();
        tally("pauseToggle");
      }

      const snap = await reader.getProtocolSnapshot();
      const ts = snap.timestamp + BigInt(rng.int(1, 900));
      const roll = rng.next() % 100;
      const trader = rng.pick(traders);
      const client = clients.get(trader.signer)!;
      const acct = await reader.getAccountSnapshot(trader.accountId);
      await networkHelpers.time.setNextBlockTimestamp(ts);

      // An order's reward (whole token units, within the helpers' budget) and its settlement price: the mark, or
      // a price up to 80 bps away from it, published at the ready time.
      const reward = settlementReward(ORDER_PARAMS.settlementRewardD18, ANY_REWARD, snap.tokenScale);
      const settlementPrice = (marketId: number) => {
        const mark = snap.markets.get(marketId)!.priceD18;
        return rng.chance(0.5) ? mark : walk(rng, mark, 80);
      };

      if (roll < 62) {
        tally("trade");
        const { marketId, size } = randomTrade(rng, acct, snap);
        const quote = math.quoteTrade(snap.markets.get(marketId)!, size);
        const bound = rng.chance(0.05)
          ? quote.fillPriceD18 + (size > 0n ? -1n : 1n)
          : acceptablePrice(quote.fillPriceD18, size, BigInt(rng.int(0, 60)));
        const price = settlementPrice(marketId);
        // Committed at ts (checked at the mark), settled at ts + delay at `price`.
        const refused = commitRevert(snap, acct, marketId, size, reward, ts);
        const preview = refused
          ? undefined
          : previewSettlement(
              snap,
              acct,
              marketId,
              { sizeDeltaD18: size, acceptablePriceD18: bound },
              price,
              reward,
              ts + delay,
            );
        await execute(
          refused ?? preview!,
          trade(engine.connect(trader.signer), trader.accountId, marketId, size, bound, { priceD18: price }),
          tally,
        );
        if (refused) tally("refusedAtCommit");
        else if (price !== snap.markets.get(marketId)!.priceD18) tally("settledOffMark");
        if (preview?.allowed) {
          await expectTradeResult(d, reader, preview, trader.accountId, marketId, size, {
            priceD18: price,
            markD18: snap.markets.get(marketId)!.priceD18,
            rewardD18: reward,
            settledAt: ts + delay,
          });
        }
      } else if (roll < 72 && traders.length < 14) {
        tally("openIsolated");
        const marketId = rng.pick(MARKETS);
        const market = snap.markets.get(marketId)!;
        const margin = usd(String(rng.int(500, 50_000)));
        const leverage = BigInt(rng.int(1, 60));
        const size =
          ((margin * snap.tokenScale * leverage * math.WAD) / market.priceD18) * (rng.chance(0.5) ? 1n : -1n);
        const fromCross = rng.chance(0.5) && !acct.info.isolated;
        const newAccountId = (await engine.accountCount()) + 1n;
        const owner = trader.signer;
        const bound = acceptablePrice(math.quoteTrade(market, size).fillPriceD18, size, 40n);
        const price = settlementPrice(marketId);
        const refused = isolatedCommitRevert(
          snap,
          fromCross ? acct : undefined,
          marketId,
          margin,
          size,
          reward,
          ts,
        );
        const preview = refused
          ? undefined
          : previewOpenIsolated(snap, await owner.getAddress(), marketId, margin, size, {
              source: fromCross ? acct : undefined,
              acceptablePriceD18: bound,
              newAccountId,
              now: ts + delay,
              settlementPriceD18: price,
              rewardD18: reward,
            });
        await execute(
          refused ?? preview!,
          openIsolatedOrder(
            engine.connect(owner),
            marketId,
            fromCross ? trader.accountId : 0n,
            margin,
            size,
            bound,
            {
              priceD18: price,
            },
          ),
          tally,
        );
        if (refused) tally("refusedAtCommit");
        if (preview?.allowed) {
          traders.push({ accountId: newAccountId, signer: owner });
          await expectAccount(reader, preview.result!.account, "openIsolated account");
          if (fromCross) await expectAccount(reader, preview.result!.others![0], "openIsolated source");
          await expectLedger(d, preview.result!.snapshot);
        }
      } else if (roll < 78) {
        tally("deposit");
        const amount = usd(String(rng.int(0, 20_000)));
        const preview = previewDeposit(snap, acct, amount, ts);
        await execute(preview, engine.connect(trader.signer).deposit(trader.accountId, amount), tally);
        if (preview.allowed) await expectAccount(reader, preview.result!.account, "deposit");
      } else if (roll < 88) {
        tally("withdraw");
        const max = math.maxWithdrawable(
          math.marginSummary(acct.info, acct.positions, snap.markets, ts),
          snap.tokenScale,
        );
        const amount = rng.chance(0.5) ? max + BigInt(rng.int(0, 2)) : rng.big(0n, max + 10n);
        const preview = previewWithdraw(snap, acct, amount, ts);
        await execute(
          preview,
          engine.connect(trader.signer).withdraw(trader.accountId, amount, await trader.signer.getAddress()),
          tally,
        );
        if (preview.allowed) await expectAccount(reader, preview.result!.account, "withdraw");
      } else if (roll < 94) {
        tally("transferMargin");
        const to = rng.pick(traders.filter((t) => t.signer === trader.signer));
        const toAcct = await reader.getAccountSnapshot(to.accountId);
        const amount = rng.big(0n, acct.info.collateralD18 > 0n ? acct.info.collateralD18 : 10n ** 18n);
        const preview = previewTransferMargin(snap, acct, toAcct, amount, ts);
        await execute(
          preview,
          engine.connect(trader.signer).transferMargin(trader.accountId, to.accountId, amount),
          tally,
        );
        if (preview.allowed) {
          await expectAccount(reader, preview.result!.account, "transfer source");
          await expectAccount(reader, preview.result!.others![0], "transfer destination");
        }
      } else {
        tally("liquidationScan");
        await liquidateSome(d, reader, traders, snap, ts, tally);
      }

      // Every figure of the touched account, two random others and both markets, at the latest block.
      const ids = new Set<bigint>([
        trader.accountId,
        rng.pick(traders).accountId,
        rng.pick(traders).accountId,
      ]);
      await expectViews(d, reader, [...ids], rng);
      await expectCustody(d, reader, traders);
    }
    console.log("      cases:", JSON.stringify(counts));
    expect((counts.trade ?? 0) + (counts.openIsolated ?? 0)).to.be.greaterThan(150);
    expect(counts["reverted"] ?? 0).to.be.greaterThan(5);
    expect(counts["refusedAtCommit"] ?? 0).to.be.greaterThan(0);
    expect(counts["settledOffMark"] ?? 0).to.be.greaterThan(20);
    expect(counts["liquidated"] ?? 0).to.be.greaterThan(0);
  });
});

/* ------------------------------------------------------------------------------------------------------------ */

function randomTrade(
  rng: Rng,
  acct: AccountSnapshot,
  snap: ProtocolSnapshot,
): { marketId: number; size: bigint } {
  const marketId = acct.info.isolated ? acct.info.marketId : rng.pick(MARKETS);
  const market = snap.markets.get(marketId)!;
  const held = acct.positions.find((p) => p.marketId === marketId)?.sizeD18 ?? 0n;
  const kind = rng.next() % 10;
  if (rng.chance(0.1)) return { marketId, size: rng.big(1n, 10n ** 6n) * (rng.chance(0.5) ? 1n : -1n) }; // dust
  if (held !== 0n && kind < 2) return { marketId, size: -held }; // close
  if (held !== 0n && kind < 4) return { marketId, size: -(held * BigInt(rng.int(1, 99))) / 100n || -held }; // reduce
  if (held !== 0n && kind < 5) return { marketId, size: -(held * BigInt(rng.int(101, 300))) / 100n }; // flip
  const equity = acct.info.collateralD18 > 10n ** 20n ? acct.info.collateralD18 : 10n ** 21n;
  const leverage = BigInt(rng.int(1, 150)); // tenths: 0.1x..15x of collateral, per trade
  let size = (equity * leverage * math.WAD) / (10n * market.priceD18);
  size += rng.big(0n, 10n ** 12n); // odd wei
  return { marketId, size: rng.chance(0.5) ? size : -size };
}

/**
 * Sends the action; checks it reverted iff the preview said so (or the commit-time mirror refused it), with the
 * predicted custom error (and, for a refused commit, its exact arguments).
 */
async function execute(
  expected: Preview | ExpectedRevert,
  sent: Promise<unknown>,
  tally: (k: string) => void,
): Promise<void> {
  let error: unknown;
  try {
    const tx = (await sent) as { wait: () => Promise<unknown> };
    await tx.wait();
  } catch (e) {
    error = e;
  }
  const refused = "name" in expected ? expected : undefined;
  const reason = refused
    ? refused.name
    : (expected as Preview).allowed
      ? undefined
      : (expected as Preview).reason;
  if (reason === undefined) {
    if (error)
      throw new Error(`preview allowed, chain reverted: ${decodeRevert(error)?.message ?? String(error)}`);
    tally("allowed");
  } else {
    expect(error, `preview says ${reason}, chain accepted`).to.not.equal(undefined);
    const decoded = decodeRevert(error);
    expect(decoded?.name, "revert name").to.equal(reason);
    if (refused) expect(decoded?.values, "commit revert args").to.deep.equal(refused.args);
    tally("reverted");
    tally(`revert:${reason}`);
  }
}

/**
 * The helpers' `openIsolated`, but committed by a transaction (the helper's static call for the new id would run
 * at the latest block's time, not the commit's): the new account is the last one created. Settled at `priceD18`
 * one delay later; a refused settlement is cancelled after expiry (the margin goes back) and rethrown.
 */
async function openIsolatedOrder(
  engine: IBulkhead,
  marketId: number,
  sourceAccountId: bigint,
  margin: bigint,
  size: bigint,
  bound: bigint,
  opts: { priceD18: bigint },
) {
  await (await engine.commitIsolatedOrder(marketId, sourceAccountId, margin, size, bound, ANY_REWARD)).wait();
  const accountId = await engine.accountCount();
  try {
    return await settleNext(engine, accountId, marketId, opts);
  } catch (error) {
    const order = await engine.getOrder(accountId, marketId);
    if (order.commitTime !== 0n) {
      await networkHelpers.time.increaseTo(order.expiryTime + 1n);
      await (await engine.cancelOrder(accountId, marketId)).wait();
    }
    throw error;
  }
}

/**
 * commitIsolatedOrder's checks before and at the commit (`source` undefined: funded from the wallet): the source
 * cross account pays the margin and keeps its initial margin at the mark, then the fresh account's order passes
 * `commitRevert`.
 */
function isolatedCommitRevert(
  snap: ProtocolSnapshot,
  source: AccountSnapshot | undefined,
  marketId: number,
  margin: bigint,
  size: bigint,
  rewardD18: bigint,
  now: bigint,
): ExpectedRevert | undefined {
  const marginD18 = margin * snap.tokenScale;
  if (source) {
    const collateral = source.info.collateralD18;
    if (collateral < marginD18) return { name: "InsufficientCollateral", args: [collateral, marginD18] };
    const info = { ...source.info, collateralD18: collateral - marginD18 };
    if (source.positions.length > 0) {
      const s = math.marginSummary(info, source.positions, snap.markets, now);
      if (s.equityD18 < s.initialMarginD18) {
        return { name: "InsufficientMargin", args: [s.equityD18, s.initialMarginD18] };
      }
    }
  }
  const fresh: AccountSnapshot = {
    accountId: 0n,
    info: {
      owner: ethers.ZeroAddress,
      isolated: true,
      marketId,
      positionCount: 0,
      collateralD18: marginD18,
      mode: AccountMode.Isolated,
    },
    positions: [],
  };
  return commitRevert(snap, fresh, marketId, size, rewardD18, now);
}

async function expectAccount(reader: BulkheadClient, expected: AccountSnapshot, what: string): Promise<void> {
  const actual = await reader.getAccountSnapshot(expected.accountId);
  expectFields(actual.info, expected.info, `${what} info`);
  expect(actual.positions, `${what} positions (in storage order)`).to.deep.equal(expected.positions);
}

async function expectLedger(d: Deployment, snap: ProtocolSnapshot): Promise<void> {
  const { engine } = d.contracts;
  expect(await engine.vaultCash(), "vaultCash").to.equal(snap.vaultCashD18);
  expect(await engine.insuranceFund(), "insuranceFund").to.equal(snap.insuranceFundD18);
  expect(await engine.totalReserved(), "totalReserved").to.equal(snap.totalReservedD18);
  for (const id of MARKETS) {
    const state = await engine.getMarketState(id);
    expectFields(toMarketState(state), snap.markets.get(id)!.state, `market ${id} state`);
  }
}

/**
 * The settlement's events, the new position/collateral and the market and ledger, against the preview; then the
 * account's summary at the settlement's block, back at the mark price.
 */
async function expectTradeResult(
  d: Deployment,
  reader: BulkheadClient,
  preview: Preview,
  accountId: bigint,
  marketId: number,
  size: bigint,
  settlement: { priceD18: bigint; markD18: bigint; rewardD18: bigint; settledAt: bigint },
): Promise<void> {
  const { engine } = d.contracts;
  const events = await engine.queryFilter(engine.filters.PositionModified(accountId, marketId), "latest");
  expect(events.length).to.equal(1);
  const [settled] = await engine.queryFilter(engine.filters.OrderSettled(accountId, marketId), "latest");
  expect(
    [settled.args.priceD18, settled.args.publishTime, settled.args.rewardD18],
    "OrderSettled price, publish time, reward",
  ).to.deep.equal([settlement.priceD18, settlement.settledAt, settlement.rewardD18]);
  expect(await reader.viewTimestamp(), "settled at the ready time").to.equal(settlement.settledAt);
  const ev = events[0].args;
  expect(ev.sizeDeltaD18).to.equal(size);
  expect(ev.fillPriceD18, "fill").to.equal(preview.fillPriceD18);
  expect(ev.feeD18, "fee").to.equal(preview.feeD18);
  expect(ev.feeToInsuranceD18, "fee to insurance").to.equal(preview.feeToInsuranceD18);
  expect(ev.realisedPnlD18, "realised").to.equal(preview.realisedPnlD18);
  expect(ev.fundingPaidD18, "funding").to.equal(preview.fundingPaidD18);
  await expectAccount(reader, preview.result!.account, "trade");
  await expectLedger(d, preview.result!.snapshot);
  // The account after the trade, at the trade's own block, its market back at the mark price.
  const atMark = withPrice(preview.result!.snapshot, marketId, settlement.markD18);
  const account = preview.result!.account;
  expectFields(
    await reader.marginSummary(accountId),
    math.marginSummary(account.info, account.positions, atMark.markets, settlement.settledAt),
    "summary after trade",
  );
  if (settlement.priceD18 === settlement.markD18) {
    expectFields(await reader.marginSummary(accountId), preview.after.summary, "summary after trade");
  }
}

/** Every account figure and market figure, SDK vs chain, pinned to the latest block. */
async function expectViews(d: Deployment, reader: BulkheadClient, ids: bigint[], rng: Rng): Promise<void> {
  const { engine } = d.contracts;
  const blockTag = await ethers.provider.getBlockNumber();
  const o = { blockTag };
  const snap = await reader.getProtocolSnapshot(undefined, o);
  const now = snap.timestamp;
  for (const id of ids) {
    const a = await reader.getAccountSnapshot(id, o);
    const s = math.marginSummary(a.info, a.positions, snap.markets, now);
    expectFields(toMarginSummary(await engine.marginSummary(id, o)), s, `account ${id} summary`);
    expect(await engine.freeCollateral(id, o), "freeCollateral").to.equal(math.freeCollateral(s));
    expect(await engine.maxWithdrawable(id, o), "maxWithdrawable").to.equal(
      math.maxWithdrawable(s, snap.tokenScale),
    );
    expect(await engine.healthFactor(id, o), "healthFactor").to.equal(math.healthFactor(s));
    expect(await engine.isLiquidatable(id, o), "isLiquidatable").to.equal(math.isLiquidatable(s));
    for (const p of sortedPositions(a)) {
      expect(
        await engine.liquidationPrice(id, p.marketId, o),
        `liquidationPrice ${id}/${p.marketId}`,
      ).to.equal(math.liquidationPrice(s, p, snap.markets.get(p.marketId)!));
    }
    const plan = math.liquidationPlan(a.info, a.positions, snap.markets, snap.risk, snap.tokenScale, now);
    expectFields(
      toLiquidationQuote(await engine.quoteLiquidation(id, o)),
      math.liquidationQuote(plan),
      "quoteLiquidation",
    );
  }
  let vaultValue = snap.vaultCashD18;
  for (const id of MARKETS) {
    const m = snap.markets.get(id)!;
    const size = rng.big(-(m.params.skewScaleD18 / 20n), m.params.skewScaleD18 / 20n);
    expectFields(
      toTradeQuote(await engine.quoteTrade(id, size, o)),
      math.quoteTrade(m, size),
      `quoteTrade ${id}`,
    );
    const f = math.pendingFunding(m.state, m.params, m.priceD18, now);
    expect([...(await engine.currentFunding(id, o))], `currentFunding ${id}`).to.deep.equal([
      f.rateD18,
      f.indexD18,
    ]);
    const pnl = math.tradersNetPnl(m, now);
    expect(await engine.tradersNetPnl(id, o), `tradersNetPnl ${id}`).to.equal(pnl);
    if (m.state.longOiD18 !== 0n || m.state.shortOiD18 !== 0n) vaultValue -= pnl;
  }
  expect(await engine.vaultValue(o), "vaultValue").to.equal(vaultValue);
  expect(math.vaultValue(snap.vaultCashD18, snap.markets, now), "sdk vaultValue").to.equal(vaultValue);
}

/** Liquidates the liquidatable accounts the SDK finds, checking each Liquidated event against the SDK's plan. */
async function liquidateSome(
  d: Deployment,
  reader: BulkheadClient,
  traders: Trader[],
  snap: ProtocolSnapshot,
  ts: bigint,
  tally: (k: string) => void,
): Promise<void> {
  const { engine } = d.contracts;
  const { keeper } = d.signers;
  const found = await reader.liquidatable(traders.map((t) => t.accountId));
  const target = found[0];
  if (!target) {
    // Nothing to liquidate: a healthy account must be refused with NotLiquidatable.
    await expect(
      engine.connect(keeper).liquidate(traders[0].accountId, keeper),
    ).to.be.revertedWithCustomError(engine, "NotLiquidatable");
    return;
  }
  const a = await reader.getAccountSnapshot(target.accountId);
  const plan = math.liquidationPlan(a.info, a.positions, snap.markets, snap.risk, snap.tokenScale, ts);
  if (!plan.liquidatable) {
    // Funding accrued between the scan's block and this one made it healthy again.
    await expect(engine.connect(keeper).liquidate(target.accountId, keeper)).to.be.revertedWithCustomError(
      engine,
      "NotLiquidatable",
    );
    return;
  }
  const replay = previewLiquidation(snap, a, ts);
  await (await engine.connect(keeper).liquidate(target.accountId, keeper)).wait();
  const [ev] = await engine.queryFilter(engine.filters.Liquidated(target.accountId), "latest");
  // The SDK's replay of the whole liquidation, ledger and bad debt included.
  expect((await reader.getAccount(target.accountId)).collateralD18, "collateral after").to.equal(
    replay.result.account.info.collateralD18,
  );
  expect(await engine.vaultCash(), "vault cash after").to.equal(replay.result.snapshot.vaultCashD18);
  expect(await engine.insuranceFund(), "insurance after").to.equal(replay.result.snapshot.insuranceFundD18);
  const [bad] = await engine.queryFilter(engine.filters.BadDebt(target.accountId), "latest");
  expect(
    bad === undefined ? undefined : [bad.args.coveredByInsuranceD18, bad.args.socialisedD18],
    "bad debt",
  ).to.deep.equal(
    replay.badDebt === undefined
      ? undefined
      : [replay.badDebt.coveredByInsuranceD18, replay.badDebt.socialisedD18],
  );
  if (replay.badDebt) tally("badDebt");
  const charge = math.max(plan.feeD18, plan.rewardD18);
  expect(plan.chargeD18, "plan charge").to.equal(charge);
  expect(plan.toInsuranceD18, "plan toInsurance").to.equal(charge - plan.rewardD18);
  // Each leg closed like a trade: at the quoted fill, with the quoted maker/taker fee (markets are independent).
  const legs = await engine.queryFilter(engine.filters.PositionLiquidated(target.accountId), "latest");
  let tradingFees = 0n;
  for (const leg of legs) {
    const q = math.quoteTrade(snap.markets.get(Number(leg.args.marketId))!, -leg.args.closedSizeD18);
    expect(leg.args.priceD18, "leg fill").to.equal(q.fillPriceD18);
    expect(leg.args.tradingFeeD18, "leg trading fee").to.equal(q.feeD18);
    tradingFees += leg.args.tradingFeeD18;
  }
  expect(tradingFees, "trading fees of the plan").to.equal(plan.tradingFeeD18);
  expect(ev.args.partial_, "partial").to.equal(plan.partial);
  expect(ev.args.closedNotionalD18, "closedNotional").to.equal(plan.closedNotionalD18);
  expect(ev.args.feeD18, "charge").to.equal(charge);
  expect(ev.args.keeperRewardD18, "reward").to.equal(plan.rewardD18);
  expect(ev.args.toInsuranceD18, "toInsurance").to.equal(charge - plan.rewardD18);
  // Each position shrank by exactly fractionOf(size, fraction).
  const after = await reader.getAccountSnapshot(target.accountId);
  for (const p of a.positions) {
    const left = p.sizeD18 - math.fractionOf(p.sizeD18, plan.fractionD18);
    expect(
      after.positions.find((q) => q.marketId === p.marketId)?.sizeD18 ?? 0n,
      "size after liquidation",
    ).to.equal(left);
  }
  // The module's guarantee for a partial liquidation: equity afterwards >= (1 + buffer) x maintenance margin.
  if (plan.partial) {
    const s = await reader.marginSummary(target.accountId);
    expect(s.equityD18 * math.WAD, "partial liquidation leaves (1 + buffer) x MM").to.be.gte(
      (math.WAD + snap.risk.liquidationBufferD18) * s.maintenanceMarginD18,
    );
    tally("partial");
  }
  if (after.positions.length === 0) expect(after.info.collateralD18, "no debt left behind").to.be.gte(0n);
  tally("liquidated");
}

/** token.balanceOf(engine) x TOKEN_SCALE == sum of collateral + vault cash + insurance fund, exactly. */
async function expectCustody(d: Deployment, reader: BulkheadClient, traders: Trader[]): Promise<void> {
  const { engine, token } = d.contracts;
  let total = (await engine.vaultCash()) + (await engine.insuranceFund());
  for (const t of traders) total += (await reader.getAccount(t.accountId)).collateralD18;
  expect((await token.balanceOf(engine)) * (await reader.tokenScale()), "custody identity").to.equal(total);
}
