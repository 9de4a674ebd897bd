import { expect } from "chai";
import {
  UNOPTIMIZED,
  ethers,
  networkHelpers,
  deployBulkhead,
  ETH,
  BTC,
  riskParams,
} from "../helpers/fixture.js";
import {
  TOKEN_SCALE,
  WAD,
  accountState,
  deploySixteenMarketBulkhead,
  expectCustody,
  feedAnswer,
  isLiquidatable,
  latest,
  liquidateModelled,
  model,
  plan,
  usd,
  wad,
  up,
} from "../helpers/liquidation.js";
import type { ContractTransactionReceipt } from "ethers";
import { openIsolated, trade } from "../helpers/orders.js";

const { loadFixture } = networkHelpers;

describe("liquidation: batch and keeper", () => {
  /** id1: alice 10 ETH long (reward 5 + 28,900 x 0.5% x 0.5 = 77.25), id2: bob 0.5 ETH long (reward
   *  5 + 1,445 x 0.5% x 0.5 = 8.6125, above its fee 7.225), id3: carol healthy, id4: carol BTC short, healthy.
   *  ETH then drops to 2890: both liquidatable, both with equity left to pay their full reward (a bankrupt
   *  account pays only the flat part). */
  async function batchSetup() {
    const f = await loadFixture(deployBulkhead);
    const { engine, ethAggregator } = f.contracts;
    const { alice, bob, carol } = f.signers;
    await openIsolated(engine.connect(alice), ETH, 0, usd("1350"), wad("10"), up(1n));
    await openIsolated(engine.connect(bob), ETH, 0, usd("80"), wad("0.5"), up(1n));
    await openIsolated(engine.connect(carol), ETH, 0, usd("5000"), wad("1"), up(1n));
    await openIsolated(engine.connect(carol), BTC, 0, usd("5000"), wad("-0.1"), 0n);
    await ethAggregator.setAnswer(feedAnswer("2890"));
    return f;
  }

  const transfersFromEngine = (receipt: ContractTransactionReceipt, token: string, engine: string) =>
    receipt.logs.filter(
      (l) =>
        l.address === token &&
        l.topics[0] === ethers.id("Transfer(address,address,uint256)") &&
        ethers.getAddress("0x" + l.topics[1].slice(26)) === engine,
    );

  it("liquidates exactly the liquidatable entries (healthy, unknown 999 and duplicates skipped), paying the summed reward once", async () => {
    const { contracts, signers } = await batchSetup();
    const { engine, token } = contracts;
    const { keeper, carol } = signers;
    const t = (await latest()) + 10n;
    const expected = [];
    for (const id of [1n, 2n, 3n]) expected.push(plan(await model(engine, id, t)));
    expect(expected.map((p) => p.liquidatable)).to.deep.equal([true, true, false]);
    expect(expected[0].reward).to.equal(wad("77.25"));
    expect(expected[1].reward).to.equal(wad("8.6125"));
    const ids = [3n, 1n, 999n, 2n, 1n, 2n];
    const [count, reward] = await engine.connect(keeper).liquidateBatch.staticCall(ids, carol);
    expect(count).to.equal(2n);
    expect(reward).to.equal(wad("85.8625"));

    const healthyBefore = await accountState(engine, 3);
    const cb = await token.balanceOf(carol);
    await networkHelpers.time.setNextBlockTimestamp(t);
    const tx = await engine.connect(keeper).liquidateBatch(ids, carol);
    const receipt = (await tx.wait()) as ContractTransactionReceipt;
    expect(await token.balanceOf(carol)).to.equal(cb + usd("85.8625"));
    const pays = transfersFromEngine(receipt, await token.getAddress(), await engine.getAddress());
    expect(pays.length).to.equal(1);
    const liquidated = receipt.logs
      .map((l) => {
        try {
          return engine.interface.parseLog(l);
        } catch {
          return null;
        }
      })
      .filter((e) => e?.name === "Liquidated");
    expect(liquidated.map((e) => e!.args.accountId)).to.deep.equal([1n, 2n]);
    // The keeper recorded is the batch's caller, not the engine's self-call.
    expect(liquidated.map((e) => e!.args.keeper)).to.deep.equal([keeper.address, keeper.address]);
    expect(liquidated.map((e) => e!.args.keeperRewardD18)).to.deep.equal([wad("77.25"), wad("8.6125")]);
    expect((await engine.getAccount(1)).positionCount).to.equal(0n);
    expect((await engine.getAccount(2)).positionCount).to.equal(0n);
    expect(await accountState(engine, 3)).to.deep.equal(healthyBefore);
    await expectCustody(engine);
  });

  it("a batch of only bad entries liquidates nothing, pays nothing and does not revert", async () => {
    const { contracts, signers } = await batchSetup();
    const { engine, token } = contracts;
    const kb = await token.balanceOf(signers.keeper);
    const [count, reward] = await engine
      .connect(signers.keeper)
      .liquidateBatch.staticCall([3n, 4n, 999n, 0n], signers.keeper);
    expect([count, reward]).to.deep.equal([0n, 0n]);
    const tx = await engine.connect(signers.keeper).liquidateBatch([3n, 4n, 999n, 0n], signers.keeper);
    await expect(tx).to.not.emit(engine, "Liquidated");
    await expect(tx).to.not.emit(token, "Transfer");
    expect(await token.balanceOf(signers.keeper)).to.equal(kb);
  });

  it("skips an account whose market has a stale price, without reverting", async () => {
    const { contracts, signers } = await batchSetup();
    const { engine, ethAggregator, btcAggregator, btcFeed } = contracts;
    const { carol, keeper } = signers;
    await btcAggregator.setAnswer(feedAnswer("110000")); // carol's BTC short (id 4) becomes liquidatable
    expect(await engine.isLiquidatable(4)).to.equal(true);
    await networkHelpers.time.increase(86_401); // every feed is now stale...
    await ethAggregator.setAnswer(feedAnswer("2890")); // ...but ETH is refreshed
    await expect(engine.quoteLiquidation(4)).to.be.revertedWithCustomError(btcFeed, "StalePrice");
    const before = await accountState(engine, 4);
    const [count] = await engine.connect(keeper).liquidateBatch.staticCall([4n, 1n], carol);
    expect(count).to.equal(1n);
    await expect(engine.connect(keeper).liquidateBatch([4n, 1n], carol))
      .to.emit(engine, "Liquidated")
      .withArgs(
        1n,
        keeper.address,
        carol.address,
        false,
        wad("28900"),
        wad("144.5"),
        wad("77.25"), // 5 + 144.5 x 0.5
        wad("67.25"),
      );
    expect(await accountState(engine, 4)).to.deep.equal(before);
    expect((await engine.getAccount(1)).positionCount).to.equal(0n);
    await expectCustody(engine);
  });

  it("liquidationQuotes never reverts on bad entries and matches what liquidate then does", async () => {
    const { contracts, signers } = await batchSetup();
    const { engine, ethAggregator, token } = contracts;
    const { keeper } = signers;
    await networkHelpers.time.increase(86_401);
    await ethAggregator.setAnswer(feedAnswer("2890")); // BTC stale: id 4 unpriceable
    const ids = [3n, 1n, 999n, 4n, 2n, 0n];
    const bn = await ethers.provider.getBlockNumber();
    const t = await latest();
    const quotes = await engine.liquidationQuotes(ids, { blockTag: bn });
    expect(quotes.length).to.equal(ids.length);
    const zero = [false, false, 0n, 0n, 0n];
    for (const [i, id] of ids.entries()) {
      const q = quotes[i];
      const got = [q.liquidatable, q.partial_, q.closeFractionD18, q.closedNotionalD18, q.keeperRewardD18];
      if (id === 999n || id === 4n || id === 0n) {
        expect(got).to.deep.equal(zero);
        continue;
      }
      const p = plan(await model(engine, id, t));
      expect(got).to.deep.equal([p.liquidatable, p.partial, p.fraction, p.closedNotional, p.reward]);
    }
    // Each quoted-liquidatable account liquidates paying exactly the quoted reward; the others are refused.
    for (const [i, id] of ids.entries()) {
      if (quotes[i].liquidatable) {
        const kb = await token.balanceOf(keeper);
        const r = await liquidateModelled(engine, keeper, id);
        expect(r.plan.reward).to.equal(quotes[i].keeperRewardD18);
        expect(await token.balanceOf(keeper)).to.equal(kb + quotes[i].keeperRewardD18 / TOKEN_SCALE);
      } else if (id === 3n) {
        await expect(engine.connect(keeper).liquidate(id, keeper)).to.be.revertedWithCustomError(
          engine,
          "NotLiquidatable",
        );
      }
    }
    expect(quotes.filter((q) => q.liquidatable).length).to.equal(2);
  });

  it("a keeper reward below the cap is flat + fee x keeperShare (floored to the token's smallest unit)", async () => {
    const f = await loadFixture(deployBulkhead);
    const { engine, ethAggregator, token } = f.contracts;
    const { alice, keeper } = f.signers;
    await openIsolated(engine.connect(alice), ETH, 0, usd("200"), wad("2"), up(1n));
    await ethAggregator.setAnswer(feedAnswer("2940"));
    const kb = await token.balanceOf(keeper);
    const ins = await engine.insuranceFund();
    const r = await liquidateModelled(engine, keeper, 1);
    // closed 5880, fee 0.5% = 29.4; the keeper gets 5 + 29.4 x 0.5 = 19.7 USDC, insurance the 9.7 left of the fee
    // (plus its share of the close's trading fee, paid like a trade's).
    await expect(r.tx)
      .to.emit(engine, "Liquidated")
      .withArgs(1n, keeper.address, keeper.address, false, wad("5880"), wad("29.4"), wad("19.7"), wad("9.7"));
    expect(await token.balanceOf(keeper)).to.equal(kb + usd("19.7"));
    expect(r.sim.tradingFees).to.be.gt(0n);
    expect(await engine.insuranceFund()).to.equal(
      ins + wad("9.7") + (r.sim.tradingFees * riskParams.insuranceFeeShareD18) / WAD,
    );
    await expectCustody(engine);
  });

  describe("worst case: a cross account with 16 positions", () => {
    async function sixteen(ethSize: string, collateral: string) {
      const f = await loadFixture(deploySixteenMarketBulkhead);
      const { engine } = f.contracts;
      const { alice } = f.signers;
      expect(await engine.marketCount()).to.equal(16n);
      await engine.connect(alice).createCrossAccount();
      await engine.connect(alice).deposit(1, usd(collateral));
      await trade(engine.connect(alice), 1, 1, wad(ethSize), up(1n));
      await trade(engine.connect(alice), 1, 2, wad("-0.1"), 0n);
      for (let m = 3; m <= 16; m++)
        await trade(engine.connect(alice), 1, m, wad(m % 2 ? "10" : "-10"), m % 2 ? up(1n) : 0n);
      expect((await engine.getAccount(1)).positionCount).to.equal(16n);
      return f;
    }

    it("is fully liquidated under 1,500,000 gas", async () => {
      const { contracts, signers } = await sixteen("10", "2000");
      const { engine, ethAggregator } = contracts;
      await ethAggregator.setAnswer(feedAnswer("2850"));
      const r = await liquidateModelled(engine, signers.keeper, 1);
      expect(isLiquidatable(r.before)).to.equal(true);
      expect(r.plan.partial).to.equal(false);
      expect((await engine.getAccount(1)).positionCount).to.equal(0n);
      await expect(r.tx).to.emit(engine, "PositionLiquidated"); // 16 of them:
      expect(
        r.receipt.logs.filter(
          (l) => l.topics[0] === engine.interface.getEvent("PositionLiquidated").topicHash,
        ).length,
      ).to.equal(16);
      console.log(`      gasUsed (16 positions, full close): ${r.receipt.gasUsed}`);
      if (!UNOPTIMIZED) expect(r.receipt.gasUsed).to.be.lt(1_500_000n);
      await expectCustody(engine);
    });

    // Gas is measured by `npm run bench:gas`, not asserted here; this partial worst case (~1.61M) is above the
    // 1.5M liquidation budget and is tracked as open work in the README.
    it("is partially liquidated, keeping all 16 positions", async () => {
      const { contracts, signers } = await sixteen("40", "5000");
      const { engine, ethAggregator } = contracts;
      await ethAggregator.setAnswer(feedAnswer("2910"));
      const r = await liquidateModelled(engine, signers.keeper, 1);
      expect(r.plan.liquidatable && r.plan.partial).to.equal(true);
      expect((await engine.getAccount(1)).positionCount).to.equal(16n);
      await expectCustody(engine);
    });
  });
});
