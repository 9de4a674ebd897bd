import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { ethers, networkHelpers, deployBulkhead, ETH, BTC, riskParams } from "../helpers/fixture.js";
import {
  TOKEN_SCALE,
  WAD,
  accountState,
  deploySmallVaultBulkhead,
  divFloor,
  expectCustody,
  fillAt,
  fractionOf,
  feedAnswer,
  latest,
  liquidateModelled,
  marketAt,
  model,
  mulDown,
  tradersPnl,
  usd,
  wad,
  GAS,
  up,
} from "../helpers/liquidation.js";
import type { IBulkhead } from "../../types/ethers-contracts/index.js";
import { openIsolated, trade } from "../helpers/orders.js";

const { loadFixture } = networkHelpers;

describe("liquidation: bad debt", () => {
  async function insolvent(insuranceTopUp: string | null) {
    const f = await loadFixture(deployBulkhead);
    const { engine, ethAggregator, btcAggregator } = f.contracts;
    const { alice, carol } = f.signers;
    await engine.connect(alice).createCrossAccount();
    await engine.connect(alice).deposit(1, usd("2000"));
    await trade(engine.connect(alice), 1, ETH, wad("10"), up(1n));
    await trade(engine.connect(alice), 1, BTC, wad("0.5"), up(1n));
    if (insuranceTopUp !== null) await engine.connect(carol).fundInsurance(usd(insuranceTopUp));
    await ethAggregator.setAnswer(feedAnswer("2800"));
    await btcAggregator.setAnswer(feedAnswer("55000"));
    return f;
  }

  for (const [name, topUp] of [
    ["insurance covers all of it", "5000"],
    ["insurance covers part, the vault absorbs the rest", null],
  ] as const) {
    it(`moves exactly the deficit: ${name}`, async () => {
      const { contracts, signers } = await insolvent(topUp);
      const { engine, token } = contracts;
      const ins0 = await engine.insuranceFund();
      const vc0 = await engine.vaultCash();
      const kb = await token.balanceOf(signers.keeper);
      const r = await liquidateModelled(engine, signers.keeper, 1);
      expect(r.before.equity).to.be.lt(0n);
      expect(r.plan.partial).to.equal(false);
      // Independent deficit: collateral + realised - funding - trading fees - charge, all positions closed like
      // trades (each at its fill, with its maker/taker fee); the netted result is a loss, so it moves to the vault
      // whatever the vault's cash.
      const closedFlow = r.sim.closed.reduce((s, c) => s + c.realised - c.funding, 0n);
      const tradingFees = r.sim.closed.reduce((s, c) => s + c.tradingFee, 0n);
      expect(closedFlow).to.be.lt(0n);
      expect(tradingFees).to.be.gt(0n);
      const feeToInsurance = mulDown(tradingFees, riskParams.insuranceFeeShareD18);
      const deficit = -(r.before.collateral + closedFlow - tradingFees - r.plan.charge);
      expect(deficit).to.be.gt(0n);
      // The trading fee's and the charge's insurance shares are credited before the deficit is covered.
      const available = ins0 + feeToInsurance + r.plan.toInsurance;
      const covered = deficit < available ? deficit : available;
      const socialised = deficit - covered;
      if (topUp !== null) expect(socialised).to.equal(0n);
      else expect(covered > 0n && socialised > 0n).to.equal(true);
      await expect(r.tx).to.emit(engine, "BadDebt").withArgs(1n, covered, socialised);
      expect(await engine.insuranceFund()).to.equal(available - covered);
      expect(await engine.vaultCash()).to.equal(
        vc0 - closedFlow + (tradingFees - feeToInsurance) - socialised,
      );
      expect((await engine.getAccount(1)).collateralD18).to.equal(0n);
      expect((await engine.getAccount(1)).positionCount).to.equal(0n);
      expect(await token.balanceOf(signers.keeper)).to.equal(kb + r.plan.reward / TOKEN_SCALE);
      await expectCustody(engine);
    });
  }

  it("emits no BadDebt when the account ends with non-negative collateral", async () => {
    const f = await loadFixture(deployBulkhead);
    const { engine, ethAggregator } = f.contracts;
    await openIsolated(engine.connect(f.signers.alice), ETH, 0, usd("1000"), wad("10"), up(1n));
    await ethAggregator.setAnswer(feedAnswer("2920"));
    const r = await liquidateModelled(engine, f.signers.keeper, 1);
    expect(r.sim.collateral).to.be.gte(0n);
    await expect(r.tx).to.not.emit(engine, "BadDebt");
  });
});

