/**
 * Hardhat Ignition modules for a whole Bulkhead deployment, built from a validated parameter file.
 *
 * Ignition modules are static graphs, but the market list is data: so the graph is built by a function of the
 * parsed file. Every future has a stable id derived from the file (e.g. `Markets#listMarket_ETH_USD`), which is
 * what lets Ignition resume an interrupted deployment from its journal on a live network.
 *
 * Order of operations (each step waits for the ones it names):
 *   Token -> Timelock? -> Feeds (per market: the Chainlink mark feed, and the Pyth pull feed its orders settle
 *   on, over the chain's Pyth contract or a MockPyth deployed here, owned by the risk admin) -> Engine
 *   (LiquidationModule and GovernanceModule, then MarginEngine with the deployer as admin; the governance
 *   selectors, e.g. listMarket and setVault, are called through the IBulkhead ABI) -> Vault (LiquidityVault, setVault)
 *   -> Markets (deployer gets RISK_ROLE, listMarket in file order, then setOrderParams) -> Roles (grant
 *   RISK/PAUSER/ADMIN to the configured holders, then the deployer renounces what it should not keep). The
 *   deployer is the engine's first admin because setVault, grantRole and listMarket need it.
 */
import { createRequire } from "node:module";
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { Artifact, ContractFuture, Future } from "@nomicfoundation/ignition-core";
import { ZeroAddress, ZeroHash, id } from "ethers";
import {
  parseDecimal,
  type DeployParameters,
  type MarketParameters,
  type RoleHolder,
} from "../parameters/schema.js";

const require = createRequire(import.meta.url);
/** OpenZeppelin's published builds, for contracts the repo does not compile itself. */
const openZeppelinArtifact = (name: string) =>
  require(`@openzeppelin/contracts/build/contracts/${name}.json`) as Artifact;

export const ROLES = {
  DEFAULT_ADMIN_ROLE: ZeroHash,
  RISK_ROLE: id("RISK_ROLE"),
  PAUSER_ROLE: id("PAUSER_ROLE"),
} as const;

/** An Ignition-safe key for a market symbol: "ETH-USD" -> "ETH_USD". */
export const marketKey = (symbol: string) => symbol.replace(/[^A-Za-z0-9]/g, "_");

/**
 * The Pyth price id of the market listed `marketId`-th: the file's, or (MockPyth only) `BULKHEAD/<marketId>`, as
 * test/helpers/fixture.ts's `pythPriceId`.
 */
export function pythPriceIdOf(market: MarketParameters, marketId: number): string {
  return market.pullFeed.priceId ?? id(`BULKHEAD/${marketId}`);
}

/** The engine's `MarketParams` tuple for a market whose mark feed is `feed` and whose orders settle on `pullFeed`. */
export function marketParamsArg(
  market: MarketParameters,
  feed: ContractFuture<string> | string,
  pullFeed: ContractFuture<string> | string,
) {
  const p = market.params;
  return {
    feed,
    pullFeed,
    maxDivergenceD18: p.maxDivergence,
    baseImrD18: p.baseImr,
    maxImrD18: p.maxImr,
    imrSizeSlopeD18: p.imrSizeSlope,
    mmScalarD18: p.mmScalar,
    maxFundingVelocityD18: p.maxFundingVelocity,
    minPositionMarginD18: p.minPositionMargin,
    skewScaleD18: p.skewScale,
    makerFeeD18: p.makerFee,
    takerFeeD18: p.takerFee,
    liquidationFeeD18: p.liquidationFee,
    reserveRatioD18: p.reserveRatio,
    maxOiPerSideD18: p.maxOiPerSide,
  };
}

/** The engine's `RiskParams` tuple. */
export function riskParamsArg(params: DeployParameters) {
  const r = params.riskParams;
  return {
    maxPositionsPerAccount: r.maxPositionsPerAccount,
    keeperShareD18: r.keeperShare,
    liquidationBufferD18: r.liquidationBuffer,
    insuranceFeeShareD18: r.insuranceFeeShare,
    flatKeeperRewardD18: r.flatKeeperReward,
    maxKeeperRewardD18: r.maxKeeperReward,
    partialLiquidationNotionalD18: r.partialLiquidationNotional,
    adlTriggerD18: r.adlTrigger,
    adlTargetD18: r.adlTarget,
    adlMinShareD18: r.adlMinShare,
  };
}

