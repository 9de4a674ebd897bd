import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import {
  ethers,
  networkHelpers,
  deployBulkhead,
  deployProtocol,
  marketParams,
  riskParams,
  ETH,
  HEARTBEAT,
} from "./helpers/fixture.js";
import { TOKEN_SCALE, WAD, feedAnswer, usd, wad } from "./helpers/constants.js";
import { trade } from "./helpers/orders.js";
import { lpDepositNow, lpRedeemNow, settleWhenReady } from "./helpers/vault.js";

const { time, loadFixture } = networkHelpers;

type Deployment = Awaited<ReturnType<typeof deployBulkhead>>;

/*//////////////////////////////////////////////////////////////
        An independent model of the vault's share math
//////////////////////////////////////////////////////////////*/

// Mirrors OpenZeppelin's ERC-4626 with `_decimalsOffset() == 6` and the vault's fees (fixture: 10 bps each).
const VIRTUAL_SHARES = 10n ** 6n;
const BPS = 10_000n;
const FEE_BPS = 10n;
const COOLDOWN = 3_600n;
const LP_DEPOSIT = usd("5000000");

const mulDiv = (a: bigint, b: bigint, c: bigint, up = false) => (up ? (a * b + c - 1n) / c : (a * b) / c);
/** Fee on an amount that excludes it (rounded up). */
const feeOnRaw = (assets: bigint) => mulDiv(assets, FEE_BPS, BPS, true);
/** Fee contained in an amount that includes it (rounded up). */
const feeOnTotal = (assets: bigint) => mulDiv(assets, FEE_BPS, FEE_BPS + BPS, true);
const toShares = (assets: bigint, totalAssets: bigint, supply: bigint, up = false) =>
  mulDiv(assets, supply + VIRTUAL_SHARES, totalAssets + 1n, up);
const toAssets = (shares: bigint, totalAssets: bigint, supply: bigint, up = false) =>
  mulDiv(shares, totalAssets + 1n, supply + VIRTUAL_SHARES, up);
const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
const ceilDiv = (a: bigint, b: bigint) => -floorDiv(-a, b);
/** Trader PnL of one position at `price` without funding: size x price (rounded down) - basis. */
const positionPnl = (size: bigint, basis: bigint, price: bigint) => floorDiv(size * price, WAD) - basis;
/** The ETH market's skew scale in the fixture. */
const ETH_SKEW_SCALE = wad("1000000");
/**
 * What the traders together would realise by closing the whole skew (the vault's valuation, issue 8): at
 * closeFill = price x (1 + skew / (2 skewScale)), rounded so that the traders' PnL comes out high (up for a
 * long skew, down for a short one: the vault values itself low), skew x closeFill rounded up, minus the net basis.
 * Without funding.
 */
const closePnl = (skew: bigint, netBasis: bigint, price: bigint, skewScale = ETH_SKEW_SCALE) => {
  const impact = skew > 0n ? ceilDiv(skew * price, 2n * skewScale) : floorDiv(skew * price, 2n * skewScale);
  return ceilDiv(skew * (price + impact), WAD) - netBasis;
};

/*//////////////////////////////////////////////////////////////
                         Fixtures and helpers
//////////////////////////////////////////////////////////////*/

/** Same protocol as `deployBulkhead`, but the vault is empty (nobody has deposited yet). */
const deployEmptyVault = () => deployProtocol({ lpDeposit: "0" });

/** The fixture with ETH funding switched off, so that every value below is independent of elapsed time. */
async function deployWithoutFunding() {
  const d = await deployBulkhead();
  const { engine, ethFeed } = d.contracts;
  await engine.setMarketParams(ETH, {
    ...marketParams(await ethFeed.getAddress(), "ETH"),
    maxFundingVelocityD18: 0n,
  });
  return d;
}

type Contracts = Pick<Deployment["contracts"], "token" | "engine">;

/** token.balanceOf(engine) x scale == sum(collateral) + vaultCash + insuranceFund, exactly. */
async function expectCustody({ token, engine }: Contracts) {
  let collateral = 0n;
  const n = await engine.accountCount();
  for (let id = 1n; id <= n; ++id) collateral += (await engine.getAccount(id)).collateralD18;
  const held = (await token.balanceOf(engine)) * TOKEN_SCALE;
  expect(held).to.equal(collateral + (await engine.vaultCash()) + (await engine.insuranceFund()));
}

/** Opens a cross account for `user` with `margin` tokens and trades `size` ETH at any price. */
async function openCross(
  engine: Deployment["contracts"]["engine"],
  user: Deployment["signers"]["alice"],
  margin: bigint,
  size: bigint,
) {
  await engine.connect(user).createCrossAccount();
  const id = await engine.accountCount();
  await engine.connect(user).deposit(id, margin);
  await trade(engine.connect(user), id, ETH, size, size > 0n ? wad("1000000") : 1n);
  return id;
}

async function setEthPrice(d: Deployment, price: string) {
  await d.contracts.ethAggregator.setAnswer(feedAnswer(price));
}

/** Vault state read in one block, so the model and the chain see the same prices and funding. */
async function vaultState(vault: Deployment["contracts"]["vault"]) {
  return { totalAssets: await vault.totalAssets(), supply: await vault.totalSupply() };
}

