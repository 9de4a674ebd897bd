import { expect } from "chai";
import { BTC, deployBulkhead, deployEngine, ETH, ethers, networkHelpers } from "../helpers/fixture.js";
import { MAX_UINT256, TOKEN_SCALE, usd, wad } from "../helpers/constants.js";
import { expectCustodyIdentity, expectUnchanged } from "../helpers/invariants.js";
import type { MockERC20 } from "../../types/ethers-contracts/index.js";
import { openIsolated, trade } from "../helpers/orders.js";

/** A cross account for alice (id 1) with 1,000 deposited, and one for bob (id 2) with 1,000. */
async function twoFundedAccounts() {
  const f = await networkHelpers.loadFixture(deployBulkhead);
  const { engine } = f.contracts;
  const { alice, bob } = f.signers;
  await engine.connect(alice).createCrossAccount();
  await engine.connect(bob).createCrossAccount();
  await engine.connect(alice).deposit(1, usd("1000"));
  await engine.connect(bob).deposit(2, usd("1000"));
  return f;
}

/** A bare engine (no vault, no markets) settled in `token`, with alice funded and approved. */
async function engineFor<T extends MockERC20>(token: T) {
  const [admin, alice, attacker] = await ethers.getSigners();
  const { engineImpl, engine } = await deployEngine(token, admin);
  await token.mint(alice, usd("1000000"));
  await token.connect(alice).approve(engine, ethers.MaxUint256);
  return { admin, alice, attacker, token, engine, engineImpl };
}

