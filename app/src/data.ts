/**
 * Everything a page shows, read at one block through the SDK: the protocol snapshot (markets, vault cash,
 * insurance), the wallet's accounts with their risk pictures and pending orders, the vault and the wallet's
 * requests, and the liquidation/ADL feed. `loadView` is the app's only reader; pages render what it returns.
 */
import { type JsonRpcProvider, ZeroAddress } from "ethers";

import {
  accountRisk,
  type AccountRisk,
  type AccountSnapshot,
  type BulkheadClient,
  type OrderInfo,
  type OrderParams,
  type ProtocolSnapshot,
  type VaultRequests,
} from "../../sdk/index.js";
import * as fmt from "../../cli/format.js";
import type { AppConfig } from "./chain.js";

export interface AccountView {
  id: bigint;
  snapshot: AccountSnapshot;
  risk: AccountRisk;
  orders: OrderInfo[];
  /** Whether the connected wallet may act on it (owner, or an operator of the owner or of the account). */
  authorized: boolean;
}

export interface VaultView {
  shareDecimals: number;
  totalAssets: bigint;
  totalSupply: bigint;
  /** Token units per whole share. */
  assetsPerShare: bigint;
  withdrawable: bigint;
  minDelay: bigint;
  maxDelay: bigint;
  cooldown: bigint;
  entryFeeBps: bigint;
  exitFeeBps: bigint;
  mine?: { shares: bigint; assets: bigint; unlocksAt: bigint; requests: VaultRequests };
}

export interface FeedItem {
  block: number;
  kind: "liquidation" | "partial liquidation" | "bad debt" | "ADL";
  accountId: bigint;
  text: string;
}

export interface View {
  block: number;
  timestamp: bigint;
  snapshot: ProtocolSnapshot;
  orderParams: OrderParams;
  accounts: AccountView[];
  vault: VaultView;
  feed: FeedItem[];
  /** The wallet's token balance and native balance (wei). */
  wallet?: { address: string; tokenBalance: bigint; nativeBalance: bigint };
}

export function symbolOf(config: AppConfig, marketId: number): string {
  return config.book.markets.find((m) => m.id === marketId)?.symbol ?? `#${marketId}`;
}

async function readAccount(
  client: BulkheadClient,
  id: bigint,
  snapshot: ProtocolSnapshot,
  blockTag: number,
  wallet: string | undefined,
): Promise<AccountView> {
  const account = await client.getAccountSnapshot(id, { blockTag });
  const marketIds = [...snapshot.markets.keys()];
  const orders = (await Promise.all(marketIds.map((m) => client.getOrder(id, m, { blockTag })))).filter(
    (o) => o.status !== "none",
  );
  let authorized = false;
  if (wallet !== undefined) {
    const owner = account.info.owner;
    authorized =
      owner.toLowerCase() === wallet.toLowerCase() ||
      (await client.engine.isAuthorized(id, wallet, { blockTag }));
  }
  return {
    id,
    snapshot: account,
    risk: accountRisk(snapshot, account, snapshot.timestamp),
    orders,
    authorized,
  };
}

async function readVault(client: BulkheadClient, blockTag: number, wallet?: string): Promise<VaultView> {
  const v = client.vault;
  const b = { blockTag };
  const shareDecimals = Number(await v.decimals(b));
  const [totalAssets, totalSupply, assetsPerShare, withdrawable, minDelay, maxDelay, cooldown, entry, exit] =
    await Promise.all([
      v.totalAssets(b),
      v.totalSupply(b),
      v.convertToAssets(10n ** BigInt(shareDecimals), b),
      v.withdrawableAssets(b),
      v.minDelay(b),
      v.maxDelay(b),
      v.cooldown(b),
      v.entryFeeBps(b),
      v.exitFeeBps(b),
    ]);
  const view: VaultView = {
    shareDecimals,
    totalAssets,
    totalSupply,
    assetsPerShare,
    withdrawable,
    minDelay,
    maxDelay,
    cooldown,
    entryFeeBps: entry,
    exitFeeBps: exit,
  };
  if (wallet !== undefined) {
    const [shares, unlocksAt, requests] = await Promise.all([
      v.balanceOf(wallet, b),
      v.unlocksAt(wallet, b),
      client.vaultRequests(wallet, b),
    ]);
    view.mine = { shares, assets: await v.convertToAssets(shares, b), unlocksAt, requests };
  }
  return view;
}

