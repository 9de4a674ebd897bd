import type { ContractTransactionResponse } from "ethers";
import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import {
  BTC,
  deployBulkhead,
  ETH,
  ethers,
  marketParams,
  networkHelpers,
  riskParams,
} from "../helpers/fixture.js";
import { DAY, feedAnswer, TOKEN_SCALE, usd, wad, WAD } from "../helpers/constants.js";
import {
  type RejectedCase,
  divCeil,
  divFloor,
  expectCustodyIdentity,
  expectEachRejected,
  expectUnchanged,
  fillPrice,
  mulDown,
  positionMargins,
  tradingFee,
} from "../helpers/invariants.js";
import { ANY_REWARD, closeIsolated, openIsolated, settleNext, trade } from "../helpers/orders.js";

const ETH_PRICE = wad("3000");
const INT256_MAX = 2n ** 255n - 1n;

/** The fixture with alice's cross account (id 1) holding 100,000. */
async function aliceFunded() {
  const f = await networkHelpers.loadFixture(deployBulkhead);
  await f.contracts.engine.connect(f.signers.alice).createCrossAccount();
  await f.contracts.engine.connect(f.signers.alice).deposit(1, usd("100000"));
  return f;
}

/** The fixture with ETH funding switched off, so that a position's PnL depends on prices and fees only. */
async function noEthFunding() {
  const f = await networkHelpers.loadFixture(deployBulkhead);
  const { engine, ethFeed } = f.contracts;
  await engine.setMarketParams(ETH, {
    ...marketParams(await ethFeed.getAddress(), "ETH"),
    maxFundingVelocityD18: 0n,
  });
  return f;
}

/** The funding rate and index a trade's PositionModified reports are the market's state after the trade. */
async function expectFundingInEvent(
  engine: Awaited<ReturnType<typeof deployBulkhead>>["contracts"]["engine"],
  tx: ContractTransactionResponse,
  marketId: number,
) {
  const receipt = await tx.wait();
  const event = receipt!.logs
    .map((log) => engine.interface.parseLog(log))
    .find((parsed) => parsed?.name === "PositionModified");
  const state = await engine.getMarketState(marketId);
  expect([event!.args.fundingRateD18, event!.args.fundingIndexD18]).to.deep.equal([
    state.fundingRateD18,
    state.fundingIndexD18,
  ]);
}

