import { expect } from "chai";
import {
  BTC,
  deployBulkhead,
  ETH,
  ethers,
  HEARTBEAT,
  marketParams,
  networkHelpers,
  pythPriceId,
} from "../helpers/fixture.js";
import { DAY, feedAnswer, usd, wad } from "../helpers/constants.js";
import { expectCustodyIdentity, expectUnchanged } from "../helpers/invariants.js";
import { closeIsolated, openIsolated, trade } from "../helpers/orders.js";

/** Every margin view of an account; each must revert while a market the account holds has no price. */
const VIEWS = [
  "marginSummary",
  "freeCollateral",
  "maxWithdrawable",
  "healthFactor",
  "isLiquidatable",
] as const;

describe("core: pause", () => {
  it("while paused, open/increase/flip/openIsolated revert with EnforcedPause; reduce, close, deposit, withdraw and liquidation work", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, engineImpl, ethAggregator, token } = contracts;
    const { admin, alice, bob, keeper } = signers;
    await engine.connect(alice).createCrossAccount(); // 1
    await engine.connect(alice).deposit(1, usd("10000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), wad("3100"));
    await openIsolated(engine.connect(bob), ETH, 0, usd("1000"), wad("10"), wad("3100")); // 2
    await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad("1"), wad("3100")); // 3

    await expect(engine.connect(admin).pause()).to.emit(engineImpl, "Paused").withArgs(admin.address);
    const blocked: [string, () => Promise<unknown>][] = [
      ["open", () => trade(engine.connect(alice), 1, BTC, wad("0.01"), wad("61000"))],
      ["increase", () => trade(engine.connect(alice), 1, ETH, wad("1"), wad("3100"))],
      ["flip", () => trade(engine.connect(alice), 1, ETH, wad("-11"), 0)],
      [
        "openIsolated",
        () => openIsolated(engine.connect(alice), BTC, 0, usd("1000"), wad("0.01"), wad("61000")),
      ],
      [
        "openIsolated from cross",
        () => openIsolated(engine.connect(alice), BTC, 1, usd("1000"), wad("0.01"), wad("61000")),
      ],
    ];
    for (const [, call] of blocked) {
      await expectUnchanged(
        contracts,
        () => expect(call()).to.be.revertedWithCustomError(engineImpl, "EnforcedPause"),
        [alice.address],
      );
    }

    await expect(trade(engine.connect(alice), 1, ETH, wad("-3"), 0)).to.emit(engine, "PositionModified");
    await expect(trade(engine.connect(alice), 1, ETH, wad("-7"), 0)).to.emit(engine, "PositionModified");
    expect(await engine.getPositions(1)).to.deep.equal([]);
    await expect(closeIsolated(engine.connect(alice), 3, 0, 1)).to.emit(engine, "MarginTransferred");
    await expect(engine.connect(alice).deposit(1, usd("5"))).to.emit(engine, "Deposited");
    await expect(engine.connect(alice).withdraw(1, usd("100"), alice)).to.changeTokenBalance(
      ethers,
      token,
      alice,
      usd("100"),
    );
    await ethAggregator.setAnswer(feedAnswer("2920"));
    expect(await engine.isLiquidatable(2)).to.equal(true);
    await expect(engine.connect(keeper).liquidate(2, keeper)).to.emit(engine, "Liquidated");

    await expect(engine.connect(admin).unpause()).to.emit(engineImpl, "Unpaused").withArgs(admin.address);
    await expect(trade(engine.connect(alice), 1, BTC, wad("0.01"), wad("61000"))).to.emit(
      engine,
      "PositionModified",
    );
    await expectCustodyIdentity(contracts);
  });
});