/** Liquidations, bad debt and ADL since the deployment, newest first (at most `limit`). */
async function readFeed(
  client: BulkheadClient,
  config: AppConfig,
  fromBlock: number,
  toBlock: number,
  limit = 50,
): Promise<FeedItem[]> {
  const e = client.engine;
  const [liquidated, badDebt, adl] = await Promise.all([
    e.queryFilter(e.filters.Liquidated(), fromBlock, toBlock),
    e.queryFilter(e.filters.BadDebt(), fromBlock, toBlock),
    e.queryFilter(e.filters.AutoDeleveraged(), fromBlock, toBlock),
  ]);
  const usd = fmt.usd;
  const items: FeedItem[] = [
    ...liquidated.map((l) => ({
      block: l.blockNumber,
      kind: (l.args.partial_ ? "partial liquidation" : "liquidation") as FeedItem["kind"],
      accountId: l.args.accountId,
      text: `closed ${usd(l.args.closedNotionalD18)} of notional; keeper reward ${usd(l.args.keeperRewardD18)}, insurance ${usd(l.args.toInsuranceD18)}`,
    })),
    ...badDebt.map((l) => ({
      block: l.blockNumber,
      kind: "bad debt" as const,
      accountId: l.args.accountId,
      text: `insurance covered ${usd(l.args.coveredByInsuranceD18)}, vault absorbed ${usd(l.args.socialisedD18)}`,
    })),
    ...adl.map((l) => ({
      block: l.blockNumber,
      kind: "ADL" as const,
      accountId: l.args.accountId,
      text: `${symbolOf(config, Number(l.args.marketId))} ${fmt.size(l.args.closedSizeD18)} closed at ${fmt.price(l.args.priceD18)}, realised ${fmt.signedUsd(l.args.realisedPnlD18)}`,
    })),
  ];
  return items.sort((a, b) => b.block - a.block).slice(0, limit);
}

export async function loadView(
  client: BulkheadClient,
  provider: JsonRpcProvider,
  config: AppConfig,
  wallet?: string,
): Promise<View> {
  const block = await provider.getBlockNumber();
  const blockTag = block;
  const snapshot = await client.getProtocolSnapshot(undefined, { blockTag });
  const startBlock = config.book.startBlock ?? 0;
  const ids = wallet === undefined ? [] : await client.accountsOf(wallet, startBlock, block);
  const [accounts, vault, feed, orderParams] = await Promise.all([
    Promise.all(ids.map((id) => readAccount(client, id, snapshot, blockTag, wallet))),
    readVault(client, blockTag, wallet),
    readFeed(client, config, startBlock, block),
    client.getOrderParams({ blockTag }),
  ]);
  let walletView: View["wallet"];
  if (wallet !== undefined && wallet !== ZeroAddress) {
    const [tokenBalance, nativeBalance] = await Promise.all([
      client.token.balanceOf(wallet, { blockTag }),
      provider.getBalance(wallet, blockTag),
    ]);
    walletView = { address: wallet, tokenBalance, nativeBalance };
  }
  return {
    block,
    timestamp: snapshot.timestamp,
    snapshot,
    orderParams,
    accounts,
    vault,
    feed,
    wallet: walletView,
  };
}

/**
 * An account's equity and margins over its life: `samples` evenly spaced blocks from `fromBlock` to `toBlock`,
 * each read with the chain's own `marginSummary` at that block (historical eth_call).
 */
export async function equityHistory(
  client: BulkheadClient,
  accountId: bigint,
  fromBlock: number,
  toBlock: number,
  samples = 40,
): Promise<{ block: number; equityD18: bigint; imD18: bigint; mmD18: bigint }[]> {
  const step = Math.max(1, Math.ceil((toBlock - fromBlock) / samples));
  const blocks: number[] = [];
  for (let b = fromBlock; b < toBlock; b += step) blocks.push(b);
  blocks.push(toBlock);
  const out = await Promise.all(
    blocks.map(async (block) => {
      try {
        const s = await client.marginSummary(accountId, { blockTag: block });
        return { block, equityD18: s.equityD18, imD18: s.initialMarginD18, mmD18: s.maintenanceMarginD18 };
      } catch {
        return undefined; // before the account existed, or a stale price at that block
      }
    }),
  );
  return out.filter((x) => x !== undefined);
}
