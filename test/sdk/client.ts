/** BulkheadClient: reads, write helpers and scans against the fixture. */
import { expect } from "chai";

import { networkHelpers, deployBulkhead, ETH, BTC } from "../helpers/fixture.js";
import { usd, wad, feedAnswer, TOKEN_SCALE } from "../helpers/constants.js";
import { acceptablePrice } from "../../sdk/client.js";
import { previewTrade } from "../../sdk/preview.js";
import { clientFor, orderCloseIsolated, orderOpenIsolated, settleAtReady } from "./harness.js";

describe("BulkheadClient", () => {
  it("bounds the acceptable price by the tolerance, against the trader", () => {
    expect(acceptablePrice(wad("3000"), wad("1"), 50n)).to.equal(wad("3015"));
    expect(acceptablePrice(wad("3000"), -wad("1"), 50n)).to.equal(wad("2985"));
    expect(acceptablePrice(3n, 1n, 1n)).to.equal(4n); // buying rounds the bound up
  });

  it("reads snapshots, finds accounts by owner and trades (an order settled one delay later) within the quoted bound", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, bob } = d.signers;
    const a = await clientFor(d, alice);
    const b = await clientFor(d, bob);
    const cross = await a.createCrossAccount();
    const other = await b.createCrossAccount();
    const second = await a.createCrossAccount();
    expect(await a.accountsOf(alice.address)).to.deep.equal([cross, second]);
    expect(await a.accountsOf(bob.address)).to.deep.equal([other]);
    expect(await a.allAccounts()).to.deep.equal([cross, other, second]);

    await a.deposit(cross, usd("50000"));
    const snap = await a.getProtocolSnapshot();
    expect(snap.tokenScale).to.equal(TOKEN_SCALE);
    expect(snap.markets.get(ETH)!.priceD18).to.equal(wad("3000"));
    expect(snap.markets.get(BTC)!.priceD18).to.equal(wad("60000"));
    expect(snap.paused).to.equal(false);

    const acct = await a.getAccountSnapshot(cross);
    // Committed 10 s after the snapshot, settled one minimum delay later at the (unchanged) mark: the commit
    // changes no state, so the trade previewed at the settlement's time is what the settlement does.
    const { minDelay } = await a.getOrderParams();
    const settledAt = snap.timestamp + 10n + minDelay;
    const preview = previewTrade(snap, acct, ETH, wad("5"), undefined, settledAt);
    await networkHelpers.time.setNextBlockTimestamp(snap.timestamp + 10n);
    await (await a.commitOrder(cross, ETH, wad("5"), { toleranceBps: 10n })).wait();
    const order = await a.getOrder(cross, ETH);
    expect(order.status).to.equal("waiting");
    expect(order.readyTime).to.equal(settledAt);
    expect(order.acceptablePriceD18).to.equal(await a.acceptablePriceFor(ETH, wad("5"), 10n));
    expect((await a.pendingOrders()).map((o) => [o.accountId, o.marketId])).to.deep.equal([[cross, ETH]]);
    await settleAtReady(a, cross, ETH);
    expect((await a.getOrder(cross, ETH)).status).to.equal("none");
    expect(await a.pendingOrders()).to.deep.equal([]);
    const view = await a.getAccountView(cross);
    expect(await a.viewTimestamp()).to.equal(settledAt);
    expect(view.summary).to.deep.equal(preview.after.summary);
    expect(view.positions).to.deep.equal(preview.result!.account.positions);

    await (await a.transferMargin(cross, second, wad("1000"))).wait();
    expect((await a.getAccount(second)).collateralD18).to.equal(wad("1000"));
    const before = await d.contracts.token.balanceOf(alice);
    await (await a.withdraw(second, usd("400"))).wait();
    expect(await d.contracts.token.balanceOf(alice)).to.equal(before + usd("400"));
  });

  it("opens and closes isolated positions, and scans for liquidatable accounts", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { alice, keeper } = d.signers;
    const a = await clientFor(d, alice);
    const k = await clientFor(d, keeper);
    const { accountId: safe } = await orderOpenIsolated(a, BTC, usd("20000"), wad("0.1"));
    const { accountId: risky } = await orderOpenIsolated(a, ETH, usd("1000"), wad("10"));
    expect((await a.getAccount(risky)).isolated).to.equal(true);
    expect(await k.liquidatable([safe, risky])).to.deep.equal([]);

    await d.contracts.ethAggregator.setAnswer(feedAnswer("2900"));
    const found = await k.liquidatable([safe, risky, 999n]);
    expect(found.map((f) => f.accountId)).to.deep.equal([risky]);
    expect(found[0].quote).to.deep.equal(await k.quoteLiquidation(risky));
    await (await k.liquidate(risky)).wait();
    expect((await a.getPositions(risky)).length).to.equal(0);

    const balance = await d.contracts.token.balanceOf(alice);
    const collateral = (await a.computeSummary(safe)).collateralD18;
    await orderCloseIsolated(a, safe);
    expect((await a.getPositions(safe)).length).to.equal(0);
    const left = (await a.getAccount(safe)).collateralD18;
    expect(left < TOKEN_SCALE && left >= 0n).to.equal(true);
    expect((await d.contracts.token.balanceOf(alice)) > balance).to.equal(true);
    expect(collateral > 0n).to.equal(true);
  });

  it("requests a vault deposit, settles and claims it, then redeems the same way after the cooldown", async () => {
    const d = await networkHelpers.loadFixture(deployBulkhead);
    const { carol } = d.signers;
    const { vault, token } = d.contracts;
    const c = await clientFor(d, carol);
    await (await c.vaultRequestDeposit(usd("1000"))).wait();
    let r = await c.vaultRequests(carol.address);
    expect(r.pendingDeposit.assets).to.equal(usd("1000"));
    expect(r.pendingDeposit.readyAt).to.equal(
      BigInt(await networkHelpers.time.latest()) + (await vault.minDelay()),
    );
    expect(await c.vaultClaim()).to.deep.equal([]); // nothing settled yet
    await networkHelpers.time.increase(await vault.minDelay());
    await (await c.vaultSettleRequests()).wait();
    r = await c.vaultRequests(carol.address);
    expect(r.pendingDeposit.assets).to.equal(0n);
    const shares = r.claimableDepositShares;
    expect(shares > 0n).to.equal(true);
    expect(await c.vaultClaim()).to.have.length(1);
    expect(await vault.balanceOf(carol)).to.equal(shares);

    await networkHelpers.time.increase(3601);
    await (await c.vaultRequestRedeem(shares)).wait();
    expect((await c.vaultRequests(carol.address)).pendingRedeem.shares).to.equal(shares);
    await networkHelpers.time.increase(await vault.minDelay());
    await (await c.vaultSettleRequests()).wait();
    const assets = (await c.vaultRequests(carol.address)).claimableRedeemAssets;
    expect(assets > usd("997") && assets < usd("1000")).to.equal(true); // the entry and exit fees (10 bps each)
    const before = await token.balanceOf(carol);
    await c.vaultClaim();
    expect(await token.balanceOf(carol)).to.equal(before + assets);
  });
});
