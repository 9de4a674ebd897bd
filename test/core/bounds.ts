/**
 * Every hard bound is exact: the bound itself is accepted and the next representable value is refused with the
 * bound's own error. The tables in test/core/governance.ts show that out-of-bounds values are refused; these show
 * where the line is, so an off-by-one (`<` for `<=`, a constant one off) cannot pass unnoticed. Found necessary by
 * mutation testing (scripts/mutate.ts), whose boundary mutants survived the refusal tables alone.
 */
import { expect } from "chai";
import type { AddressLike, BaseContract, ContractTransactionResponse } from "ethers";
import {
  deployBulkhead,
  ETH,
  ethers,
  marketParams,
  networkHelpers,
  orderParams,
  riskParams,
} from "../helpers/fixture.js";
import { wad } from "../helpers/constants.js";

const { loadFixture } = networkHelpers;
const name = (s: string) => ethers.encodeBytes32String(s);
const HOUR = 3600n;
const DAY = 24n * HOUR;

type Market = ReturnType<typeof marketParams>;
type Risk = typeof riskParams;

/** [bound name, accepted at the line, refused one step past it] */
const MARKET_LINES: [string, Partial<Market>, Partial<Market>][] = [
  [
    "baseImr",
    { baseImrD18: wad("0.005"), liquidationFeeD18: wad("0.001") },
    { baseImrD18: wad("0.005") - 1n, liquidationFeeD18: wad("0.001") },
  ],
  [
    "baseImr",
    { baseImrD18: wad("0.5"), maxImrD18: wad("0.5") },
    { baseImrD18: wad("0.5") + 1n, maxImrD18: wad("0.5") },
  ],
  ["maxImr", { maxImrD18: wad("1") }, { maxImrD18: wad("1") + 1n }],
  ["imrSizeSlope", { imrSizeSlopeD18: wad("4") }, { imrSizeSlopeD18: wad("4") + 1n }],
  [
    "mmScalar",
    { mmScalarD18: wad("0.1"), liquidationFeeD18: wad("0.001") },
    { mmScalarD18: wad("0.1") - 1n, liquidationFeeD18: wad("0.001") },
  ],
  ["mmScalar", { mmScalarD18: wad("0.9") }, { mmScalarD18: wad("0.9") + 1n }],
  ["maxFundingVelocity", { maxFundingVelocityD18: wad("4") }, { maxFundingVelocityD18: wad("4") + 1n }],
  // At least the flat keeper reward (5), at most 1,000,000.
  ["minPositionMargin", { minPositionMarginD18: wad("5") }, { minPositionMarginD18: wad("5") - 1n }],
  [
    "minPositionMargin",
    { minPositionMarginD18: wad("1000000") },
    { minPositionMarginD18: wad("1000000") + 1n },
  ],
  ["skewScale", { skewScaleD18: 10n ** 28n }, { skewScaleD18: 10n ** 28n + 1n }],
  // A 1% taker fee needs baseImr x mmScalar above liquidationFee + 1%.
  [
    "tradeFee",
    { takerFeeD18: wad("0.01"), baseImrD18: wad("0.1") },
    { takerFeeD18: wad("0.01") + 1n, baseImrD18: wad("0.1") },
  ],
  ["tradeFee", { makerFeeD18: wad("0.01") }, { makerFeeD18: wad("0.01") + 1n }],
  [
    "liquidationFee",
    { liquidationFeeD18: wad("0.05"), baseImrD18: wad("0.5"), mmScalarD18: wad("0.9") },
    { liquidationFeeD18: wad("0.05") + 1n, baseImrD18: wad("0.5"), mmScalarD18: wad("0.9") },
  ],
  // liquidationFee + takerFee strictly below baseImr x mmScalar (0.01): 0.0093 + 0.0006 passes, 0.0094 does not.
  [
    "liquidationFee",
    { liquidationFeeD18: wad("0.0094") - 1_000_000_000n },
    { liquidationFeeD18: wad("0.0094") },
  ],
  ["reserveRatio", { reserveRatioD18: 1_000_000_000n }, { reserveRatioD18: 0n }],
  ["reserveRatio", { reserveRatioD18: wad("1") }, { reserveRatioD18: wad("1") + 1n }],
  ["maxOiPerSide", { maxOiPerSideD18: 1n }, { maxOiPerSideD18: 0n }],
  ["maxOiPerSide", { maxOiPerSideD18: wad("1000000") }, { maxOiPerSideD18: wad("1000000") + 1n }],
  ["maxDivergence", { maxDivergenceD18: wad("0.1") }, { maxDivergenceD18: wad("0.1") + 1n }],
];