describe("core: accounts", () => {
  it("creates cross and isolated accounts with events, and rejects an isolated account on an unknown market", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine } = contracts;
    const { alice } = signers;
    await expect(engine.connect(alice).createCrossAccount())
      .to.emit(engine, "AccountCreated")
      .withArgs(1, alice.address, false, 0, 0);
    await expect(engine.connect(alice).createIsolatedAccount(BTC))
      .to.emit(engine, "AccountCreated")
      .withArgs(2, alice.address, true, BTC, 1);
    const info = await engine.getAccount(2);
    expect([info.owner, info.isolated, info.marketId, info.positionCount, info.collateralD18]).to.deep.equal([
      alice.address,
      true,
      BigInt(BTC),
      0n,
      0n,
    ]);
    for (const market of [0, 3, 2 ** 32 - 1]) {
      await expectUnchanged(contracts, () =>
        expect(engine.connect(alice).createIsolatedAccount(market))
          .to.be.revertedWithCustomError(engine, "UnknownMarket")
          .withArgs(market),
      );
    }
    await expect(engine.getAccount(3)).to.be.revertedWithCustomError(engine, "UnknownAccount").withArgs(3);
    await expectCustodyIdentity(contracts);
  });

  it("operator setters reject the zero address and a non-owner", async () => {
    const { signers, contracts } = await twoFundedAccounts();
    const { engine } = contracts;
    const { alice, bob } = signers;
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).setOperator(ethers.ZeroAddress, true)).to.be.revertedWithCustomError(
        engine,
        "ZeroAddress",
      ),
    );
    await expectUnchanged(contracts, () =>
      expect(
        engine.connect(alice).setAccountOperator(1, ethers.ZeroAddress, true),
      ).to.be.revertedWithCustomError(engine, "ZeroAddress"),
    );
    await expect(engine.connect(bob).setAccountOperator(1, bob, true))
      .to.be.revertedWithCustomError(engine, "Unauthorized")
      .withArgs(bob.address, 1);
    await expect(engine.connect(alice).setAccountOperator(9, bob, true))
      .to.be.revertedWithCustomError(engine, "UnknownAccount")
      .withArgs(9);
    expect(await engine.isAuthorized(1, bob)).to.equal(false);
    expect(await engine.isAuthorized(9, alice)).to.equal(false);
  });

  it("owner-wide and per-account operators can trade and withdraw to a receiver they name; others cannot; revocation works", async () => {
    const { signers, contracts } = await twoFundedAccounts();
    const { engine, token } = contracts;
    const { alice, bob, keeper, carol } = signers;
    await engine.connect(alice).createCrossAccount(); // id 3
    await engine.connect(alice).deposit(3, usd("1000"));

    await expect(engine.connect(alice).setOperator(bob, true))
      .to.emit(engine, "OperatorSet")
      .withArgs(alice.address, bob.address, true);
    await expect(engine.connect(alice).setAccountOperator(1, keeper, true))
      .to.emit(engine, "AccountOperatorSet")
      .withArgs(1, keeper.address, true);
    expect(await engine.isAuthorized(3, bob)).to.equal(true);
    expect(await engine.isAuthorized(1, keeper)).to.equal(true);
    expect(await engine.isAuthorized(3, keeper)).to.equal(false);

    // The owner-wide operator acts on every account alice owns.
    await expect(trade(engine.connect(bob), 3, ETH, wad("1"), wad("3100"))).to.emit(
      engine,
      "PositionModified",
    );
    await expect(engine.connect(bob).withdraw(1, usd("10"), carol)).to.changeTokenBalance(
      ethers,
      token,
      carol,
      usd("10"),
    );
    // The per-account operator acts on account 1 only.
    await expect(trade(engine.connect(keeper), 1, BTC, wad("0.01"), wad("61000"))).to.emit(
      engine,
      "PositionModified",
    );
    await expect(engine.connect(keeper).withdraw(1, usd("5"), keeper))
      .to.emit(engine, "Withdrawn")
      .withArgs(1, keeper.address, usd("5"));
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(keeper).withdraw(3, usd("5"), keeper))
          .to.be.revertedWithCustomError(engine, "Unauthorized")
          .withArgs(keeper.address, 3),
      [keeper.address],
    );
    // A stranger can do nothing.
    await expectUnchanged(contracts, () =>
      expect(trade(engine.connect(carol), 1, ETH, wad("1"), wad("3100")))
        .to.be.revertedWithCustomError(engine, "Unauthorized")
        .withArgs(carol.address, 1),
    );

    await expect(engine.connect(alice).setOperator(bob, false))
      .to.emit(engine, "OperatorSet")
      .withArgs(alice.address, bob.address, false);
    await expect(engine.connect(alice).setAccountOperator(1, keeper, false))
      .to.emit(engine, "AccountOperatorSet")
      .withArgs(1, keeper.address, false);
    await expectUnchanged(contracts, () =>
      expect(engine.connect(bob).withdraw(1, usd("1"), bob))
        .to.be.revertedWithCustomError(engine, "Unauthorized")
        .withArgs(bob.address, 1),
    );
    await expectUnchanged(contracts, () =>
      expect(trade(engine.connect(keeper), 1, ETH, wad("1"), wad("3100")))
        .to.be.revertedWithCustomError(engine, "Unauthorized")
        .withArgs(keeper.address, 1),
    );
    // Bob still controls his own account.
    await engine.connect(bob).withdraw(2, usd("1"), bob);
    await expectCustodyIdentity(contracts);
  });

  it("deposit rejects a zero amount, an unknown account and an amount the caller does not hold", async () => {
    const { signers, contracts } = await twoFundedAccounts();
    const { engine, token } = contracts;
    const { alice } = signers;
    await expectUnchanged(
      contracts,
      () => expect(engine.connect(alice).deposit(1, 0)).to.be.revertedWithCustomError(engine, "ZeroAmount"),
      [alice.address],
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).deposit(7, usd("1")))
          .to.be.revertedWithCustomError(engine, "UnknownAccount")
          .withArgs(7),
      [alice.address],
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).deposit(1, MAX_UINT256)).to.be.revertedWithCustomError(
          token,
          "ERC20InsufficientBalance",
        ),
      [alice.address],
    );
    // Anyone may add margin to any account.
    await expect(engine.connect(alice).deposit(2, usd("3")))
      .to.emit(engine, "Deposited")
      .withArgs(2, alice.address, usd("3"));
    expect((await engine.getAccount(2)).collateralD18).to.equal(usd("1003") * TOKEN_SCALE);
    await expectCustodyIdentity(contracts);
  });

  it("a deposit whose D18 value exceeds int256 reverts instead of wrapping to a negative balance", async () => {
    const { signers, contracts } = await twoFundedAccounts();
    const { engine, token } = contracts;
    const { alice } = signers;
    const huge = 2n ** 255n / TOKEN_SCALE + 1n; // x TOKEN_SCALE >= 2^255: does not fit int256
    await token.mint(alice, huge);
    await expectUnchanged(
      contracts,
      () => expect(engine.connect(alice).deposit(1, huge)).to.be.revert(ethers),
      [alice.address],
    );
    await expectCustodyIdentity(contracts);
  });

  it("fundInsurance rejects zero, and an amount whose D18 value exceeds the fund's uint128 storage", async () => {
    const { signers, contracts } = await twoFundedAccounts();
    const { engine, token } = contracts;
    const { alice } = signers;
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).fundInsurance(0)).to.be.revertedWithCustomError(engine, "ZeroAmount"),
    );
    await expect(engine.connect(alice).fundInsurance(usd("7")))
      .to.emit(engine, "InsuranceFunded")
      .withArgs(alice.address, usd("7"), usd("7") * TOKEN_SCALE);
    const huge = 2n ** 128n / TOKEN_SCALE + 1n;
    await token.mint(alice, huge);
    await expectUnchanged(
      contracts,
      () => expect(engine.connect(alice).fundInsurance(huge)).to.be.revert(ethers),
      [alice.address],
    );
    await expectCustodyIdentity(contracts);
  });

  it("withdraw rejects zero, a zero receiver, an unauthorised caller and more than the collateral", async () => {
    const { signers, contracts } = await twoFundedAccounts();
    const { engine } = contracts;
    const { alice, bob } = signers;
    const holders = [alice.address, bob.address];
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).withdraw(1, 0, alice)).to.be.revertedWithCustomError(
          engine,
          "ZeroAmount",
        ),
      holders,
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).withdraw(1, usd("1"), ethers.ZeroAddress)).to.be.revertedWithCustomError(
          engine,
          "ZeroAddress",
        ),
      holders,
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(bob).withdraw(1, usd("1"), bob))
          .to.be.revertedWithCustomError(engine, "Unauthorized")
          .withArgs(bob.address, 1),
      holders,
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).withdraw(1, usd("1000") + 1n, alice))
          .to.be.revertedWithCustomError(engine, "InsufficientCollateral")
          .withArgs(usd("1000") * TOKEN_SCALE, (usd("1000") + 1n) * TOKEN_SCALE),
      holders,
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).withdraw(9, usd("1"), alice))
          .to.be.revertedWithCustomError(engine, "UnknownAccount")
          .withArgs(9),
      holders,
    );
    // A multiplication overflow is a revert too, never a wrapped amount.
    await expectUnchanged(
      contracts,
      () => expect(engine.connect(alice).withdraw(1, MAX_UINT256, alice)).to.be.revert(ethers),
      holders,
    );
    // The whole balance of an account without positions can leave.
    await engine.connect(alice).withdraw(1, usd("1000"), alice);
    expect((await engine.getAccount(1)).collateralD18).to.equal(0n);
    await expectCustodyIdentity(contracts);
  });

  it("transferMargin rejects another owner's account, the same account, zero, an unauthorised caller and too much", async () => {
    const { signers, contracts } = await twoFundedAccounts();
    const { engine } = contracts;
    const { alice, bob } = signers;
    await engine.connect(alice).createIsolatedAccount(ETH); // id 3
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).transferMargin(1, 2, wad("1")))
        .to.be.revertedWithCustomError(engine, "InvalidTransfer")
        .withArgs(1, 2),
    );
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).transferMargin(1, 1, wad("1")))
        .to.be.revertedWithCustomError(engine, "InvalidTransfer")
        .withArgs(1, 1),
    );
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).transferMargin(1, 3, 0)).to.be.revertedWithCustomError(
        engine,
        "ZeroAmount",
      ),
    );
    await expectUnchanged(contracts, () =>
      expect(engine.connect(bob).transferMargin(1, 3, wad("1")))
        .to.be.revertedWithCustomError(engine, "Unauthorized")
        .withArgs(bob.address, 1),
    );
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).transferMargin(1, 9, wad("1")))
        .to.be.revertedWithCustomError(engine, "UnknownAccount")
        .withArgs(9),
    );
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).transferMargin(1, 3, wad("1000") + 1n))
        .to.be.revertedWithCustomError(engine, "InsufficientCollateral")
        .withArgs(wad("1000"), wad("1000") + 1n),
    );
    await expect(engine.connect(alice).transferMargin(1, 3, wad("250")))
      .to.emit(engine, "MarginTransferred")
      .withArgs(1, 3, wad("250"));
    expect((await engine.getAccount(1)).collateralD18).to.equal(wad("750"));
    expect((await engine.getAccount(3)).collateralD18).to.equal(wad("250"));
    await expectCustodyIdentity(contracts);
  });

  it("transferMargin of an amount >= 2^255 reverts instead of wrapping into a pull from the destination", async () => {
    const { signers, contracts } = await twoFundedAccounts();
    const { engine } = contracts;
    const { alice } = signers;
    await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad("10"), wad("3100")); // id 3
    // int256(2^256 - 900e18) == -900e18: a wrapped "transfer" of 900 from 1 to 3 would move 900 from 3 to 1.
    const wrapped = 2n ** 256n - wad("900");
    await expectUnchanged(contracts, () =>
      expect(engine.connect(alice).transferMargin(1, 3, wrapped)).to.be.revert(ethers),
    );
    await expectCustodyIdentity(contracts);
  });

  it("a fee-on-transfer settlement token is rejected with UnsupportedToken", async () => {
    const { alice, token, engine } = await engineFor(
      await ethers.deployContract("FeeOnTransferToken", ["Fee", "FEE", 6]),
    );
    await engine.connect(alice).createCrossAccount();
    const core = { engine, token };
    await expectUnchanged(
      core,
      () =>
        expect(engine.connect(alice).deposit(1, usd("1000")))
          .to.be.revertedWithCustomError(engine, "UnsupportedToken")
          .withArgs(usd("1000"), usd("990")),
      [alice.address],
    );
    await expectUnchanged(
      core,
      () =>
        expect(engine.connect(alice).fundInsurance(usd("1000")))
          .to.be.revertedWithCustomError(engine, "UnsupportedToken")
          .withArgs(usd("1000"), usd("990")),
      [alice.address],
    );
    await expectCustodyIdentity(core);
  });

  it("a token re-entering withdraw or deposit during its transfer is stopped by the reentrancy guard", async () => {
    const { alice, attacker, token, engine, engineImpl } = await engineFor(
      await ethers.deployContract("ReentrantToken", ["Re", "RE", 6]),
    );
    const core = { engine, token };
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).setOperator(token, true); // even an authorised token cannot re-enter
    const guardError = engineImpl.interface.encodeErrorResult("ReentrancyGuardReentrantCall");

    await token.arm(
      engine,
      engine.interface.encodeFunctionData("withdraw", [1n, usd("1"), attacker.address]),
    );
    await engine.connect(alice).deposit(1, usd("1000"));
    expect(await token.lastReentrySucceeded()).to.equal(false);
    expect(await token.lastReentryData()).to.equal(guardError);
    expect((await engine.getAccount(1)).collateralD18).to.equal(usd("1000") * TOKEN_SCALE);
    expect(await token.balanceOf(attacker)).to.equal(0n);

    await token.arm(engine, engine.interface.encodeFunctionData("deposit", [1n, usd("1")]));
    await engine.connect(alice).withdraw(1, usd("400"), alice);
    expect(await token.lastReentrySucceeded()).to.equal(false);
    expect(await token.lastReentryData()).to.equal(guardError);
    expect((await engine.getAccount(1)).collateralD18).to.equal(usd("600") * TOKEN_SCALE);
    expect(await token.balanceOf(engine)).to.equal(usd("600"));
    await expectCustodyIdentity(core);
  });
});
