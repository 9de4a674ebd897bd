/**
 * The keeper's LP request task (keeper/lp-requests.ts): it settles the vault's ERC-7540 requests once they are
 * ready, in one batch at one valuation, waits while nothing is ready (the delay, or a mark not yet republished
 * after the request while a market holds open interest), respects dry-run and the block gas budget, and counts
 * what it settled.
 */
import { expect } from "chai";
import { UNOPTIMIZED, networkHelpers, deployBulkhead, ETH } from "./helpers/fixture.js";
import { feedAnswer, usd, wad } from "./helpers/constants.js";
import { makeKeeper, type Base } from "./helpers/keeper.js";
import { trade } from "./helpers/orders.js";
import { LpRequestTask } from "../keeper/lp-requests.js";
import { loadConfig } from "../keeper/config.js";

const { time } = networkHelpers;

/** Alice holds 10 ETH long (open interest: settlement needs marks published after each request). */
async function withOpenInterest(): Promise<Base> {
  const base = await deployBulkhead();
  const { engine } = base.contracts;
  const { alice } = base.signers;
  await engine.connect(alice).createCrossAccount();
  await engine.connect(alice).deposit(1, usd("100000"));
  await trade(engine.connect(alice), 1n, ETH, wad("10"), wad("3100"));
  return base;
}

function lpKeeper(base: Base, options: { dryRun?: boolean; blockGasBudget?: bigint } = {}) {
  const task = new LpRequestTask({ vault: base.contracts.vault.target as string, maxRequestsPerTx: 10 });
  return makeKeeper(base, { tasks: [task], ...options });
}

describe("keeper: LP request settlement", () => {
  before(function () {
    if (UNOPTIMIZED) this.skip(); // gas estimates assume the optimised build (see test/keeper.ts)
  });

  it("settles ready deposit and redeem requests in one batch once a mark is published after them", async () => {
    const base = await networkHelpers.loadFixture(withOpenInterest);
    const { vault, ethAggregator } = base.contracts;
    const { lp, bob, carol } = base.signers;
    const { keeper, metrics, byMsg } = lpKeeper(base);

    await vault.connect(bob).requestDeposit(usd("1000"), bob, bob);
    await vault.connect(carol).requestDeposit(usd("2000"), carol, carol);
    await time.increase(await vault.cooldown()); // the LP's shares unlock
    await vault.connect(lp).requestRedeem(10n ** 15n, lp, lp);

    // Not ready: within the delay, nothing is sent.
    await keeper.tick();
    expect(byMsg("lp_requests_sent")).to.have.length(0);
    // Past the delay but the ETH and BTC marks predate the requests: the vault will not price them yet.
    await time.increase(await vault.minDelay());
    const waiting = await keeper.tick();
    expect(byMsg("lp_requests_sent")).to.have.length(0);
    expect(waiting.errors).to.equal(0); // waiting is not a failure
    expect(await vault.pendingDepositRequest(0, bob)).to.equal(usd("1000"));

    // Fresh marks (ETH holds the open interest; BTC has none and is not read).
    await ethAggregator.setAnswer(feedAnswer("3000"));
    await keeper.tick();
    expect(byMsg("lp_requests_sent")).to.have.length(1);
    await keeper.tick(); // the receipt comes back
    expect(byMsg("lp_requests_settled")[0]).to.include({ settled: 3 });
    expect(metrics.get("keeper_lp_requests_settled_total")).to.equal(3);
    expect(await vault.claimableDepositRequest(0, bob)).to.equal(usd("1000"));
    expect(await vault.claimableDepositRequest(0, carol)).to.equal(usd("2000"));
    expect(await vault.claimableRedeemRequest(0, lp)).to.equal(10n ** 15n);
    // Nothing left: the next tick sends nothing.
    await keeper.tick();
    expect(byMsg("lp_requests_sent")).to.have.length(1);
  });

  it("in dry-run only logs the batch, and defers it when the block gas budget has no room", async () => {
    const base = await networkHelpers.loadFixture(withOpenInterest);
    const { vault, ethAggregator } = base.contracts;
    const { bob } = base.signers;
    await vault.connect(bob).requestDeposit(usd("1000"), bob, bob);
    await time.increase(await vault.minDelay());
    await ethAggregator.setAnswer(feedAnswer("3000"));

    const dry = lpKeeper(base, { dryRun: true });
    await dry.keeper.tick();
    expect(dry.byMsg("lp_requests_dry_run")[0]).to.include({ processed: "1" });
    const tight = lpKeeper(base, { blockGasBudget: 50_000n });
    await tight.keeper.tick();
    expect(tight.byMsg("lp_requests_deferred")).to.have.length(1);
    expect(await vault.pendingDepositRequest(0, bob)).to.equal(usd("1000"));
  });

  it("is on by default and configurable (KEEPER_SETTLE_LP_REQUESTS, KEEPER_LP_REQUESTS_PER_TX)", () => {
    const base = { engine: "0x0000000000000000000000000000000000000001" };
    expect(loadConfig({}, [], base)).to.include({ settleLpRequests: true, lpRequestsPerTx: 50 });
    expect(
      loadConfig({ KEEPER_SETTLE_LP_REQUESTS: "false", KEEPER_LP_REQUESTS_PER_TX: "7" }, [], base),
    ).to.include({ settleLpRequests: false, lpRequestsPerTx: 7 });
    expect(() => loadConfig({ KEEPER_LP_REQUESTS_PER_TX: "0" }, [], base)).to.throw(/lpRequestsPerTx/);
  });
});
