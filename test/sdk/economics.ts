/**
 * Market economics reference model: the SDK replays a seeded random sequence of trades and time steps on its own
 * copy of the protocol state (read from chain once, then evolved only by sdk/preview's `applyTrade` and
 * sdk/math), and after every step its fill price, fee, funding rate and index, open interest, bases, reserve and
 * ledger must equal the chain's to the wei. Each trade is an order committed at one block and settled at the mark
 * one minimum delay later: the model applies it at the settlement's time.
 */
import { expect } from "chai";
import type { Signer } from "ethers";

import { networkHelpers, deployBulkhead, ETH, BTC, marketParams } from "../helpers/fixture.js";
import { usd, wad } from "../helpers/constants.js";
import * as math from "../../sdk/math.js";
import { toMarketState } from "../../sdk/client.js";
import { decodeRevert } from "../../sdk/errors.js";
import { PreviewRevert, applyTrade } from "../../sdk/preview.js";
import type { AccountSnapshot, ProtocolSnapshot } from "../../sdk/types.js";
import { Rng, START_PRICES, clientFor, commitRevert, expectFields, setPrices, walk } from "./harness.js";
import { trade } from "../helpers/orders.js";
import { orderParams } from "../helpers/fixture.js";

const SEED = Number(process.env.SDK_SEED ?? 0xec0);
const STEPS = 160;
const MARKETS = [ETH, BTC];