const RISK_LINES: [string, Partial<Risk>, Partial<Risk>][] = [
  ["maxPositionsPerAccount", { maxPositionsPerAccount: 1 }, { maxPositionsPerAccount: 0 }],
  ["maxPositionsPerAccount", { maxPositionsPerAccount: 16 }, { maxPositionsPerAccount: 17 }],
  ["keeperShare", { keeperShareD18: wad("1") }, { keeperShareD18: wad("1") + 1n }],
  ["liquidationBuffer", { liquidationBufferD18: wad("0.5") }, { liquidationBufferD18: wad("0.5") + 1n }],
  ["insuranceFeeShare", { insuranceFeeShareD18: wad("0.5") }, { insuranceFeeShareD18: wad("0.5") + 1n }],
  [
    "keeperReward",
    { flatKeeperRewardD18: wad("20"), maxKeeperRewardD18: wad("20") },
    { flatKeeperRewardD18: wad("20"), maxKeeperRewardD18: wad("20") - 1n },
  ],
  ["keeperReward", { maxKeeperRewardD18: wad("100000") }, { maxKeeperRewardD18: wad("100000") + 1n }],
  // The flat part may reach the listed markets' minPositionMargin (20), not pass it.
  ["keeperReward", { flatKeeperRewardD18: wad("20") }, { flatKeeperRewardD18: wad("20") + 1n }],
  [
    "partialLiquidationNotional",
    { partialLiquidationNotionalD18: 1n },
    { partialLiquidationNotionalD18: 0n },
  ],
  ["adl", { adlTargetD18: 1n }, { adlTargetD18: 0n }],
  ["adl", { adlTriggerD18: wad("1") }, { adlTriggerD18: wad("1") + 1n }],
  [
    "adl",
    { adlTargetD18: wad("0.5") - 1n, adlTriggerD18: wad("0.5") },
    { adlTargetD18: wad("0.5"), adlTriggerD18: wad("0.5") },
  ],
  ["adlMinShare", { adlMinShareD18: 1n }, { adlMinShareD18: 0n }],
  ["adlMinShare", { adlMinShareD18: wad("0.5") }, { adlMinShareD18: wad("0.5") + 1n }],
];

type Order = typeof orderParams;
const ORDER_LINES: [string, Partial<Order>, Partial<Order>][] = [
  ["minDelay", { minDelay: 1 }, { minDelay: 0 }],
  ["minDelay", { minDelay: 3600, maxDelay: 3660 }, { minDelay: 3601, maxDelay: 3660 }],
  ["maxDelay", { minDelay: 5, maxDelay: 6 }, { minDelay: 5, maxDelay: 5 }],
  ["maxDelay", { minDelay: 5, maxDelay: 5 + 86_400 }, { minDelay: 5, maxDelay: 5 + 86_401 }],
  [
    "settlementReward",
    { settlementRewardD18: wad("1000") },
    { settlementRewardD18: wad("1000") + 10n ** 12n },
  ],
  [
    "settlementRewardPrecision",
    { settlementRewardD18: 10n ** 12n },
    { settlementRewardD18: 10n ** 12n + 1n },
  ],
];

/** Sends `accepted` (must succeed) and `refused` (must revert with `error`, `args`), from a fresh deployment. */
async function expectLine(
  send: (f: Awaited<ReturnType<typeof deployBulkhead>>) => {
    accepted: () => Promise<ContractTransactionResponse>;
    refused: () => Promise<ContractTransactionResponse>;
    target: BaseContract;
  },
  error: string,
  args: unknown[],
  label: string,
) {
  const f = await loadFixture(deployBulkhead);
  const { accepted, refused, target } = send(f);
  await expect(accepted(), `${label}: the bound itself`).to.not.be.revert(ethers);
  await expect(refused(), `${label}: one past it`)
    .to.be.revertedWithCustomError(target, error)
    .withArgs(...args);
}

