import { expect } from "chai";
import {
  deployBulkhead,
  ETH,
  ethers,
  marketParams,
  networkHelpers,
  orderParams,
  riskParams,
} from "../helpers/fixture.js";
import { usd, wad } from "../helpers/constants.js";
import { expectCustodyIdentity, expectUnchanged } from "../helpers/invariants.js";

const name = (s: string) => ethers.encodeBytes32String(s);

type Market = ReturnType<typeof marketParams>;
type Risk = typeof riskParams;

/** Each market-parameter bound of GovernanceModule._writeMarketParams, one violation per row. */
const MARKET_BOUNDS: [string, Partial<Market>][] = [
  ["baseImr", { baseImrD18: wad("0.0049") }],
  ["baseImr", { baseImrD18: wad("0.6"), maxImrD18: wad("0.5") }],
  ["maxImr", { maxImrD18: wad("1.01") }],
  ["imrSizeSlope", { imrSizeSlopeD18: wad("10.01") }],
  ["mmScalar", { mmScalarD18: wad("0.09") }],
  ["mmScalar", { mmScalarD18: wad("0.91") }],
  ["maxFundingVelocity", { maxFundingVelocityD18: wad("10.01") }],
  ["minPositionMargin", { minPositionMarginD18: wad("4.99") }], // below the flat keeper reward (5)
  ["minPositionMargin", { minPositionMarginD18: wad("1000001") }],
  ["skewScale", { skewScaleD18: 0n, maxOiPerSideD18: 0n }],
  ["skewScale", { skewScaleD18: 10n ** 36n + 1n }],
  ["tradeFee", { makerFeeD18: wad("0.0101") }],
  ["tradeFee", { takerFeeD18: wad("0.0101") }],
  ["liquidationFee", { liquidationFeeD18: wad("0.01") }], // not below baseImr x mmScalar = 0.01
  // Below 0.01 alone, but liquidationFee + takerFee (0.0094 + 0.0006) is not: a liquidation pays both.
  ["liquidationFee", { liquidationFeeD18: wad("0.0094") }],
  ["liquidationFee", { baseImrD18: wad("0.5"), mmScalarD18: wad("0.9"), liquidationFeeD18: wad("0.051") }],
  ["reserveRatio", { reserveRatioD18: 0n }],
  ["reserveRatio", { reserveRatioD18: wad("1.01") }],
  ["maxOiPerSide", { maxOiPerSideD18: 0n }],
  ["maxOiPerSide", { maxOiPerSideD18: wad("1000001") }], // above skewScale
  ["maxDivergence", { maxDivergenceD18: wad("0.1") + 1n }], // settlement vs mark price, at most 10%
];

/** Each risk-parameter bound of GovernanceModule._setRiskParams, one violation per row. */
const RISK_BOUNDS: [string, Partial<Risk>][] = [
  ["maxPositionsPerAccount", { maxPositionsPerAccount: 0 }],
  ["maxPositionsPerAccount", { maxPositionsPerAccount: 17 }],
  ["keeperShare", { keeperShareD18: wad("1.01") }],
  ["liquidationBuffer", { liquidationBufferD18: wad("0.51") }],
  ["insuranceFeeShare", { insuranceFeeShareD18: wad("0.51") }],
  ["keeperReward", { flatKeeperRewardD18: wad("21"), maxKeeperRewardD18: wad("20") }],
  ["keeperReward", { maxKeeperRewardD18: wad("100001") }], // above MAX_KEEPER_REWARD (100,000)
  // The flat part above the listed markets' minPositionMargin (20); the cap no longer depends on it.
  ["keeperReward", { flatKeeperRewardD18: wad("20.01") }],
  ["partialLiquidationNotional", { partialLiquidationNotionalD18: 0n }],
  ["adl", { adlTargetD18: 0n }],
  ["adl", { adlTargetD18: wad("0.5"), adlTriggerD18: wad("0.5") }],
  ["adl", { adlTargetD18: wad("0.5"), adlTriggerD18: wad("1.01") }],
  ["adlMinShare", { adlMinShareD18: 0n }],
  ["adlMinShare", { adlMinShareD18: wad("0.51") }], // above MAX_ADL_MIN_SHARE (0.5)
];

