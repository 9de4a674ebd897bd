/**
 * Regression tests for the defects an outside review found (issue 8), one `describe` per defect, each built as the
 * review described it on the local parameters. Every expectation is derived from the rule the fix establishes
 * (DESIGN.md, section Liquidation): none of them holds on the code before the fix.
 */
import { expect } from "chai";
import type { ContractTransactionResponse, LogDescription } from "ethers";
import {
  deployBulkhead,
  deployProtocol,
  ethers,
  networkHelpers,
  riskParams,
  marketParams,
  ETH,
  BTC,
} from "../helpers/fixture.js";
import { TOKEN_SCALE, WAD, feedAnswer, usd, wad } from "../helpers/constants.js";
import { expectCustodyIdentity } from "../helpers/invariants.js";
import type { IBulkhead } from "../../types/ethers-contracts/index.js";
import { openIsolated, trade } from "../helpers/orders.js";
import { settleWhenReady } from "../helpers/vault.js";

const { loadFixture } = networkHelpers;
const BUY_ANY = wad("1000000000");

async function events(
  engine: IBulkhead,
  tx: Promise<ContractTransactionResponse>,
): Promise<LogDescription[]> {
  const receipt = await (await tx).wait();
  return receipt!.logs
    .map((log) => engine.interface.parseLog(log))
    .filter((e): e is LogDescription => e !== null);
}
const named = (logs: LogDescription[], name: string) => logs.filter((e) => e.name === name);

const collateralOf = async (engine: IBulkhead, id: bigint | number) =>
  (await engine.getAccount(id)).collateralD18;

