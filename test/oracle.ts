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

  it("reports the round's updatedAt as the publish time", async function () {
    const { contracts } = await loadFixture(deployFeeds);
    const [, , , updatedAt] = await contracts.aggregator.latestRoundData();
    expect(await contracts.feed.latestPriceData()).to.deep.equal([PRICE_D18, updatedAt]);
  });

  describe("circuit breaker: answers at the aggregator's minAnswer/maxAnswer clamp", function () {
    const MIN_ANSWER = 10n ** 8n; // 1 USD
    const MAX_ANSWER = 100_000n * 10n ** 8n;

    /** An aggregator exposing bounds, read directly and through a Chainlink-style proxy. */
    async function deployBounded() {
      const aggregator = await ethers.deployContract("MockAggregatorV3", [AGGREGATOR_DECIMALS]);
      await aggregator.setAnswerBounds(MIN_ANSWER, MAX_ANSWER);
      await aggregator.setAnswer(PRICE);
      const proxy = await ethers.deployContract("MockAggregatorProxy", [aggregator]);
      const direct = await ethers.deployContract("ChainlinkPriceFeed", [
        aggregator,
        HEARTBEAT,
        ethers.ZeroAddress,
        0,
      ]);
      const proxied = await ethers.deployContract("ChainlinkPriceFeed", [
        proxy,
        HEARTBEAT,
        ethers.ZeroAddress,
        0,
      ]);
      return { aggregator, direct, proxied };
    }

    it("reads the bounds from the aggregator, or from the aggregator behind a proxy", async function () {
      const { direct, proxied } = await loadFixture(deployBounded);
      for (const feed of [direct, proxied]) {
        expect([await feed.minAnswer(), await feed.maxAnswer()]).to.deep.equal([MIN_ANSWER, MAX_ANSWER]);
      }
    });

    it("rejects an answer at either bound or beyond it, and accepts one unit inside", async function () {
      const { aggregator, direct, proxied } = await loadFixture(deployBounded);
      for (const answer of [MIN_ANSWER, MAX_ANSWER, MAX_ANSWER + 1n]) {
        await aggregator.setAnswer(answer);
        for (const feed of [direct, proxied]) {
          await expect(feed.latestPrice())
            .to.be.revertedWithCustomError(feed, "AnswerAtCircuitBreaker")
            .withArgs(answer, MIN_ANSWER, MAX_ANSWER);
        }
      }
      for (const answer of [MIN_ANSWER + 1n, MAX_ANSWER - 1n]) {
        await aggregator.setAnswer(answer);
        expect(await direct.latestPrice()).to.equal(answer * 10n ** 10n);
        expect(await proxied.latestPrice()).to.equal(answer * 10n ** 10n);
      }
    });

    it("an answer below minAnswer is refused too (only a misbehaving aggregator reports one)", async function () {
      const { aggregator, direct } = await loadFixture(deployBounded);
      await aggregator.setAnswer(MIN_ANSWER - 1n);
      await expect(direct.latestPriceData())
        .to.be.revertedWithCustomError(direct, "AnswerAtCircuitBreaker")
        .withArgs(MIN_ANSWER - 1n, MIN_ANSWER, MAX_ANSWER);
    });

    it("a source that exposes no bounds has no clamp: only answer > 0 applies", async function () {
      const { contracts } = await loadFixture(deployFeeds);
      expect([await contracts.feed.minAnswer(), await contracts.feed.maxAnswer()]).to.deep.equal([
        0n,
        2n ** 255n - 1n,
      ]);
    });

    it("the constructor refuses bounds with maxAnswer <= minAnswer", async function () {
      const { contracts } = await loadFixture(deployFeeds);
      const aggregator = await ethers.deployContract("MockAggregatorV3", [AGGREGATOR_DECIMALS]);
      await aggregator.setAnswerBounds(MIN_ANSWER, MIN_ANSWER);
      const factory = await ethers.getContractFactory("ChainlinkPriceFeed");
      await expect(factory.deploy(aggregator, HEARTBEAT, ethers.ZeroAddress, 0))
        .to.be.revertedWithCustomError(contracts.feed, "InvalidAnswerBounds")
        .withArgs(MIN_ANSWER, MIN_ANSWER);
    });
  });
});
