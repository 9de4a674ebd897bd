import { expect } from "chai";
import { network } from "hardhat";
import type { MockAggregatorV3 } from "../types/ethers-contracts/index.js";

const { ethers, networkHelpers } = await network.getOrCreate();
const { time, loadFixture } = networkHelpers;

const AGGREGATOR_DECIMALS = 8;
const HEARTBEAT = 3_600n;
const GRACE_PERIOD = 3_600n;
const PRICE = 2_000n * 10n ** 8n;
const PRICE_D18 = 2_000n * 10n ** 18n;
const SEQUENCER_UP = 0n;
const SEQUENCER_DOWN = 1n;

/** Writes a new sequencer-uptime round whose status began at `startedAt`. */
async function setSequencer(sequencer: MockAggregatorV3, status: bigint, startedAt: bigint) {
  const roundId = (await sequencer.latestRoundId()) + 1n;
  await sequencer.setRoundData(roundId, status, startedAt, startedAt, roundId);
}

/** An 8-decimal aggregator read by a plain feed and by an L2 feed whose sequencer is up past its grace. */
async function deployFeeds() {
  const aggregator = await ethers.deployContract("MockAggregatorV3", [AGGREGATOR_DECIMALS]);
  const sequencer = await ethers.deployContract("MockAggregatorV3", [0]);
  await aggregator.setAnswer(PRICE);
  await setSequencer(sequencer, SEQUENCER_UP, BigInt(await time.latest()) - GRACE_PERIOD - 1n);
  const feed = await ethers.deployContract("ChainlinkPriceFeed", [
    aggregator,
    HEARTBEAT,
    ethers.ZeroAddress,
    0n,
  ]);
  const l2Feed = await ethers.deployContract("ChainlinkPriceFeed", [
    aggregator,
    HEARTBEAT,
    sequencer,
    GRACE_PERIOD,
  ]);
  return { contracts: { aggregator, sequencer, feed, l2Feed } };
}

describe("ChainlinkPriceFeed", function () {
  it("returns the answer normalised to 18 decimals", async function () {
    const { contracts } = await loadFixture(deployFeeds);
    expect(await contracts.feed.latestPrice()).to.equal(PRICE_D18);
    expect(await contracts.l2Feed.latestPrice()).to.equal(PRICE_D18);
    expect(await contracts.feed.decimals()).to.equal(AGGREGATOR_DECIMALS);
  });

  it("rejects an answer older than the heartbeat", async function () {
    const { contracts } = await loadFixture(deployFeeds);
    const [, , , updatedAt] = await contracts.aggregator.latestRoundData();
    await time.increaseTo(updatedAt + HEARTBEAT + 1n);
    await expect(contracts.feed.latestPrice())
      .to.be.revertedWithCustomError(contracts.feed, "StalePrice")
      .withArgs(updatedAt, HEARTBEAT);
  });

  it("rejects zero and negative answers", async function () {
    const { contracts } = await loadFixture(deployFeeds);
    for (const answer of [0n, -1n]) {
      await contracts.aggregator.setAnswer(answer);
      await expect(contracts.feed.latestPrice())
        .to.be.revertedWithCustomError(contracts.feed, "InvalidPrice")
        .withArgs(answer);
    }
  });

  it("rejects prices while the sequencer is down", async function () {
    const { contracts } = await loadFixture(deployFeeds);
    await setSequencer(contracts.sequencer, SEQUENCER_DOWN, BigInt(await time.latest()));
    await expect(contracts.l2Feed.latestPrice()).to.be.revertedWithCustomError(
      contracts.l2Feed,
      "SequencerDown",
    );
    expect(await contracts.feed.latestPrice()).to.equal(PRICE_D18);
  });

  it("rejects prices until the grace period after a restart is over", async function () {
    const { contracts } = await loadFixture(deployFeeds);
    const restartedAt = BigInt(await time.latest());
    await setSequencer(contracts.sequencer, SEQUENCER_UP, restartedAt);
    await expect(contracts.l2Feed.latestPrice())
      .to.be.revertedWithCustomError(contracts.l2Feed, "SequencerGracePeriodNotOver")
      .withArgs(restartedAt, GRACE_PERIOD);

    await time.increaseTo(restartedAt + GRACE_PERIOD + 1n);
    await contracts.aggregator.setAnswer(PRICE);
    expect(await contracts.l2Feed.latestPrice()).to.equal(PRICE_D18);
  });
});
