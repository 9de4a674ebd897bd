import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { encodeMockPythUpdate, toPythPrice } from "../sdk/pyth.js";
import {
  BTC,
  deployBulkhead,
  deployEngine,
  ETH,
  ethers,
  marketParams,
  networkHelpers,
  orderParams,
} from "./helpers/fixture.js";
import { usd, wad } from "./helpers/constants.js";
import {
  type RejectedCase,
  expectCustodyIdentity,
  expectEachRejected,
  positionMargins,
  tradingFee,
} from "./helpers/invariants.js";
import { ANY_REWARD, openIsolated, priceUpdate, settleNext } from "./helpers/orders.js";

/**
 * Bad-input completeness: every state-changing external function of the protocol's ABIs must have at least one
 * rejection case somewhere in the tests, so a new entry point cannot ship without one. A rejection case is a call
 * of the function inside `expect(…)` that ends in `.to.be.reverted…` (mocha; `expectEachRejected` tables count,
 * since their closures are `expect`ed), or the call right after a `vm.expectRevert` (Solidity tests).
 *
 * The check is by function name over the test sources, so it proves a case exists, not that it is thorough.
 */
const ENTRY_POINTS = ["IBulkhead", "LiquidityVault", "VolatilityOracle", "PortfolioMargin"];

/** Functions that take no input a caller could get wrong and have no access rule: nothing to reject. */
const NO_BAD_INPUT: Record<string, string> = {
  createCrossAccount: "no arguments, open to anyone",
  renounceRole: "OpenZeppelin AccessControl, tested upstream; only ever renounces the caller's own role",
  grantRole: "OpenZeppelin AccessControl, tested upstream",
  revokeRole: "OpenZeppelin AccessControl, tested upstream",
  approve: "OpenZeppelin ERC20 share token, tested upstream",
  transfer: "OpenZeppelin ERC20 share token, tested upstream",
  transferFrom: "OpenZeppelin ERC20 share token, tested upstream",
};

/** Entry points without a rejection case today. Remove a name when its case lands; never add one. */
const PENDING = new Set<string>([]);

function sources(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p, ext);
    return e.name.endsWith(ext) ? [readFileSync(p, "utf8")] : [];
  });
}