describe("core: every hard bound is exact", () => {
  it("market parameters: the bound is accepted, one past it refused by name", async () => {
    for (const [bound, ok, bad] of MARKET_LINES) {
      await expectLine(
        (f) => {
          const base = async () => marketParams(await f.contracts.ethFeed.getAddress(), "ETH");
          return {
            accepted: async () => f.contracts.engine.setMarketParams(ETH, { ...(await base()), ...ok }),
            refused: async () => f.contracts.engine.setMarketParams(ETH, { ...(await base()), ...bad }),
            target: f.contracts.engine,
          };
        },
        "ParameterOutOfBounds",
        [name(bound)],
        `market ${bound} ${JSON.stringify(ok, (_, v) => (typeof v === "bigint" ? String(v) : v))}`,
      );
    }
  });

  it("risk parameters: the bound is accepted, one past it refused by name", async () => {
    for (const [bound, ok, bad] of RISK_LINES) {
      await expectLine(
        (f) => ({
          accepted: () => f.contracts.engine.setRiskParams({ ...riskParams, ...ok }),
          refused: () => f.contracts.engine.setRiskParams({ ...riskParams, ...bad }),
          target: f.contracts.engine,
        }),
        "ParameterOutOfBounds",
        [name(bound)],
        `risk ${bound}`,
      );
    }
  });

  it("order parameters: the bound is accepted, one past it refused by name", async () => {
    for (const [bound, ok, bad] of ORDER_LINES) {
      await expectLine(
        (f) => ({
          accepted: () => f.contracts.engine.setOrderParams({ ...orderParams, ...ok }),
          refused: () => f.contracts.engine.setOrderParams({ ...orderParams, ...bad }),
          target: f.contracts.engine,
        }),
        "ParameterOutOfBounds",
        [name(bound)],
        `order ${bound}`,
      );
    }
  });

  it("vault fees, cooldown and request delays", async () => {
    const cases: [string, bigint[], bigint[]][] = [
      ["setVaultParams", [100n, 100n, 7n * DAY], [101n, 0n, 0n]],
      ["setVaultParams", [100n, 100n, 7n * DAY], [0n, 101n, 0n]],
      ["setVaultParams", [100n, 100n, 7n * DAY], [0n, 0n, 7n * DAY + 1n]],
      ["setRequestDelays", [1n, 61n], [0n, 61n]],
      ["setRequestDelays", [HOUR, HOUR + 60n], [HOUR + 1n, HOUR + 61n]],
      ["setRequestDelays", [10n, 70n], [10n, 69n]], // a window of at least a minute
      ["setRequestDelays", [10n, 2n * DAY], [10n, 2n * DAY + 1n]],
    ];
    for (const [fn, ok, bad] of cases) {
      await expectLine(
        (f) => {
          const v = f.contracts.vault as unknown as Record<
            string,
            (...a: bigint[]) => Promise<ContractTransactionResponse>
          >;
          return { accepted: () => v[fn](...ok), refused: () => v[fn](...bad), target: f.contracts.vault };
        },
        "VaultParameterOutOfBounds",
        [],
        `${fn}(${bad.join(", ")})`,
      );
    }
  });

  it("the Pyth feed's maximum age and confidence", async () => {
    const cases: [string, bigint[], bigint[]][] = [
      ["InvalidMaxAge", [1n, 1n], [0n, 1n]],
      ["InvalidMaxAge", [DAY, 1_000n], [DAY + 1n, 1_000n]],
      ["InvalidMaxConfidence", [1n, 1n], [1n, 0n]],
      ["InvalidMaxConfidence", [DAY, 1_000n], [DAY, 1_001n]],
    ];
    for (const [error, ok, bad] of cases) {
      await expectLine(
        (f) => ({
          accepted: () => f.contracts.ethPull.setFeedParams(ok[0], ok[1]),
          refused: () => f.contracts.ethPull.setFeedParams(bad[0], bad[1]),
          target: f.contracts.ethPull,
        }),
        error,
        [error === "InvalidMaxAge" ? bad[0] : bad[1]],
        `setFeedParams(${bad.join(", ")})`,
      );
    }
  });

  it("the engine's constructor refuses each zero address alone, and modules built for another token", async () => {
    const f = await loadFixture(deployBulkhead);
    const [admin] = await ethers.getSigners();
    const token = f.contracts.token;
    const liquidation = await ethers.deployContract("LiquidationModule", [token]);
    const governance = await ethers.deployContract("GovernanceModule", [token]);
    const factory = await ethers.getContractFactory("MarginEngine");
    const zero = ethers.ZeroAddress;
    const zeroes: [AddressLike, AddressLike, AddressLike][] = [
      [zero, liquidation, governance],
      [admin, zero, governance],
      [admin, liquidation, zero],
    ];
    for (const [who, liq, gov] of zeroes) {
      await expect(factory.deploy(token, who, riskParams, liq, gov)).to.be.revertedWithCustomError(
        factory,
        "ZeroAddress",
      );
    }
    const other = await ethers.deployContract("MockERC20", ["Other", "OTH", 6]);
    const foreign = await ethers.deployContract("LiquidationModule", [other]);
    await expect(factory.deploy(token, admin, riskParams, foreign, governance)).to.be.revertedWithCustomError(
      factory,
      "ModuleMismatch",
    );
    const foreignGovernance = await ethers.deployContract("GovernanceModule", [other]);
    await expect(
      factory.deploy(token, admin, riskParams, liquidation, foreignGovernance),
    ).to.be.revertedWithCustomError(factory, "ModuleMismatch");
    await expect(factory.deploy(token, admin, riskParams, liquidation, governance)).to.not.be.revert(ethers);
  });

  it("the volatility oracle's parameters, with the offending value in the error", async () => {
    const f = await loadFixture(deployBulkhead);
    const [admin] = await ethers.getSigners();
    const oracle = await ethers.deployContract("VolatilityOracle", [admin, admin]);
    const good = {
      feed: await f.contracts.ethFeed.getAddress(),
      interval: 3600n,
      lambdaD18: wad("0.9"),
      winsorD18: wad("4"),
      baseVolD18: wad("0.01"),
      capD18: wad("3"),
      risePerHourD18: wad("0.3"),
      fallPerHourD18: wad("0.05"),
    };
    const lines: [string, Partial<typeof good>, Partial<typeof good>, bigint][] = [
      ["interval", { interval: HOUR }, { interval: HOUR - 1n }, HOUR - 1n],
      ["interval", { interval: DAY }, { interval: DAY + 1n }, DAY + 1n],
      ["lambda", { lambdaD18: wad("0.5") }, { lambdaD18: wad("0.5") - 1n }, wad("0.5") - 1n],
      ["lambda", { lambdaD18: wad("0.99") }, { lambdaD18: wad("0.99") + 1n }, wad("0.99") + 1n],
      ["winsor", { winsorD18: wad("2") }, { winsorD18: wad("2") - 1n }, wad("2") - 1n],
      ["winsor", { winsorD18: wad("10") }, { winsorD18: wad("10") + 1n }, wad("10") + 1n],
      ["baseVol", { baseVolD18: 10n ** 14n }, { baseVolD18: 10n ** 14n - 1n }, 10n ** 14n - 1n],
      ["baseVol", { baseVolD18: wad("0.5") }, { baseVolD18: wad("0.5") + 1n }, wad("0.5") + 1n],
      ["cap", { capD18: wad("1") }, { capD18: wad("1") - 1n }, wad("1") - 1n],
      ["cap", { capD18: wad("5") }, { capD18: wad("5") + 1n }, wad("5") + 1n],
      [
        "risePerHour",
        { risePerHourD18: wad("0.01"), fallPerHourD18: wad("0.001") },
        { risePerHourD18: wad("0.01") - 1n, fallPerHourD18: wad("0.001") },
        wad("0.01") - 1n,
      ],
      ["risePerHour", { risePerHourD18: wad("1") }, { risePerHourD18: wad("1") + 1n }, wad("1") + 1n],
      [
        "fallPerHour",
        { fallPerHourD18: wad("0.001") },
        { fallPerHourD18: wad("0.001") - 1n },
        wad("0.001") - 1n,
      ],
      ["fallPerHour", { fallPerHourD18: wad("0.3") }, { fallPerHourD18: wad("0.3") + 1n }, wad("0.3") + 1n],
    ];
    for (const [bound, ok, bad, value] of lines) {
      await expect(oracle.setParams(ETH, { ...good, ...ok }), bound).to.not.be.revert(ethers);
      await expect(oracle.setParams(ETH, { ...good, ...bad }), bound)
        .to.be.revertedWithCustomError(oracle, "VolatilityParamOutOfBounds")
        .withArgs(bound, value);
    }
    await expect(oracle.setParams(ETH, { ...good, feed: ethers.ZeroAddress }))
      .to.be.revertedWithCustomError(oracle, "VolatilityParamOutOfBounds")
      .withArgs("feed", 0);
  });
});
