/**
 * The app's connection to the chain: the deployment it serves (`/config.json`, written by `app/server.ts` from
 * the address book), a read-only provider through the server's `/rpc` proxy, and the user's injected EIP-1193
 * wallet for everything that signs. The wallet must be on the deployment's chain: the app asks it to switch
 * (and to add the chain, pointing at this server's `/rpc`, when the wallet does not know it).
 */
import { BrowserProvider, JsonRpcProvider, Network, type Eip1193Provider, type JsonRpcSigner } from "ethers";

import { BulkheadClient } from "../../sdk/index.js";

export interface MarketEntry {
  id: number;
  symbol: string;
  aggregator: string;
  pullFeed: string;
  priceId: string;
}

/** What `/config.json` holds. */
export interface AppConfig {
  chainId: number;
  /** The JSON-RPC URL the app reads through (relative: the server's proxy). */
  rpcUrl: string;
  /** True on local chains (31337, 1337): the app offers the dev tools (mint test USDC, move a price). */
  local: boolean;
  book: {
    engine: string;
    vault: string;
    token: string;
    pyth: string;
    startBlock?: number;
    markets: MarketEntry[];
  };
}

declare global {
  interface Window {
    ethereum?: Eip1193Provider & {
      on?: (event: string, handler: (...args: unknown[]) => void) => void;
    };
  }
}

export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch("./config.json", { cache: "no-store" });
  if (!response.ok)
    throw new Error(`The app server has no deployment to show (/config.json: ${response.status})`);
  return (await response.json()) as AppConfig;
}

/** An absolute URL for the read RPC (the wallet needs one when it is asked to add the chain). */
export function absoluteRpcUrl(config: AppConfig): string {
  return new URL(config.rpcUrl, window.location.href).href;
}

export function readProvider(config: AppConfig): JsonRpcProvider {
  return new JsonRpcProvider(absoluteRpcUrl(config), Network.from(config.chainId), {
    staticNetwork: true,
    pollingInterval: 1000,
    cacheTimeout: -1,
  });
}

export interface Wallet {
  address: string;
  signer: JsonRpcSigner;
  /** The SDK client bound to the wallet's signer (writes). */
  client: BulkheadClient;
}

export class WalletError extends Error {}

/** Asks the injected wallet for an account and puts it on the deployment's chain. */
export async function connectWallet(config: AppConfig): Promise<Wallet> {
  const injected = window.ethereum;
  if (injected === undefined) {
    throw new WalletError(
      "No wallet found: install a browser wallet (an EIP-1193 provider such as MetaMask).",
    );
  }
  await injected.request({ method: "eth_requestAccounts" });
  const wanted = "0x" + config.chainId.toString(16);
  const current = (await injected.request({ method: "eth_chainId" })) as string;
  if (BigInt(current) !== BigInt(config.chainId)) {
    try {
      await injected.request({ method: "wallet_switchEthereumChain", params: [{ chainId: wanted }] });
    } catch {
      await injected.request({
        method: "wallet_addEthereumChain",
        params: [
          {
            chainId: wanted,
            chainName: `Bulkhead (${config.chainId})`,
            rpcUrls: [absoluteRpcUrl(config)],
            nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
          },
        ],
      });
    }
  }
  const provider = new BrowserProvider(injected, Network.from(config.chainId));
  const signer = await provider.getSigner();
  return { address: signer.address, signer, client: new BulkheadClient(signer, config.book) };
}
