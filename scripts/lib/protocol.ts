/**
 * Deploys Bulkhead on the connected network exactly like test/helpers/fixture.ts: a 6-decimal USDC, ETH and BTC
 * Chainlink-style feeds, the engine with its liquidation module, and the liquidity vault. One function, so the
 * demo can switch to the deploy/ modules without touching its story.
 */
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { parseUnits } from "ethers";

export const ETH = 1;
export const BTC = 2;
export const TOKEN_DECIMALS = 6;
export const FEED_DECIMALS = 8;
const DAY = 86_400;

export const wad = (v: string) => parseUnits(v, 18);
export const usd = (v: string) => parseUnits(v, TOKEN_DECIMALS);
export const feedAnswer = (v: string) => parseUnits(v, FEED_DECIMALS);

function marketParams(feed: string, kind: "ETH" | "BTC") {
  const skewScale = kind === "ETH" ? wad("1000000") : wad("50000");
  return {
    feed,
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

const riskParams = {
  maxPositionsPerAccount: 16,
  keeperShareD18: wad("0.5"),
  liquidationBufferD18: wad("0.1"),
  insuranceFeeShareD18: wad("0.2"),
  minKeeperRewardD18: wad("5"),
  maxKeeperRewardD18: wad("20"),
  partialLiquidationNotionalD18: wad("100000"),
  adlTriggerD18: wad("0.5"),
  adlTargetD18: wad("0.4"),
};

export async function deployProtocol(ethers: HardhatEthers) {
  const [admin, lp, alice, bob, keeper] = await ethers.getSigners();
  const token = await ethers.deployContract("MockERC20", ["USD Coin", "USDC", TOKEN_DECIMALS]);
  const ethAggregator = await ethers.deployContract("MockAggregatorV3", [FEED_DECIMALS]);
  const btcAggregator = await ethers.deployContract("MockAggregatorV3", [FEED_DECIMALS]);
  await ethAggregator.setAnswer(feedAnswer("3000"));
  await btcAggregator.setAnswer(feedAnswer("60000"));
  const ethFeed = await ethers.deployContract("ChainlinkPriceFeed", [
    ethAggregator,
    DAY,
    ethers.ZeroAddress,
    0,
  ]);
  const btcFeed = await ethers.deployContract("ChainlinkPriceFeed", [
    btcAggregator,
    DAY,
    ethers.ZeroAddress,
    0,
  ]);
  const module = await ethers.deployContract("LiquidationModule", [token]);
  const engineImpl = await ethers.deployContract("MarginEngine", [token, admin, riskParams, module]);
  const engine = await ethers.getContractAt("IBulkhead", await engineImpl.getAddress());
  const vault = await ethers.deployContract("LiquidityVault", [token, engine, admin, 10, 10, 3600]);
  await engineImpl.setVault(vault);
  await engineImpl.grantRole(await engineImpl.RISK_ROLE(), admin);
  await engine.listMarket(marketParams(await ethFeed.getAddress(), "ETH"));
  await engine.listMarket(marketParams(await btcFeed.getAddress(), "BTC"));
  return {
    signers: { admin, lp, alice, bob, keeper },
    contracts: { token, engine, vault, ethAggregator, btcAggregator },
  };
}
