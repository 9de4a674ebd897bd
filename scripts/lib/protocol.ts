/**
 * Deploys Bulkhead for the demo through the real deployment path: `deployFromFile` with
 * deploy/parameters/local.json (mock 6-decimal USDC, mock Chainlink feeds for ETH at 3000 and BTC at 60000,
 * every role to the deployer), then hands back typed contracts and the signers the story uses.
 */
import { parseUnits } from "ethers";
import type { NetworkConnection } from "hardhat/types/network";
import { deployFromFile } from "../../deploy/deploy.js";

export const ETH = 1;
export const BTC = 2;
export const TOKEN_DECIMALS = 6;
export const FEED_DECIMALS = 8;
export const LOCAL_PARAMETERS = "deploy/parameters/local.json";

export const wad = (v: string) => parseUnits(v, 18);
export const usd = (v: string) => parseUnits(v, TOKEN_DECIMALS);
export const feedAnswer = (v: string) => parseUnits(v, FEED_DECIMALS);

export async function deployProtocol(connection: NetworkConnection) {
  const { ethers } = connection;
  const [admin, lp, alice, bob, keeper] = await ethers.getSigners();
  const { addressBook } = await deployFromFile(connection, LOCAL_PARAMETERS, {
    deploymentId: "bulkhead-demo",
  });
  const aggregatorOf = (id: number) => {
    const market = addressBook.markets.find((m) => m.id === id);
    if (market === undefined) throw new Error(`market ${id} missing from the deployment`);
    return ethers.getContractAt("MockAggregatorV3", market.aggregator);
  };
  return {
    signers: { admin, lp, alice, bob, keeper },
    contracts: {
      token: await ethers.getContractAt("MockERC20", addressBook.token),
      engine: await ethers.getContractAt("IBulkhead", addressBook.engine),
      vault: await ethers.getContractAt("LiquidityVault", addressBook.vault),
      ethAggregator: await aggregatorOf(ETH),
      btcAggregator: await aggregatorOf(BTC),
    },
  };
}