describe("liquidation: auto-deleveraging", () => {
  /** Small vault (100k), alice long 40 ETH, bob short 10 ETH: traders net long 30. */
  async function adlSetup() {
    const f = await loadFixture(deploySmallVaultBulkhead);
    const { engine } = f.contracts;
    const { alice, bob } = f.signers;
    await openIsolated(engine.connect(alice), ETH, 0, usd("10000"), wad("40"), up(1n)); // id 1
    await openIsolated(engine.connect(bob), ETH, 0, usd("30000"), wad("-10"), 0n); // id 2
    return f;
  }

  async function adlExpect(engine: IBulkhead, id: bigint, t: bigint) {
    const m = await marketAt(engine, BigInt(ETH), t);
    const pnl = tradersPnl(m);
    const cash = await engine.vaultCash();
    const trigger = divFloor(cash * riskParams.adlTriggerD18, WAD);
    const target = divFloor(cash * riskParams.adlTargetD18, WAD);
    const acct = await model(engine, id, t);
    const p = acct.positions[0];
    const positionPnl = p.upnl - p.funding;
    return { m, pnl, cash, trigger, target, acct, p, positionPnl };
  }

  it("refuses while traders' PnL is under the trigger (AdlNotTriggered with exact figures)", async () => {
    const { contracts, signers } = await adlSetup();
    const { engine, ethAggregator } = contracts;
    await ethAggregator.setAnswer(feedAnswer("4000"));
    const t = (await latest()) + 10n;
    const e = await adlExpect(engine, 1n, t);
    expect(e.pnl).to.be.gt(0n);
    expect(e.pnl).to.be.lte(e.trigger);
    const before = await accountState(engine, 1);
    await networkHelpers.time.setNextBlockTimestamp(t);
    await expect(engine.connect(signers.keeper).autoDeleverage(1, ETH, GAS))
      .to.be.revertedWithCustomError(engine, "AdlNotTriggered")
      .withArgs(ETH, e.pnl, e.trigger);
    expect(await accountState(engine, 1)).to.deep.equal(before);
    const [open] = await engine.adlStatus(ETH);
    expect(open).to.equal(false);
  });

  it("refuses an unprofitable position while triggered (PositionNotProfitable)", async () => {
    const { contracts, signers } = await adlSetup();
    const { engine, ethAggregator } = contracts;
    await ethAggregator.setAnswer(feedAnswer("4800"));
    const [open] = await engine.adlStatus(ETH);
    expect(open).to.equal(true);
    const before = await accountState(engine, 2);
    await expect(engine.connect(signers.keeper).autoDeleverage(2, ETH))
      .to.be.revertedWithCustomError(engine, "PositionNotProfitable")
      .withArgs(2n, ETH);
    expect(await accountState(engine, 2)).to.deep.equal(before);
    await expect(engine.connect(signers.keeper).autoDeleverage(1, BTC))
      .to.be.revertedWithCustomError(engine, "NoPosition")
      .withArgs(1n, BTC);
  });

  it("when triggered, reduces a profitable position just to the target, without fee, emitting AutoDeleveraged", async () => {
    const { contracts, signers } = await adlSetup();
    const { engine, ethAggregator, token } = contracts;
    await ethAggregator.setAnswer(feedAnswer("4800"));
    const t = (await latest()) + 10n;
    const e = await adlExpect(engine, 1n, t);
    expect(e.pnl).to.be.gt(e.trigger);
    expect(e.positionPnl).to.be.gt(0n);
    // Touching the position settles all its funding F; closing f realises R(f) >= f x U (U its gross unrealised
    // PnL at its exit fill; a partial close gets a better fill than the whole would):
    // P + F - f U <= t (C + F - f U)  <=>  f >= (P + F - t (C + F)) / (U (1 - t)), rounded up; the close size
    // is |size| x f rounded up.
    const F = e.p.funding;
    const target = divFloor((e.cash + F) * riskParams.adlTargetD18, WAD);
    const num = e.pnl + F - target;
    const den = mulDown(e.p.upnl, WAD - riskParams.adlTargetD18);
    const f = (num * WAD + den - 1n) / den;
    expect(f > 0n && f < WAD).to.equal(true);
    const closeSize = fractionOf(e.p.size, f);
    const released = (e.p.basis * closeSize + e.p.size - 1n) / e.p.size; // divCeil, both positive
    // ADL closes at the fill a trade of -closeSize would get (skew impact), without trading fee.
    const fill = fillAt(e.m, -closeSize);
    expect(fill).to.be.gt(e.m.price); // a sale that reduces a long skew of 30 ETH still fills above the oracle
    const realised = divFloor(closeSize * fill, WAD) - released;
    const ins = await engine.insuranceFund();
    const bal = await token.balanceOf(await engine.getAddress());

    await networkHelpers.time.setNextBlockTimestamp(t);
    const tx = await engine.connect(signers.carol).autoDeleverage(1, ETH);
    await expect(tx)
      .to.emit(engine, "AutoDeleveraged")
      .withArgs(1n, ETH, signers.carol.address, closeSize, fill, realised);
    await expect(tx).to.not.emit(engine, "PositionModified"); // not a trade: no trading fee
    const a = await engine.getAccount(1);
    expect(a.collateralD18).to.equal(e.acct.collateral + realised - e.p.funding); // no fee
    expect(await engine.vaultCash()).to.equal(e.cash - realised + e.p.funding);
    expect(await engine.insuranceFund()).to.equal(ins);
    expect(await token.balanceOf(await engine.getAddress())).to.equal(bal);
    const [pos] = await engine.getPositions(1);
    expect(pos.sizeD18).to.equal(e.p.size - closeSize);

    await expectCustody(engine);
    // Not much more than needed: closing 1% less would leave it above the target (by the NatSpec's algebra).
    const fewer = closeSize - closeSize / 100n;
    const fewerFlow = divFloor(fewer * e.p.upnl, e.p.size) - F; // what the vault would pay
    expect((e.pnl - fewerFlow) * WAD).to.be.gt((e.cash - fewerFlow) * riskParams.adlTargetD18);

    // Traders' net PnL is back at or under target x vault cash (same timestamp, after).
    const after = await adlExpect(engine, 1n, t);
    expect(await engine.tradersNetPnl(ETH, { blockTag: (await tx.wait())!.blockNumber })).to.equal(after.pnl);
    expect(after.pnl * WAD).to.be.lte(after.cash * riskParams.adlTargetD18);
  });

  it("when triggered after 30 days of funding, ADL still brings traders' PnL to <= target (funding is settled in full)", async () => {
    const { contracts, signers } = await adlSetup();
    const { engine, ethAggregator } = contracts;
    await networkHelpers.time.increase(30 * 86_400);
    await ethAggregator.setAnswer(feedAnswer("4800"));
    const t = (await latest()) + 10n;
    const e = await adlExpect(engine, 1n, t);
    expect(e.pnl).to.be.gt(e.trigger);
    expect(e.p.funding).to.be.gt(wad("50")); // alice owes a material amount of funding
    await networkHelpers.time.setNextBlockTimestamp(t);
    await engine.connect(signers.carol).autoDeleverage(1, ETH);
    const after = await adlExpect(engine, 1n, t);
    // Expected (DESIGN/NatSpec): pnl' <= target x cash'. Shown with the overshoot in USD for the report.
    const closed = e.p.size - (await engine.getPositions(1))[0].sizeD18;
    const u = e.p.upnl;
    // The close that meets the target given that the whole accrued funding F is settled:
    // P - f u + F <= t (C - f u + F)  <=>  f >= (P - t C + (1 - t) F) / (u (1 - t)).
    const tgt = riskParams.adlTargetD18;
    const fNeeded = ((e.pnl * WAD - e.cash * tgt + (WAD - tgt) * e.p.funding) * WAD) / (u * (WAD - tgt));
    const overshoot = after.pnl - divFloor(after.cash * riskParams.adlTargetD18, WAD);
    expect(closed * WAD, "closed size x 1e18 vs the fraction needed x size").to.be.gte(fNeeded * e.p.size);
    expect(overshoot, `traders' PnL above target after ADL by ${overshoot} wei`).to.be.lte(0n);
  });

  it("closes when settling the position's funding leaves an excess of one wei, and refuses at zero", async () => {
    // Funding owed to the position (F < 0) is paid out of vault cash when ADL touches it, which may by itself
    // bring the market under target: the boundary is an excess P + F - target(C + F) of exactly zero. Reaching it
    // to the wei takes two storage patches: the position's funding checkpoint (so that it is owed funding) and
    // the vault's cash (so that the excess is 1 wei, then 0).
    const { contracts, signers } = await adlSetup();
    const { engine, ethAggregator } = contracts;
    await ethAggregator.setAnswer(feedAnswer("4800"));
    const address = await engine.getAddress();
    const coder = ethers.AbiCoder.defaultAbiCoder();
    const t = (await latest()) + 10n;
    const e0 = await adlExpect(engine, 1n, t);

    // Alice's position slot (size | basis | checkpoint D9): found by its size in the low 96 bits.
    let positionSlot = "";
    for (let base = 0; base < 64 && positionSlot === ""; base++) {
      const inner = ethers.keccak256(coder.encode(["uint256", "uint256"], [1n, base]));
      const slot = ethers.keccak256(coder.encode(["uint256", "bytes32"], [BigInt(ETH), inner]));
      const word = BigInt(await ethers.provider.getStorage(address, slot));
      if (word !== 0n && BigInt.asIntN(96, word) === e0.p.size) positionSlot = slot;
    }
    expect(positionSlot).to.not.equal("");
    // Move the checkpoint up so that the position is owed about half the market's PnL in funding.
    const word = BigInt(await ethers.provider.getStorage(address, positionSlot));
    const checkpointD9 = BigInt.asIntN(64, word >> 192n);
    const shiftD9 = (e0.pnl * WAD) / 2n / e0.p.size / 10n ** 9n;
    const patched = (word & ((1n << 192n) - 1n)) | (BigInt.asUintN(64, checkpointD9 + shiftD9) << 192n);
    await networkHelpers.setStorageAt(address, positionSlot, patched);
    const e1 = await adlExpect(engine, 1n, t);
    const F = e1.p.funding;
    expect(F * 3n).to.be.lt(-e1.pnl); // owed more than a third of P: the only way the boundary is reachable

    // The vault cash C for which the excess P + F - floor((C + F) t) is `excess`.
    const tgt = riskParams.adlTargetD18;
    const cashFor = (excess: bigint) => {
      const y = e1.pnl + F - excess;
      return (y * WAD + tgt - 1n) / tgt - F;
    };
    const setCash = async (cash: bigint) => {
      const current = await engine.vaultCash();
      const mask104 = (1n << 104n) - 1n;
      for (let i = 0; i < 64; i++) {
        const w = BigInt(await ethers.provider.getStorage(address, i));
        if (w !== 0n && BigInt.asIntN(104, w & mask104) === current) {
          await networkHelpers.setStorageAt(address, i, (w & ~mask104) | BigInt.asUintN(104, cash));
          return;
        }
      }
      throw new Error("vault cash slot not found");
    };
    const snapshot = await networkHelpers.takeSnapshot();

    // Excess of one wei: still triggered (P > floor(C x trigger)), ADL closes the smallest fraction, rounded up.
    const cash1 = cashFor(1n);
    await setCash(cash1);
    expect(e1.pnl).to.be.gt(divFloor(cash1 * riskParams.adlTriggerD18, WAD));
    expect(e1.pnl + F - divFloor((cash1 + F) * tgt, WAD)).to.equal(1n);
    const den = mulDown(e1.p.upnl, WAD - tgt);
    const closeSize = fractionOf(e1.p.size, (WAD + den - 1n) / den);
    expect(closeSize).to.be.gt(0n);
    await networkHelpers.time.setNextBlockTimestamp(t);
    await expect(engine.connect(signers.carol).autoDeleverage(1, ETH))
      .to.emit(engine, "AutoDeleveraged")
      .withArgs(1n, ETH, signers.carol.address, closeSize, anyValue, anyValue);
    await snapshot.restore();

    // Excess of zero: settling the funding alone brings the market to target; nothing is closed.
    const cash0 = cashFor(0n);
    await setCash(cash0);
    expect(e1.pnl).to.be.gt(divFloor(cash0 * riskParams.adlTriggerD18, WAD));
    const before = await accountState(engine, 1);
    await networkHelpers.time.setNextBlockTimestamp(t);
    await expect(engine.connect(signers.carol).autoDeleverage(1, ETH))
      .to.be.revertedWithCustomError(engine, "AdlNotTriggered")
      .withArgs(ETH, e1.pnl, divFloor(cash0 * riskParams.adlTriggerD18, WAD));
    expect(await accountState(engine, 1)).to.deep.equal(before);
  });

  it("ADL and batch liquidation keep working while the engine is paused (they only reduce risk)", async () => {
    const { contracts, signers } = await adlSetup();
    const { engine, ethAggregator } = contracts;
    await openIsolated(engine.connect(signers.carol), ETH, 0, usd("100"), wad("-1"), 0n); // id 3
    await ethAggregator.setAnswer(feedAnswer("4800"));
    await engine.connect(signers.admin).pause();
    await expect(engine.connect(signers.keeper).autoDeleverage(1, ETH)).to.emit(engine, "AutoDeleveraged");
    // carol's short (id 3) is deep under water at 4800: the batch liquidates it while paused.
    const [count] = await engine.connect(signers.keeper).liquidateBatch.staticCall([2n, 3n], signers.keeper);
    expect(count).to.equal(1n);
    await expect(engine.connect(signers.keeper).liquidateBatch([2n, 3n], signers.keeper))
      .to.emit(engine, "Liquidated")
      .withArgs(
        3n,
        signers.keeper.address,
        signers.keeper.address,
        false,
        wad("4800"),
        wad("24"),
        wad("5"), // bankrupt: the flat part only (5 + 24 x 0.5 would be bad debt)
        wad("19"),
      );
    await expectCustody(engine);
  });
});
