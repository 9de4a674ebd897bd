/** sdk/errors: decoding real reverts from the chain into { name, args, message }. */
import { expect } from "chai";
import { AbiCoder, Interface, type ErrorFragment } from "ethers";

import { ethers, networkHelpers, deployBulkhead, ETH } from "../helpers/fixture.js";
import { usd, wad, DAY } from "../helpers/constants.js";
import {
  decodeError,
  decodeRevert,
  errorInterface,
  formatD18,
  formatFixed,
  formatPercentD18,
} from "../../sdk/errors.js";
import { clientFor } from "./harness.js";
import { priceUpdate, trade } from "../helpers/orders.js";
import { settleWhenReady } from "../helpers/vault.js";

/** The decoded revert of a promise that must reject. */
async function revertOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    const decoded = decodeRevert(e);
    if (!decoded) throw new Error(`undecodable revert: ${String(e)}`);
    return decoded;
  }
  throw new Error("expected a revert");
}

describe("SDK error decoding", () => {
  it("formats D18 amounts with thousands separators, truncating", () => {
    expect(formatD18(1_234_567_891n * 10n ** 15n)).to.equal("1,234,567.89");
    expect(formatD18(-(2000n * 10n ** 18n))).to.equal("-2,000.00");
    expect(formatD18(999n)).to.equal("0.00");
  });

  it("never prints a minus sign on an amount that shows as zero", () => {
    expect(formatD18(-999n)).to.equal("0.00");
    expect(formatD18(-(10n ** 16n) + 1n)).to.equal("0.00"); // -0.00999...
    expect(formatD18(-(10n ** 16n))).to.equal("-0.01");
    expect(formatD18(-5n * 10n ** 13n, 4)).to.equal("0.0000");
    expect(formatD18(-5n * 10n ** 13n, 6)).to.equal("-0.000050");
    expect(formatFixed(-1n, 6)).to.equal("0.00");
    expect(formatFixed(-10_000n, 6)).to.equal("-0.01");
    expect(formatFixed(-1_234_000_000n, 6, 0)).to.equal("-1,234");
    expect(formatFixed(-1n, 6, 0)).to.equal("0");
    expect(formatPercentD18(-(10n ** 13n))).to.equal("0.00%"); // -0.001%
    expect(formatPercentD18(-(10n ** 14n))).to.equal("-0.01%");
    // The messages built on them: a barely negative equity reads 0.00.
    const data = errorInterface.encodeErrorResult("InsufficientMargin", [-1n, 2000n * 10n ** 18n]);
    expect(decodeError(data)?.message).to.equal("InsufficientMargin: equity 0.00 < initial margin 2,000.00");
  });

  it("decodes InsufficientMargin with equity and initial margin", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice } = d.signers;
    const client = await clientFor(d, alice);
    const id = await client.createCrossAccount();
    await client.deposit(id, usd("1000"));
    // 100 ETH at ~3000 needs ~6,050 of initial margin.
    const err = await revertOf(trade(d.contracts.engine.connect(alice), id, ETH, wad("100"), wad("4000")));
    expect(err.name).to.equal("InsufficientMargin");
    const equity = err.args.equityD18 as bigint;
    const im = err.args.initialMarginD18 as bigint;
    expect(equity < im).to.equal(true);
    expect(err.message).to.equal(
      `InsufficientMargin: equity ${formatD18(equity)} < initial margin ${formatD18(im)}`,
    );
    expect(err.values).to.deep.equal([equity, im]);
  });

  it("decodes engine errors: Unauthorized, SlippageExceeded, UnknownAccount, InsufficientCollateral", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, bob } = d.signers;
    const { engine } = d.contracts;
    const client = await clientFor(d, alice);
    const id = await client.createCrossAccount();
    await client.deposit(id, usd("10000"));

    const unauthorized = await revertOf(engine.connect(bob).withdraw(id, 1n, bob));
    expect(unauthorized.name).to.equal("Unauthorized");
    expect(unauthorized.args).to.deep.equal({ caller: bob.address, accountId: id });
    expect(unauthorized.message).to.equal(
      `Unauthorized: ${bob.address} is neither the owner nor an operator of account ${id}`,
    );

    const slippage = await revertOf(trade(engine.connect(alice), id, ETH, wad("1"), wad("2999")));
    expect(slippage.name).to.equal("SlippageExceeded");
    expect(slippage.args.acceptablePriceD18).to.equal(wad("2999"));
    expect(slippage.message).to.match(
      /^SlippageExceeded: fill price 3,000\.\d\d is worse than the acceptable price 2,999\.00$/,
    );

    expect((await revertOf(engine.getAccount(99))).message).to.equal(
      "UnknownAccount: account 99 does not exist",
    );

    const collateral = await revertOf(engine.connect(alice).withdraw(id, usd("10001"), alice));
    expect(collateral.name).to.equal("InsufficientCollateral");
    expect(collateral.message).to.equal("InsufficientCollateral: collateral 10,000.00 < requested 10,001.00");
  });

  it("decodes order errors from the engine, the pull feed and Pyth", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice } = d.signers;
    const { engine } = d.contracts;
    await (await engine.setOrderParams({ minDelay: 30, maxDelay: 120, settlementRewardD18: 0n })).wait();
    const client = await clientFor(d, alice);
    const id = await client.createCrossAccount();
    await client.deposit(id, usd("10000"));
    await (await client.commitOrder(id, ETH, wad("1"))).wait();
    const order = await client.getOrder(id, ETH);

    const pending = await revertOf(client.commitOrder(id, ETH, wad("1")));
    expect(pending.message).to.equal(
      `OrderPending: account ${id} already has a pending order in market ${ETH}`,
    );
    const locked = await revertOf(client.withdraw(id, usd("1")));
    expect(locked.message).to.equal(
      `CollateralLockedByOrder: account ${id} has a pending order; no collateral may leave it until the order settles or is cancelled`,
    );
    const early = await revertOf(client.cancelOrder(id, ETH));
    expect(early.name).to.equal("OrderNotExpired");
    expect(early.args.expiryTime).to.equal(order.expiryTime);
    expect(early.message).to.equal(
      `OrderNotExpired: the order can only be cancelled after it expires at ${new Date(Number(order.expiryTime) * 1000).toISOString()}`,
    );

    const { data, fee } = await priceUpdate(engine, ETH, wad("3000"), order.readyTime);
    const notReady = await revertOf(engine.connect(alice).settleOrder(id, ETH, data, { value: fee }));
    expect(notReady.name).to.equal("OrderNotReady");
    expect(notReady.args.readyTime).to.equal(order.readyTime);
    expect(notReady.message).to.match(/^OrderNotReady: the order cannot settle before \d{4}-.*Z/);

    await networkHelpers.time.setNextBlockTimestamp(order.readyTime);
    const unpaid = await revertOf(engine.connect(alice).settleOrder(id, ETH, data, { value: 0n }));
    expect(unpaid.name).to.equal("InsufficientUpdateFee");
    expect(unpaid.values).to.deep.equal([0n, fee]);
    expect(unpaid.message).to.equal(
      `InsufficientUpdateFee: sent 0 wei, the oracle's update fee is ${fee} wei (send it exactly)`,
    );
    // A price published before the order's ready time is not in its window: the Pyth contract refuses it.
    const old = await priceUpdate(engine, ETH, wad("3000"), order.readyTime - 1n);
    const outside = await revertOf(engine.connect(alice).settleOrder(id, ETH, old.data, { value: old.fee }));
    expect(outside.name).to.equal("PriceFeedNotFoundWithinRange");
    expect(outside.message).to.match(/^PriceFeedNotFoundWithinRange: Pyth: /);
  });

  it("decodes liquidation-module errors through the engine's fallback; unknown selectors revert", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, keeper } = d.signers;
    const { engine } = d.contracts;
    const client = await clientFor(d, alice);
    const id = await client.createCrossAccount();
    const notLiquidatable = await revertOf(engine.connect(keeper).liquidate(id, keeper));
    expect(notLiquidatable.name).to.equal("NotLiquidatable");
    expect(notLiquidatable.message).to.contain(`account ${id} is not liquidatable`);

    // The module's dispatcher is the allowlist: a selector neither contract has reverts without data.
    let reverted = false;
    try {
      await keeper.call({ to: await engine.getAddress(), data: "0xdeadbeef" });
    } catch {
      reverted = true;
    }
    expect(reverted).to.equal(true);
  });

  it("decodes OpenZeppelin errors: AccessControl, EnforcedPause, ERC20, vault cooldown and receiver", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { admin, alice, bob, carol } = d.signers;
    const { engine, engineImpl, vault, token } = d.contracts;

    const role = await revertOf(engine.connect(alice).pause());
    expect(role.name).to.equal("AccessControlUnauthorizedAccount");
    expect(role.message).to.equal(`AccessControlUnauthorizedAccount: ${alice.address} lacks PAUSER_ROLE`);
    expect(role.args.neededRole).to.equal(await engineImpl.PAUSER_ROLE());

    const client = await clientFor(d, alice);
    const id = await client.createCrossAccount();
    await client.deposit(id, usd("10000"));
    await engine.connect(admin).pause();
    const paused = await revertOf(trade(engine.connect(alice), id, ETH, wad("1"), wad("4000")));
    expect(paused.name).to.equal("EnforcedPause");
    const vaultPaused = await revertOf(vault.connect(alice).requestDeposit(usd("1"), alice, alice));
    expect(vaultPaused.name).to.equal("DepositsPaused");
    expect(vaultPaused.message).to.equal(
      "DepositsPaused: the engine is paused; vault deposits add risk capacity and wait until it resumes",
    );
    await engine.connect(admin).unpause();

    await token.connect(bob).transfer(carol, usd("10000000"));
    const balance = await revertOf(engine.connect(bob).deposit(id, usd("5")));
    expect(balance.name).to.equal("ERC20InsufficientBalance");
    expect(balance.message).to.equal(`ERC20InsufficientBalance: ${bob.address} has 0.00 tokens, needs 5.00`);

    await vault.connect(alice).requestDeposit(usd("100"), alice, alice);
    const pending = await revertOf(vault.connect(alice).requestDeposit(usd("100"), alice, alice));
    expect(pending.name).to.equal("RequestPending");
    expect(pending.message).to.equal(
      `RequestPending: ${alice.address} already has a pending request of this kind; wait for it to settle or expire`,
    );
    await settleWhenReady(vault);
    const receiver = await revertOf(vault.connect(alice)["deposit(uint256,address)"](usd("100"), bob));
    expect(receiver.name).to.equal("ReceiverMustBeCaller");
    expect(receiver.args).to.deep.equal({ caller: alice.address, receiver: bob.address });
    const preview = await revertOf(vault.previewDeposit(usd("100")));
    expect(preview.name).to.equal("AsyncFlow");

    await vault.connect(alice)["deposit(uint256,address)"](usd("100"), alice);
    const cooldown = await revertOf(vault.connect(alice).transfer(bob, 1n));
    expect(cooldown.name).to.equal("CooldownActive");
    expect(cooldown.args.owner).to.equal(alice.address);
  });

  it("decodes oracle errors (StalePrice) from a view", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    await networkHelpers.time.increase(DAY + 1n);
    const stale = await revertOf(d.contracts.engine.quoteTrade(ETH, wad("1")));
    expect(stale.name).to.equal("StalePrice");
    expect(stale.args.heartbeat).to.equal(DAY);
    expect(stale.message).to.match(
      /^StalePrice: the oracle was last updated at \d{4}-.*Z, older than the heartbeat of 86400 s$/,
    );
  });

  it("decodes Error(string), Panic(uint256) and rejects unknown or empty data", () => {
    const iface = new Interface(["error Error(string)", "error Panic(uint256)"]);
    expect(decodeError(iface.encodeErrorResult("Error", ["boom"]))?.message).to.equal("Error: boom");
    expect(decodeError(iface.encodeErrorResult("Panic", [0x11n]))?.message).to.equal(
      "Panic: arithmetic overflow or underflow",
    );
    expect(
      decodeError("0x12345678" + AbiCoder.defaultAbiCoder().encode(["uint256"], [1n]).slice(2)),
    ).to.equal(undefined);
    expect(decodeError("0x")).to.equal(undefined);
    expect(decodeError(undefined)).to.equal(undefined);
  });

  it("covers every custom error of the protocol's ABIs with a specific message", () => {
    const names = errorInterface.fragments.map((f) => (f as unknown as { name: string }).name);
    for (const name of [
      "InsufficientMargin",
      "AdlNotTriggered",
      "CooldownActive",
      "SequencerDown",
      "SafeERC20FailedOperation",
      "OrderNotReady",
      "CollateralLockedByOrder",
      "PriceOutsideWindow",
      "PriceFeedNotFoundWithinRange",
    ]) {
      expect(names).to.include(name);
    }
    for (const fragment of errorInterface.fragments) {
      const f = fragment as unknown as { name: string; inputs: { type: string }[] };
      const values = f.inputs.map((i) =>
        i.type === "address"
          ? ethers.ZeroAddress
          : i.type === "bool"
            ? false
            : i.type === "string"
              ? "interval"
              : i.type.startsWith("bytes")
                ? "0x" + "00".repeat(i.type === "bytes4" ? 4 : 32)
                : 1n,
      );
      // By fragment: InvalidPrice and StalePrice each have a Chainlink and a Pyth signature.
      const decoded = decodeError(errorInterface.encodeErrorResult(fragment as ErrorFragment, values));
      expect(decoded?.name).to.equal(f.name);
      expect(decoded?.message.startsWith(`${f.name}: `), decoded?.message).to.equal(true);
    }
  });
});