describe("solvency fixes (issue 8)", () => {
  describe("1. a realised loss always reaches the vault, whatever its cash", () => {
    const smallVault = () => deployProtocol({ lpDeposit: "100000" });

    /**
     * Vault cash driven below zero, the one way left after the fix: the vault's cash is paid out to a profit it
     * cannot cover (shortfall: cash and insurance end at 0), then a bankrupt account whose collateral had been
     * withdrawn against unrealised profit is liquidated, and its keeper's flat reward is socialised with its loss
     * (raised to 20 USD, its bound, so that the deficit is larger than carol's small losses below).
     */
    async function negativeCash() {
      const f = await loadFixture(smallVault);
      const { engine, ethAggregator } = f.contracts;
      const { alice, bob, carol, keeper } = f.signers;
      await engine.connect(alice).createCrossAccount(); // 1: the profitable long
      await engine.connect(alice).deposit(1, usd("20000"));
      await trade(engine.connect(alice), 1, ETH, wad("55"), BUY_ANY);
      await engine.connect(bob).createCrossAccount(); // 2: goes bankrupt
      await engine.connect(bob).deposit(2, usd("1000"));
      await trade(engine.connect(bob), 2, ETH, wad("10"), BUY_ANY);
      await engine.connect(carol).createCrossAccount(); // 3: a small loser
      await engine.connect(carol).deposit(3, usd("5000"));
      await trade(engine.connect(carol), 3, ETH, wad("0.015"), BUY_ANY);

      await ethAggregator.setAnswer(feedAnswer("5000"));
      await engine.connect(bob).withdraw(2, await engine.maxWithdrawable(2), bob);
      const shortfall = named(
        await events(engine, trade(engine.connect(alice), 1, ETH, wad("-55"), 0)),
        "ProfitShortfall",
      );
      expect(shortfall).to.have.length(1);
      expect(await engine.vaultCash()).to.equal(0n);
      expect(await engine.insuranceFund()).to.equal(0n);
      await ethAggregator.setAnswer(feedAnswer("2000"));
      await engine.setRiskParams({ ...riskParams, flatKeeperRewardD18: wad("20") });
      const bad = named(await events(engine, engine.connect(keeper).liquidate(2, keeper)), "BadDebt");
      expect(bad).to.have.length(1);
      // The keeper's reward had nothing left to come from: the vault is short by it.
      expect(await engine.vaultCash()).to.equal(-wad("20"));
      await engine.connect(keeper).fundInsurance(usd("50000"));
      return f;
    }

    it("a reduce that loses is charged its loss and fee while vault cash is negative; the insurance fund pays nothing", async () => {
      const { contracts, signers } = await negativeCash();
      const { engine } = contracts;
      const cash = await engine.vaultCash();
      const insurance = await engine.insuranceFund();
      const collateral = await collateralOf(engine, 3);

      const logs = await events(engine, trade(engine.connect(signers.carol), 3, ETH, wad("-0.01"), 0));
      expect(named(logs, "ProfitShortfall")).to.have.length(0);
      const t = named(logs, "PositionModified")[0].args;
      const owed = (t.realisedPnlD18 as bigint) - (t.fundingPaidD18 as bigint);
      expect(owed).to.be.lt(-wad("9")); // about -10 USD on 0.01 ETH, less than the vault's deficit
      expect(await collateralOf(engine, 3)).to.equal(collateral + owed - t.feeD18);
      expect(await engine.insuranceFund()).to.equal(insurance + t.feeToInsuranceD18);
      expect(await engine.vaultCash()).to.equal(cash - owed + t.feeD18 - t.feeToInsuranceD18);
      await expectCustodyIdentity(contracts);
    });

    it("a whole close that loses about 15 USD is charged the loss, not only the fee", async () => {
      const { contracts, signers } = await negativeCash();
      const { engine } = contracts;
      const insurance = await engine.insuranceFund();
      const cash = await engine.vaultCash();
      const collateral = await collateralOf(engine, 3);

      const logs = await events(engine, trade(engine.connect(signers.carol), 3, ETH, wad("-0.015"), 0));
      const t = named(logs, "PositionModified")[0].args;
      const owed = (t.realisedPnlD18 as bigint) - (t.fundingPaidD18 as bigint);
      expect(owed).to.be.lt(-wad("14"));
      expect(owed).to.be.gt(cash); // the case that used to take the shortfall path
      expect(await collateralOf(engine, 3)).to.equal(collateral + owed - t.feeD18);
      expect(await engine.insuranceFund()).to.equal(insurance + t.feeToInsuranceD18);
      // What she can take out is what she put in minus her loss, never the insurance fund.
      expect(await engine.maxWithdrawable(3)).to.be.lt(usd("4986"));
      await expectCustodyIdentity(contracts);
    });
  });

  describe("2. closing through liquidation never returns more than closing by trade", () => {
    /** A thin ETH market (skewScale 1,000 ETH = 3M USD) so that the skew impact is material. */
    async function thinMarket() {
      const f = await loadFixture(deployBulkhead);
      const { engine, ethFeed } = f.contracts;
      await engine.setMarketParams(ETH, {
        ...marketParams(await ethFeed.getAddress(), "ETH"),
        skewScaleD18: wad("1000"),
        maxOiPerSideD18: wad("100"),
      });
      return f;
    }

    type Case = { name: string; size: string; otherSkew: string; beyondBps: bigint };
    const cases: Case[] = [
      {
        name: "long closing into a short skew (adverse impact)",
        size: "10",
        otherSkew: "-40",
        beyondBps: 30n,
      },
      { name: "long closing into a long skew", size: "10", otherSkew: "40", beyondBps: 30n },
      {
        name: "short closing into a long skew (adverse impact)",
        size: "-10",
        otherSkew: "40",
        beyondBps: 30n,
      },
      { name: "short closing into a short skew", size: "-10", otherSkew: "-40", beyondBps: 10n },
      { name: "a large long, partially liquidated", size: "40", otherSkew: "-20", beyondBps: 10n },
      {
        name: "dust, where the flat reward exceeds the liquidation fee",
        size: "0.001",
        otherSkew: "-30",
        beyondBps: 500n,
      },
    ];
    /** Initial margin on the thin market (imr = 0.02 + |size| / 1,000), plus 10%, in token units. */
    const marginFor = (size: bigint) => {
      const a = size < 0n ? -size : size;
      const notional = a * 3000n;
      const im = (notional * (wad("0.02") + a / 1000n)) / WAD + wad("20");
      return (im * 11n) / 10n / TOKEN_SCALE + 1n;
    };

    for (const c of cases) {
      it(c.name, async () => {
        const { contracts, signers } = await loadFixture(thinMarket);
        const { engine, ethAggregator } = contracts;
        const { alice, bob, carol } = signers;
        await engine.connect(bob).createCrossAccount(); // 1: the rest of the market
        await engine.connect(bob).deposit(1, usd("100000"));
        await trade(engine.connect(bob), 1, ETH, wad(c.otherSkew), c.otherSkew.startsWith("-") ? 0 : BUY_ANY);
        const size = wad(c.size);
        await openIsolated(engine.connect(alice), ETH, 0, marginFor(size), size, size > 0n ? BUY_ANY : 0);
        const id = await engine.accountCount();
        // Just beyond the liquidation boundary, in the adverse direction.
        const boundary = await engine.liquidationPrice(id, ETH);
        const beyond =
          size > 0n
            ? (boundary * (10_000n - c.beyondBps)) / 10_000n
            : (boundary * (10_000n + c.beyondBps)) / 10_000n;
        await ethAggregator.setAnswer(beyond / 10n ** 10n);
        expect(await engine.isLiquidatable(id), "the scenario must be liquidatable").to.equal(true);
        const quote = await engine.quoteLiquidation(id);
        const closeSize = quote.closeFractionD18 >= WAD ? size : fractionOf(size, quote.closeFractionD18);

        // Closing the same size by trade, from the owner's wallet.
        const snapshot = await networkHelpers.takeSnapshot();
        const settled = await trade(engine.connect(alice), id, ETH, -closeSize, size > 0n ? 0 : BUY_ANY);
        const settledAt = (await (await settled.wait())!.getBlock()).timestamp;
        const byTrade = (await engine.marginSummary(id)).equityD18;
        await snapshot.restore();

        // Liquidating it from the owner's second wallet: owner and keeper together. Orders: the trade settles
        // after its commit delay, so the liquidation is mined at the same timestamp (same funding) to compare.
        await networkHelpers.time.setNextBlockTimestamp(settledAt);
        const logs = await events(engine, engine.connect(carol).liquidate(id, carol));
        const reward: bigint = named(logs, "Liquidated")[0].args.keeperRewardD18;
        const byLiquidation = (await engine.marginSummary(id)).equityD18 + reward;
        expect(byLiquidation).to.be.lte(byTrade);
        if (c.size === "0.001")
          expect(byLiquidation).to.equal(byTrade); // dust breaks even, never better
        else expect(byLiquidation).to.be.lt(byTrade);
        await expectCustodyIdentity(contracts);
      });
    }

    it("an entry premium is not margin: opening into a skew that pays a discount leaves equity at collateral minus fee", async () => {
      const { contracts, signers } = await loadFixture(thinMarket);
      const { engine } = contracts;
      await engine.connect(signers.bob).createCrossAccount();
      await engine.connect(signers.bob).deposit(1, usd("100000"));
      await trade(engine.connect(signers.bob), 1, ETH, wad("-50"), 0); // skew -50: a buyer fills below the oracle
      await engine.connect(signers.alice).createCrossAccount();
      await engine.connect(signers.alice).deposit(2, usd("5000"));
      const logs = await events(engine, trade(engine.connect(signers.alice), 2, ETH, wad("20"), BUY_ANY));
      const t = named(logs, "PositionModified")[0].args;
      expect(t.fillPriceD18).to.be.lt(wad("3000")); // the discount
      const s = await engine.marginSummary(2);
      // Marked at its exit fill, the position is worth what a close returns: the discount comes back out.
      expect(s.equityD18).to.be.lte(wad("5000") - t.feeD18);
      // Rounding only: the funding checkpoint is kept at 1e-9 USD per unit, against the position.
      expect(s.equityD18).to.be.gte(wad("5000") - t.feeD18 - 20n * 10n ** 9n - 10n ** 6n);
    });
  });

  describe("3. ADL only touches the positions that carry the excess, and no more than needed", () => {
    const smallVault = () => deployProtocol({ lpDeposit: "100000" });

    async function overTrigger() {
      const f = await loadFixture(smallVault);
      const { engine, ethAggregator } = f.contracts;
      const { alice, bob } = f.signers;
      await engine.connect(alice).createCrossAccount(); // 1: the whale
      await engine.connect(alice).deposit(1, usd("20000"));
      await trade(engine.connect(alice), 1, ETH, wad("30"), BUY_ANY);
      await engine.connect(bob).createCrossAccount(); // 2: a bystander
      await engine.connect(bob).deposit(2, usd("1000"));
      await trade(engine.connect(bob), 2, ETH, wad("0.01"), BUY_ANY);
      await ethAggregator.setAnswer(feedAnswer("5000"));
      const [triggered] = await engine.adlStatus(ETH);
      expect(triggered).to.equal(true);
      return f;
    }

    it("a bystander long 0.01 ETH cannot be deleveraged while the whale carries the excess", async () => {
      const { contracts, signers } = await overTrigger();
      const { engine } = contracts;
      const before = await engine.getPositions(2);
      await expect(engine.connect(signers.carol).autoDeleverage(2, ETH)).to.be.revertedWithCustomError(
        engine,
        "AdlNotEligible",
      );
      expect(await engine.getPositions(2)).to.deep.equal(before);
    });

    it("the whale is reduced just enough to bring the market back to its target", async () => {
      const { contracts, signers } = await overTrigger();
      const { engine } = contracts;
      await engine.connect(signers.carol).autoDeleverage(1, ETH);
      const [triggered, pnl] = await engine.adlStatus(ETH);
      expect(triggered).to.equal(false);
      const target = ((await engine.vaultCash()) * riskParams.adlTargetD18) / WAD;
      expect(pnl).to.be.lte(target);
      // No more than needed: the market lands within 0.1% of its target, the whale keeps most of its position.
      expect(pnl).to.be.gte(target - target / 1000n);
      const [whale] = await engine.getPositions(1);
      // It needed to realise (P - tC) / (1 - t) of its ~60,000 profit: about 55% of the position.
      expect(whale.sizeD18).to.be.gt(wad("13"));
      expect(await engine.getPositions(2)).to.have.length(1);
    });
  });

  describe("4. a deficit left by ADL is settled like liquidation's", () => {
    const smallVault = () => deployProtocol({ lpDeposit: "100000" });

    it("an insolvent cross account deleveraged out of its last (profitable) position records BadDebt and ends at zero", async () => {
      const { contracts, signers } = await loadFixture(smallVault);
      const { engine, ethAggregator, btcAggregator } = contracts;
      const { alice, carol, keeper } = signers;
      await engine.connect(alice).createCrossAccount(); // 1: the whale that pushes ETH over the ADL trigger
      await engine.connect(alice).deposit(1, usd("20000"));
      await trade(engine.connect(alice), 1, ETH, wad("40"), BUY_ANY);
      await engine.connect(carol).createCrossAccount(); // 2: long ETH, short BTC
      await engine.connect(carol).deposit(2, usd("5000"));
      await trade(engine.connect(carol), 2, ETH, wad("2"), BUY_ANY);
      await trade(engine.connect(carol), 2, BTC, wad("-0.5"), 0);

      await ethAggregator.setAnswer(feedAnswer("5000"));
      await btcAggregator.setAnswer(feedAnswer("76000"));
      await trade(engine.connect(carol), 2, BTC, wad("0.5"), BUY_ANY); // realises ~-8,000: collateral < 0
      expect(await collateralOf(engine, 2)).to.be.lt(-wad("2900"));
      await ethAggregator.setAnswer(feedAnswer("4400"));
      expect((await engine.marginSummary(2)).equityD18).to.be.lt(0n); // insolvent

      const logs = await events(engine, engine.connect(keeper).autoDeleverage(2, ETH));
      expect(named(logs, "AutoDeleveraged")).to.have.length(1);
      const bad = named(logs, "BadDebt");
      expect(bad).to.have.length(1);
      expect(bad[0].args.coveredByInsuranceD18 + bad[0].args.socialisedD18).to.be.gt(0n);
      const account = await engine.getAccount(2);
      expect(account.positionCount).to.equal(0n);
      expect(account.collateralD18).to.equal(0n);
      await expectCustodyIdentity(contracts);
    });
  });

  describe("5. the shortfall is decided on the account's netted result, not per leg", () => {
    const tinyVault = () => deployProtocol({ lpDeposit: "6000" });

    it("a profitable leg closed before a losing one does not drain the insurance fund when the net is a loss", async () => {
      const { contracts, signers } = await loadFixture(tinyVault);
      const { engine, ethAggregator, btcAggregator } = contracts;
      const { alice, keeper, carol } = signers;
      await engine.connect(carol).fundInsurance(usd("10000"));
      await engine.connect(alice).createCrossAccount();
      await engine.connect(alice).deposit(1, usd("300"));
      // BTC first, ETH second: liquidation walks the list backwards, so the profitable ETH leg settles first.
      await trade(engine.connect(alice), 1, BTC, wad("-0.05"), 0);
      await trade(engine.connect(alice), 1, ETH, wad("1"), BUY_ANY);
      const cash = await engine.vaultCash();
      // ETH profit about cash + 1,000, BTC loss 200 more than that: the account's net is a loss.
      const ethGain = cash / WAD + 1000n;
      await ethAggregator.setAnswer(feedAnswer(String(3000n + ethGain)));
      await btcAggregator.setAnswer(feedAnswer(String(60000n + (ethGain + 200n) * 20n)));
      expect(await engine.isLiquidatable(1)).to.equal(true);

      const insurance = await engine.insuranceFund();
      const logs = await events(engine, engine.connect(keeper).liquidate(1, keeper));
      expect(named(logs, "ProfitShortfall")).to.have.length(0);
      const liq = named(logs, "Liquidated")[0].args;
      const tradingFees = named(logs, "PositionLiquidated").reduce(
        (sum, e) => sum + (e.args.tradingFeeD18 as bigint),
        0n,
      );
      const covered = named(logs, "BadDebt").reduce(
        (sum, e) => sum + (e.args.coveredByInsuranceD18 as bigint),
        0n,
      );
      // The fund gains its fee share and the liquidation charge beyond the reward, and pays only the account's
      // final deficit (if any), never a leg's profit.
      const feeShare = (tradingFees * riskParams.insuranceFeeShareD18) / WAD;
      expect(await engine.insuranceFund()).to.equal(insurance + feeShare + liq.toInsuranceD18 - covered);
      await expectCustodyIdentity(contracts);
    });
  });

  describe("6. keeper rewards scale with the liquidated notional", () => {
    /** An isolated account opened at about its initial margin, then a 1.5% drop. */
    async function liquidateAtNotional(notionalUsd: bigint) {
      const f = await loadFixture(deployBulkhead);
      const { engine, ethAggregator } = f.contracts;
      const size = (notionalUsd * WAD) / 3000n;
      // 2.1% of notional + 25 USD: just above IM = notional x (0.02 + size / 1,000,000) + 20.
      const margin = usd(String((notionalUsd * 21n) / 1000n + 25n));
      await openIsolated(engine.connect(f.signers.alice), ETH, 0, margin, size, BUY_ANY);
      const id = await engine.accountCount();
      await ethAggregator.setAnswer(feedAnswer("2950"));
      const logs = await events(engine, engine.connect(f.signers.keeper).liquidate(id, f.signers.keeper));
      return named(logs, "Liquidated")[0].args.keeperRewardD18 as bigint;
    }

    it("liquidating a 1,000,000 USD position pays at least 10x what a 10,000 USD one pays", async () => {
      const small = await liquidateAtNotional(10_000n);
      const large = await liquidateAtNotional(1_000_000n);
      expect(small).to.be.gte(riskParams.flatKeeperRewardD18);
      expect(large).to.be.gte(small * 10n);
      expect(large).to.be.lte(riskParams.maxKeeperRewardD18);
    });
  });

  describe("7. smaller holes", () => {
    const smallVaultForDeposits = () => deployProtocol({ lpDeposit: "100000" });

    it("tokens sent straight to the engine can be swept by the admin, never the ledger's", async () => {
      const { contracts, signers } = await loadFixture(deployBulkhead);
      const { engine, token } = contracts;
      const { admin, alice, carol } = signers;
      await engine.connect(alice).createCrossAccount();
      await engine.connect(alice).deposit(1, usd("1000"));
      expect(await engine.sweepable()).to.equal(0n);
      await token.connect(carol).transfer(await engine.getAddress(), usd("123"));
      expect(await engine.sweepable()).to.equal(usd("123"));

      await expect(
        engine.connect(carol).sweep(await token.getAddress(), carol, usd("1")),
      ).to.be.revertedWithCustomError(contracts.engineImpl, "AccessControlUnauthorizedAccount");
      await expect(engine.sweep(await token.getAddress(), carol, usd("124")))
        .to.be.revertedWithCustomError(engine, "NothingToSweep")
        .withArgs(await token.getAddress(), usd("124"), usd("123"));
      await expect(
        engine.sweep(await token.getAddress(), ethers.ZeroAddress, usd("1")),
      ).to.be.revertedWithCustomError(engine, "ZeroAddress");
      await expect(engine.sweep(await token.getAddress(), carol, 0)).to.be.revertedWithCustomError(
        engine,
        "ZeroAmount",
      );
      await expect(engine.connect(admin).sweep(await token.getAddress(), carol, usd("123")))
        .to.emit(engine, "Swept")
        .withArgs(await token.getAddress(), await carol.getAddress(), usd("123"));
      expect(await engine.sweepable()).to.equal(0n);
      await expectCustodyIdentity(contracts);
      // Another token sent by mistake can leave whole.
      const other = await ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
      await other.mint(await engine.getAddress(), wad("5"));
      await engine.sweep(await other.getAddress(), carol, wad("5"));
      expect(await other.balanceOf(carol)).to.equal(wad("5"));
    });

    it("the vault settles no deposit while its value is not positive (a new LP would absorb the hole)", async () => {
      const { contracts, signers } = await loadFixture(smallVaultForDeposits);
      const { engine, vault, ethAggregator } = contracts;
      const { alice, carol } = signers;
      await engine.connect(alice).createCrossAccount();
      await engine.connect(alice).deposit(1, usd("20000"));
      await trade(engine.connect(alice), 1, ETH, wad("55"), BUY_ANY);
      await ethAggregator.setAnswer(feedAnswer("5000")); // traders' open profit ~110,000 > the vault's ~100,000
      const value = await engine.vaultValue();
      expect(value).to.be.lt(0n);
      // The request is taken (requests do not value the vault), but no settlement prices it into the hole.
      await vault.connect(carol).requestDeposit(usd("1000"), carol, carol);
      await settleWhenReady(vault, () => ethAggregator.setAnswer(feedAnswer("5000")));
      expect(await vault.pendingDepositRequest(0, carol)).to.equal(usd("1000"));
      // The engine's constructor set the risk parameters; nobody can set them again that way.
      await expect(engine.initializeRisk(riskParams)).to.be.revertedWithCustomError(
        engine,
        "AlreadyInitialized",
      );
      // Back above water (a mark published after the request), the deposit settles.
      await ethAggregator.setAnswer(feedAnswer("3000"));
      await vault.settleRequests(1);
      expect(await vault.claimableDepositRequest(0, carol)).to.equal(usd("1000"));
    });

    it("tokens sent straight to the vault can be swept by its admin only; LP value is untouched", async () => {
      const { contracts, signers } = await loadFixture(deployBulkhead);
      const { vault, token } = contracts;
      const { admin, carol } = signers;
      const assets = await vault.totalAssets();
      await token.connect(carol).transfer(await vault.getAddress(), usd("77"));
      await expect(vault.connect(carol).sweep(await token.getAddress(), carol)).to.be.revertedWithCustomError(
        vault,
        "AccessControlUnauthorizedAccount",
      );
      await expect(
        vault.connect(admin).sweep(await token.getAddress(), ethers.ZeroAddress),
      ).to.be.revertedWithCustomError(vault, "ZeroAmount");
      const before = await token.balanceOf(carol);
      await expect(vault.connect(admin).sweep(await token.getAddress(), carol))
        .to.emit(vault, "Swept")
        .withArgs(await token.getAddress(), await carol.getAddress(), usd("77"));
      expect(await token.balanceOf(carol)).to.equal(before + usd("77"));
      expect(await vault.totalAssets()).to.equal(assets);
      await expect(vault.connect(admin).sweep(await token.getAddress(), carol)).to.be.revertedWithCustomError(
        vault,
        "NothingToSweep",
      );
    });

    it("liquidationPrice is the boundary: not liquidatable there, liquidatable one tick beyond", async () => {
      const { contracts, signers } = await loadFixture(deployBulkhead);
      const { engine, ethAggregator } = contracts;
      await openIsolated(engine.connect(signers.alice), ETH, 0, usd("1000"), wad("10"), BUY_ANY);
      const id = await engine.accountCount();
      const boundary = await engine.liquidationPrice(id, ETH);
      const tick = 10n ** 10n; // one unit of an 8-decimal feed answer, in D18
      await ethAggregator.setAnswer(((boundary + tick - 1n) / tick) * 1n); // at (or just above) the boundary
      expect(await engine.isLiquidatable(id)).to.equal(false);
      await ethAggregator.setAnswer(boundary / tick - 1n); // strictly beyond it
      expect(await engine.isLiquidatable(id)).to.equal(true);
    });
  });
});

/** |size| x fraction rounded up, with size's sign (LiquidationModule._fractionOf). */
function fractionOf(size: bigint, fraction: bigint): bigint {
  const a = size < 0n ? -size : size;
  let closed = (a * fraction + WAD - 1n) / WAD;
  if (closed > a) closed = a;
  return size < 0n ? -closed : closed;
}
