import { expect } from "chai";
import { network } from "hardhat";
import type { MockPyth, PythPriceFeed } from "../types/ethers-contracts/index.js";

const { ethers, networkHelpers } = await network.getOrCreate();
const { time, loadFixture } = networkHelpers;

const ETH_ID = ethers.id("ETH/USD");
const BTC_ID = ethers.id("BTC/USD");
const EXPO = -8n;
const PRICE = 2_000n * 10n ** 8n;
const PRICE_D18 = 2_000n * 10n ** 18n;
const CONF = 10n ** 8n; // 1 USD: 5 bps of the price
const MAX_AGE = 60n;
const MAX_CONF_BPS = 50n;
const UPDATE_FEE = 10n ** 9n;
const REFUND_MODE = { Accept: 0, Reject: 1, Reenter: 2 } as const;

/** One signed update (MockPyth's format) for `id` at `publishTime`, its previous update at `prevPublishTime`. */
async function update(
  pyth: MockPyth,
  {
    id = ETH_ID,
    price = PRICE,
    conf = CONF,
    expo = EXPO,
    publishTime,
    prevPublishTime = 0n,
  }: {
    id?: string;
    price?: bigint;
    conf?: bigint;
    expo?: bigint;
    publishTime: bigint;
    prevPublishTime?: bigint;
  },
) {
  return pyth.createPriceFeedUpdateData(id, price, conf, expo, price, conf, publishTime, prevPublishTime);
}

/** Stores `price * 10^expo` (conf as given) as the latest ETH price, published now. */
async function publish(pyth: MockPyth, price = PRICE, expo = EXPO, conf = CONF) {
  const publishTime = BigInt(await time.latest()) + 1n;
  const data = await update(pyth, { price, expo, conf, publishTime });
  await pyth.updatePriceFeeds([data], { value: UPDATE_FEE });
  return publishTime;
}

/** MockPyth (fee 1 gwei per update) with a fresh ETH price; the adapter (60 s, 50 bps) and a contract caller. */
async function deployPyth() {
  const [owner, keeper, stranger] = await ethers.getSigners();
  const pyth = await ethers.deployContract("MockPyth", [MAX_AGE, UPDATE_FEE]);
  const feed = await ethers.deployContract("PythPriceFeed", [pyth, ETH_ID, owner, MAX_AGE, MAX_CONF_BPS]);
  const caller = await ethers.deployContract("PullFeedCaller");
  const publishTime = await publish(pyth);
  return { signers: { owner, keeper, stranger }, contracts: { pyth, feed, caller }, publishTime };
}

/** Expects `feed.latestPrice()` to revert with `error(...args)` after storing the given raw price. */
async function expectLatestRejected(
  pyth: MockPyth,
  feed: PythPriceFeed,
  [price, expo, conf]: [bigint, bigint, bigint],
  error: string,
  args: unknown[],
) {
  await publish(pyth, price, expo, conf);
  await expect(feed.latestPrice())
    .to.be.revertedWithCustomError(feed, error)
    .withArgs(...args);
}