/** Names called inside `expect(…)` spans that end in `.to.be.reverted…`, and after `vm.expectRevert(…);`. */
function rejectedNames(): Set<string> {
  const names = new Set<string>();
  const called = (text: string) => {
    for (const m of text.matchAll(/\.(\w+)\s*\(/g)) names.add(m[1]);
  };
  for (const src of sources("test", ".ts")) {
    for (const m of src.matchAll(/\.to\.be\.(?:revertedWithCustomError|revertedWith|reverted)\b/g)) {
      const start = src.lastIndexOf("expect(", m.index);
      if (start >= 0) called(src.slice(start, m.index));
    }
    // expectEachRejected tables: the closures of a `RejectedCase[]` literal.
    for (const m of src.matchAll(/RejectedCase\[\]\s*=\s*\[/g)) {
      called(src.slice(m.index, src.indexOf("expectEachRejected(", m.index)));
    }
  }
  for (const src of sources("contracts/test", ".sol")) {
    for (const m of src.matchAll(/vm\.expectRevert\b[^;]*;/g)) {
      const end = src.indexOf(";", m.index + m[0].length);
      called(src.slice(m.index + m[0].length, end));
    }
  }
  return names;
}

describe("bad-input completeness", () => {
  it("every state-changing external function has a rejection case (or a reason it has none)", async () => {
    const rejected = rejectedNames();
    const entryPoints = new Set<string>();
    for (const name of ENTRY_POINTS) {
      const { abi } = await hre.artifacts.readArtifact(name);
      for (const f of abi) {
        if (f.type === "function" && f.stateMutability !== "view" && f.stateMutability !== "pure")
          entryPoints.add(f.name);
      }
    }
    const missing = [...entryPoints].filter(
      (f) => !rejected.has(f) && !(f in NO_BAD_INPUT) && !PENDING.has(f),
    );
    expect(
      missing,
      "entry points without a bad-input case: add one (an expectEachRejected table entry)",
    ).to.deep.equal([]);
    const stale = [...PENDING].filter((f) => rejected.has(f) || !entryPoints.has(f));
    expect(stale, "PENDING names that now have a case or no longer exist: remove them").to.deep.equal([]);
  });
});

/**
 * Bad inputs of the order entry points (IOrders) and of their governance (setOrderParams): one table per error
 * source, each case reverting with its exact custom error and leaving the engine's state, pending orders and
 * order parameters included, unchanged. The order lifecycle itself is tested in test/orders.ts.
 */
describe("bad inputs: orders", () => {
  const BUY = wad("3100");
  const ETH_PRICE = wad("3000");

  /**
   * Alice: cross account 1 holding 10,000; isolated ETH account 2 long 1 ETH (skew +1); isolated BTC account 4
   * without a position. Bob: cross account 3.
   */
  async function book() {
    const f = await networkHelpers.loadFixture(deployBulkhead);
    const { engine } = f.contracts;
    const { alice, bob } = f.signers;
    await engine.connect(alice).createCrossAccount(); // 1
    await engine.connect(alice).deposit(1, usd("10000"));
    await openIsolated(engine.connect(alice), ETH, 0, usd("1000"), wad("1"), BUY); // 2
    await engine.connect(bob).createCrossAccount(); // 3
    await engine.connect(alice).createIsolatedAccount(BTC); // 4
    return f;
  }

  /** The commit-time margin refusal of opening `size` ETH with `equity` (ETH skew +1): equity - fee vs IM. */
  const refusal = (equity: bigint, size: bigint) => {
    const p = marketParams("0x0000000000000000000000000000000000000000", "ETH");
    const fee = tradingFee(ETH_PRICE, wad("1"), size, p.skewScaleD18, p.makerFeeD18, p.takerFeeD18);
    return [equity - fee, positionMargins(size, ETH_PRICE, p).im];
  };

  it("commitOrder", async () => {
    const { signers, contracts } = await book();
    const { engine } = contracts;
    const { alice, bob } = signers;
    await engine.connect(alice).commitOrder(1, BTC, wad("0.01"), wad("61000"), ANY_REWARD); // pending
    const int96Max = 2n ** 95n - 1n;
    const cases: RejectedCase[] = [
      [() => engine.connect(alice).commitOrder(9, ETH, wad("1"), BUY, ANY_REWARD), "UnknownAccount", [9]],
      [
        () => engine.connect(bob).commitOrder(1, ETH, wad("1"), BUY, ANY_REWARD),
        "Unauthorized",
        [bob.address, 1],
      ],
      [() => engine.connect(alice).commitOrder(1, 9, wad("1"), BUY, ANY_REWARD), "UnknownMarket", [9]],
      [() => engine.connect(alice).commitOrder(2, BTC, wad("0.01"), 0, ANY_REWARD), "WrongAccountMode", [2]],
      [() => engine.connect(alice).commitOrder(1, ETH, 0, BUY, ANY_REWARD), "InvalidSize", [0]],
      [
        () => engine.connect(alice).commitOrder(1, ETH, int96Max + 1n, BUY, ANY_REWARD),
        "InvalidSize",
        [int96Max + 1n],
      ],
      [
        () => engine.connect(alice).commitOrder(1, ETH, -int96Max - 2n, 0, ANY_REWARD),
        "InvalidSize",
        [-int96Max - 2n],
      ],
      [
        () => engine.connect(alice).commitOrder(1, ETH, wad("200"), BUY, ANY_REWARD),
        "InsufficientMargin",
        refusal(wad("10000"), wad("200")),
      ],
      [
        () => engine.connect(alice).commitOrder(1, BTC, wad("0.01"), wad("61000"), ANY_REWARD),
        "OrderPending",
        [1, BTC],
      ],
    ];
    await expectEachRejected(contracts, engine, cases, [alice.address, bob.address]);
    await expectCustodyIdentity(contracts);
  });

  it("commitIsolatedOrder", async () => {
    const { signers, contracts } = await book();
    const { engine } = contracts;
    const { alice, bob } = signers;
    const cases: RejectedCase[] = [
      [
        () => engine.connect(alice).commitIsolatedOrder(9, 0, usd("100"), wad("1"), BUY, ANY_REWARD),
        "UnknownMarket",
        [9],
      ],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 0, 0, wad("1"), BUY, ANY_REWARD),
        "ZeroAmount",
        [],
      ],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 2, usd("100"), wad("0.01"), BUY, ANY_REWARD),
        "WrongAccountMode",
        [2],
      ],
      [
        () => engine.connect(bob).commitIsolatedOrder(ETH, 1, usd("100"), wad("0.01"), BUY, ANY_REWARD),
        "Unauthorized",
        [bob.address, 1],
      ],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 9, usd("100"), wad("0.01"), BUY, ANY_REWARD),
        "UnknownAccount",
        [9],
      ],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 0, usd("100"), 0, BUY, ANY_REWARD),
        "InvalidSize",
        [0],
      ],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 1, usd("10001"), wad("0.01"), BUY, ANY_REWARD),
        "InsufficientCollateral",
        [wad("10000"), wad("10001")],
      ],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 0, usd("10"), wad("1"), BUY, ANY_REWARD),
        "InsufficientMargin",
        refusal(wad("10"), wad("1")),
      ],
    ];
    await expectEachRejected(contracts, engine, cases, [alice.address, bob.address]);
    await expectCustodyIdentity(contracts);
  });

  it("commitCloseIsolated", async () => {
    const { signers, contracts } = await book();
    const { engine } = contracts;
    const { alice, bob } = signers;
    const cases: RejectedCase[] = [
      [() => engine.connect(alice).commitCloseIsolated(1, 0, 0, ANY_REWARD), "WrongAccountMode", [1]],
      [() => engine.connect(alice).commitCloseIsolated(2, 0, 3, ANY_REWARD), "InvalidTransfer", [2, 3]],
      [() => engine.connect(alice).commitCloseIsolated(2, 0, 4, ANY_REWARD), "InvalidTransfer", [2, 4]],
      [() => engine.connect(alice).commitCloseIsolated(2, 0, 9, ANY_REWARD), "UnknownAccount", [9]],
      [() => engine.connect(alice).commitCloseIsolated(9, 0, 0, ANY_REWARD), "UnknownAccount", [9]],
      [() => engine.connect(bob).commitCloseIsolated(2, 0, 0, ANY_REWARD), "Unauthorized", [bob.address, 2]],
      [() => engine.connect(alice).commitCloseIsolated(4, 0, 0, ANY_REWARD), "NoPosition", [4, BTC]],
    ];
    await expectEachRejected(contracts, engine, cases, [alice.address, bob.address]);
    // One order per account and market: a pending reduce blocks the close.
    await engine.connect(alice).commitOrder(2, ETH, wad("-0.5"), 0, ANY_REWARD);
    const pending: RejectedCase[] = [
      [() => engine.connect(alice).commitCloseIsolated(2, 0, 0, ANY_REWARD), "OrderPending", [2, ETH]],
    ];
    await expectEachRejected(contracts, engine, pending, [alice.address]);
    await expectCustodyIdentity(contracts);
  });

  it("commits refused by the settlement-reward budget and by pause", async () => {
    const { signers, contracts } = await book();
    const { engine } = contracts;
    const { admin, alice } = signers;
    await engine.setOrderParams({ ...orderParams, settlementRewardD18: wad("1") });
    // The budget is compared exactly: 1 USD - 1 wei is short by 1 wei.
    const budget: RejectedCase[] = [
      [
        () => engine.connect(alice).commitOrder(1, ETH, wad("1"), BUY, wad("1") - 1n),
        "SettlementRewardAboveBudget",
        [wad("1"), wad("1") - 1n],
      ],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 0, usd("1000"), wad("1"), BUY, 0),
        "SettlementRewardAboveBudget",
        [wad("1"), 0],
      ],
      [
        () => engine.connect(alice).commitCloseIsolated(2, 0, 0, 0),
        "SettlementRewardAboveBudget",
        [wad("1"), 0],
      ],
    ];
    await expectEachRejected(contracts, engine, budget, [alice.address]);

    await engine.connect(admin).pause();
    const paused: RejectedCase[] = [
      [() => engine.connect(alice).commitOrder(1, ETH, wad("1"), BUY, ANY_REWARD), "EnforcedPause", []],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 1, usd("100"), wad("0.01"), BUY, ANY_REWARD),
        "EnforcedPause",
        [],
      ],
    ];
    await expectEachRejected(contracts, engine, paused, [alice.address]);
    await expectCustodyIdentity(contracts);
  });

  it("commits refused while the order parameters were never set", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { token, ethFeed, ethPull } = contracts;
    const { admin, alice } = signers;
    const { engineImpl, engine } = await deployEngine(token, admin);
    await engineImpl.grantRole(await engineImpl.RISK_ROLE(), admin);
    await engine.listMarket(marketParams(await ethFeed.getAddress(), "ETH", await ethPull.getAddress()));
    await token.connect(alice).approve(engine, ethers.MaxUint256);
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("1000"));
    expect(await engine.getOrderParams()).to.deep.equal([0n, 0n, 0n]);
    const fresh = { engine, token };
    const cases: RejectedCase[] = [
      [
        () => engine.connect(alice).commitOrder(1, ETH, wad("0.1"), BUY, ANY_REWARD),
        "OrdersNotConfigured",
        [],
      ],
      [
        () => engine.connect(alice).commitIsolatedOrder(ETH, 0, usd("100"), wad("0.01"), BUY, ANY_REWARD),
        "OrdersNotConfigured",
        [],
      ],
    ];
    await expectEachRejected(fresh, engine, cases, [alice.address]);
    await expectCustodyIdentity(fresh);
  });

  it("settleOrder", async () => {
    const { signers, contracts } = await book();
    const { engine, ethPull, pyth } = contracts;
    const { admin, alice, keeper } = signers;
    await engine.connect(alice).commitOrder(1, ETH, wad("1"), BUY, ANY_REWARD);
    const { readyTime, expiryTime } = await engine.getOrder(1, ETH);
    const settler = engine.connect(keeper);
    const at = (price: bigint, publishTime: bigint) => priceUpdate(engine, ETH, price, publishTime);
    const good = await at(ETH_PRICE, readyTime);
    const [early, late, far] = await Promise.all([
      at(ETH_PRICE, readyTime - 1n),
      at(ETH_PRICE, expiryTime + 1n),
      at(wad("3300"), readyTime),
    ]);
    const btcId = await contracts.btcPull.priceId();
    const otherId = [encodeMockPythUpdate(btcId, ETH_PRICE, readyTime)];
    const wideConf = [
      encodeMockPythUpdate(await ethPull.priceId(), ETH_PRICE, readyTime, { confD18: wad("31") }),
    ];
    const pythPrice = toPythPrice(ETH_PRICE);
    const wideConfUnits = (wad("31") * pythPrice.price) / ETH_PRICE;

    const byEngine: RejectedCase[] = [
      [() => settler.settleOrder(1, BTC, good.data, { value: good.fee }), "NoPendingOrder", [1, BTC]],
      [() => settler.settleOrder(9, ETH, good.data, { value: good.fee }), "NoPendingOrder", [9, ETH]],
      [
        () => settler.settleOrder(1, ETH, far.data, { value: far.fee }),
        "PriceDivergence",
        [wad("3300"), ETH_PRICE],
      ],
    ];
    await expectEachRejected(contracts, engine, byEngine, [alice.address, keeper.address]);
    // The pull feed's own checks: the update fee, exactly (the engine accepts no refund), and the confidence.
    const byFeed: RejectedCase[] = [
      [
        () => settler.settleOrder(1, ETH, good.data, { value: good.fee - 1n }),
        "InsufficientUpdateFee",
        [good.fee - 1n, good.fee],
      ],
      [
        () => settler.settleOrder(1, ETH, good.data, { value: good.fee + 1n }),
        "RefundFailed",
        [await engine.getAddress(), 1n],
      ],
      [
        () => settler.settleOrder(1, ETH, wideConf, { value: good.fee }),
        "ConfidenceTooWide",
        [wideConfUnits, pythPrice.price, 100n],
      ],
    ];
    await expectEachRejected(contracts, ethPull, byFeed, [alice.address, keeper.address]);
    // Pyth finds no price of this id inside the order's window.
    const byPyth: RejectedCase[] = [
      [
        () => settler.settleOrder(1, ETH, early.data, { value: early.fee }),
        "PriceFeedNotFoundWithinRange",
        [],
      ],
      [() => settler.settleOrder(1, ETH, late.data, { value: late.fee }), "PriceFeedNotFoundWithinRange", []],
      [() => settler.settleOrder(1, ETH, otherId, { value: good.fee }), "PriceFeedNotFoundWithinRange", []],
    ];
    await expectEachRejected(contracts, pyth, byPyth, [alice.address, keeper.address]);

    // A risk-increasing order does not settle while paused.
    await engine.connect(admin).pause();
    const paused: RejectedCase[] = [
      [() => settler.settleOrder(1, ETH, good.data, { value: good.fee }), "EnforcedPause", []],
    ];
    await expectEachRejected(contracts, engine, paused, [alice.address, keeper.address]);
    await engine.connect(admin).unpause();

    // Outside the window in time: after expiry, and (with a longer minimum delay) before the ready time.
    await networkHelpers.time.increaseTo(expiryTime + 1n);
    const expired: RejectedCase[] = [
      [() => settler.settleOrder(1, ETH, good.data, { value: good.fee }), "OrderExpired", [expiryTime]],
    ];
    await expectEachRejected(contracts, engine, expired, [alice.address, keeper.address]);
    await engine.cancelOrder(1, ETH);
    await engine.setOrderParams({ ...orderParams, minDelay: 30 });
    await engine.connect(alice).commitOrder(1, ETH, wad("1"), BUY, ANY_REWARD);
    const order = await engine.getOrder(1, ETH);
    expect(order.readyTime).to.equal(order.commitTime + 30n);
    const next = await at(ETH_PRICE, order.readyTime);
    const notReady: RejectedCase[] = [
      [() => settler.settleOrder(1, ETH, next.data, { value: next.fee }), "OrderNotReady", [order.readyTime]],
    ];
    await expectEachRejected(contracts, engine, notReady, [alice.address, keeper.address]);
    // It settles once its ready time has come.
    await expect(settleNext(engine.connect(keeper), 1, ETH)).to.emit(engine, "OrderSettled");
    await expectCustodyIdentity(contracts);
  });

  it("cancelOrder", async () => {
    const { signers, contracts } = await book();
    const { engine } = contracts;
    const { alice, carol } = signers;
    await engine.connect(alice).commitOrder(1, ETH, wad("1"), BUY, ANY_REWARD);
    const { expiryTime } = await engine.getOrder(1, ETH);
    const cases: RejectedCase[] = [
      [() => engine.connect(carol).cancelOrder(1, BTC), "NoPendingOrder", [1, BTC]],
      [() => engine.connect(carol).cancelOrder(9, ETH), "NoPendingOrder", [9, ETH]],
      // Not even the owner can cancel before expiry (it would be a free option on the window's price).
      [() => engine.connect(alice).cancelOrder(1, ETH), "OrderNotExpired", [expiryTime]],
    ];
    await expectEachRejected(contracts, engine, cases, [alice.address, carol.address]);
    // Still refused in the expiry second itself (mined there: a fixed gas limit skips the estimate); anyone may
    // cancel one second later.
    await networkHelpers.time.setNextBlockTimestamp(expiryTime);
    await expect(engine.connect(carol).cancelOrder(1, ETH, { gasLimit: 200_000 }))
      .to.be.revertedWithCustomError(engine, "OrderNotExpired")
      .withArgs(expiryTime);
    expect(await networkHelpers.time.latest()).to.equal(Number(expiryTime));
    await networkHelpers.time.setNextBlockTimestamp(expiryTime + 1n);
    await expect(engine.connect(carol).cancelOrder(1, ETH))
      .to.emit(engine, "OrderCancelled")
      .withArgs(1, ETH, carol.address);
    await expectCustodyIdentity(contracts);
  });

  it("setOrderParams (and getOrderParams stays as it was)", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, engineImpl } = contracts;
    const { alice } = signers;
    const bytes32 = (s: string) => ethers.encodeBytes32String(s);
    const HOUR = 3600;
    const DAY = 86400;
    const MAX_REWARD = wad("1000");
    const set = (p: { minDelay: number; maxDelay: number; settlementRewardD18: bigint }) => () =>
      engine.setOrderParams(p);
    const bounds: RejectedCase[] = [
      [set({ ...orderParams, minDelay: 0 }), "ParameterOutOfBounds", [bytes32("minDelay")]],
      [
        set({ minDelay: HOUR + 1, maxDelay: HOUR + 60, settlementRewardD18: 0n }),
        "ParameterOutOfBounds",
        [bytes32("minDelay")],
      ],
      [set({ ...orderParams, minDelay: 5, maxDelay: 5 }), "ParameterOutOfBounds", [bytes32("maxDelay")]],
      // maxDelay below minDelay is a bound, not an underflow.
      [set({ ...orderParams, minDelay: 10, maxDelay: 5 }), "ParameterOutOfBounds", [bytes32("maxDelay")]],
      [
        set({ ...orderParams, minDelay: 1, maxDelay: 1 + DAY + 1 }),
        "ParameterOutOfBounds",
        [bytes32("maxDelay")],
      ],
      [
        set({ ...orderParams, settlementRewardD18: MAX_REWARD + 1n }),
        "ParameterOutOfBounds",
        [bytes32("settlementReward")],
      ],
    ];
    await expectEachRejected(contracts, engine, bounds);
    const role: RejectedCase[] = [
      [
        () => engine.connect(alice).setOrderParams(orderParams),
        "AccessControlUnauthorizedAccount",
        [alice.address, await engineImpl.RISK_ROLE()],
      ],
    ];
    await expectEachRejected(contracts, engineImpl, role, [alice.address]);
    expect(await engine.getOrderParams()).to.deep.equal([1n, 60n, 0n]);

    // Every bound is inclusive.
    const widest = { minDelay: HOUR, maxDelay: HOUR + DAY, settlementRewardD18: MAX_REWARD };
    await expect(engine.setOrderParams(widest)).to.emit(engine, "OrderParamsUpdated");
    expect(await engine.getOrderParams()).to.deep.equal([BigInt(HOUR), BigInt(HOUR + DAY), MAX_REWARD]);
  });
});
