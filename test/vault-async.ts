import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { network } from "hardhat";
import { MAX_UINT256, TOKEN_SCALE, usd, wad } from "./helpers/constants.js";
import type { MockERC20 } from "../types/ethers-contracts/index.js";

const { ethers, networkHelpers } = await network.getOrCreate();
const { time, loadFixture } = networkHelpers;

/*
 * The vault's ERC-7540 request lifecycle against `MockVaultEngine`, whose value, publish time, reserve and pause
 * are set directly (value = cash + traders' loss). The same flows against the real engine are in test/vault.ts.
 */

const VIRTUAL_SHARES = 10n ** 6n;
const BPS = 10_000n;
const FEE_BPS = 10n;
const COOLDOWN = 3_600n;
const MIN_DELAY = 12n;
const MAX_DELAY = 86_400n;
const REQUEST_ID = 0n;

const mulDiv = (a: bigint, b: bigint, c: bigint, up = false) => (up ? (a * b + c - 1n) / c : (a * b) / c);
const feeOnTotal = (assets: bigint) => mulDiv(assets, FEE_BPS, FEE_BPS + BPS, true);
const toShares = (assets: bigint, totalAssets: bigint, supply: bigint) =>
  mulDiv(assets, supply + VIRTUAL_SHARES, totalAssets + 1n);
const toAssets = (shares: bigint, totalAssets: bigint, supply: bigint) =>
  mulDiv(shares, totalAssets + 1n, supply + VIRTUAL_SHARES);

async function deployVault(tokenKind: "MockERC20" | "ReentrantToken") {
  const [admin, lp, alice, bob, keeper, stranger] = await ethers.getSigners();
  // Both kinds share MockERC20's interface; the reentrant one adds `arm`.
  const token = (await ethers.deployContract(tokenKind, ["USD Coin", "USDC", 6])) as unknown as MockERC20;
  const engine = await ethers.deployContract("MockVaultEngine", [token]);
  const vault = await ethers.deployContract("LiquidityVault", [
    token,
    engine,
    admin,
    FEE_BPS,
    FEE_BPS,
    COOLDOWN,
  ]);
  await engine.setVault(vault);
  for (const user of [lp, alice, bob, stranger]) {
    await token.mint(user, usd("10000000"));
    await token.connect(user).approve(vault, ethers.MaxUint256);
  }
  return { signers: { admin, lp, alice, bob, keeper, stranger }, contracts: { token, engine, vault } };
}

const deployPlain = () => deployVault("MockERC20");
const deployReentrant = () => deployVault("ReentrantToken");

type Deployment = Awaited<ReturnType<typeof deployVault>>;
type Signer = Deployment["signers"]["lp"];

/** Waits out the delay and settles everything ready (the mock's prices are "published now"). */
async function settle({ contracts }: Deployment, max = 32n) {
  await time.increase(MIN_DELAY);
  return contracts.vault.connect((await ethers.getSigners())[4]).settleRequests(max);
}

/** Request, settle and claim a deposit; returns the shares. */
async function depositNow(d: Deployment, lp: Signer, assets: bigint) {
  await d.contracts.vault.connect(lp).requestDeposit(assets, lp, lp);
  await settle(d);
  const shares = await d.contracts.vault.maxMint(lp);
  await d.contracts.vault.connect(lp)["deposit(uint256,address)"](assets, lp);
  return shares;
}

/** The fixture with 1,000,000 USDC deposited by the LP, out of its cooldown. */
async function deploySeeded() {
  const d = await deployVault("MockERC20");
  await depositNow(d, d.signers.lp, usd("1000000"));
  await time.increase(COOLDOWN);
  return d;
}

