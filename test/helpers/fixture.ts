import hre, { network } from "hardhat";
import { DAY, feedAnswer, usd, wad } from "./constants.js";
import { lpDepositNow } from "./vault.js";

export const connection = await network.getOrCreate();
export const { ethers, networkHelpers } = connection;

/** Running under `npm run coverage`: instrumented, unoptimised code costs far more gas, so gas figures mean nothing. */
export const COVERAGE = hre.globalOptions.coverage === true;

/**
 * Running on unoptimised code: under coverage, or on the `coverage` build profile without instrumentation (what
 * `npm run mutation` builds mutants with, since it compiles in about half the time). Behaviour is the same as the
 * shipped build; gas is not, so tests that assert gas figures or gas-derived limits skip.
 */
export const UNOPTIMIZED = COVERAGE || hre.globalOptions.buildProfile === "coverage";

/** Pull feed deployed next to each mark feed by `deployProtocol` (mark feed address -> PythPriceFeed address). */
const pullFeedOf = new Map<string, string>();

/**
 * Local market parameters: ETH and BTC, 50x max leverage, 6 bps taker fee, orders settled on `pullFeed` (by
 * default the Pyth feed `deployProtocol` deployed next to `feed`) within 5% of the mark price.
 */
export function marketParams(feed: string, kind: "ETH" | "BTC", pullFeed?: string) {
  const skewScale = kind === "ETH" ? wad("1000000") : wad("50000");
  return {
    feed,
    pullFeed: pullFeed ?? pullFeedOf.get(feed.toLowerCase()) ?? ZERO_ADDRESS,
    maxDivergenceD18: wad("0.05"),
    baseImrD18: wad("0.02"),
    maxImrD18: wad("0.5"),
    imrSizeSlopeD18: wad("1"),
    mmScalarD18: wad("0.5"),
    maxFundingVelocityD18: wad("0.05"),
    minPositionMarginD18: wad("20"),
    skewScaleD18: skewScale,
    makerFeeD18: wad("0.0002"),
    takerFeeD18: wad("0.0006"),
    liquidationFeeD18: wad("0.005"),
    reserveRatioD18: wad("0.5"),
    maxOiPerSideD18: skewScale / 10n,
  };
}

export const riskParams = {
  maxPositionsPerAccount: 16,
  keeperShareD18: wad("0.5"),
  liquidationBufferD18: wad("0.1"),
  insuranceFeeShareD18: wad("0.2"),
  flatKeeperRewardD18: wad("5"),
  maxKeeperRewardD18: wad("1000"),
  partialLiquidationNotionalD18: wad("100000"),
  adlTriggerD18: wad("0.5"),
  adlTargetD18: wad("0.4"),
  adlMinShareD18: wad("0.01"),
};

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

/** Orders settle 1 to 60 seconds after commit; no settlement reward unless a test sets one. */
export const orderParams = { minDelay: 1, maxDelay: 60, settlementRewardD18: 0n };
/** MockPyth's fee per price update, in wei. */
export const PYTH_UPDATE_FEE = 1n;
/** The Pyth price id of market `marketId` in local deployments. */
export const pythPriceId = (marketId: number) => ethers.id(`BULKHEAD/${marketId}`);

export const ETH = 1;
export const BTC = 2;
export const HEARTBEAT = DAY;

/** The engine and its two modules for `token`, `admin` holding the admin role; `engine` is its IBulkhead view. */
export async function deployEngine(
  token: { getAddress(): Promise<string> },
  admin: { getAddress(): Promise<string> },
) {
  const module = await ethers.deployContract("LiquidationModule", [token]);
  const governance = await ethers.deployContract("GovernanceModule", [token]);
  const engineImpl = await ethers.deployContract("MarginEngine", [
    token,
    admin,
    riskParams,
    module,
    governance,
  ]);
  const engine = await ethers.getContractAt("IBulkhead", await engineImpl.getAddress());
  return { module, governance, engineImpl, engine };
}

/** Deployment variants: the token contract, the LP's initial vault deposit, and extra ETH-like markets. */
export interface ProtocolOptions {
  tokenKind?: "MockERC20" | "BlacklistToken";
  /** Whole USDC the LP deposits into the vault ("0" for an empty vault); 5,000,000 by default. */
  lpDeposit?: string;
  /** Extra markets after ETH and BTC, priced 100, 101, …, each with its own aggregator and feed. */
  extraMarkets?: number;
}

