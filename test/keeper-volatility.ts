/**
 * The keeper's volatility task (keeper/volatility.ts): it starts and pokes the estimator once per interval, syncs
 * the engine whenever its multipliers lag the oracle's (so a volatility rise reaches initial margin within a tick),
 * leaves unconfigured markets alone, respects dry-run and the block gas budget, and loses races quietly.
 */
import { expect } from "chai";
import {
  UNOPTIMIZED,
  networkHelpers,
  deployBulkhead,
  ethers,
  ETH,
  BTC,
  withVolatilityOracle,
} from "./helpers/fixture.js";
import { feedAnswer } from "./helpers/constants.js";
import { makeKeeper, type Base } from "./helpers/keeper.js";
import { VolatilityTask, quantise } from "../keeper/volatility.js";
import { loadConfig } from "../keeper/config.js";

const { time } = networkHelpers;
const HOUR = 3600;
const WAD = 10n ** 18n;

/** The fixture with a volatility oracle configured for ETH only (BTC keeps multipliers of 1). */
async function withOracle() {
  return withVolatilityOracle(await deployBulkhead());
}

function volKeeper(
  base: Base & { oracle: { target: unknown } },
  options: { dryRun?: boolean; blockGasBudget?: bigint } = {},
  checkEverySeconds?: number,
) {
  const task = new VolatilityTask({ oracle: base.oracle.target as string, checkEverySeconds });
  return makeKeeper(base, { tasks: [task], ...options });
}

describe("keeper: volatility upkeep", () => {
  before(function () {
    if (UNOPTIMIZED) this.skip(); // gas estimates assume the optimised build (see test/keeper.ts)
  });

  it("quantise matches the engine's rounding to 1/64 (up), capped at 1 + 255/64", () => {
    expect(quantise(WAD)).to.equal(WAD);
    expect(quantise(WAD - 1n)).to.equal(WAD);
    expect(quantise(WAD + 1n)).to.equal(WAD + WAD / 64n);
    expect(quantise(WAD + WAD / 64n)).to.equal(WAD + WAD / 64n);
    expect(quantise(WAD + WAD / 64n + 1n)).to.equal(WAD + (2n * WAD) / 64n);
    expect(quantise(100n * WAD)).to.equal(WAD + (255n * WAD) / 64n);
  });

  it("starts the estimator, pokes once per interval, and syncs the engine after a volatile sample", async () => {
    const base = await networkHelpers.loadFixture(withOracle);
    const { engine, ethAggregator } = base.contracts;
    const { oracle } = base;
    const { keeper, metrics, byMsg } = volKeeper(base);

    // Never sampled: the first tick starts ETH's estimator (BTC is not configured: nothing for it).
    await keeper.tick();
    expect(byMsg("volatility_sent").map((l) => [l.marketId, l.action])).to.deep.equal([[ETH, "poke"]]);
    await keeper.tick(); // the receipt; multipliers are still 1 on both sides: nothing to sync
    expect(metrics.get("keeper_volatility_pokes_total")).to.equal(1);
    expect((await oracle.state(ETH)).lastSample).to.not.equal(0n);
    expect(byMsg("volatility_sent")).to.have.length(1);

    // Within the interval: nothing is due.
    await time.increase(HOUR / 2);
    await keeper.tick();
    expect(byMsg("volatility_sent")).to.have.length(1);

    // A 10% move, one interval later: the keeper samples it, then copies the risen multipliers into the engine.
    await ethAggregator.setAnswer(feedAnswer("3300"));
    await time.increase(HOUR / 2);
    await keeper.tick();
    expect(byMsg("volatility_sent").map((l) => l.action)).to.deep.equal(["poke", "poke"]);
    const im = await oracle.imMultiplier(ETH);
    expect(im).to.be.gt(WAD);
    await keeper.tick(); // the poke's receipt, then the sync
    expect(byMsg("volatility_sent").map((l) => l.action)).to.deep.equal(["poke", "poke", "sync"]);
    await keeper.tick(); // the sync's receipt
    expect(metrics.get("keeper_volatility_pokes_total")).to.equal(2);
    expect(metrics.get("keeper_volatility_syncs_total")).to.equal(1);
    const state = await engine.getMarketState(ETH);
    expect(state.imVolMultiplierD18).to.equal(quantise(im));
    expect(state.imVolMultiplierD18).to.be.gt(WAD);
    // MM lags IM: after one volatile sample it is still below (or at) IM.
    expect(state.mmVolMultiplierD18).to.be.lte(state.imVolMultiplierD18);
    expect(state.mmVolMultiplierD18).to.equal(quantise(await oracle.mmMultiplier(ETH)));
    expect((await engine.getMarketState(BTC)).imVolMultiplierD18).to.equal(WAD);

    // In step: the next tick sends nothing.
    await keeper.tick();
    expect(byMsg("volatility_sent")).to.have.length(3);
  });

  it("loses a race quietly: another caller poked first; in dry-run and without budget it sends nothing", async () => {
    const base = await networkHelpers.loadFixture(withOracle);
    const { oracle } = base;
    await oracle.poke(ETH); // someone else started it
    await time.increase(HOUR);

    const dry = volKeeper(base, { dryRun: true });
    await dry.keeper.tick();
    expect(dry.byMsg("volatility_dry_run").map((l) => l.action)).to.deep.equal(["poke"]);
    const tight = volKeeper(base, { blockGasBudget: 30_000n });
    await tight.keeper.tick();
    expect(tight.byMsg("volatility_deferred")).to.have.length(1);
    expect(tight.byMsg("volatility_sent")).to.have.length(0);

    // The keeper's head says a poke is due, but another caller's poke lands first: the simulation refuses it.
    const { keeper, byMsg } = volKeeper(base);
    await ethers.provider.send("evm_setAutomine", [false]);
    try {
      await oracle.poke(ETH); // in the mempool, mined with the keeper's view of the previous head
      await keeper.tick();
    } finally {
      await ethers.provider.send("evm_setAutomine", [true]);
    }
    expect(byMsg("volatility_not_ready").map((l) => l.error)).to.deep.equal(["TooEarly"]);
    expect(byMsg("volatility_sent")).to.have.length(0);
  });

  it("between samples it reads a quiet market every checkEverySeconds, and syncs at once after another's poke", async () => {
    const base = await networkHelpers.loadFixture(withOracle);
    const { oracle } = base;
    const { ethAggregator } = base.contracts;
    await oracle.poke(ETH); // started by someone else
    const { keeper, byMsg } = volKeeper(base, {}, 30);
    await keeper.tick(); // nothing due
    await time.increase(60);
    await keeper.tick(); // read again, still nothing
    expect(byMsg("volatility_sent")).to.have.length(0);
    // Someone else samples a 10% move when it falls due (the end of the quiet period is never later than that):
    // the keeper's next tick finds the engine lagging and syncs it.
    await ethAggregator.setAnswer(feedAnswer("3300"));
    await time.setNextBlockTimestamp((await oracle.state(ETH)).lastSample + BigInt(HOUR));
    await oracle.poke(ETH);
    await keeper.tick();
    expect(byMsg("volatility_sent").map((l) => l.action)).to.deep.equal(["sync"]);
  });

  it("is on by default and can be turned off (KEEPER_VOLATILITY_UPKEEP)", () => {
    const base = { engine: "0x0000000000000000000000000000000000000001" };
    expect(loadConfig({}, [], base)).to.include({ volatilityUpkeep: true });
    expect(loadConfig({ KEEPER_VOLATILITY_UPKEEP: "false" }, [], base)).to.include({
      volatilityUpkeep: false,
    });
  });
});
