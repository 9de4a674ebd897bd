import { network } from "hardhat";
import { DAY, feedAnswer, usd, wad } from "./constants.js";

export const connection = await network.getOrCreate();
export const { ethers, networkHelpers } = connection;

/** Local market parameters: ETH and BTC, 50x max leverage, 6 bps taker fee. */
export function marketParams(feed: string, kind: "ETH" | "BTC") {
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

export const riskParams = {
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

export const ETH = 1;
export const BTC = 2;
export const HEARTBEAT = DAY;

/** Deploys the whole protocol with a 6-decimal stablecoin, ETH at 3000 and BTC at 60000, and funds the vault. */
export async function deployBulkhead() {
  const [admin, lp, alice, bob, keeper, carol] = await ethers.getSigners();
  const token = await ethers.deployContract("MockERC20", ["USD Coin", "USDC", 6]);
  const ethAggregator = await ethers.deployContract("MockAggregatorV3", [8]);
  const btcAggregator = await ethers.deployContract("MockAggregatorV3", [8]);
  await ethAggregator.setAnswer(feedAnswer("3000"));
  await btcAggregator.setAnswer(feedAnswer("60000"));
  const noSequencer = ethers.ZeroAddress;
  const ethFeed = await ethers.deployContract("ChainlinkPriceFeed", [
    ethAggregator,
    HEARTBEAT,
    noSequencer,
    0,
  ]);
  const btcFeed = await ethers.deployContract("ChainlinkPriceFeed", [
    btcAggregator,
    HEARTBEAT,
    noSequencer,
    0,
  ]);

  const module = await ethers.deployContract("LiquidationModule", [token]);
  const engineImpl = await ethers.deployContract("MarginEngine", [token, admin, riskParams, module]);
  const engine = await ethers.getContractAt("IBulkhead", await engineImpl.getAddress());
  const vault = await ethers.deployContract("LiquidityVault", [token, engine, admin, 10, 10, 3600]);
  await engineImpl.setVault(vault);
  await engineImpl.grantRole(await engineImpl.RISK_ROLE(), admin);
  await engineImpl.grantRole(await engineImpl.PAUSER_ROLE(), admin);
  await engine.listMarket(marketParams(await ethFeed.getAddress(), "ETH"));
  await engine.listMarket(marketParams(await btcFeed.getAddress(), "BTC"));

  for (const user of [lp, alice, bob, keeper, carol]) {
    await token.mint(user, usd("10000000"));
    await token.connect(user).approve(engine, ethers.MaxUint256);
    await token.connect(user).approve(vault, ethers.MaxUint256);
  }
  await vault.connect(lp).deposit(usd("5000000"), lp);

  return {
    signers: { admin, lp, alice, bob, keeper, carol },
    contracts: { token, engine, engineImpl, module, vault, ethAggregator, btcAggregator, ethFeed, btcFeed },
  };
}