/** Re-publishes ETH (same answer, fresh round) so that a settlement has a price from after the requests. */
async function republishEth(d: Deployment) {
  const [, answer] = await d.contracts.ethAggregator.latestRoundData();
  await d.contracts.ethAggregator.setAnswer(answer);
}

describe("LiquidityVault", () => {
  describe("requests settle at the modelled price (10 bps entry and exit fee, offset 6)", () => {
    it("the fixture's first deposit minted the modelled shares", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault, engine } = d.contracts;
      // First deposit: fee = ceil(5e12 x 10 / 10010) = 4,995,004,996; shares = (5e12 - fee) x 10^6 / 1.
      expect(await vault.balanceOf(d.signers.lp)).to.equal((LP_DEPOSIT - 4_995_004_996n) * VIRTUAL_SHARES);
      expect(await vault.totalAssets()).to.equal(LP_DEPOSIT);
      expect(await engine.vaultCash()).to.equal(LP_DEPOSIT * TOKEN_SCALE);
      expect(await vault.decimals()).to.equal(12n);
      await expectCustody(d.contracts);
    });

    it("a deposit settles into the modelled shares and its fee raises the other LPs' assets per share", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault, token, engine } = d.contracts;
      const { carol, lp } = d.signers;
      const assets = usd("1000000");
      const before = await vaultState(vault);
      const lpShares = await vault.balanceOf(lp);
      const shares = toShares(assets - feeOnTotal(assets), before.totalAssets, before.supply);
      expect(feeOnTotal(assets)).to.equal(999_001_000n); // ceil(1e12 x 10 / 10010)

      await vault.connect(carol).requestDeposit(assets, carol, carol);
      await expect(settleWhenReady(vault))
        .to.emit(vault, "DepositSettled")
        .withArgs(carol.address, assets, shares)
        .and.to.emit(engine, "VaultCashMoved")
        .withArgs(assets * TOKEN_SCALE, (LP_DEPOSIT + assets) * TOKEN_SCALE);
      await expect(vault.connect(carol)["deposit(uint256,address)"](assets, carol))
        .to.emit(vault, "Deposit")
        .withArgs(carol.address, carol.address, assets, shares);
      expect(await vault.balanceOf(carol)).to.equal(shares);
      expect(await token.balanceOf(carol)).to.equal(usd("10000000") - assets);
      expect(await token.balanceOf(vault)).to.equal(0n); // nothing pending or claimable: no tokens at rest
      expect(await vault.totalAssets()).to.equal(before.totalAssets + assets); // the whole deposit, fee included

      const after = await vaultState(vault);
      const lpBefore = toAssets(lpShares, before.totalAssets, before.supply);
      const lpAfter = toAssets(lpShares, after.totalAssets, after.supply);
      expect(await vault.convertToAssets(lpShares)).to.equal(lpAfter);
      // The LP's gain is the entry fee, pro rata: 999.001 USDC x 5M/6M ~ 832.5 USDC.
      expect(lpAfter - lpBefore).to.be.within(usd("832"), usd("833"));
      // Carol's shares are worth at least her deposit minus the fee (minus a unit of rounding); being a sixth of
      // the vault, she earns back a sixth of her own fee (~166.5 USDC).
      const carolWorth = toAssets(shares, after.totalAssets, after.supply);
      expect(carolWorth).to.be.gte(assets - feeOnTotal(assets) - 1n);
      expect(carolWorth - (assets - feeOnTotal(assets))).to.be.within(usd("166"), usd("167"));
      await expectCustody(d.contracts);
    });

    it("a redemption settles into the modelled assets less the exit fee, which stays with the LPs", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault, token, engine } = d.contracts;
      const { carol, lp } = d.signers;
      const shares = await lpDepositNow(vault, carol, usd("1000000"));
      await time.increase(COOLDOWN);
      const lpShares = await vault.balanceOf(lp);
      const lpValue0 = await vault.convertToAssets(lpShares);

      await vault.connect(carol).requestRedeem(shares, carol, carol);
      const s = await vaultState(vault);
      const gross = toAssets(shares, s.totalAssets, s.supply);
      const paid = gross - feeOnTotal(gross);
      const cash = await engine.vaultCash();
      await expect(settleWhenReady(vault))
        .to.emit(vault, "RedeemSettled")
        .withArgs(carol.address, shares, paid)
        .and.to.emit(engine, "VaultCashMoved")
        .withArgs(-paid * TOKEN_SCALE, cash - paid * TOKEN_SCALE);
      expect(await token.balanceOf(vault)).to.equal(paid); // held for carol's claim
      const wallet = await token.balanceOf(carol);
      await expect(vault.connect(carol).redeem(shares, carol, carol))
        .to.emit(vault, "Withdraw")
        .withArgs(carol.address, carol.address, carol.address, paid, shares);
      expect(await token.balanceOf(carol)).to.equal(wallet + paid);
      expect(await vault.balanceOf(carol)).to.equal(0n);
      expect(await vault.convertToAssets(lpShares)).to.be.gt(lpValue0);
      // Round trip: 10 bps in and 10 bps out (~2,000 USDC of 1M), of which carol, a sixth of the vault while
      // she held, earned back ~1/6 of the entry fee: ~1,833 USDC lost.
      const lost = usd("1000000") - paid;
      expect(lost).to.be.within(usd("1800"), usd("1900"));
      await expectCustody(d.contracts);
    });

    it("zero requests and claims revert; a dust redemption is given back at settlement", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault } = d.contracts;
      const { carol, lp } = d.signers;
      await expect(vault.connect(carol).requestDeposit(0, carol, carol)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(vault.connect(carol)["deposit(uint256,address)"](0, carol)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(vault.connect(carol)["mint(uint256,address)"](0, carol)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await time.increase(COOLDOWN);
      await expect(vault.connect(lp).requestRedeem(0, lp, lp)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(vault.connect(lp).withdraw(0, lp, lp)).to.be.revertedWithCustomError(vault, "ZeroAmount");
      await expect(vault.connect(lp).redeem(0, lp, lp)).to.be.revertedWithCustomError(vault, "ZeroAmount");
      // One share is worth less than a unit after the exit fee: its redemption would pay nothing.
      await vault.connect(lp).requestRedeem(1, lp, lp);
      await expect(settleWhenReady(vault)).to.emit(vault, "RedeemRequestCancelled").withArgs(lp.address, 1n);
      expect(await vault.totalSupply()).to.equal((LP_DEPOSIT - 4_995_004_996n) * VIRTUAL_SHARES);
      await expectCustody(d.contracts);
    });
  });

  describe("first-depositor inflation", () => {
    it("a 1-unit first deposit buys nothing: the rounded-up fee is the whole unit, and it is refunded", async () => {
      const d = await loadFixture(deployEmptyVault);
      const { vault, token } = d.contracts;
      const { alice } = d.signers;
      const wallet = await token.balanceOf(alice);
      await vault.connect(alice).requestDeposit(1, alice, alice);
      await expect(settleWhenReady(vault))
        .to.emit(vault, "DepositRequestCancelled")
        .withArgs(alice.address, 1n);
      expect(await vault.totalSupply()).to.equal(0n);
      expect(await token.balanceOf(alice)).to.equal(wallet);
      await expectCustody(d.contracts);
    });

    it("a donation by token transfer or to the insurance fund does not move the share price, and is sweepable", async () => {
      const d = await loadFixture(deployEmptyVault);
      const { vault, token, engine } = d.contracts;
      const { alice: attacker, bob: victim, admin } = d.signers;
      // Smallest deposit that buys shares: 2 units, 1 of which is the fee; shares = 1 x (0 + 10^6) / (0 + 1).
      expect(await lpDepositNow(vault, attacker, 2n)).to.equal(VIRTUAL_SHARES);
      expect(await vault.totalAssets()).to.equal(2n);

      // The vault's value lives in the engine's ledger: tokens sent to the vault contract are not assets.
      const donation = usd("1000000");
      await token.connect(attacker).transfer(vault, donation);
      await engine.connect(attacker).fundInsurance(donation);
      expect(await vault.totalAssets()).to.equal(2n);
      expect(await vault.convertToAssets(VIRTUAL_SHARES)).to.equal(1n); // 10^6 x 3 / (2 x 10^6), floored

      const deposit = usd("10000");
      const fee = feeOnTotal(deposit);
      const shares = toShares(deposit - fee, 2n, VIRTUAL_SHARES);
      // The victim's pending deposit sits next to the donation in the vault contract.
      await vault.connect(victim).requestDeposit(deposit, victim, victim);
      await expect(vault.connect(admin).sweep(token, admin))
        .to.emit(vault, "Swept")
        .withArgs(await token.getAddress(), admin.address, donation);
      expect(await token.balanceOf(vault)).to.equal(deposit);
      await expect(settleWhenReady(vault))
        .to.emit(vault, "DepositSettled")
        .withArgs(victim.address, deposit, shares);
      await vault.connect(victim)["deposit(uint256,address)"](deposit, victim);
      const worth = await vault.convertToAssets(shares);
      expect(worth).to.equal(toAssets(shares, 2n + deposit, VIRTUAL_SHARES + shares));
      expect(worth).to.be.gte(deposit - fee - 1n);
      expect(await vault.convertToAssets(VIRTUAL_SHARES)).to.be.lte(2n + fee);
      await expectCustody(d.contracts);
    });

    it("a trader cannot donate through losses to a near-empty vault: it has no capacity to trade against", async () => {
      const d = await loadFixture(deployEmptyVault);
      const { vault, engine } = d.contracts;
      const { alice: attacker } = d.signers;
      await lpDepositNow(vault, attacker, 2n);
      await engine.connect(attacker).createCrossAccount();
      await engine.connect(attacker).deposit(1, usd("1000"));
      // 0.01 ETH reserves 15 USD of vault cash, which holds 2 units (plus the would-be fee).
      await expect(trade(engine.connect(attacker), 1, ETH, wad("0.01"), wad("4000")))
        .to.be.revertedWithCustomError(engine, "VaultCapacityExceeded")
        .withArgs(wad("15"), anyValue);
      expect(await engine.vaultCash()).to.equal(2n * TOKEN_SCALE);
      expect(await engine.getPositions(1)).to.have.length(0);
      await expectCustody(d.contracts);
    });
  });

  describe("valuation: traders' unrealised PnL, O(1) per market", () => {
    it("a trader's unrealised loss raises totalAssets by exactly that loss; a profit lowers it", async () => {
      const d = await loadFixture(deployWithoutFunding);
      const { vault, engine } = d.contracts;
      const aliceId = await openCross(engine, d.signers.alice, usd("100000"), wad("10"));
      // Fill = 3000 x (1 + 10 / (2 x 10^6)) = 3000.015; basis = 10 x fill.
      const [position] = await engine.getPositions(aliceId);
      expect(position.basisD18).to.equal(wad("30000.15"));
      const cash = await engine.vaultCash();

      // Valued at what closing the whole skew would realise: 10 x price x (1 + 10 / 2e6) - basis. At 3000 that is
      // exactly 0 (the entry premium is not a profit the vault owes).
      expect(closePnl(wad("10"), wad("30000.15"), wad("3000"))).to.equal(0n);
      for (const price of ["3000", "2900", "3200", "2500"]) {
        await setEthPrice(d, price);
        const pnl = closePnl(wad("10"), wad("30000.15"), wad(price));
        expect(await engine.tradersNetPnl(ETH)).to.equal(pnl);
        expect(await engine.vaultValue()).to.equal(cash - pnl);
        expect(await vault.totalAssets()).to.equal((cash - pnl) / TOKEN_SCALE);
      }
      // 3000 -> 2900: the trader loses 10 x 100 x 1.000005 = 1,000.005 USD more, the vault gains exactly that.
      await setEthPrice(d, "3000");
      const at3000 = await vault.totalAssets();
      await setEthPrice(d, "2900");
      expect(await vault.totalAssets()).to.equal(at3000 + usd("1000.005"));
      await setEthPrice(d, "3200");
      expect(await vault.totalAssets()).to.equal(at3000 - usd("2000.01"));
      await expectCustody(d.contracts);
    });

    it("sums every trader's PnL, longs and shorts, with funding, from the market aggregates", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault, engine } = d.contracts;
      const { alice, bob, carol } = d.signers;
      await openCross(engine, alice, usd("100000"), wad("10"));
      await openCross(engine, bob, usd("100000"), wad("-4"));
      await openCross(engine, carol, usd("100000"), wad("7"));
      await time.increase(6n * 3600n);
      await setEthPrice(d, "2950");

      // Everything read at one block: per-position PnL (floored) minus funding owed (ceiled) ...
      const blockTag = await ethers.provider.getBlockNumber();
      const price = wad("2950");
      const [, index] = await engine.currentFunding(ETH, { blockTag });
      expect(index).to.not.equal(0n);
      let sum = 0n;
      for (const id of [1n, 2n, 3n]) {
        const [p] = await engine.getPositions(id, { blockTag });
        const owed = -floorDiv(-(p.sizeD18 * (index - p.lastFundingIndexD18)), WAD);
        sum += positionPnl(p.sizeD18, p.basisD18, price) - owed;
      }
      // ... and the O(1) aggregate, valued at closing the whole skew:
      // (skew x closeFill - netBasis) - (skew x index - netFundingBasis).
      const st = await engine.getMarketState(ETH, { blockTag });
      const skew = st.longOiD18 - st.shortOiD18;
      expect(skew).to.equal(wad("13"));
      const aggregate =
        closePnl(skew, st.netBasisD18, price) - (floorDiv(skew * index, WAD) - st.netFundingBasisD18);
      const net = await engine.tradersNetPnl(ETH, { blockTag });
      expect(net).to.equal(aggregate);
      // Against the per-position sum at the oracle price, the aggregate adds the impact of closing the skew,
      // skew x price x skew / (2 skewScale) = 13 x 2950 x 13 / 2e6 (~0.249 USD); rounding favours the vault by a
      // few wei at most.
      const impact = ceilDiv(skew * skew * price, 2n * ETH_SKEW_SCALE * WAD);
      expect(net - sum - impact).to.be.within(0n, 6n);
      const cash = await engine.vaultCash({ blockTag });
      expect(await engine.vaultValue({ blockTag })).to.equal(cash - net);
      expect(await vault.totalAssets({ blockTag })).to.equal((cash - net) / TOKEN_SCALE);
      await expectCustody(d.contracts);
    });

    // Documented limit of O(1) valuation: the aggregate cannot see that one trader's loss exceeds its
    // collateral, so totalAssets counts the whole loss until the liquidation, which then removes the
    // uncollectable part as socialised bad debt. An LP redeeming in between is paid on the higher value.
    it("counts an insolvent trader's whole loss until liquidation removes the socialised bad debt", async () => {
      const d = await loadFixture(deployWithoutFunding);
      const { vault, engine } = d.contracts;
      const { alice, keeper } = d.signers;
      const id = await openCross(engine, alice, usd("10000"), wad("100"));
      // Fill 3000 x (1 + 100 / 2e6) = 3000.15. A gap to 2,800, where closing the 100 ETH skew fills at
      // 2800 x (1 + 100 / 2e6) = 2800.14, loses 20,001 USD against 10,000 of margin.
      await setEthPrice(d, "2800");
      const cash = await engine.vaultCash();
      expect(await engine.tradersNetPnl(ETH)).to.equal(wad("-20001"));
      const before = await vault.totalAssets();
      expect(before).to.equal((cash + wad("20001")) / TOKEN_SCALE);
      expect((await engine.marginSummary(id)).equityD18).to.be.lt(0n);

      const tx = engine.connect(keeper).liquidate(id, keeper);
      await expect(tx).to.emit(engine, "BadDebt");
      const receipt = await (await tx).wait();
      const badDebt = receipt!.logs
        .map((log) => engine.interface.parseLog(log))
        .find((event) => event?.name === "BadDebt")!;
      const socialised: bigint = badDebt.args.socialisedD18;
      expect(socialised).to.be.gt(0n);
      // The liquidation closes like a trade: the whole 100 ETH at the same 2,800.14 (the vault gets the 20,001
      // loss), paying the maker fee (the close only reduces skew) of 100 x 2800.14 x 0.02% = 56.0028, of which
      // the vault keeps 80%.
      const fee = wad("56.0028");
      const feeToVault = fee - (fee * riskParams.insuranceFeeShareD18) / WAD;
      expect(await engine.vaultCash()).to.equal(cash + wad("20001") + feeToVault - socialised);
      expect(await vault.totalAssets()).to.equal(
        (cash + wad("20001") + feeToVault - socialised) / TOKEN_SCALE,
      );
      await expectCustody(d.contracts);
    });

    it("costs the same gas with 2 or 12 positions in the market", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault, engine } = d.contracts;
      await openCross(engine, d.signers.alice, usd("100000"), wad("10"));
      await openCross(engine, d.signers.bob, usd("100000"), wad("-3"));
      const few = await vault.totalAssets.estimateGas();
      for (let i = 0; i < 10; ++i) await openCross(engine, d.signers.carol, usd("1000"), wad("0.1"));
      const many = await vault.totalAssets.estimateGas();
      expect(many > few ? many - few : few - many).to.be.lte(100n);
    });
  });

  describe("reserve against open interest", () => {
    async function reservedFixture() {
      const d = await deployWithoutFunding();
      // 2,500 ETH long at 3,000: reserve = 7.5M x 0.5 = 3.75M of the vault's ~5M cash.
      await openCross(d.contracts.engine, d.signers.alice, usd("1000000"), wad("2500"));
      await time.increase(COOLDOWN);
      return d;
    }

    it("a redemption beyond the unreserved cash waits in the queue; one within it settles", async () => {
      const d = await loadFixture(reservedFixture);
      const { vault, engine } = d.contracts;
      const { lp } = d.signers;
      expect(await engine.totalReserved()).to.equal(wad("3750000"));
      const cash = await engine.vaultCash();
      const free = (cash - wad("3750000")) / TOKEN_SCALE;
      expect(await vault.withdrawableAssets()).to.equal(free);

      const s = await vaultState(vault);
      const within = toShares(free + feeOnRaw(free), s.totalAssets, s.supply);
      await vault.connect(lp).requestRedeem(within + 10n ** 12n, lp, lp); // ~1 USDC more than free
      await settleWhenReady(vault, () => republishEth(d));
      expect(await vault.pendingRedeemRequest(0, lp)).to.equal(within + 10n ** 12n);
      expect(await engine.vaultCash()).to.equal(cash);

      // After expiry it is given back; a request within the free cash then settles.
      await time.increase(await vault.maxDelay());
      await vault.cancelRedeemRequest(lp);
      await vault.connect(lp).requestRedeem(within, lp, lp);
      await settleWhenReady(vault, () => republishEth(d));
      const paid = await vault.maxWithdraw(lp);
      expect(paid).to.be.lte(free);
      expect(paid).to.be.gte(free - 1n);
      expect(await engine.vaultCash()).to.be.gte(await engine.totalReserved());
      await vault.connect(lp).redeem(within, lp, lp);
      await expectCustody(d.contracts);
    });

    it("traders' open profit and the funding owed to them are not withdrawable", async () => {
      const d = await loadFixture(reservedFixture);
      const { vault, engine, ethAggregator } = d.contracts;
      await ethAggregator.setAnswer(feedAnswer("3100")); // alice's 2,500 ETH long gains ~250k
      const cash = await engine.vaultCash();
      const value = await engine.vaultValue();
      expect(value).to.be.lt(cash);
      const reserved = await engine.totalReserved();
      const free = (value - reserved) / TOKEN_SCALE;
      expect(await vault.withdrawableAssets()).to.equal(free);
      expect(free).to.be.lt((cash - reserved) / TOKEN_SCALE);
    });

    it("the engine itself refuses a vault withdrawal below the reserve, and any caller but the vault", async () => {
      const d = await loadFixture(reservedFixture);
      const { vault, engine } = d.contracts;
      const { lp, alice } = d.signers;
      const cash = await engine.vaultCash();
      const free = (cash - wad("3750000")) / TOKEN_SCALE;
      await expect(engine.connect(alice).vaultWithdraw(1, alice))
        .to.be.revertedWithCustomError(engine, "NotVault")
        .withArgs(alice.address);

      const vaultAddress = await vault.getAddress();
      await networkHelpers.impersonateAccount(vaultAddress);
      await networkHelpers.setBalance(vaultAddress, WAD);
      const asVault = await ethers.getSigner(vaultAddress);
      const amount = free + 1n;
      await expect(engine.connect(asVault).vaultWithdraw(amount, lp))
        .to.be.revertedWithCustomError(engine, "VaultCapacityExceeded")
        .withArgs(wad("3750000"), cash - amount * TOKEN_SCALE);
      expect(await engine.vaultCash()).to.equal(cash);
      await networkHelpers.stopImpersonatingAccount(vaultAddress);
      await expectCustody(d.contracts);
    });
  });

  describe("cooldown, receiver, pause and parameters", () => {
    it("locks claimed shares until unlocksAt: no redeem request and no transfer; both work from then", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault } = d.contracts;
      const { carol, bob } = d.signers;
      const shares = await lpDepositNow(vault, carol, usd("1000"));
      const unlock = BigInt(await time.latest()) + COOLDOWN;
      expect(await vault.unlocksAt(carol)).to.equal(unlock);

      await expect(vault.connect(carol).requestRedeem(shares, carol, carol))
        .to.be.revertedWithCustomError(vault, "CooldownActive")
        .withArgs(carol.address, unlock);
      await expect(vault.connect(carol).transfer(bob, 1))
        .to.be.revertedWithCustomError(vault, "CooldownActive")
        .withArgs(carol.address, unlock);
      await vault.connect(carol).approve(bob, shares);
      await time.setNextBlockTimestamp(unlock - 1n);
      await expect(vault.connect(bob).transferFrom(carol, bob, 1))
        .to.be.revertedWithCustomError(vault, "CooldownActive")
        .withArgs(carol.address, unlock);
      expect(await vault.balanceOf(carol)).to.equal(shares);

      await time.setNextBlockTimestamp(unlock);
      await vault.connect(carol).transfer(bob, 1);
      expect(await vault.balanceOf(bob)).to.equal(1n);
      await lpRedeemNow(vault, carol, shares - 1n);
      expect(await vault.balanceOf(carol)).to.equal(0n);
      await expectCustody(d.contracts);
    });

    it("a second claim restarts the claimer's own cooldown", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault } = d.contracts;
      const { lp } = d.signers;
      await time.increase(COOLDOWN);
      await lpDepositNow(vault, lp, usd("1"));
      expect(await vault.unlocksAt(lp)).to.equal(BigInt(await time.latest()) + COOLDOWN);
      await expect(vault.connect(lp).requestRedeem(1n, lp, lp)).to.be.revertedWithCustomError(
        vault,
        "CooldownActive",
      );
    });

    it("claims for another receiver revert ReceiverMustBeCaller: nobody can lock someone else's shares", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault } = d.contracts;
      const { carol, bob } = d.signers;
      await vault.connect(carol).requestDeposit(usd("1000"), carol, carol);
      await settleWhenReady(vault);
      await expect(vault.connect(carol)["deposit(uint256,address)"](usd("1000"), bob))
        .to.be.revertedWithCustomError(vault, "ReceiverMustBeCaller")
        .withArgs(carol.address, bob.address);
      await expect(vault.connect(carol)["mint(uint256,address)"](10n ** 12n, bob))
        .to.be.revertedWithCustomError(vault, "ReceiverMustBeCaller")
        .withArgs(carol.address, bob.address);
      expect(await vault.balanceOf(bob)).to.equal(0n);
      expect(await vault.unlocksAt(bob)).to.equal(0n);
    });

    it("pausing the engine stops deposit requests and their settlement but not redemptions", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault, engine, token } = d.contracts;
      const { carol, lp } = d.signers;
      await time.increase(COOLDOWN);
      await vault.connect(carol).requestDeposit(usd("1000"), carol, carol);
      await engine.pause();
      await expect(vault.connect(lp).requestDeposit(usd("1000"), lp, lp)).to.be.revertedWithCustomError(
        vault,
        "DepositsPaused",
      );
      const wallet = await token.balanceOf(lp);
      const paid = await lpRedeemNow(vault, lp, 10n ** 15n);
      expect(await token.balanceOf(lp)).to.equal(wallet + paid);
      expect(await vault.pendingDepositRequest(0, carol)).to.equal(usd("1000"));

      await engine.unpause();
      await vault.settleRequests(1);
      expect(await vault.claimableDepositRequest(0, carol)).to.equal(usd("1000"));
      await expectCustody(d.contracts);
    });

    it("setVaultParams: admin only, within 100 bps and 7 days", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault } = d.contracts;
      const { admin, alice } = d.signers;
      const DAYS7 = 7n * 24n * 3600n;
      await expect(vault.connect(alice).setVaultParams(20, 20, 60))
        .to.be.revertedWithCustomError(vault, "AccessControlUnauthorizedAccount")
        .withArgs(alice.address, await vault.DEFAULT_ADMIN_ROLE());
      for (const [entry, exit, cooldown] of [
        [101n, 10n, 3600n],
        [10n, 101n, 3600n],
        [10n, 10n, DAYS7 + 1n],
      ]) {
        await expect(
          vault.connect(admin).setVaultParams(entry, exit, cooldown),
        ).to.be.revertedWithCustomError(vault, "VaultParameterOutOfBounds");
      }
      expect([await vault.entryFeeBps(), await vault.exitFeeBps(), await vault.cooldown()]).to.deep.equal([
        10n,
        10n,
        COOLDOWN,
      ]);
      await expect(vault.connect(admin).setVaultParams(100, 100, DAYS7))
        .to.emit(vault, "VaultParamsUpdated")
        .withArgs(100n, 100n, DAYS7);
      expect([await vault.entryFeeBps(), await vault.exitFeeBps(), await vault.cooldown()]).to.deep.equal([
        100n,
        100n,
        DAYS7,
      ]);
    });
  });

  describe("requests nobody can use against someone else", () => {
    it("a request cannot be put under a stranger's name, unless the stranger made the caller its operator", async () => {
      const d = await loadFixture(deployBulkhead);
      const { vault } = d.contracts;
      const { alice, bob, lp } = d.signers;
      // Naming bob would block bob's own deposit requests (one pending per controller).
      await expect(vault.connect(alice).requestDeposit(usd("1"), bob, alice))
        .to.be.revertedWithCustomError(vault, "NotOperator")
        .withArgs(alice.address, bob.address);
      await time.increase(COOLDOWN);
      await expect(vault.connect(lp).requestRedeem(1000n, bob, lp))
        .to.be.revertedWithCustomError(vault, "NotOperator")
        .withArgs(lp.address, bob.address);
      await vault.connect(bob).setOperator(alice, true);
      await vault.connect(alice).requestDeposit(usd("1"), bob, alice);
      expect(await vault.pendingDepositRequest(0, bob)).to.equal(usd("1"));
    });

    it("a refund the token refuses (blacklisted controller) is deferred, and the queue behind it settles", async () => {
      const d = await deployProtocol({ tokenKind: "BlacklistToken" });
      const { vault, token } = d.contracts;
      const { carol, bob } = d.signers;
      const blacklist = await ethers.getContractAt("BlacklistToken", await token.getAddress());
      await vault.connect(carol).requestDeposit(1n, carol, carol); // dust: buys no share after the fee
      await vault.connect(bob).requestDeposit(usd("1000"), bob, bob);
      await blacklist.setBlacklisted(carol, true);
      await time.increase(await vault.minDelay());
      await expect(vault.settleRequests(10))
        .to.emit(vault, "DepositRefundDeferred")
        .withArgs(carol.address, 1n)
        .and.to.emit(vault, "DepositSettled");
      expect(await vault.claimableDepositRequest(0, bob)).to.equal(usd("1000"));
      expect(await vault.pendingDepositRequest(0, carol)).to.equal(1n);
      // Refundable by pull once it has expired and the token accepts the transfer.
      const [, , expiresAt] = await vault.depositRequestOf(carol);
      await time.increaseTo(expiresAt + 1n);
      await expect(vault.cancelDepositRequest(carol)).to.be.revertedWithCustomError(blacklist, "Blacklisted");
      await blacklist.setBlacklisted(carol, false);
      await expect(vault.cancelDepositRequest(carol))
        .to.emit(vault, "DepositRequestCancelled")
        .withArgs(carol.address, 1n);
      expect((await vault.escrow()).pendingDepositAssets).to.equal(0n);
      await expectCustody(d.contracts);
    });
  });

  describe("a market with open interest and no valid price", () => {
    /** Alice holds 10 ETH; then time passes beyond the heartbeat with only BTC (no open interest) stale. */
    async function staleFixture() {
      const d = await deployBulkhead();
      await openCross(d.contracts.engine, d.signers.alice, usd("100000"), wad("10"));
      await time.increase(HEARTBEAT + 1n);
      await setEthPrice(d, "3000");
      return d;
    }

    it("a stale feed in a market without open interest does not block the vault", async () => {
      const d = await loadFixture(staleFixture);
      const { vault, engine, btcFeed } = d.contracts;
      const { lp } = d.signers;
      await expect(btcFeed.latestPrice()).to.be.revertedWithCustomError(btcFeed, "StalePrice");
      const cash = await engine.vaultCash();
      expect(await vault.totalAssets()).to.equal((cash - (await engine.tradersNetPnl(ETH))) / TOKEN_SCALE);
      await lpRedeemNow(vault, lp, 10n ** 15n, () => republishEth(d));
      await expectCustody(d.contracts);
    });

    it("shares are never priced on a guess: settlement reverts while the ETH feed is stale, requests wait", async () => {
      const d = await loadFixture(staleFixture);
      const { vault, ethFeed } = d.contracts;
      const { lp, carol } = d.signers;
      await vault.connect(lp).requestRedeem(10n ** 15n, lp, lp);
      await time.increase(HEARTBEAT + 1n);
      // A request reads no price (the valuation is paid once per settlement batch), so it is taken.
      await vault.connect(carol).requestDeposit(usd("1000"), carol, carol);
      await expect(vault.settleRequests(10)).to.be.revertedWithCustomError(ethFeed, "StalePrice");
      await expect(vault.totalAssets()).to.be.revertedWithCustomError(ethFeed, "StalePrice");
      // The ERC-7540 limits are the claimable amounts: they never revert.
      expect(await vault.maxWithdraw(lp)).to.equal(0n);
      expect(await vault.maxRedeem(lp)).to.equal(0n);
      expect(await vault.maxDeposit(carol)).to.equal(0n);
      expect(await vault.maxMint(carol)).to.equal(0n);
    });
  });

  describe("LP timing attacks around a known oracle move (issue 9)", () => {
    /*
     * The defence: a request is priced at the vault value computed with prices published at least `minDelay`
     * after it, so a move the LP knew of when requesting is already in the price it gets. What is left is the
     * fee noise: entry and exit fees (10 + 10 bps here) paid to the LPs who stay.
     */
    const D = usd("5000000");
    const BASIS = wad("3001500");
    const SIZE = wad("1000");

    /** Alice holds 1,000 ETH long (fill 3001.5) with funding off, so values do not depend on elapsed time. */
    async function attackFixture() {
      const d = await deployWithoutFunding();
      await openCross(d.contracts.engine, d.signers.alice, usd("500000"), SIZE);
      await time.increase(COOLDOWN);
      return d;
    }

    /** Vault assets (token units) with ETH at `price`, given its cash (D18): cash minus what closing the skew
     *  would realise (issue 8's valuation). */
    const assetsAt = (cashD18: bigint, price: string) =>
      (cashD18 - closePnl(SIZE, BASIS, wad(price))) / TOKEN_SCALE;

    it("a deposit requested just before a known drop is priced after it, and the round trip loses the fees", async () => {
      const d = await loadFixture(attackFixture);
      const { vault, engine, token } = d.contracts;
      const { carol } = d.signers;
      const cash0 = await engine.vaultCash();
      const supply0 = await vault.totalSupply();
      // The attacker requests at 3000, knowing ETH prints 2990 next: traders lose 10,000 USD to the vault.
      await vault.connect(carol).requestDeposit(D, carol, carol);
      await setEthPrice(d, "2990");
      // Settlement needs prices published after the request's ready time: the 2990 round is too early.
      await expect(vault.settleRequests(1))
        .to.emit(vault, "RequestsSettled")
        .withArgs(0n, anyValue, anyValue);
      const ta1 = assetsAt(cash0, "2990");
      const shares = toShares(D - feeOnTotal(D), ta1, supply0);
      await expect(settleWhenReady(vault, () => setEthPrice(d, "2990")))
        .to.emit(vault, "DepositSettled")
        .withArgs(carol.address, D, shares);
      await vault.connect(carol)["deposit(uint256,address)"](D, carol);

      // She exits at the same price after her cooldown.
      await time.increase(COOLDOWN);
      const ta2 = assetsAt(cash0 + D * TOKEN_SCALE, "2990");
      const gross = toAssets(shares, ta2, supply0 + shares);
      const paid = gross - feeOnTotal(gross);
      const wallet = await token.balanceOf(carol);
      expect(await lpRedeemNow(vault, carol, shares, () => setEthPrice(d, "2990"))).to.equal(paid);
      expect(await token.balanceOf(carol)).to.equal(wallet + paid);
      // No share of the 10,000 USD: she pays ~5,000 in and ~5,000 out, and earns back half of her entry fee as
      // half of the vault: ~ -7,500 USD.
      expect(paid - D).to.equal(-7_494_111_816n);
      await expectCustody(d.contracts);
    });

    it("the old documented limit is closed: a known 100 USD drop no longer pays the early depositor", async () => {
      const d = await loadFixture(attackFixture);
      const { vault, engine } = d.contracts;
      const { carol } = d.signers;
      const cash0 = await engine.vaultCash();
      await vault.connect(carol).requestDeposit(D, carol, carol);
      await setEthPrice(d, "2900"); // traders lose 100,000 USD to the vault
      const shares = toShares(D - feeOnTotal(D), assetsAt(cash0, "2900"), await vault.totalSupply());
      await settleWhenReady(vault, () => setEthPrice(d, "2900"));
      expect(await vault.maxMint(carol)).to.equal(shares);
      await vault.connect(carol)["deposit(uint256,address)"](D, carol);
      await time.increase(COOLDOWN);
      const paid = await lpRedeemNow(vault, carol, shares, () => setEthPrice(d, "2900"));
      expect(paid - D).to.be.lt(0n); // was ~ +42,500 USD with synchronous deposits
      await expectCustody(d.contracts);
    });

    it("a redemption requested just before a known rise bears the vault's loss on it", async () => {
      const d = await loadFixture(attackFixture);
      const { vault, engine } = d.contracts;
      const { lp } = d.signers;
      const cash0 = await engine.vaultCash();
      const shares = await vault.balanceOf(lp);
      const supply = await vault.totalSupply();
      // The LP owns the whole vault and requests out at 3000, knowing ETH prints 3010 next: traders gain
      // 10,000 USD from the vault.
      await vault.connect(lp).requestRedeem(shares / 2n, lp, lp);
      await setEthPrice(d, "3010");
      const gross = toAssets(shares / 2n, assetsAt(cash0, "3010"), supply);
      const paid = gross - feeOnTotal(gross);
      await expect(settleWhenReady(vault, () => setEthPrice(d, "3010")))
        .to.emit(vault, "RedeemSettled")
        .withArgs(lp.address, shares / 2n, paid);
      // Half of the vault before the rise would have been ~ 5,000,000 / 2 less the fee; after it, ~5,002.5 USD
      // less: the LP bears its half of the move (10 USD on 1,000 ETH valued at the skew's close fill, x 1.0005).
      const before = toAssets(shares / 2n, assetsAt(cash0, "3000"), supply);
      expect(before - gross).to.be.within(usd("5002"), usd("5003"));
      await expectCustody(d.contracts);
    });
  });
});