describe("core: governance", () => {
  it("listMarket and setMarketParams reject every out-of-bounds market parameter by name and change nothing", async () => {
    const { contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, ethFeed } = contracts;
    const base = marketParams(await ethFeed.getAddress(), "ETH");
    const ethBefore = await engine.getMarketParams(ETH);
    for (const [bound, override] of MARKET_BOUNDS) {
      const params = { ...base, ...override };
      await expectUnchanged(contracts, () =>
        expect(engine.listMarket(params))
          .to.be.revertedWithCustomError(engine, "ParameterOutOfBounds")
          .withArgs(name(bound)),
      );
      await expectUnchanged(contracts, () =>
        expect(engine.setMarketParams(ETH, params))
          .to.be.revertedWithCustomError(engine, "ParameterOutOfBounds")
          .withArgs(name(bound)),
      );
    }
    await expect(engine.listMarket({ ...base, feed: ethers.ZeroAddress })).to.be.revertedWithCustomError(
      engine,
      "ZeroAddress",
    );
    // Orders settle on the pull feed: a market without one is refused too.
    await expectUnchanged(contracts, () =>
      expect(engine.listMarket({ ...base, pullFeed: ethers.ZeroAddress })).to.be.revertedWithCustomError(
        engine,
        "ZeroAddress",
      ),
    );
    await expectUnchanged(contracts, () =>
      expect(
        engine.setMarketParams(ETH, { ...base, pullFeed: ethers.ZeroAddress }),
      ).to.be.revertedWithCustomError(engine, "ZeroAddress"),
    );
    await expect(engine.setMarketParams(9, base))
      .to.be.revertedWithCustomError(engine, "UnknownMarket")
      .withArgs(9);
    expect(await engine.marketCount()).to.equal(2n);
    expect(await engine.getMarketParams(ETH)).to.deep.equal(ethBefore);

    // In bounds: both work and emit.
    await expect(engine.listMarket(base))
      .to.emit(engine, "MarketListed")
      .withArgs(3, (p: unknown[]) => p[0] === base.feed);
    await expect(engine.setMarketParams(ETH, { ...base, takerFeeD18: wad("0.001") })).to.emit(
      engine,
      "MarketParamsUpdated",
    );
    expect((await engine.getMarketParams(ETH)).takerFeeD18).to.equal(wad("0.001"));
  });

  it("setRiskParams rejects every out-of-bounds risk parameter by name and changes nothing", async () => {
    const { contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine } = contracts;
    for (const [bound, override] of RISK_BOUNDS) {
      await expectUnchanged(contracts, () =>
        expect(engine.setRiskParams({ ...riskParams, ...override }))
          .to.be.revertedWithCustomError(engine, "ParameterOutOfBounds")
          .withArgs(name(bound)),
      );
    }
    await expect(engine.setRiskParams({ ...riskParams, keeperShareD18: wad("0.4") })).to.emit(
      engine,
      "RiskParamsUpdated",
    );
    expect((await engine.getRiskParams()).keeperShareD18).to.equal(wad("0.4"));
    // The cap may exceed every market's minPositionMargin (20) now, up to MAX_KEEPER_REWARD; the flat part may
    // equal it.
    await engine.setRiskParams({
      ...riskParams,
      flatKeeperRewardD18: wad("20"),
      maxKeeperRewardD18: wad("100000"),
      adlMinShareD18: wad("0.5"),
    });
    const r = await engine.getRiskParams();
    expect([r.flatKeeperRewardD18, r.maxKeeperRewardD18, r.adlMinShareD18]).to.deep.equal([
      wad("20"),
      wad("100000"),
      wad("0.5"),
    ]);
  });

  it("governance functions revert for callers without the role", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, engineImpl, ethFeed } = contracts;
    const { alice, carol } = signers;
    const risk = await engineImpl.RISK_ROLE();
    const pauser = await engineImpl.PAUSER_ROLE();
    const admin = await engineImpl.DEFAULT_ADMIN_ROLE();
    const base = marketParams(await ethFeed.getAddress(), "ETH");
    const cases: [() => Promise<unknown>, string][] = [
      [() => engine.connect(alice).listMarket(base), risk],
      [() => engine.connect(alice).setMarketParams(ETH, base), risk],
      [() => engine.connect(alice).setRiskParams(riskParams), risk],
      [() => engine.connect(alice).setOrderParams(orderParams), risk],
      [() => engine.connect(alice).pause(), pauser],
      [() => engine.connect(alice).unpause(), pauser],
      [() => engine.connect(alice).setVault(alice), admin],
      [() => engineImpl.connect(alice).grantRole(risk, alice), admin],
    ];
    for (const [call, role] of cases) {
      await expectUnchanged(contracts, () =>
        expect(call())
          .to.be.revertedWithCustomError(engineImpl, "AccessControlUnauthorizedAccount")
          .withArgs(alice.address, role),
      );
    }
    expect(await engineImpl.paused()).to.equal(false);
    // A granted role works.
    await engineImpl.grantRole(risk, carol);
    await expect(engine.connect(carol).setRiskParams(riskParams)).to.emit(engine, "RiskParamsUpdated");
  });

  it("setVault works once; vaultDeposit and vaultWithdraw are for the vault only", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, engineImpl, vault } = contracts;
    const { admin, alice } = signers;
    expect(await engineImpl.vault()).to.equal(await vault.getAddress());
    await expectUnchanged(contracts, () =>
      expect(engine.connect(admin).setVault(alice)).to.be.revertedWithCustomError(engine, "VaultAlreadySet"),
    );
    await expect(engine.connect(admin).setVault(ethers.ZeroAddress)).to.be.revertedWithCustomError(
      engine,
      "ZeroAddress",
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).vaultDeposit(usd("1")))
          .to.be.revertedWithCustomError(engine, "NotVault")
          .withArgs(alice.address),
      [alice.address],
    );
    await expectUnchanged(
      contracts,
      () =>
        expect(engine.connect(alice).vaultWithdraw(usd("1"), alice))
          .to.be.revertedWithCustomError(engine, "NotVault")
          .withArgs(alice.address),
      [alice.address],
    );
    expect(await engineImpl.vault()).to.equal(await vault.getAddress());
    await expectCustodyIdentity(contracts);
  });

  it("pause and unpause by the guardian emit and toggle", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(deployBulkhead);
    const { engine, engineImpl } = contracts;
    const { admin } = signers;
    await expect(engine.connect(admin).pause()).to.emit(engineImpl, "Paused").withArgs(admin.address);
    expect(await engineImpl.paused()).to.equal(true);
    await expect(engine.connect(admin).pause()).to.be.revertedWithCustomError(engineImpl, "EnforcedPause");
    await expect(engine.connect(admin).unpause()).to.emit(engineImpl, "Unpaused").withArgs(admin.address);
    await expect(engine.connect(admin).unpause()).to.be.revertedWithCustomError(engineImpl, "ExpectedPause");
  });
});