/**
 * Builds the module graph. `deployer` is the address that sends every transaction (Ignition's default sender);
 * it stands for "deployer" in the file.
 */
export function buildBulkheadModule(params: DeployParameters, deployer: string) {
  const resolveAddress = (holder: "deployer" | string) => (holder === "deployer" ? deployer : holder);
  const isDeployer = (holder: RoleHolder) => resolveAddress(holder).toLowerCase() === deployer.toLowerCase();

  const TokenModule = buildModule("Token", (m) => {
    const token =
      "mock" in params.token
        ? m.contract("MockERC20", [
            params.token.mock.name,
            params.token.mock.symbol,
            params.token.mock.decimals,
          ])
        : m.contractAt("IERC20Metadata", openZeppelinArtifact("IERC20Metadata"), params.token.address);
    return { token };
  });

  const timelockConfig = params.timelock;
  const TimelockModule =
    timelockConfig === undefined
      ? undefined
      : buildModule("Timelock", (m) => {
          // Admin argument zero: the timelock administers itself, so no EOA can bypass the delay.
          const timelock = m.contract("TimelockController", openZeppelinArtifact("TimelockController"), [
            timelockConfig.minDelay,
            timelockConfig.proposers.map(resolveAddress),
            timelockConfig.executors.map(resolveAddress),
            ZeroAddress,
          ]);
          return { timelock };
        });

  /** A role holder as a call argument: an address, or the timelock deployed by this graph. */
  const holderArg = (m: Parameters<Parameters<typeof buildModule>[1]>[0], holder: RoleHolder) => {
    if (holder !== "timelock") return resolveAddress(holder);
    return m.useModule(TimelockModule as NonNullable<typeof TimelockModule>).timelock;
  };

  const FeedsModule = buildModule("Feeds", (m) => {
    const results: Record<string, ContractFuture<string>> = {};
    // The Pyth contract the pull feeds read: a MockPyth (local networks) or the chain's, given by address.
    let pyth: ContractFuture<string> | string;
    if ("mock" in params.pyth) {
      const mock = m.contract(
        "MockPyth",
        [params.pyth.mock.validTimePeriodSeconds, params.pyth.mock.updateFeeWei],
        {
          id: "pyth",
        },
      );
      results.pyth = mock;
      pyth = mock;
    } else {
      pyth = params.pyth.address;
    }
    // The pull feeds' owner may change their age and confidence bounds: the risk admin.
    const pullFeedOwner = holderArg(m, params.riskAdmin);
    for (const [i, market] of params.markets.entries()) {
      const key = marketKey(market.symbol);
      let aggregator: ContractFuture<string> | string;
      if ("mock" in market.feed) {
        const { decimals, initialAnswer } = market.feed.mock;
        const mock = m.contract("MockAggregatorV3", [decimals], { id: `aggregator_${key}` });
        m.call(mock, "setAnswer", [parseDecimal(initialAnswer, decimals)], { id: `setAnswer_${key}` });
        results[`aggregator_${key}`] = mock;
        aggregator = mock;
      } else {
        aggregator = market.feed.aggregator;
      }
      results[`feed_${key}`] = m.contract(
        "ChainlinkPriceFeed",
        [
          aggregator,
          market.heartbeatSeconds,
          market.sequencerUptimeFeed ?? ZeroAddress,
          market.gracePeriodSeconds ?? 0,
        ],
        { id: `feed_${key}` },
      );
      results[`pullFeed_${key}`] = m.contract(
        "PythPriceFeed",
        [
          pyth,
          pythPriceIdOf(market, i + 1),
          pullFeedOwner,
          market.pullFeed.maxAgeSeconds,
          market.pullFeed.maxConfidenceBps,
        ],
        { id: `pullFeed_${key}` },
      );
    }
    return results;
  });

  const EngineModule = buildModule("Engine", (m) => {
    const { token } = m.useModule(TokenModule);
    const liquidationModule = m.contract("LiquidationModule", [token]);
    const governanceModule = m.contract("GovernanceModule", [token]);
    const engine = m.contract("MarginEngine", [
      token,
      deployer,
      riskParamsArg(params),
      liquidationModule,
      governanceModule,
    ]);
    // The engine's whole ABI (IMarginEngine + ILiquidation + IGovernance), for the selectors its modules serve.
    const bulkhead = m.contractAt("IBulkhead", engine, { id: "Bulkhead" });
    return { engine, liquidationModule, governanceModule, bulkhead };
  });

  const VaultModule = buildModule("Vault", (m) => {
    const { token } = m.useModule(TokenModule);
    const { engine, bulkhead } = m.useModule(EngineModule);
    const vault = m.contract("LiquidityVault", [
      token,
      engine,
      holderArg(m, params.admin),
      params.vault.entryFeeBps,
      params.vault.exitFeeBps,
      params.vault.cooldownSeconds,
    ]);
    m.call(bulkhead, "setVault", [vault]); // a governance selector
    return { vault };
  });

  const MarketsModule = buildModule("Markets", (m) => {
    const { engine, bulkhead } = m.useModule(EngineModule);
    const feeds = m.useModule(FeedsModule);
    // listMarket needs RISK_ROLE; the deployer holds it for the listing and gives it up in Roles if it must.
    let previous: Future = m.call(engine, "grantRole", [ROLES.RISK_ROLE, deployer], {
      id: "grantRiskRoleToDeployer",
    });
    for (const market of params.markets) {
      const key = marketKey(market.symbol);
      // Chained so market ids follow the file order (1, 2, ...).
      previous = m.call(
        bulkhead,
        "listMarket",
        [marketParamsArg(market, feeds[`feed_${key}`], feeds[`pullFeed_${key}`])],
        { id: `listMarket_${key}`, after: [previous] },
      );
    }
    // Orders cannot be committed before their parameters are set (OrdersNotConfigured).
    const o = params.orders;
    m.call(
      bulkhead,
      "setOrderParams",
      [{ minDelay: o.minDelaySeconds, maxDelay: o.maxDelaySeconds, settlementRewardD18: o.settlementReward }],
      { id: "setOrderParams", after: [previous] },
    );
    return {};
  });

  // The portfolio risk model and the volatility oracle, when the file has them, wired into the engine while the
  // deployer still holds its admin and risk roles (Roles waits for this module).
  const pmConfig = params.portfolioMargin;
  const volConfig = params.volatility;
  const RiskModule = buildModule("Risk", (m) => {
    const { bulkhead } = m.useModule(EngineModule);
    const feeds = m.useModule(FeedsModule);
    m.useModule(MarketsModule);
    const results: Record<string, ContractFuture<string>> = {};
    const idOf = (symbol: string) => params.markets.findIndex((x) => x.symbol === symbol) + 1;
    if (pmConfig !== undefined) {
      const portfolioMargin = m.contract("PortfolioMargin", [
        holderArg(m, params.riskAdmin),
        {
          factors: pmConfig.factors.length,
          cholesky: pmConfig.cholesky.flat(),
          scenarios: pmConfig.scenarios.flatMap((s) => s.shocks),
          zD18: pmConfig.z,
          floorD18: pmConfig.floor,
          imScalarD18: pmConfig.imScalar,
        },
        Object.entries(pmConfig.markets).map(([symbol, x]) => ({
          marketId: idOf(symbol),
          loadingsD18: x.loadings,
          idioVolD18: x.idioVol,
          depthD18: x.depth,
        })),
        pmConfig.rampSeconds,
      ]);
      m.call(bulkhead, "setPortfolioMargin", [portfolioMargin]);
      results.portfolioMargin = portfolioMargin;
    }
    if (volConfig !== undefined) {
      // The deployer holds the oracle's roles to set each market's estimator, then hands them to the admin and
      // the risk admin (and keeps none it should not).
      const oracle = m.contract("VolatilityOracle", [deployer, deployer]);
      const sets: Future[] = [];
      for (const [symbol, baseVol] of Object.entries(volConfig.baseVol)) {
        sets.push(
          m.call(
            oracle,
            "setParams",
            [
              idOf(symbol),
              {
                feed: feeds[`feed_${marketKey(symbol)}`],
                interval: volConfig.intervalSeconds,
                lambdaD18: volConfig.lambda,
                winsorD18: volConfig.winsor,
                baseVolD18: baseVol,
                capD18: volConfig.cap,
                risePerHourD18: volConfig.risePerHour,
                fallPerHourD18: volConfig.fallPerHour,
              },
            ],
            { id: `volatility_${marketKey(symbol)}` },
          ),
        );
      }
      const handOver = (role: "RISK_ROLE" | "DEFAULT_ADMIN_ROLE", holder: RoleHolder, after: Future[]) => {
        if (isDeployer(holder)) return after;
        const grant = m.call(oracle, "grantRole", [ROLES[role], holderArg(m, holder)], {
          id: `volatility_grant_${role}`,
          after,
        });
        return [grant];
      };
      const granted = handOver(
        "DEFAULT_ADMIN_ROLE",
        params.admin,
        handOver("RISK_ROLE", params.riskAdmin, sets),
      );
      if (!isDeployer(params.riskAdmin)) {
        m.call(oracle, "renounceRole", [ROLES.RISK_ROLE, deployer], {
          id: "volatility_renounce_RISK_ROLE",
          after: granted,
        });
      }
      if (!isDeployer(params.admin)) {
        m.call(oracle, "renounceRole", [ROLES.DEFAULT_ADMIN_ROLE, deployer], {
          id: "volatility_renounce_DEFAULT_ADMIN_ROLE",
          after: granted,
        });
      }
      m.call(bulkhead, "setVolatilityOracle", [oracle]);
      results.volatilityOracle = oracle;
    }
    return results;
  });

  const RolesModule = buildModule("Roles", (m) => {
    const { engine } = m.useModule(EngineModule);
    // Grants wait for the vault wiring and the listings, which need the deployer's admin and risk roles.
    const grant = (role: keyof typeof ROLES, holder: RoleHolder) =>
      m.call(engine, "grantRole", [ROLES[role], holderArg(m, holder)], {
        id: `grant_${role}`,
        after: [VaultModule, MarketsModule, RiskModule],
      });
    const grants: Future[] = [];
    if (!isDeployer(params.riskAdmin)) grants.push(grant("RISK_ROLE", params.riskAdmin));
    grants.push(grant("PAUSER_ROLE", params.pauser));
    if (!isDeployer(params.admin)) grants.push(grant("DEFAULT_ADMIN_ROLE", params.admin));
    // Renounce only once every grant is through: the admin role is what makes grants possible.
    if (!isDeployer(params.riskAdmin)) {
      m.call(engine, "renounceRole", [ROLES.RISK_ROLE, deployer], {
        id: "renounce_RISK_ROLE",
        after: grants,
      });
    }
    if (!isDeployer(params.admin)) {
      m.call(engine, "renounceRole", [ROLES.DEFAULT_ADMIN_ROLE, deployer], {
        id: "renounce_DEFAULT_ADMIN_ROLE",
        after: grants,
      });
    }
    return {};
  });

  return buildModule("Bulkhead", (m) => {
    const { token } = m.useModule(TokenModule);
    const feeds = m.useModule(FeedsModule);
    const { engine, liquidationModule, governanceModule } = m.useModule(EngineModule);
    const { vault } = m.useModule(VaultModule);
    m.useModule(MarketsModule);
    m.useModule(RolesModule);
    const timelock = TimelockModule === undefined ? {} : m.useModule(TimelockModule);
    const risk = m.useModule(RiskModule);
    // Keyed by name for the deploy script: token, engine, liquidationModule, governanceModule, vault, feed_<KEY>,
    // pullFeed_<KEY>, aggregator_<KEY> (mock feeds), pyth (MockPyth) and timelock (when configured).
    const results: Record<string, ContractFuture<string>> = {
      token,
      engine,
      liquidationModule,
      governanceModule,
      vault,
      ...feeds,
      ...timelock,
      ...risk,
    };
    return results;
  });
}