describe("SDK market economics (reference model vs chain)", function () {
  this.timeout(240_000);

  it(`fill, fee and funding agree over ${STEPS} random steps`, async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const rng = new Rng(SEED);
    const { engine, ethFeed } = d.contracts;
    const { admin, alice, bob, carol } = d.signers;

    // A small ETH skew scale and the fastest funding velocity, so that skew is large, price impact visible and
    // the funding rate runs into its +-100%/day clamp within the run.
    const eth = { ...marketParams(await ethFeed.getAddress(), "ETH") };
    eth.skewScaleD18 = wad("4000");
    eth.maxOiPerSideD18 = wad("1500");
    eth.maxFundingVelocityD18 = wad("4");
    await engine.connect(admin).setMarketParams(ETH, eth);

    const owners: Signer[] = [alice, bob, carol];
    const reader = await clientFor(d, alice);
    const accounts: { id: bigint; signer: Signer }[] = [];
    for (const signer of owners) {
      const c = await clientFor(d, signer);
      const id = await c.createCrossAccount();
      await c.deposit(id, usd("8000000"));
      accounts.push({ id, signer });
    }

    // The model: read once, then evolved by the SDK only.
    const model: ProtocolSnapshot = await reader.getProtocolSnapshot();
    const books = new Map<bigint, AccountSnapshot>();
    for (const a of accounts) books.set(a.id, await reader.getAccountSnapshot(a.id));
    let ethPrice = START_PRICES.eth;
    let btcPrice = START_PRICES.btc;
    let clampHits = 0;
    let trades = 0;
    const reverts: Record<string, number> = {};

    for (let step = 0; step < STEPS; step++) {
      await networkHelpers.time.increase(rng.chance(0.2) ? rng.int(3600, 8 * 3600) : rng.int(1, 1800));
      ethPrice = walk(rng, ethPrice, 200);
      btcPrice = walk(rng, btcPrice, 200);
      await setPrices(d, ethPrice, btcPrice);
      model.markets.get(ETH)!.priceD18 = ethPrice;
      model.markets.get(BTC)!.priceD18 = btcPrice;

      const latest = await reader.viewTimestamp();
      const ts = latest + BigInt(rng.int(1, 120));
      const trader = rng.pick(accounts);
      const marketId = rng.pick(MARKETS);
      const m = model.markets.get(marketId)!;
      const held = books.get(trader.id)!.positions.find((p) => p.marketId === marketId)?.sizeD18 ?? 0n;
      const span = marketId === ETH ? m.params.maxOiPerSideD18 / 3n : wad("30");
      const size = rng.chance(0.25) && held !== 0n ? -held : rng.big(-span, span) || 1n;

      // Fill and fee predicted from the model alone, before the trade.
      const quote = math.quoteTrade(m, size);
      const bound = size > 0n ? math.MAX_UINT256 : 0n;

      const nextModel: ProtocolSnapshot = {
        ...model,
        markets: new Map([...model.markets].map(([k, v]) => [k, { ...v, state: { ...v.state } }])),
      };
      const nextBook: AccountSnapshot = structuredClone(books.get(trader.id)!);
      let predicted: ReturnType<typeof applyTrade> | undefined;
      // Committed at ts (the engine's commit-time checks at the mark), settled at ts + minDelay.
      const settledAt = ts + BigInt(orderParams.minDelay);
      let reason = commitRevert(model, books.get(trader.id)!, marketId, size, 0n, ts)?.name;
      if (reason === undefined) {
        try {
          predicted = applyTrade(nextModel, nextBook, marketId, size, bound, settledAt);
        } catch (e) {
          if (!(e instanceof PreviewRevert)) throw e;
          reason = e.errorName;
        }
      }

      await networkHelpers.time.setNextBlockTimestamp(ts);
      let chainError: unknown;
      try {
        await (await trade(engine.connect(trader.signer), trader.id, marketId, size, bound)).wait();
      } catch (e) {
        chainError = e;
      }
      if (reason) {
        reverts[reason] = (reverts[reason] ?? 0) + 1;
        expect(decodeRevert(chainError)?.name, `step ${step}: model says ${reason}`).to.equal(reason);
      } else {
        if (chainError) throw new Error(`step ${step}: chain reverted ${decodeRevert(chainError)?.message}`);
        trades++;
        const [ev] = await engine.queryFilter(engine.filters.PositionModified(trader.id, marketId), "latest");
        expect(ev.args.fillPriceD18, `step ${step} fill`).to.equal(quote.fillPriceD18);
        expect(ev.args.feeD18, `step ${step} fee`).to.equal(quote.feeD18);
        expect(ev.args.fillPriceD18).to.equal(predicted!.fillPriceD18);
        Object.assign(model, { ...nextModel, timestamp: settledAt });
        books.set(trader.id, nextBook);
        if (math.abs(nextModel.markets.get(marketId)!.state.fundingRateD18) === math.MAX_FUNDING_RATE)
          clampHits++;
      }

      // Stored state of both markets, the ledger and the trader's book.
      for (const id of MARKETS) {
        expectFields(
          toMarketState(await engine.getMarketState(id)),
          model.markets.get(id)!.state,
          `step ${step} m${id}`,
        );
      }
      expect(await engine.vaultCash(), `step ${step} vaultCash`).to.equal(model.vaultCashD18);
      expect(await engine.insuranceFund(), `step ${step} insurance`).to.equal(model.insuranceFundD18);
      expect(await engine.totalReserved(), `step ${step} reserved`).to.equal(model.totalReservedD18);
      const chainBook = await reader.getAccountSnapshot(trader.id);
      expect(chainBook.info.collateralD18, `step ${step} collateral`).to.equal(
        books.get(trader.id)!.info.collateralD18,
      );
      expect(chainBook.positions, `step ${step} positions`).to.deep.equal(books.get(trader.id)!.positions);

      // Funding accrued to the latest block, rate and index per market.
      const now = await reader.viewTimestamp();
      for (const id of MARKETS) {
        const mm = model.markets.get(id)!;
        const f = math.pendingFunding(mm.state, mm.params, mm.priceD18, now);
        expect([...(await engine.currentFunding(id))], `step ${step} funding m${id}`).to.deep.equal([
          f.rateD18,
          f.indexD18,
        ]);
      }
    }
    console.log(
      `      trades: ${trades}/${STEPS}, funding rate at the clamp after ${clampHits} trades, reverts ${JSON.stringify(reverts)}`,
    );
    expect(trades).to.be.greaterThan(STEPS / 2);
    expect(clampHits).to.be.greaterThan(0);
  });
});