/**
 * Deploys the whole protocol: a 6-decimal stablecoin, ETH at 3000 and BTC at 60000 (plus any extra markets)
 * behind Chainlink mark feeds with a Pyth pull feed each (MockPyth), the engine with its modules, and the vault; funds and approves the users and seeds the vault.
 */
export async function deployProtocol(opts: ProtocolOptions = {}) {
  const [admin, lp, alice, bob, keeper, carol] = await ethers.getSigners();
  const token =
    opts.tokenKind === "BlacklistToken"
      ? await ethers.deployContract("BlacklistToken", ["USD Coin", "USDC", 6])
      : await ethers.deployContract("MockERC20", ["USD Coin", "USDC", 6]);
  const prices = ["3000", "60000"];
  for (let i = 0; i < (opts.extraMarkets ?? 0); i++) prices.push(String(100 + i));
  const aggregators = [];
  for (const price of prices) {
    const aggregator = await ethers.deployContract("MockAggregatorV3", [8]);
    await aggregator.setAnswer(feedAnswer(price));
    aggregators.push(aggregator);
  }
  const feeds = [];
  for (const aggregator of aggregators) {
    feeds.push(
      await ethers.deployContract("ChainlinkPriceFeed", [aggregator, HEARTBEAT, ethers.ZeroAddress, 0]),
    );
  }

  const pyth = await ethers.deployContract("MockPyth", [HEARTBEAT, PYTH_UPDATE_FEE]);
  const pullFeeds = [];
  for (const [i, feed] of feeds.entries()) {
    const pull = await ethers.deployContract("PythPriceFeed", [
      pyth,
      pythPriceId(i + 1),
      admin,
      HEARTBEAT,
      100,
    ]);
    pullFeedOf.set((await feed.getAddress()).toLowerCase(), await pull.getAddress());
    pullFeeds.push(pull);
  }

  const { module, engineImpl, engine } = await deployEngine(token, admin);
  const vault = await ethers.deployContract("LiquidityVault", [token, engine, admin, 10, 10, 3600]);
  await engine.setVault(vault);
  await engineImpl.grantRole(await engineImpl.RISK_ROLE(), admin);
  await engineImpl.grantRole(await engineImpl.PAUSER_ROLE(), admin);
  for (const [i, feed] of feeds.entries()) {
    await engine.listMarket(marketParams(await feed.getAddress(), i === 1 ? "BTC" : "ETH"));
  }
  await engine.setOrderParams(orderParams);

  for (const user of [lp, alice, bob, keeper, carol]) {
    await token.mint(user, usd("10000000"));
    await token.connect(user).approve(engine, ethers.MaxUint256);
    await token.connect(user).approve(vault, ethers.MaxUint256);
  }
  const lpDeposit = usd(opts.lpDeposit ?? "5000000");
  if (lpDeposit > 0n) await lpDepositNow(vault, lp, lpDeposit);

  return {
    signers: { admin, lp, alice, bob, keeper, carol },
    contracts: {
      token,
      engine,
      engineImpl,
      module,
      vault,
      aggregators,
      ethAggregator: aggregators[0],
      btcAggregator: aggregators[1],
      ethFeed: feeds[0],
      btcFeed: feeds[1],
      pyth,
      pullFeeds,
      ethPull: pullFeeds[0],
      btcPull: pullFeeds[1],
    },
  };
}

/** The standard deployment every suite starts from. */
export const deployBulkhead = () => deployProtocol();

/**
 * `base` with a volatility oracle set on its engine, configured for ETH only (hourly samples from the ETH mark feed,
 * EWMA lambda 0.9, base volatility 1% per hour, multiplier cap 3, rising at most 25% and falling 5% an hour); BTC
 * keeps multipliers of 1.
 */
export async function withVolatilityOracle<T extends Awaited<ReturnType<typeof deployBulkhead>>>(base: T) {
  const { admin } = base.signers;
  const oracle = await ethers.deployContract("VolatilityOracle", [admin, admin]);
  await oracle.setParams(ETH, {
    feed: await base.contracts.ethFeed.getAddress(),
    interval: 3600,
    lambdaD18: wad("0.9"),
    winsorD18: wad("4"),
    baseVolD18: wad("0.01"),
    capD18: wad("3"),
    risePerHourD18: wad("0.25"),
    fallPerHourD18: wad("0.05"),
  });
  await base.contracts.engine.setVolatilityOracle(oracle);
  return { ...base, oracle };
}
