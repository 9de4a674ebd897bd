/**
 * Previews know who sends: a wallet that is neither the account's owner nor an operator gets the engine's
 * `Unauthorized` verdict from the preview, instead of an OK preview and a reverting commit.
 */
import { expect } from "chai";

import { networkHelpers, deployBulkhead, ETH, BTC } from "../helpers/fixture.js";
import { usd, wad } from "../helpers/constants.js";
import { decodeRevert } from "../../sdk/errors.js";
import {
  previewOpenIsolated,
  previewSettlement,
  previewTrade,
  previewTransferMargin,
  previewWithdraw,
} from "../../sdk/preview.js";
import { clientFor, type Deployment } from "./harness.js";

/** Alice's funded cross account (id 1) and a second one (id 2), with clients for alice, bob and a bare provider. */
async function aliceAccount(d: Deployment) {
  const { alice, bob } = d.signers;
  const a = await clientFor(d, alice);
  const b = await clientFor(d, bob);
  const id = await a.createCrossAccount();
  const second = await a.createCrossAccount();
  await (await a.deposit(id, usd("10000"))).wait();
  const readOnly = a.connect(alice.provider!);
  return { a, b, readOnly, id, second };
}

describe("SDK previews check the sender's authorization", () => {
  it("previewOrder from a stranger's signer says Unauthorized, as the commit then reverts", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { bob } = d.signers;
    const { a, b, id } = await aliceAccount(d);

    const mine = await a.previewOrder(id, ETH, wad("1"));
    expect(mine.allowed).to.equal(true);
    expect(mine.message).to.equal(undefined);

    const theirs = await b.previewOrder(id, ETH, wad("1"));
    expect(theirs.allowed).to.equal(false);
    expect(theirs.reason).to.equal("Unauthorized");
    expect(theirs.error).to.deep.equal({ name: "Unauthorized", args: [bob.address, id] });
    expect(theirs.message).to.equal(
      `Unauthorized: ${bob.address} is neither the owner nor an operator of account ${id}`,
    );
    expect(theirs.after).to.deep.equal(theirs.before);

    // The chain agrees, with the same error and arguments.
    let reverted;
    try {
      await b.commitOrder(id, ETH, wad("1"));
    } catch (e) {
      reverted = decodeRevert(e);
    }
    expect(reverted?.name).to.equal("Unauthorized");
    expect(reverted?.values).to.deep.equal([bob.address, id]);
    expect(reverted?.message).to.equal(theirs.message);
  });

  it("takes an explicit `from` over the signer, and skips the check when no sender is known", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, bob } = d.signers;
    const { a, readOnly, id } = await aliceAccount(d);

    expect(await readOnly.senderFor(id)).to.equal(undefined);
    expect((await readOnly.previewOrder(id, ETH, wad("1"))).allowed).to.equal(true);
    const fromBob = await readOnly.previewOrder(id, ETH, wad("1"), { from: bob.address.toLowerCase() });
    expect(fromBob.reason).to.equal("Unauthorized");
    expect(fromBob.error?.args).to.deep.equal([bob.address, id]);
    expect(await readOnly.senderFor(id, { from: alice.address })).to.deep.equal({
      address: alice.address,
      authorized: true,
    });
    // Alice's signer previewing as bob: the explicit sender wins.
    expect((await a.previewOrder(id, ETH, wad("1"), { from: bob.address })).reason).to.equal("Unauthorized");
  });

  it("an operator (of all the owner's accounts, or of one) is authorized, in the preview and on chain", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, bob, carol } = d.signers;
    const { a, b, id, second } = await aliceAccount(d);
    await (await a.deposit(second, usd("5000"))).wait();
    const engine = d.contracts.engine;

    await (await engine.connect(alice).setAccountOperator(id, bob, true)).wait();
    expect(await b.senderFor(id)).to.deep.equal({ address: bob.address, authorized: true });
    expect(await b.senderFor(second)).to.deep.equal({ address: bob.address, authorized: false });
    const p = await b.previewOrder(id, ETH, wad("1"));
    expect(p.allowed).to.equal(true);
    await (await b.commitOrder(id, ETH, wad("1"))).wait();
    expect((await b.getOrder(id, ETH)).status).to.not.equal("none");

    const c = await clientFor(d, carol);
    expect((await c.previewOrder(second, BTC, wad("0.01"))).reason).to.equal("Unauthorized");
    await (await engine.connect(alice).setOperator(carol, true)).wait();
    expect((await c.previewOrder(second, BTC, wad("0.01"))).allowed).to.equal(true);
  });

  it("the pure previews refuse an unauthorized sender first, in the engine's order of checks", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { bob } = d.signers;
    const { a, id, second } = await aliceAccount(d);
    const snap = await a.getProtocolSnapshot();
    const acct = await a.getAccountSnapshot(id);
    const other = await a.getAccountSnapshot(second);
    const stranger = { address: bob.address, authorized: false };
    const operator = { address: bob.address, authorized: true };
    const unauthorized = { name: "Unauthorized", args: [bob.address, id] };

    // Checked before anything else: even a zero amount or an oversized trade reports Unauthorized.
    expect(previewWithdraw(snap, acct, 0n, snap.timestamp, stranger).error).to.deep.equal(unauthorized);
    expect(previewWithdraw(snap, acct, usd("1"), snap.timestamp, operator).allowed).to.equal(true);
    expect(previewWithdraw(snap, acct, usd("1"), snap.timestamp).allowed).to.equal(true);
    expect(previewTransferMargin(snap, acct, other, wad("1"), snap.timestamp, stranger).error).to.deep.equal(
      unauthorized,
    );
    expect(
      previewTrade(snap, acct, ETH, wad("1000"), undefined, snap.timestamp, stranger).error,
    ).to.deep.equal(unauthorized);
    expect(previewTrade(snap, acct, ETH, wad("1000"), undefined, snap.timestamp, operator).reason).to.equal(
      "InsufficientMargin",
    );
    const order = { sizeDeltaD18: wad("1"), acceptablePriceD18: wad("4000") };
    const price = snap.markets.get(ETH)!.priceD18;
    expect(
      previewSettlement(snap, acct, ETH, order, price, 0n, snap.timestamp, stranger).error,
    ).to.deep.equal(unauthorized);
    expect(previewSettlement(snap, acct, ETH, order, price, 0n, snap.timestamp, operator).allowed).to.equal(
      true,
    );
    // Opening an isolated account from the wallet needs no authorization; from a cross account it does.
    const fromWallet = previewOpenIsolated(snap, bob.address, ETH, usd("1000"), wad("1"), {
      sender: stranger,
    });
    expect(fromWallet.allowed).to.equal(true);
    const fromAccount = previewOpenIsolated(snap, bob.address, ETH, usd("1000"), wad("1"), {
      source: acct,
      sender: stranger,
    });
    expect(fromAccount.error).to.deep.equal(unauthorized);
  });
});