describe("core: oracle failures", () => {
  /** Alice: cross account 1 holding ETH and BTC. Bob: isolated BTC account 2. Carol: isolated ETH account 3. */
  async function mixedBook() {
    const f = await networkHelpers.loadFixture(deployBulkhead);
    const { engine } = f.contracts;
    const { alice, bob, carol } = f.signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("10000"));
    await trade(engine.connect(alice), 1, ETH, wad("1"), wad("3100"));
    await trade(engine.connect(alice), 1, BTC, wad("0.01"), wad("61000"));
    await openIsolated(engine.connect(bob), BTC, 0, usd("1000"), wad("0.01"), wad("61000"));
    await openIsolated(engine.connect(carol), ETH, 0, usd("1000"), wad("1"), wad("3100"));
    return f;
  }

  const breakages: {
    name: string;
    error: string;
    apply: (agg: Awaited<ReturnType<typeof mixedBook>>["contracts"]["ethAggregator"]) => Promise<unknown[]>;
  }[] = [
    {
      name: "a stale answer",
      error: "StalePrice",
      apply: async (agg) => {
        const old = BigInt(await networkHelpers.time.latest()) - DAY - 10n;
        const round = (await agg.latestRoundId()) + 1n;
        await agg.setRoundData(round, feedAnswer("3000"), old, old, round);
        return [old, HEARTBEAT];
      },
    },
    {
      name: "a zero answer",
      error: "InvalidPrice",
      apply: async (agg) => {
        await agg.setAnswer(0);
        return [0];
      },
    },
    {
      name: "a negative answer",
      error: "InvalidPrice",
      apply: async (agg) => {
        await agg.setAnswer(-1);
        return [-1];
      },
    },
  ];

  for (const breakage of breakages) {
    it(`${breakage.name} blocks the ETH market only; BTC and isolated BTC accounts keep trading`, async () => {
      const { signers, contracts } = await mixedBook();
      const { engine, ethAggregator, ethFeed } = contracts;
      const { alice, bob, carol } = signers;
      const args = await breakage.apply(ethAggregator);

      // Orders: a reducing order commits without a price and is refused at settlement, where the engine reads
      // the mark price (the settlement price is given, so the refusal comes from the engine, not the helper).
      const settleAt = { priceD18: wad("3000") };
      const broken: [string, () => Promise<unknown>][] = [
        ["cross trade in ETH", () => trade(engine.connect(alice), 1, ETH, wad("-0.5"), 0, settleAt)],
        [
          "cross trade in BTC while holding ETH",
          () => trade(engine.connect(alice), 1, BTC, wad("0.01"), wad("61000")),
        ],
        ["isolated ETH close", () => closeIsolated(engine.connect(carol), 3, 0, 0, settleAt)],
        [
          "new isolated ETH",
          () => openIsolated(engine.connect(bob), ETH, 0, usd("1000"), wad("1"), wad("3100")),
        ],
        ["withdraw from an ETH holder", () => engine.connect(alice).withdraw(1, usd("1"), alice)],
      ];
      for (const [, call] of broken) {
        await expectUnchanged(contracts, () =>
          expect(call())
            .to.be.revertedWithCustomError(ethFeed, breakage.error)
            .withArgs(...args),
        );
      }
      for (const view of VIEWS) {
        await expect(engine[view](1)).to.be.revertedWithCustomError(ethFeed, breakage.error);
        await expect(engine[view](3)).to.be.revertedWithCustomError(ethFeed, breakage.error);
        await engine[view](2); // the isolated BTC account is unaffected
      }
      await expect(engine.quoteTrade(ETH, wad("1"))).to.be.revertedWithCustomError(ethFeed, breakage.error);

      // The BTC market and accounts without ETH keep working.
      await expect(trade(engine.connect(bob), 2, BTC, wad("0.01"), wad("61000"))).to.emit(
        engine,
        "PositionModified",
      );
      await expect(openIsolated(engine.connect(carol), BTC, 0, usd("1000"), wad("-0.01"), 0)).to.emit(
        engine,
        "PositionModified",
      );
      await engine.connect(bob).createCrossAccount();
      await engine.connect(bob).deposit(5, usd("1000"));
      await expect(trade(engine.connect(bob), 5, BTC, wad("0.01"), wad("61000"))).to.emit(
        engine,
        "PositionModified",
      );
      await engine.connect(alice).deposit(1, usd("1")); // adding margin needs no price
      await expectCustodyIdentity(contracts);

      // A fresh valid round restores the market.
      await ethAggregator.setAnswer(feedAnswer("3000"));
      await expect(trade(engine.connect(alice), 1, ETH, wad("-0.5"), 0)).to.emit(engine, "PositionModified");
      await expectCustodyIdentity(contracts);
    });
  }

  it("a sequencer-down feed blocks its market only, until the grace period after recovery is over", async () => {
    const { signers, contracts } = await mixedBook();
    const { engine, pyth } = contracts;
    const { admin, alice, bob, carol } = signers;
    const grace = 3600n;
    const sequencer = await ethers.deployContract("MockAggregatorV3", [0]);
    const longAgo = BigInt(await networkHelpers.time.latest()) - 2n * grace;
    await sequencer.setRoundData(1, 0, longAgo, longAgo, 1);
    const solAggregator = await ethers.deployContract("MockAggregatorV3", [8]);
    await solAggregator.setAnswer(feedAnswer("150"));
    const solFeed = await ethers.deployContract("ChainlinkPriceFeed", [
      solAggregator,
      HEARTBEAT,
      sequencer,
      grace,
    ]);
    const SOL = 3;
    // Orders settle on a pull feed, which every market needs: a Pyth feed for SOL on the fixture's MockPyth.
    const solPull = await ethers.deployContract("PythPriceFeed", [
      pyth,
      pythPriceId(SOL),
      admin,
      HEARTBEAT,
      100,
    ]);
    await engine.listMarket(marketParams(await solFeed.getAddress(), "ETH", await solPull.getAddress()));
    await openIsolated(engine.connect(alice), SOL, 0, usd("1000"), wad("10"), wad("160")); // 4
    await engine.connect(bob).createCrossAccount(); // 5
    await engine.connect(bob).deposit(5, usd("10000"));
    await trade(engine.connect(bob), 5, SOL, wad("-5"), 0);

    const downAt = BigInt(await networkHelpers.time.latest());
    await sequencer.setRoundData(2, 1, downAt, downAt, 2);
    for (const call of [
      () => trade(engine.connect(alice), 4, SOL, wad("1"), wad("160")),
      // A reducing order commits; its settlement (at a given price) is refused by the engine's mark read.
      () => closeIsolated(engine.connect(alice), 4, 0, 0, { priceD18: wad("150") }),
      () => trade(engine.connect(bob), 5, ETH, wad("1"), wad("3100")),
      () => openIsolated(engine.connect(carol), SOL, 0, usd("1000"), wad("1"), wad("160")),
    ]) {
      await expectUnchanged(contracts, () =>
        expect(call()).to.be.revertedWithCustomError(solFeed, "SequencerDown"),
      );
    }
    for (const view of VIEWS) {
      await expect(engine[view](4)).to.be.revertedWithCustomError(solFeed, "SequencerDown");
      await expect(engine[view](5)).to.be.revertedWithCustomError(solFeed, "SequencerDown");
    }
    // The other markets and the accounts on them keep trading.
    await expect(trade(engine.connect(carol), 3, ETH, wad("1"), wad("3100"))).to.emit(
      engine,
      "PositionModified",
    );
    await expect(trade(engine.connect(alice), 1, BTC, wad("0.01"), wad("61000"))).to.emit(
      engine,
      "PositionModified",
    );

    // Back up, but inside the grace period: still blocked.
    const upAt = BigInt(await networkHelpers.time.latest());
    await sequencer.setRoundData(3, 0, upAt, upAt, 3);
    await expect(trade(engine.connect(alice), 4, SOL, wad("1"), wad("160")))
      .to.be.revertedWithCustomError(solFeed, "SequencerGracePeriodNotOver")
      .withArgs(upAt, grace);
    await networkHelpers.time.increase(grace + 1n);
    await expect(trade(engine.connect(alice), 4, SOL, wad("1"), wad("160"))).to.emit(
      engine,
      "PositionModified",
    );
    await expectCustodyIdentity(contracts);
  });
});