describe("PythPriceFeed", function () {
  describe("latestPrice and latestPriceData (the stored price)", function () {
    it("normalise the price to 18 decimals and report its publish time", async function () {
      const { contracts, publishTime } = await loadFixture(deployPyth);
      expect(await contracts.feed.latestPrice()).to.equal(PRICE_D18);
      expect(await contracts.feed.latestPriceData()).to.deep.equal([PRICE_D18, publishTime]);
    });

    it("normalise every exponent in [-36, 18], rounding down below -18", async function () {
      const { contracts } = await loadFixture(deployPyth);
      const INT64_MAX = 2n ** 63n - 1n;
      // [price, expo, expected D18]; confidence 0 so only the scaling is under test.
      const cases: [bigint, bigint, bigint][] = [
        [2_000n, 0n, PRICE_D18],
        [2n, 3n, PRICE_D18],
        [2_000n * 10n ** 15n, -15n, PRICE_D18],
        [5n * 10n ** 18n, -18n, 5n * 10n ** 18n],
        [5n * 10n ** 18n + 99n, -20n, 5n * 10n ** 16n], // (5e18 + 99) / 100: the 0.99 is dropped
        [123_456_789n, -20n, 1_234_567n],
        [10n ** 18n, -36n, 1n], // the smallest normalisable price: 1 wei
        [INT64_MAX, 18n, INT64_MAX * 10n ** 36n], // the largest: no overflow
      ];
      for (const [price, expo, expected] of cases) {
        await publish(contracts.pyth, price, expo, 0n);
        expect(await contracts.feed.latestPrice(), `${price}e${expo}`).to.equal(expected);
      }
    });

    it("reject exponents outside [-36, 18], and prices that normalise to zero", async function () {
      const { contracts } = await loadFixture(deployPyth);
      const { pyth, feed } = contracts;
      await expectLatestRejected(pyth, feed, [PRICE, -37n, 0n], "InvalidExponent", [-37n]);
      await expectLatestRejected(pyth, feed, [PRICE, 19n, 0n], "InvalidExponent", [19n]);
      await expectLatestRejected(pyth, feed, [10n ** 18n - 1n, -36n, 0n], "InvalidPrice", [
        10n ** 18n - 1n,
        -36n,
      ]);
    });

    it("reject zero and negative prices", async function () {
      const { contracts } = await loadFixture(deployPyth);
      for (const price of [0n, -1n, -PRICE]) {
        await expectLatestRejected(contracts.pyth, contracts.feed, [price, EXPO, 0n], "InvalidPrice", [
          price,
          EXPO,
        ]);
      }
    });

    it("accept a confidence of exactly maxConfidenceBps and reject one unit wider", async function () {
      const { contracts } = await loadFixture(deployPyth);
      const atBound = (PRICE * MAX_CONF_BPS) / 10_000n;
      await publish(contracts.pyth, PRICE, EXPO, atBound);
      expect(await contracts.feed.latestPrice()).to.equal(PRICE_D18);
      await expectLatestRejected(
        contracts.pyth,
        contracts.feed,
        [PRICE, EXPO, atBound + 1n],
        "ConfidenceTooWide",
        [atBound + 1n, PRICE, MAX_CONF_BPS],
      );
    });

    it("accept a price exactly maxAge old and reject it one second later", async function () {
      const { contracts, publishTime } = await loadFixture(deployPyth);
      await time.increaseTo(publishTime + MAX_AGE);
      expect(await contracts.feed.latestPrice()).to.equal(PRICE_D18);
      await time.increaseTo(publishTime + MAX_AGE + 1n);
      await expect(contracts.feed.latestPrice())
        .to.be.revertedWithCustomError(contracts.feed, "StalePrice")
        .withArgs(publishTime, MAX_AGE);
      await expect(contracts.feed.latestPriceData())
        .to.be.revertedWithCustomError(contracts.feed, "StalePrice")
        .withArgs(publishTime, MAX_AGE);
    });

    it("revert when Pyth has no price for the id", async function () {
      const { contracts, signers } = await loadFixture(deployPyth);
      const btc = await ethers.deployContract("PythPriceFeed", [
        contracts.pyth,
        BTC_ID,
        signers.owner,
        60,
        50,
      ]);
      await expect(btc.latestPrice()).to.be.revertedWithCustomError(contracts.pyth, "PriceFeedNotFound");
    });
  });

  describe("priceInWindow (settlement on a price proven in the same transaction)", function () {
    /** A window [t + 10, t + 20] after the fixture's stored price, and an update inside it. */
    async function deployWindow() {
      const d = await deployPyth();
      const start = BigInt(await time.latest()) + 10n;
      const end = start + 10n;
      const inside = await update(d.contracts.pyth, { publishTime: start + 5n, prevPublishTime: start - 1n });
      return { ...d, window: { start, end, inside } };
    }

    it("returns the price published inside the window, pays Pyth the fee and refunds the excess", async function () {
      const { contracts, window } = await loadFixture(deployWindow);
      const { pyth, feed, caller } = contracts;
      const excess = 12_345n;
      await caller.settle(feed, [window.inside], window.start, window.end, { value: UPDATE_FEE + excess });
      expect(await caller.lastPriceD18()).to.equal(PRICE_D18);
      expect(await caller.lastPublishTime()).to.equal(window.start + 5n);
      expect(await ethers.provider.getBalance(caller)).to.equal(excess);
      expect(await ethers.provider.getBalance(feed)).to.equal(0n);
      expect(await ethers.provider.getBalance(pyth)).to.equal(2n * UPDATE_FEE); // the fixture's update + this one
      expect(await feed.updateFee([window.inside])).to.equal(UPDATE_FEE);
    });

    it("accepts prices published exactly at either end of the window", async function () {
      const { contracts, window } = await loadFixture(deployWindow);
      for (const publishTime of [window.start, window.end]) {
        const data = await update(contracts.pyth, { publishTime, prevPublishTime: window.start - 1n });
        await contracts.caller.settle(contracts.feed, [data], window.start, window.end, {
          value: UPDATE_FEE,
        });
        expect(await contracts.caller.lastPublishTime()).to.equal(publishTime);
      }
    });

    it("refuses a price from before the window, after it, or for another id", async function () {
      const { contracts, window } = await loadFixture(deployWindow);
      const { pyth, feed } = contracts;
      const early = await update(pyth, { publishTime: window.start - 1n });
      const late = await update(pyth, { publishTime: window.end + 1n, prevPublishTime: window.start - 1n });
      const otherId = await update(pyth, { id: BTC_ID, publishTime: window.start + 5n });
      for (const data of [early, late, otherId]) {
        await expect(
          feed.priceInWindow([data], window.start, window.end, { value: UPDATE_FEE }),
        ).to.be.revertedWithCustomError(pyth, "PriceFeedNotFoundWithinRange");
      }
    });

    it("refuses a price inside the window whose confidence is too wide, or that is not positive", async function () {
      const { contracts, window } = await loadFixture(deployWindow);
      const { pyth, feed } = contracts;
      const publishTime = window.start + 1n;
      const wide = await update(pyth, { publishTime, conf: PRICE });
      await expect(feed.priceInWindow([wide], window.start, window.end, { value: UPDATE_FEE }))
        .to.be.revertedWithCustomError(feed, "ConfidenceTooWide")
        .withArgs(PRICE, PRICE, MAX_CONF_BPS);
      const negative = await update(pyth, { publishTime, price: -1n });
      await expect(feed.priceInWindow([negative], window.start, window.end, { value: UPDATE_FEE }))
        .to.be.revertedWithCustomError(feed, "InvalidPrice")
        .withArgs(-1n, EXPO);
    });

    it("refuses an empty window and an insufficient fee", async function () {
      const { contracts, window } = await loadFixture(deployWindow);
      const { feed } = contracts;
      await expect(feed.priceInWindow([window.inside], window.end, window.start, { value: UPDATE_FEE }))
        .to.be.revertedWithCustomError(feed, "InvalidWindow")
        .withArgs(window.end, window.start);
      await expect(feed.priceInWindow([window.inside], window.start, window.end, { value: UPDATE_FEE - 1n }))
        .to.be.revertedWithCustomError(feed, "InsufficientUpdateFee")
        .withArgs(UPDATE_FEE - 1n, UPDATE_FEE);
      await expect(
        feed.priceInWindow([window.inside, window.inside], window.start, window.end, { value: UPDATE_FEE }),
      )
        .to.be.revertedWithCustomError(feed, "InsufficientUpdateFee")
        .withArgs(UPDATE_FEE, 2n * UPDATE_FEE);
    });

    it("a caller that rejects the refund must pay the exact fee; the excess is never kept", async function () {
      const { contracts, window } = await loadFixture(deployWindow);
      const { feed, caller } = contracts;
      await caller.setMode(REFUND_MODE.Reject);
      await expect(caller.settle(feed, [window.inside], window.start, window.end, { value: UPDATE_FEE + 1n }))
        .to.be.revertedWithCustomError(feed, "RefundFailed")
        .withArgs(await caller.getAddress(), 1n);
      await caller.settle(feed, [window.inside], window.start, window.end, { value: UPDATE_FEE });
      expect(await caller.lastPriceD18()).to.equal(PRICE_D18);
    });

    it("a refund that re-enters the feed fails the whole settlement", async function () {
      const { contracts, window } = await loadFixture(deployWindow);
      const { feed, caller } = contracts;
      await caller.setMode(REFUND_MODE.Reenter);
      await expect(
        caller.settle(feed, [window.inside], window.start, window.end, { value: 2n * UPDATE_FEE }),
      ).to.be.revertedWithCustomError(feed, "RefundFailed");
      expect(await caller.lastPriceD18()).to.equal(0n);
    });
  });

  describe("configuration", function () {
    it("the constructor rejects a zero Pyth address or price id and out-of-bounds parameters", async function () {
      const { contracts, signers } = await loadFixture(deployPyth);
      const { pyth, feed } = contracts;
      const factory = await ethers.getContractFactory("PythPriceFeed");
      const owner = signers.owner.address;
      const deploy = (p: string, id: string, o: string, maxAge: number, bps: number) =>
        factory.deploy(p, id, o, maxAge, bps);
      await expect(deploy(ethers.ZeroAddress, ETH_ID, owner, 60, 50)).to.be.revertedWithCustomError(
        feed,
        "ZeroAddress",
      );
      await expect(
        deploy(await pyth.getAddress(), ethers.ZeroHash, owner, 60, 50),
      ).to.be.revertedWithCustomError(feed, "ZeroAddress");
      await expect(
        deploy(await pyth.getAddress(), ETH_ID, ethers.ZeroAddress, 60, 50),
      ).to.be.revertedWithCustomError(feed, "OwnableInvalidOwner");
      await expect(deploy(await pyth.getAddress(), ETH_ID, owner, 0, 50))
        .to.be.revertedWithCustomError(feed, "InvalidMaxAge")
        .withArgs(0n);
      await expect(deploy(await pyth.getAddress(), ETH_ID, owner, 60, 1_001))
        .to.be.revertedWithCustomError(feed, "InvalidMaxConfidence")
        .withArgs(1_001n);
    });

    it("setFeedParams: owner only, within (0, 1 day] and (0, 1000] bps, evented", async function () {
      const { contracts, signers } = await loadFixture(deployPyth);
      const { feed } = contracts;
      await expect(feed.connect(signers.stranger).setFeedParams(120, 100))
        .to.be.revertedWithCustomError(feed, "OwnableUnauthorizedAccount")
        .withArgs(signers.stranger.address);
      const DAY = 86_400n;
      for (const [maxAge, error] of [
        [0n, "InvalidMaxAge"],
        [DAY + 1n, "InvalidMaxAge"],
      ] as const) {
        await expect(feed.setFeedParams(maxAge, 100))
          .to.be.revertedWithCustomError(feed, error)
          .withArgs(maxAge);
      }
      for (const bps of [0n, 1_001n]) {
        await expect(feed.setFeedParams(120, bps))
          .to.be.revertedWithCustomError(feed, "InvalidMaxConfidence")
          .withArgs(bps);
      }
      await expect(feed.setFeedParams(DAY, 1_000)).to.emit(feed, "FeedParamsUpdated").withArgs(DAY, 1_000n);
      expect([await feed.maxAge(), await feed.maxConfidenceBps()]).to.deep.equal([DAY, 1_000n]);
      await expect(feed.setFeedParams(1, 1)).to.emit(feed, "FeedParamsUpdated").withArgs(1n, 1n);
    });
  });
});