describe("LiquidityVault: asynchronous requests (ERC-7540)", () => {
  describe("deposit requests", () => {
    it("escrow the assets, emit DepositRequest and show as pending until the delay has passed", async () => {
      const d = await loadFixture(deployPlain);
      const { vault, token, engine } = d.contracts;
      const { lp, keeper } = d.signers;
      const assets = usd("1000");
      await expect(vault.connect(lp).requestDeposit(assets, lp, lp))
        .to.emit(vault, "DepositRequest")
        .withArgs(lp.address, lp.address, REQUEST_ID, lp.address, assets);
      const requestedAt = BigInt(await time.latest());
      expect(await token.balanceOf(vault)).to.equal(assets);
      expect(await vault.pendingDepositRequest(0, lp)).to.equal(assets);
      expect(await vault.claimableDepositRequest(0, lp)).to.equal(0n);
      expect(await vault.depositRequestOf(lp)).to.deep.equal([
        assets,
        requestedAt + MIN_DELAY,
        requestedAt + MAX_DELAY,
      ]);
      expect(await vault.escrow()).to.deep.equal([assets, 0n, 0n, 0n]);

      // One second early: nothing settles, nothing moves.
      await time.setNextBlockTimestamp(requestedAt + MIN_DELAY - 1n);
      await expect(vault.connect(keeper).settleRequests(10))
        .to.emit(vault, "RequestsSettled")
        .withArgs(0n, 0n, requestedAt + MIN_DELAY - 1n);
      expect(await vault.pendingDepositRequest(0, lp)).to.equal(assets);
      expect(await engine.vaultCash()).to.equal(0n);
    });

    it("settle at the delay into the modelled shares, fee kept by the vault, and are claimed by deposit", async () => {
      const d = await loadFixture(deployPlain);
      const { vault, token, engine } = d.contracts;
      const { lp, keeper } = d.signers;
      const assets = usd("1000");
      await vault.connect(lp).requestDeposit(assets, lp, lp);
      const shares = toShares(assets - feeOnTotal(assets), 0n, 0n);
      await time.increase(MIN_DELAY - 1n);
      await expect(vault.connect(keeper).settleRequests(10))
        .to.emit(vault, "DepositSettled")
        .withArgs(lp.address, assets, shares);
      expect(await engine.vaultCash()).to.equal(assets * TOKEN_SCALE);
      expect(await token.balanceOf(vault)).to.equal(0n);
      expect(await vault.pendingDepositRequest(0, lp)).to.equal(0n);
      expect(await vault.claimableDepositRequest(0, lp)).to.equal(assets);
      expect([await vault.maxDeposit(lp), await vault.maxMint(lp)]).to.deep.equal([assets, shares]);
      expect(await vault.escrow()).to.deep.equal([0n, 0n, 0n, shares]);

      await expect(vault.connect(lp)["deposit(uint256,address)"](assets, lp))
        .to.emit(vault, "Deposit")
        .withArgs(lp.address, lp.address, assets, shares);
      expect(await vault.balanceOf(lp)).to.equal(shares);
      expect(await vault.unlocksAt(lp)).to.equal(BigInt(await time.latest()) + COOLDOWN);
      expect(await vault.escrow()).to.deep.equal([0n, 0n, 0n, 0n]);
      expect(await vault.totalAssets()).to.equal(assets);
    });

    it("wait for prices published at or after the ready time, whatever the clock says", async () => {
      const d = await loadFixture(deployPlain);
      const { vault, engine } = d.contracts;
      const { lp } = d.signers;
      await vault.connect(lp).requestDeposit(usd("1000"), lp, lp);
      const [, readyAt] = await vault.depositRequestOf(lp);
      await engine.setPublishTime(readyAt - 1n);
      await time.increase(3n * MIN_DELAY);
      await vault.settleRequests(10);
      expect(await vault.pendingDepositRequest(0, lp)).to.equal(usd("1000"));
      await engine.setPublishTime(readyAt);
      await vault.settleRequests(10);
      expect(await vault.pendingDepositRequest(0, lp)).to.equal(0n);
      expect(await vault.claimableDepositRequest(0, lp)).to.equal(usd("1000"));
    });

    it("price every request of a batch at the batch's valuation, first in first out, at most maxRequests", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, engine } = d.contracts;
      const { alice, bob, stranger } = d.signers;
      // Traders owe the vault 10,000 USD: the share price is up 1%.
      await engine.setTradersLoss(wad("10000"));
      const ta0 = await vault.totalAssets();
      const supply0 = await vault.totalSupply();
      const a = usd("20000");
      const b = usd("30000");
      const c = usd("1");
      await vault.connect(alice).requestDeposit(a, alice, alice);
      await vault.connect(bob).requestDeposit(b, bob, bob);
      await vault.connect(stranger).requestDeposit(c, stranger, stranger);
      expect(await vault.queueLengths()).to.deep.equal([3n, 0n]);

      await time.increase(MIN_DELAY);
      await expect(vault.settleRequests(2)).to.emit(vault, "RequestsSettled");
      const sharesA = toShares(a - feeOnTotal(a), ta0, supply0);
      const sharesB = toShares(b - feeOnTotal(b), ta0 + a, supply0 + sharesA);
      expect(await vault.maxMint(alice)).to.equal(sharesA);
      expect(await vault.maxMint(bob)).to.equal(sharesB);
      expect(await vault.pendingDepositRequest(0, stranger)).to.equal(c);
      expect(await vault.queueLengths()).to.deep.equal([1n, 0n]);
      expect(await vault.totalAssets()).to.equal(ta0 + a + b);
      expect(await vault.totalSupply()).to.equal(supply0 + sharesA + sharesB);
    });

    it("refuse a second pending request for the same controller, until the first has settled", async () => {
      const d = await loadFixture(deployPlain);
      const { vault } = d.contracts;
      const { lp } = d.signers;
      await vault.connect(lp).requestDeposit(usd("1000"), lp, lp);
      await expect(vault.connect(lp).requestDeposit(usd("1"), lp, lp))
        .to.be.revertedWithCustomError(vault, "RequestPending")
        .withArgs(lp.address);
      await settle(d);
      await vault.connect(lp).requestDeposit(usd("1"), lp, lp);
    });

    it("an empty vault (no shares, value 0) takes its first deposit; an empty vault in deficit does not", async () => {
      const d = await loadFixture(deployPlain);
      const { vault, engine } = d.contracts;
      const { lp } = d.signers;
      await engine.setTradersLoss(-1n);
      // Requests do not value the vault (one valuation per batch): the deposit waits at settlement.
      await vault.connect(lp).requestDeposit(usd("1"), lp, lp);
      await settle(d);
      expect(await vault.pendingDepositRequest(0, lp)).to.equal(usd("1"));
      await engine.setTradersLoss(0n);
      await vault.settleRequests(1);
      expect(await vault.claimableDepositRequest(0, lp)).to.equal(usd("1"));
    });

    it("are not settled while the vault's value is not positive (a new LP would absorb the hole)", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, engine } = d.contracts;
      const { alice, bob } = d.signers;
      const cash = await engine.vaultCash();
      for (const [value, who] of [
        [0n, alice],
        [-1n, bob],
      ] as const) {
        await engine.setTradersLoss(value - cash);
        await vault.connect(who).requestDeposit(usd("1000"), who, who);
        await settle(d);
        expect(await vault.pendingDepositRequest(0, who), `value ${value}`).to.equal(usd("1000"));
        expect(await vault.claimableDepositRequest(0, who)).to.equal(0n);
      }
      // The value falls to zero before settlement: the deposit waits, it is not priced into the hole.
      await engine.setTradersLoss(-cash);
      await settle(d);
      expect(await vault.pendingDepositRequest(0, alice)).to.equal(usd("1000"));
      await engine.setTradersLoss(0n);
      await vault.settleRequests(1);
      expect(await vault.claimableDepositRequest(0, alice)).to.equal(usd("1000"));
    });

    it("are refused while paused; a pending one waits for the unpause while redemptions still settle", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, engine } = d.contracts;
      const { lp, alice } = d.signers;
      await vault.connect(alice).requestDeposit(usd("1000"), alice, alice);
      await vault.connect(lp).requestRedeem(10n ** 12n, lp, lp);
      await engine.setPaused(true);
      await expect(
        vault.connect(d.signers.bob).requestDeposit(usd("1"), d.signers.bob, d.signers.bob),
      ).to.be.revertedWithCustomError(vault, "DepositsPaused");
      await settle(d);
      expect(await vault.pendingDepositRequest(0, alice)).to.equal(usd("1000"));
      expect(await vault.claimableRedeemRequest(0, lp)).to.equal(10n ** 12n);
      await engine.setPaused(false);
      await vault.settleRequests(1);
      expect(await vault.claimableDepositRequest(0, alice)).to.equal(usd("1000"));
    });

    it("refund dust that would buy no share after the rounded-up fee", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, token } = d.contracts;
      const { alice } = d.signers;
      const before = await token.balanceOf(alice);
      await vault.connect(alice).requestDeposit(1n, alice, alice);
      await time.increase(MIN_DELAY);
      await expect(vault.settleRequests(1))
        .to.emit(vault, "DepositRequestCancelled")
        .withArgs(alice.address, 1n);
      expect(await token.balanceOf(alice)).to.equal(before);
      expect(await vault.escrow()).to.deep.equal([0n, 0n, 0n, 0n]);
    });

    it("reject zero amounts, a zero controller, another owner's assets and more than the wallet holds", async () => {
      const d = await loadFixture(deployPlain);
      const { vault, token } = d.contracts;
      const { lp, alice } = d.signers;
      await expect(vault.connect(lp).requestDeposit(0, lp, lp)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(vault.connect(lp).requestDeposit(1, ethers.ZeroAddress, lp)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(vault.connect(alice).requestDeposit(usd("1"), alice, lp))
        .to.be.revertedWithCustomError(vault, "NotOperator")
        .withArgs(alice.address, lp.address);
      await expect(vault.connect(lp).requestDeposit(MAX_UINT256, lp, lp)).to.be.revertedWithCustomError(
        token,
        "ERC20InsufficientBalance",
      );
    });

    it("an operator requests from the owner's wallet for any controller, and claims for it", async () => {
      const d = await loadFixture(deployPlain);
      const { vault } = d.contracts;
      const { lp, alice } = d.signers;
      await expect(vault.connect(lp).setOperator(alice, true))
        .to.emit(vault, "OperatorSet")
        .withArgs(lp.address, alice.address, true);
      expect(await vault.isOperator(lp, alice)).to.equal(true);
      await expect(vault.connect(alice).requestDeposit(usd("1000"), lp, lp))
        .to.emit(vault, "DepositRequest")
        .withArgs(lp.address, lp.address, REQUEST_ID, alice.address, usd("1000"));
      await settle(d);
      await expect(vault.connect(alice)["deposit(uint256,address,address)"](usd("1000"), alice, lp))
        .to.be.revertedWithCustomError(vault, "ReceiverMustBeCaller")
        .withArgs(lp.address, alice.address);
      await vault.connect(alice)["deposit(uint256,address,address)"](usd("1000"), lp, lp);
      expect(await vault.balanceOf(lp)).to.be.gt(0n);
      await expect(vault.connect(lp).setOperator(lp, true)).to.be.revertedWithCustomError(
        vault,
        "NotOperator",
      );
    });
  });

  describe("claims", () => {
    async function deployClaimable() {
      const d = await deployVault("MockERC20");
      await d.contracts.vault.connect(d.signers.lp).requestDeposit(usd("1000"), d.signers.lp, d.signers.lp);
      await settle(d);
      return d;
    }

    it("partial claims pay pro rata (shares down, assets up) and the last one takes the rest", async () => {
      const d = await loadFixture(deployClaimable);
      const { vault } = d.contracts;
      const { lp } = d.signers;
      const [assets, shares] = [await vault.maxDeposit(lp), await vault.maxMint(lp)];
      const third = assets / 3n;
      await vault.connect(lp)["deposit(uint256,address)"](third, lp);
      expect(await vault.balanceOf(lp)).to.equal(mulDiv(third, shares, assets));
      const someShares = 12_345n;
      const remainingAssets = assets - third;
      const remainingShares = shares - mulDiv(third, shares, assets);
      await vault.connect(lp)["mint(uint256,address)"](someShares, lp);
      expect(await vault.maxDeposit(lp)).to.equal(
        remainingAssets - mulDiv(someShares, remainingAssets, remainingShares, true),
      );
      await vault.connect(lp)["deposit(uint256,address)"](await vault.maxDeposit(lp), lp);
      expect(await vault.balanceOf(lp)).to.equal(shares);
      expect([await vault.maxDeposit(lp), await vault.maxMint(lp)]).to.deep.equal([0n, 0n]);
    });

    it("refuse more than claimable, zero, a stranger and a receiver other than the controller", async () => {
      const d = await loadFixture(deployClaimable);
      const { vault } = d.contracts;
      const { lp, alice } = d.signers;
      const [assets, shares] = [await vault.maxDeposit(lp), await vault.maxMint(lp)];
      await expect(vault.connect(lp)["deposit(uint256,address)"](assets + 1n, lp))
        .to.be.revertedWithCustomError(vault, "ExceedsClaimable")
        .withArgs(lp.address, assets + 1n, assets);
      await expect(vault.connect(lp)["mint(uint256,address)"](shares + 1n, lp))
        .to.be.revertedWithCustomError(vault, "ExceedsClaimable")
        .withArgs(lp.address, shares + 1n, shares);
      await expect(vault.connect(lp)["deposit(uint256,address)"](0, lp)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(vault.connect(alice)["deposit(uint256,address,address)"](assets, lp, lp))
        .to.be.revertedWithCustomError(vault, "NotOperator")
        .withArgs(alice.address, lp.address);
      await expect(vault.connect(lp)["deposit(uint256,address)"](assets, alice))
        .to.be.revertedWithCustomError(vault, "ReceiverMustBeCaller")
        .withArgs(lp.address, alice.address);
      // Nothing claimable for alice.
      await expect(vault.connect(alice)["deposit(uint256,address)"](1, alice))
        .to.be.revertedWithCustomError(vault, "ExceedsClaimable")
        .withArgs(alice.address, 1n, 0n);
    });

    it("previews revert: an asynchronous vault has none (ERC-7540)", async () => {
      const d = await loadFixture(deployPlain);
      const { vault } = d.contracts;
      for (const preview of ["previewDeposit", "previewMint", "previewWithdraw", "previewRedeem"] as const) {
        await expect(vault[preview](1n), preview).to.be.revertedWithCustomError(vault, "AsyncFlow");
      }
    });
  });

  describe("redeem requests", () => {
    it("respect the cooldown, escrow the shares and pay the modelled assets less the exit fee", async () => {
      const d = await loadFixture(deployPlain);
      const { vault, token, engine } = d.contracts;
      const { lp } = d.signers;
      const shares = await depositNow(d, lp, usd("1000000"));
      const unlock = await vault.unlocksAt(lp);
      await expect(vault.connect(lp).requestRedeem(shares, lp, lp))
        .to.be.revertedWithCustomError(vault, "CooldownActive")
        .withArgs(lp.address, unlock);
      await time.increaseTo(unlock);

      await engine.setTradersLoss(wad("5000"));
      const half = shares / 2n;
      await expect(vault.connect(lp).requestRedeem(half, lp, lp))
        .to.emit(vault, "RedeemRequest")
        .withArgs(lp.address, lp.address, REQUEST_ID, lp.address, half);
      expect(await vault.balanceOf(lp)).to.equal(shares - half);
      expect(await vault.pendingRedeemRequest(0, lp)).to.equal(half);

      const ta = await vault.totalAssets();
      const supply = await vault.totalSupply();
      const gross = toAssets(half, ta, supply);
      const paid = gross - feeOnTotal(gross);
      await expect(settle(d)).to.emit(vault, "RedeemSettled").withArgs(lp.address, half, paid);
      expect(await vault.totalSupply()).to.equal(supply - half);
      expect([await vault.maxRedeem(lp), await vault.maxWithdraw(lp)]).to.deep.equal([half, paid]);
      expect(await vault.claimableRedeemRequest(0, lp)).to.equal(half);
      expect(await vault.escrow()).to.deep.equal([0n, paid, 0n, 0n]);
      expect(await token.balanceOf(vault)).to.equal(paid);

      const wallet = await token.balanceOf(lp);
      await expect(vault.connect(lp).redeem(half, lp, lp))
        .to.emit(vault, "Withdraw")
        .withArgs(lp.address, lp.address, lp.address, paid, half);
      expect(await token.balanceOf(lp)).to.equal(wallet + paid);
      expect(await vault.escrow()).to.deep.equal([0n, 0n, 0n, 0n]);
    });

    it("withdraw claims assets (shares rounded up); another controller's claim needs its operator", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, token } = d.contracts;
      const { lp, alice, bob } = d.signers;
      await vault.connect(lp).requestRedeem(10n ** 15n, lp, lp);
      await settle(d);
      const [shares, assets] = [await vault.maxRedeem(lp), await vault.maxWithdraw(lp)];
      await expect(vault.connect(alice).withdraw(1n, alice, lp))
        .to.be.revertedWithCustomError(vault, "NotOperator")
        .withArgs(alice.address, lp.address);
      await vault.connect(lp).setOperator(alice, true);
      const wallet = await token.balanceOf(bob);
      await vault.connect(alice).withdraw(assets / 2n, bob, lp);
      expect(await token.balanceOf(bob)).to.equal(wallet + assets / 2n);
      expect(await vault.maxRedeem(lp)).to.equal(shares - mulDiv(assets / 2n, shares, assets, true));
      await expect(vault.connect(lp).withdraw(assets, lp, lp)).to.be.revertedWithCustomError(
        vault,
        "ExceedsClaimable",
      );
      await expect(vault.connect(lp).withdraw(0, lp, lp)).to.be.revertedWithCustomError(vault, "ZeroAmount");
    });

    it("a stranger needs the owner's share allowance, which the request spends", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault } = d.contracts;
      const { lp, alice } = d.signers;
      await expect(vault.connect(alice).requestRedeem(1000n, alice, lp)).to.be.revertedWithCustomError(
        vault,
        "ERC20InsufficientAllowance",
      );
      await vault.connect(lp).approve(alice, 1000n);
      await vault.connect(alice).requestRedeem(1000n, alice, lp);
      expect(await vault.allowance(lp, alice)).to.equal(0n);
      expect(await vault.pendingRedeemRequest(0, alice)).to.equal(1000n);
      await expect(vault.connect(lp).requestRedeem(0, lp, lp)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      await expect(vault.connect(lp).requestRedeem(MAX_UINT256, lp, lp)).to.be.revertedWithCustomError(
        vault,
        "ERC20InsufficientBalance",
      );
    });

    it("wait, in order, for withdrawable cash: a later smaller request does not jump the queue", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, engine } = d.contracts;
      const { lp, alice } = d.signers;
      await depositNow(d, alice, usd("10000"));
      await time.increase(COOLDOWN);
      // Reserve all but 5,000 USD of the cash.
      const cash = await engine.vaultCash();
      await engine.setReserved(cash - wad("5000"));
      const lpShares = await vault.balanceOf(lp);
      await vault.connect(lp).requestRedeem(lpShares / 10n, lp, lp); // ~100,000 USD: more than withdrawable
      await vault.connect(alice).requestRedeem(await vault.balanceOf(alice), alice, alice); // ~10,000 USD
      await settle(d);
      expect(await vault.pendingRedeemRequest(0, lp)).to.equal(lpShares / 10n);
      expect(await vault.pendingRedeemRequest(0, alice)).to.be.gt(0n);
      await engine.setReserved(0n);
      await vault.settleRequests(10);
      expect(await vault.maxRedeem(lp)).to.equal(lpShares / 10n);
      expect(await vault.pendingRedeemRequest(0, alice)).to.equal(0n);
    });

    it("give back dust shares that would pay no asset, and everything while the value is not positive", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, engine } = d.contracts;
      const { lp } = d.signers;
      const shares = await vault.balanceOf(lp);
      await vault.connect(lp).requestRedeem(1n, lp, lp);
      await time.increase(MIN_DELAY);
      await expect(vault.settleRequests(1)).to.emit(vault, "RedeemRequestCancelled").withArgs(lp.address, 1n);
      expect(await vault.balanceOf(lp)).to.equal(shares);

      await vault.connect(lp).requestRedeem(shares, lp, lp);
      await engine.setTradersLoss(-(await engine.vaultCash()));
      await time.increase(MIN_DELAY);
      await expect(vault.settleRequests(1))
        .to.emit(vault, "RedeemRequestCancelled")
        .withArgs(lp.address, shares);
      expect(await vault.balanceOf(lp)).to.equal(shares);
    });
  });

  describe("expiry and cancellation", () => {
    for (const kind of ["Deposit", "Redeem"] as const) {
      it(`a ${kind.toLowerCase()} request settles up to its expiry second inclusive; one second later it is refunded`, async () => {
        const d = await loadFixture(deploySeeded);
        const { vault } = d.contracts;
        const { alice, lp, keeper } = d.signers;
        const [who, amount] = kind === "Deposit" ? [alice, usd("1000")] : [lp, 10n ** 12n];
        await (kind === "Deposit"
          ? vault.connect(who).requestDeposit(amount, who, who)
          : vault.connect(who).requestRedeem(amount, who, who));
        const [, , expiresAt] = await (kind === "Deposit"
          ? vault.depositRequestOf(who)
          : vault.redeemRequestOf(who));
        const [settled, cancelled] = [`${kind}Settled`, `${kind}RequestCancelled`];
        const snapshot = await networkHelpers.takeSnapshot();
        await time.setNextBlockTimestamp(expiresAt);
        await expect(vault.connect(keeper).settleRequests(10))
          .to.emit(vault, settled)
          .and.not.to.emit(vault, cancelled);
        await snapshot.restore();
        await time.setNextBlockTimestamp(expiresAt + 1n);
        await expect(vault.connect(keeper).settleRequests(10))
          .to.emit(vault, cancelled)
          .withArgs(who.address, amount)
          .and.not.to.emit(vault, settled);
      });
    }

    it("a request cannot be cancelled before it expires; after, anyone refunds it to its controller", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, token } = d.contracts;
      const { lp, alice, stranger } = d.signers;
      await vault.connect(alice).requestDeposit(usd("1000"), alice, alice);
      const shares = 10n ** 12n;
      await vault.connect(lp).requestRedeem(shares, lp, lp);
      const [, , expiresAt] = await vault.depositRequestOf(alice);
      await expect(vault.connect(alice).cancelDepositRequest(alice))
        .to.be.revertedWithCustomError(vault, "RequestNotExpired")
        .withArgs(alice.address, expiresAt);
      await expect(vault.connect(stranger).cancelDepositRequest(stranger))
        .to.be.revertedWithCustomError(vault, "NoPendingRequest")
        .withArgs(stranger.address);
      await expect(vault.connect(alice).cancelRedeemRequest(lp))
        .to.be.revertedWithCustomError(vault, "RequestNotExpired")
        .withArgs(lp.address, (await vault.redeemRequestOf(lp))[2]);
      await expect(vault.connect(stranger).cancelRedeemRequest(stranger))
        .to.be.revertedWithCustomError(vault, "NoPendingRequest")
        .withArgs(stranger.address);

      await time.increaseTo(expiresAt + 1n);
      const wallet = await token.balanceOf(alice);
      await expect(vault.connect(stranger).cancelDepositRequest(alice))
        .to.emit(vault, "DepositRequestCancelled")
        .withArgs(alice.address, usd("1000"));
      expect(await token.balanceOf(alice)).to.equal(wallet + usd("1000"));
      const lpShares = await vault.balanceOf(lp);
      await expect(vault.connect(stranger).cancelRedeemRequest(lp))
        .to.emit(vault, "RedeemRequestCancelled")
        .withArgs(lp.address, shares);
      expect(await vault.balanceOf(lp)).to.equal(lpShares + shares);
      expect(await vault.escrow()).to.deep.equal([0n, 0n, 0n, 0n]);
      await expect(vault.cancelDepositRequest(alice)).to.be.revertedWithCustomError(
        vault,
        "NoPendingRequest",
      );

      // The cancelled entries still occupy the queue; settlement skips them.
      await expect(vault.settleRequests(10))
        .to.emit(vault, "RequestsSettled")
        .withArgs(2n, anyValue, anyValue);
      expect(await vault.queueLengths()).to.deep.equal([0n, 0n]);
    });

    it("settlement after expiry refunds instead of settling: a late price never fills an old request", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault } = d.contracts;
      const { alice } = d.signers;
      await vault.connect(alice).requestDeposit(usd("1000"), alice, alice);
      await time.increase(MAX_DELAY + 1n);
      await expect(vault.settleRequests(1))
        .to.emit(vault, "DepositRequestCancelled")
        .withArgs(alice.address, usd("1000"));
      expect(await vault.maxMint(alice)).to.equal(0n);
    });
  });

  describe("sweep and governance", () => {
    it("sweep recovers tokens sent by mistake, never the escrow or the claims", async () => {
      const d = await loadFixture(deploySeeded);
      const { vault, token } = d.contracts;
      const { admin, lp, alice, bob } = d.signers;
      // Escrow: a pending deposit and a claimable redemption (assets), a pending redemption and a claimable
      // deposit (shares).
      await vault.connect(lp).requestRedeem(10n ** 15n, lp, lp);
      await vault.connect(alice).requestDeposit(usd("5000"), alice, alice);
      await settle(d);
      await vault.connect(lp).requestRedeem(10n ** 14n, lp, lp);
      await vault.connect(bob).requestDeposit(usd("700"), bob, bob);
      await vault.connect(lp).transfer(vault, 123n); // shares sent by mistake
      await token.connect(alice).transfer(vault, usd("42")); // assets sent by mistake
      const other = await ethers.deployContract("MockERC20", ["Other", "OTH", 18]);
      await other.mint(vault, 99n);
      const escrowBefore = await vault.escrow();

      await expect(vault.connect(alice).sweep(token, alice)).to.be.revertedWithCustomError(
        vault,
        "AccessControlUnauthorizedAccount",
      );
      await expect(vault.connect(admin).sweep(token, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        vault,
        "ZeroAmount",
      );
      for (const [t, amount] of [
        [token, usd("42")],
        [vault, 123n],
        [other, 99n],
      ] as const) {
        await expect(vault.connect(admin).sweep(t, bob))
          .to.emit(vault, "Swept")
          .withArgs(await t.getAddress(), bob.address, amount);
        await expect(vault.connect(admin).sweep(t, bob))
          .to.be.revertedWithCustomError(vault, "NothingToSweep")
          .withArgs(await t.getAddress());
      }
      expect(await vault.escrow()).to.deep.equal(escrowBefore);
      // Every request settles and every claim pays in full.
      await settle(d);
      await vault.connect(lp).redeem(await vault.maxRedeem(lp), lp, lp);
      await vault.connect(alice)["deposit(uint256,address)"](await vault.maxDeposit(alice), alice);
      await vault.connect(bob)["deposit(uint256,address)"](await vault.maxDeposit(bob), bob);
      expect(await vault.escrow()).to.deep.equal([0n, 0n, 0n, 0n]);
    });

    it("setRequestDelays: admin only, within bounds, evented; pending requests keep their own times", async () => {
      const d = await loadFixture(deployPlain);
      const { vault } = d.contracts;
      const { admin, lp } = d.signers;
      await vault.connect(lp).requestDeposit(usd("1000"), lp, lp);
      const before = await vault.depositRequestOf(lp);
      await expect(vault.connect(lp).setRequestDelays(30, 3600)).to.be.revertedWithCustomError(
        vault,
        "AccessControlUnauthorizedAccount",
      );
      for (const [min, max] of [
        [0n, 3600n],
        [3601n, 7200n],
        [30n, 89n],
        [30n, 2n * 86_400n + 1n],
      ]) {
        await expect(vault.connect(admin).setRequestDelays(min, max)).to.be.revertedWithCustomError(
          vault,
          "VaultParameterOutOfBounds",
        );
      }
      await expect(vault.connect(admin).setRequestDelays(1, 61))
        .to.emit(vault, "RequestDelaysUpdated")
        .withArgs(1n, 61n);
      await expect(vault.connect(admin).setRequestDelays(3600, 2n * 86_400n))
        .to.emit(vault, "RequestDelaysUpdated")
        .withArgs(3600n, 2n * 86_400n);
      expect([await vault.minDelay(), await vault.maxDelay()]).to.deep.equal([3600n, 2n * 86_400n]);
      expect(await vault.depositRequestOf(lp)).to.deep.equal(before);
    });

    it("reports ERC-7540 and ERC-7575 support and itself as the share", async () => {
      const d = await loadFixture(deployPlain);
      const { vault } = d.contracts;
      expect(await vault.share()).to.equal(await vault.getAddress());
      for (const id of ["0xe3bc4e65", "0x2f0a18c5", "0x01ffc9a7"]) {
        expect(await vault.supportsInterface(id), id).to.equal(true);
      }
      expect(await vault.supportsInterface("0xffffffff")).to.equal(false);
    });
  });

  describe("reentrancy where value moves", () => {
    it("a token that calls back during a claim or a refund cannot re-enter settlement or another claim", async () => {
      const d = await loadFixture(deployReentrant);
      const { vault, engine } = d.contracts;
      const token = await ethers.getContractAt("ReentrantToken", await d.contracts.token.getAddress());
      const { lp } = d.signers;
      await vault.connect(lp).requestDeposit(usd("1000"), lp, lp);
      // The settlement's transfer into the engine calls back into the vault.
      await token.arm(vault, vault.interface.encodeFunctionData("settleRequests", [10n]));
      await settle(d);
      expect(await token.lastReentrySucceeded()).to.equal(false);
      expect(await token.lastReentryData()).to.equal(
        vault.interface.getError("ReentrancyGuardReentrantCall")!.selector,
      );
      expect(await engine.vaultCash()).to.equal(usd("1000") * TOKEN_SCALE);
    });
  });
});