describe("core: trading", () => {
  describe("market economics", () => {
    it("a trade crossing skew zero fills at the exact skew-impact price and splits maker and taker fees", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine } = contracts;
      const { alice, bob } = signers;
      const p = marketParams(ethers.ZeroAddress, "ETH");
      await openIsolated(engine.connect(bob), ETH, 0, usd("10000"), wad("10"), wad("3100")); // skew +10

      const delta = wad("-25"); // 10 reduce the skew (maker), 15 push it short (taker)
      const fill = fillPrice(ETH_PRICE, wad("10"), delta, p.skewScaleD18);
      const fee = tradingFee(ETH_PRICE, wad("10"), delta, p.skewScaleD18, p.makerFeeD18, p.takerFeeD18);
      // 3000 x (1 + (20 - 25) / 2e6), rounded down for a sell.
      expect(fill).to.equal(wad("2999.9925"));
      // Each part at its own segment's fill: +10 -> 0 at 3000 x (1 + 10/2e6), then 0 -> -15 at 3000 x (1 - 15/2e6).
      expect(fillPrice(ETH_PRICE, wad("10"), wad("-10"), p.skewScaleD18)).to.equal(wad("3000.015"));
      expect(fillPrice(ETH_PRICE, 0n, wad("-15"), p.skewScaleD18)).to.equal(wad("2999.9775"));
      const makerPart = divCeil(divCeil(wad("10") * wad("3000.015"), WAD) * p.makerFeeD18, WAD);
      const takerPart = divCeil(divCeil(wad("15") * wad("2999.9775"), WAD) * p.takerFeeD18, WAD);
      expect(fee).to.equal(makerPart + takerPart);
      const toInsurance = mulDown(fee, riskParams.insuranceFeeShareD18);

      const insuranceBefore = await engine.insuranceFund();
      const cashBefore = await engine.vaultCash();
      const tradeTx = trade(engine.connect(alice), 1, ETH, delta, wad("2999"));
      await expect(tradeTx)
        .to.emit(engine, "PositionModified")
        .withArgs(1, ETH, delta, delta, fill, fee, toInsurance, 0, 0, anyValue, anyValue);
      await expectFundingInEvent(engine, await tradeTx, ETH);
      expect((await engine.getAccount(1)).collateralD18).to.equal(wad("100000") - fee);
      expect(await engine.insuranceFund()).to.equal(insuranceBefore + toInsurance);
      expect(await engine.vaultCash()).to.equal(cashBefore + fee - toInsurance);
      const [pos] = await engine.getPositions(1);
      expect(pos.basisD18).to.equal(divCeil(delta * fill, WAD)); // a new basis rounds up
      await expectCustodyIdentity(contracts);
    });

    it("a skewed market's funding rate rises over time; longs pay and shorts receive", async () => {
      const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
      const { engine } = contracts;
      const { alice, bob } = signers;
      const p = marketParams(ethers.ZeroAddress, "ETH");
      await openIsolated(engine.connect(alice), ETH, 0, usd("5000"), wad("-10"), wad("2900")); // id 1
      await openIsolated(engine.connect(bob), ETH, 0, usd("50000"), wad("100"), wad("3100")); // id 2, skew +90
      const skew = wad("90");

      const expectFunding = async () => {
        const s = await engine.getMarketState(ETH);
        const now = BigInt(await networkHelpers.time.latest());
        const elapsed = now - s.lastFundingTime;
        const proportional = (skew * WAD) / p.skewScaleD18;
        const rate = s.fundingRateD18 + (p.maxFundingVelocityD18 * proportional * elapsed) / (WAD * DAY);
        const index =
          s.fundingIndexD18 + ((s.fundingRateD18 + rate) * elapsed * ETH_PRICE) / (2n * DAY * WAD);
        expect(await engine.currentFunding(ETH)).to.deep.equal([rate, index]);
        return { rate, index };
      };
      const start = await expectFunding();
      // Fresh oracle rounds at the same price keep the feed within its heartbeat.
      await networkHelpers.time.increase(DAY);
      await contracts.ethAggregator.setAnswer(feedAnswer("3000"));
      const oneDay = await expectFunding();
      await networkHelpers.time.increase(DAY);
      await contracts.ethAggregator.setAnswer(feedAnswer("3000"));
      const twoDays = await expectFunding();
      expect(oneDay.rate > start.rate && twoDays.rate > oneDay.rate).to.equal(true);
      expect(twoDays.index > oneDay.index && oneDay.index > start.index).to.equal(true);

      const [short] = await engine.getPositions(1);
      const [long] = await engine.getPositions(2);
      const shortOwes = divCeil(short.sizeD18 * (twoDays.index - short.lastFundingIndexD18), WAD);
      const longOwes = divCeil(long.sizeD18 * (twoDays.index - long.lastFundingIndexD18), WAD);
      expect(longOwes > 0n && shortOwes < 0n).to.equal(true);
      expect((await engine.marginSummary(1)).accruedFundingD18).to.equal(shortOwes);
      expect((await engine.marginSummary(2)).accruedFundingD18).to.equal(longOwes);

      // Settling: the long's reduce pays exactly what had accrued by the block it is mined in.
      const collateral = (await engine.getAccount(2)).collateralD18;
      const tx = await trade(engine.connect(bob), 2, ETH, wad("-1"), 0);
      const receipt = await tx.wait();
      const event = receipt!.logs
        .map((l) => engine.interface.parseLog(l))
        .find((e) => e?.name === "PositionModified")!;
      const paid = event.args.fundingPaidD18 as bigint;
      expect(paid > longOwes).to.equal(true); // one more second of a positive, rising rate
      expect((await engine.getAccount(2)).collateralD18).to.equal(
        collateral + (event.args.realisedPnlD18 as bigint) - paid - (event.args.feeD18 as bigint),
      );
      await expectCustodyIdentity(contracts);
    });

    it("the open-interest cap blocks a trade that would exceed it and allows one that reduces it", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine, ethFeed } = contracts;
      const { alice } = signers;
      const params = marketParams(await ethFeed.getAddress(), "ETH");
      await engine.setMarketParams(ETH, { ...params, maxOiPerSideD18: wad("10") });
      await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, wad("1"), wad("3100")))
          .to.be.revertedWithCustomError(engine, "OpenInterestCapExceeded")
          .withArgs(ETH, wad("11"), wad("10")),
      );
      // Governance lowers the cap under the current open interest: reducing still works, increasing does not.
      await engine.setMarketParams(ETH, { ...params, maxOiPerSideD18: wad("5") });
      await trade(engine.connect(alice), 1, ETH, wad("-2"), 0);
      expect((await engine.getMarketState(ETH)).longOiD18).to.equal(wad("8"));
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, wad("1"), wad("3100")))
          .to.be.revertedWithCustomError(engine, "OpenInterestCapExceeded")
          .withArgs(ETH, wad("9"), wad("5")),
      );
      // Flipping to a short over the short cap is an increase of risk as well.
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, wad("-14"), 0))
          .to.be.revertedWithCustomError(engine, "OpenInterestCapExceeded")
          .withArgs(ETH, wad("6"), wad("5")),
      );
      await expectCustodyIdentity(contracts);
    });

    it("a trade whose reserve the vault's cash cannot cover reverts with VaultCapacityExceeded", async () => {
      const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
      const { engine } = contracts;
      const { alice } = signers;
      await engine.connect(alice).createCrossAccount();
      await engine.connect(alice).deposit(1, usd("1000000"));
      // Reserve = 4,000 ETH x 3,000 x 50% = 6,000,000 > the vault's 5,000,000.
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, wad("4000"), wad("3100")))
          .to.be.revertedWithCustomError(engine, "VaultCapacityExceeded")
          .withArgs(wad("6000000"), anyValue),
      );
      await trade(engine.connect(alice), 1, ETH, wad("3000"), wad("3100")); // 4,500,000 reserved fits
      expect(await engine.totalReserved()).to.equal(wad("4500000"));
      await expectCustodyIdentity(contracts);
    });

    for (const prior of ["0", "-50"]) {
      it(`opening and closing at an unchanged oracle price never profits (skew before: ${prior})`, async () => {
        const { signers, contracts } = await noEthFunding();
        const { engine } = contracts;
        const { alice, bob } = signers;
        await engine.connect(alice).createCrossAccount();
        if (prior !== "0") await openIsolated(engine.connect(bob), ETH, 0, usd("100000"), wad(prior), 0);
        await engine.connect(alice).deposit(1, usd("10000"));
        const before = (await engine.getAccount(1)).collateralD18;
        await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
        await trade(engine.connect(alice), 1, ETH, wad("-10"), 0);
        const after = (await engine.getAccount(1)).collateralD18;
        expect(after < before).to.equal(true);
        expect(await engine.getPositions(1)).to.deep.equal([]);
        await expectCustodyIdentity(contracts);
      });
    }
  });

  describe("trade: bad inputs", () => {
    it("rejects a zero size, an unknown market, the wrong market for an isolated account and an unauthorised caller", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine } = contracts;
      const { alice, bob } = signers;
      await engine.connect(alice).createIsolatedAccount(ETH); // id 2
      await engine.connect(alice).deposit(2, usd("1000"));
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, 0, wad("3100")))
          .to.be.revertedWithCustomError(engine, "InvalidSize")
          .withArgs(0),
      );
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, 3, wad("1"), wad("3100")))
          .to.be.revertedWithCustomError(engine, "UnknownMarket")
          .withArgs(3),
      );
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 2, BTC, wad("0.01"), wad("61000")))
          .to.be.revertedWithCustomError(engine, "WrongAccountMode")
          .withArgs(2),
      );
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(bob), 1, ETH, wad("1"), wad("3100")))
          .to.be.revertedWithCustomError(engine, "Unauthorized")
          .withArgs(bob.address, 1),
      );
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 5, ETH, wad("1"), wad("3100")))
          .to.be.revertedWithCustomError(engine, "UnknownAccount")
          .withArgs(5),
      );
      await expectCustodyIdentity(contracts);
    });

    it("rejects a fill worse than the acceptable price, buying and selling", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine } = contracts;
      const { alice } = signers;
      const p = marketParams(ethers.ZeroAddress, "ETH");
      const buyFill = fillPrice(ETH_PRICE, 0n, wad("2"), p.skewScaleD18);
      const sellFill = fillPrice(ETH_PRICE, 0n, wad("-2"), p.skewScaleD18);
      // Orders: the bound is applied at settlement; the refused order expires and is cancelled, leaving nothing.
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, wad("2"), buyFill - 1n))
          .to.be.revertedWithCustomError(engine, "SlippageExceeded")
          .withArgs(buyFill, buyFill - 1n),
      );
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, wad("-2"), sellFill + 1n))
          .to.be.revertedWithCustomError(engine, "SlippageExceeded")
          .withArgs(sellFill, sellFill + 1n),
      );
      // Exactly at the bound is accepted.
      await expect(trade(engine.connect(alice), 1, ETH, wad("2"), buyFill)).to.emit(
        engine,
        "PositionModified",
      );
      await expectCustodyIdentity(contracts);
    });

    it("rejects a position in one market more than maxPositionsPerAccount allows", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine } = contracts;
      const { alice } = signers;
      await engine.setRiskParams({ ...riskParams, maxPositionsPerAccount: 1 });
      await trade(engine.connect(alice), 1, ETH, wad("1"), wad("3100"));
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, BTC, wad("0.01"), wad("61000")))
          .to.be.revertedWithCustomError(engine, "TooManyPositions")
          .withArgs(1),
      );
      // Closing frees the slot.
      await trade(engine.connect(alice), 1, ETH, wad("-1"), 0);
      await trade(engine.connect(alice), 1, BTC, wad("0.01"), wad("61000"));
      await expectCustodyIdentity(contracts);
    });

    it("rejects absurd sizes with a typed error and no state change", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine } = contracts;
      const { alice } = signers;
      const p = marketParams(ethers.ZeroAddress, "ETH");
      // Orders: the commit prices a risk-increasing order at the mark price and checks its initial margin before
      // the order exists, so a size the storage holds is priced without overflow and refused at commit by the
      // margin check (before the acceptable price, which only settlement applies).
      const refusedAtCommit = (size: bigint) => {
        const fee = tradingFee(ETH_PRICE, 0n, size, p.skewScaleD18, p.makerFeeD18, p.takerFeeD18);
        const { im } = positionMargins(size, ETH_PRICE, p);
        return [wad("100000") - fee, im];
      };
      const large = p.skewScaleD18; // a basis of ~4.5e9 USD still fits the int96 basis slot
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, large, wad("3100")))
          .to.be.revertedWithCustomError(engine, "InsufficientMargin")
          .withArgs(...refusedAtCommit(large)),
      );
      // The largest size the int96 size slot holds: priced exactly as well, refused with no state change.
      const big = 2n ** 95n - 1n; // int96 position storage
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, big, wad("3100")))
          .to.be.revertedWithCustomError(engine, "InsufficientMargin")
          .withArgs(...refusedAtCommit(big)),
      );
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, big + 1n, wad("3100")))
          .to.be.revertedWithCustomError(engine, "InvalidSize")
          .withArgs(big + 1n),
      );
      // A size that cannot be priced at all must be refused as an invalid size, not by an arithmetic panic.
      await expectUnchanged(contracts, () =>
        expect(trade(engine.connect(alice), 1, ETH, INT256_MAX, ethers.MaxUint256))
          .to.be.revertedWithCustomError(engine, "InvalidSize")
          .withArgs(INT256_MAX),
      );
      await expectCustodyIdentity(contracts);
    });
  });

  describe("convenience flows", () => {
    it("openIsolated from the wallet creates, funds and trades a new isolated account owned by the caller", async () => {
      const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
      const { engine, token } = contracts;
      const { alice } = signers;
      const p = marketParams(ethers.ZeroAddress, "ETH");
      const fill = fillPrice(ETH_PRICE, 0n, wad("1"), p.skewScaleD18);
      const fee = tradingFee(ETH_PRICE, 0n, wad("1"), p.skewScaleD18, p.makerFeeD18, p.takerFeeD18);
      // Orders: the commit creates and funds the account; the settlement opens the position and moves no tokens.
      const commit = engine
        .connect(alice)
        .commitIsolatedOrder(ETH, 0, usd("1000"), wad("1"), wad("3100"), ANY_REWARD);
      await expect(commit).to.emit(engine, "AccountCreated").withArgs(1, alice.address, true, ETH, 1);
      await expect(commit).to.emit(engine, "Deposited").withArgs(1, alice.address, usd("1000"));
      await expect(commit).to.changeTokenBalances(
        ethers,
        token,
        [alice, engine],
        [-usd("1000"), usd("1000")],
      );
      const tx = settleNext(engine, 1, ETH);
      await expect(tx)
        .to.emit(engine, "PositionModified")
        .withArgs(
          1,
          ETH,
          wad("1"),
          wad("1"),
          fill,
          fee,
          mulDown(fee, riskParams.insuranceFeeShareD18),
          0,
          0,
          anyValue,
          anyValue,
        );
      await expectFundingInEvent(engine, await tx, ETH);
      await expect(tx).to.changeTokenBalances(ethers, token, [alice, engine], [0, 0]);
      const info = await engine.getAccount(1);
      expect([info.owner, info.isolated, info.marketId, info.collateralD18]).to.deep.equal([
        alice.address,
        true,
        BigInt(ETH),
        wad("1000") - fee,
      ]);
      await expectCustodyIdentity(contracts);
    });

    it("openIsolated from a cross account moves the margin exactly, also when an operator calls", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine, token } = contracts;
      const { alice, keeper } = signers;
      await engine.connect(alice).setAccountOperator(1, keeper, true);
      // Orders: the commit creates the account and moves the margin; the settlement opens the position.
      const commit = engine
        .connect(keeper)
        .commitIsolatedOrder(BTC, 1, usd("500"), wad("0.01"), wad("61000"), ANY_REWARD);
      await expect(commit).to.emit(engine, "AccountCreated").withArgs(2, alice.address, true, BTC, 1);
      await expect(commit).to.emit(engine, "MarginTransferred").withArgs(1, 2, wad("500"));
      await expect(commit).to.changeTokenBalances(ethers, token, [keeper, alice, engine], [0, 0, 0]);
      const tx = settleNext(engine, 2, BTC);
      await expect(tx).to.emit(engine, "PositionModified");
      await expect(tx).to.changeTokenBalances(ethers, token, [keeper, alice, engine], [0, 0, 0]);
      expect((await engine.getAccount(1)).collateralD18).to.equal(wad("99500"));
      expect((await engine.getAccount(2)).owner).to.equal(alice.address);
      const [pos] = await engine.getPositions(2);
      expect(pos.sizeD18).to.equal(wad("0.01"));
      await expectCustodyIdentity(contracts);
    });

    it("closeIsolated to the wallet returns the exact whole-unit remainder to the owner; dust stays", async () => {
      const { signers, contracts } = await noEthFunding();
      const { engine, token } = contracts;
      const { alice, carol } = signers;
      const p = marketParams(ethers.ZeroAddress, "ETH");
      await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad("1"), wad("3100"));
      const [pos] = await engine.getPositions(1);
      const collateral = (await engine.getAccount(1)).collateralD18;
      const fill = fillPrice(ETH_PRICE, wad("1"), wad("-1"), p.skewScaleD18);
      const fee = tradingFee(ETH_PRICE, wad("1"), wad("-1"), p.skewScaleD18, p.makerFeeD18, p.takerFeeD18);
      const realised = divFloor(wad("1") * fill, WAD) - pos.basisD18;
      const left = collateral + realised - fee;
      const returned = (left / TOKEN_SCALE) * TOKEN_SCALE;

      // Orders: a close to the wallet always pays the owner (there is no receiver argument any more); the
      // settling keeper (carol here) gets nothing, as the settlement reward is 0.
      const tx = closeIsolated(engine.connect(alice), 1, 0, 0, { keeper: carol });
      await expect(tx)
        .to.emit(engine, "Withdrawn")
        .withArgs(1, alice.address, returned / TOKEN_SCALE);
      await expect(tx).to.changeTokenBalances(ethers, token, [alice, carol], [returned / TOKEN_SCALE, 0]);
      const dust = (await engine.getAccount(1)).collateralD18;
      expect(dust).to.equal(left - returned);
      expect(dust < TOKEN_SCALE).to.equal(true);
      expect(await engine.getPositions(1)).to.deep.equal([]);
      // The dust stays: there is no position left to close (a close order needs one now), and less than one
      // token unit cannot be withdrawn.
      await expect(closeIsolated(engine.connect(alice), 1, 0, 0))
        .to.be.revertedWithCustomError(engine, "NoPosition")
        .withArgs(1, ETH);
      await expect(engine.connect(alice).withdraw(1, 1, alice))
        .to.be.revertedWithCustomError(engine, "InsufficientCollateral")
        .withArgs(dust, TOKEN_SCALE);
      expect((await engine.getAccount(1)).collateralD18).to.equal(dust);
      await expectCustodyIdentity(contracts);
    });

    it("closeIsolated to a cross account moves the whole remainder", async () => {
      const { signers, contracts } = await noEthFunding();
      const { engine } = contracts;
      const { alice } = signers;
      await engine.connect(alice).createCrossAccount(); // id 1
      await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad("-1"), 0); // id 2
      const cross = (await engine.getAccount(1)).collateralD18;
      const [pos] = await engine.getPositions(2);
      const isolated = (await engine.getAccount(2)).collateralD18;
      const p = marketParams(ethers.ZeroAddress, "ETH");
      const fill = fillPrice(ETH_PRICE, wad("-1"), wad("1"), p.skewScaleD18);
      const fee = tradingFee(ETH_PRICE, wad("-1"), wad("1"), p.skewScaleD18, p.makerFeeD18, p.takerFeeD18);
      const realised = divFloor(-wad("1") * fill, WAD) - pos.basisD18;
      const left = isolated + realised - fee;
      await expect(closeIsolated(engine.connect(alice), 2, wad("3100"), 1))
        .to.emit(engine, "MarginTransferred")
        .withArgs(2, 1, left);
      expect((await engine.getAccount(2)).collateralD18).to.equal(0n);
      expect((await engine.getAccount(1)).collateralD18).to.equal(cross + left);
      await expectCustodyIdentity(contracts);
    });

    it("openIsolated rejects bad inputs without creating an account", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine } = contracts;
      const { alice, bob } = signers;
      await engine.connect(alice).createIsolatedAccount(ETH); // id 2
      await engine.connect(alice).deposit(2, usd("1000"));
      const cases: RejectedCase[] = [
        [
          () => openIsolated(engine.connect(alice), 9, 0, usd("100"), wad("1"), wad("3100")),
          "UnknownMarket",
          [9],
        ],
        [() => openIsolated(engine.connect(alice), ETH, 0, 0, wad("1"), wad("3100")), "ZeroAmount", []],
        [
          () => openIsolated(engine.connect(alice), ETH, 2, usd("100"), wad("1"), wad("3100")),
          "WrongAccountMode",
          [2],
        ],
        [
          () => openIsolated(engine.connect(bob), ETH, 1, usd("100"), wad("0.01"), wad("3100")),
          "Unauthorized",
          [bob.address, 1],
        ],
        [
          () => openIsolated(engine.connect(alice), ETH, 8, usd("100"), wad("1"), wad("3100")),
          "UnknownAccount",
          [8],
        ],
        [() => openIsolated(engine.connect(alice), ETH, 1, usd("100"), 0, wad("3100")), "InvalidSize", [0]],
        [
          () => openIsolated(engine.connect(alice), ETH, 1, usd("100001"), wad("0.01"), wad("3100")),
          "InsufficientCollateral",
          [wad("100000"), wad("100001")],
        ],
      ];
      await expectEachRejected(contracts, engine, cases, [alice.address, bob.address]);

      // Orders: slippage is only known at settlement, after the commit created and funded the account. The
      // settlement reverts; once the order expires, cancelling it returns the margin to the wallet, leaving an
      // empty isolated account (id 3) and alice's balance whole.
      const wallet = await contracts.token.balanceOf(alice);
      await expect(openIsolated(engine.connect(alice), ETH, 0, usd("100"), wad("1"), wad("2999")))
        .to.be.revertedWithCustomError(engine, "SlippageExceeded")
        .withArgs(anyValue, wad("2999"));
      expect(await engine.accountCount()).to.equal(3n);
      const info = await engine.getAccount(3);
      expect([info.owner, info.isolated, info.positionCount, info.collateralD18]).to.deep.equal([
        alice.address,
        true,
        0n,
        0n,
      ]);
      expect((await engine.getOrder(3, ETH)).commitTime).to.equal(0n);
      expect(await contracts.token.balanceOf(alice)).to.equal(wallet);
      await expectCustodyIdentity(contracts);
    });

    it("closeIsolated rejects bad inputs", async () => {
      const { signers, contracts } = await aliceFunded();
      const { engine } = contracts;
      const { alice, bob } = signers;
      await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad("1"), wad("3100")); // id 2
      await openIsolated(engine.connect(alice), BTC, 0, usd("1000"), wad("0.01"), wad("61000")); // id 3
      await engine.connect(bob).createCrossAccount(); // id 4
      await engine.connect(alice).createIsolatedAccount(ETH); // id 5, no position
      const cases: RejectedCase[] = [
        [() => closeIsolated(engine.connect(alice), 1, 0, 0), "WrongAccountMode", [1]],
        // Orders: no receiver argument any more (no ZeroAddress case); a close order needs a position.
        [() => closeIsolated(engine.connect(alice), 5, 0, 0), "NoPosition", [5, ETH]],
        [() => closeIsolated(engine.connect(alice), 2, 0, 4), "InvalidTransfer", [2, 4]],
        [() => closeIsolated(engine.connect(alice), 2, 0, 3), "InvalidTransfer", [2, 3]],
        [() => closeIsolated(engine.connect(alice), 2, 0, 9), "UnknownAccount", [9]],
        [() => closeIsolated(engine.connect(bob), 2, 0, 0), "Unauthorized", [bob.address, 2]],
        [
          () => closeIsolated(engine.connect(alice), 2, wad("3001"), 0),
          "SlippageExceeded",
          [anyValue, wad("3001")],
        ],
      ];
      await expectEachRejected(contracts, engine, cases, [alice.address, bob.address]);
      await expectCustodyIdentity(contracts);
    });
  });
});
