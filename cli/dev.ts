/**
 * `bulkhead dev …`: conveniences for a local node (chain id 31337 or 1337), refused anywhere else.
 *
 *  - `dev mint <amountUSD> [--to <address>]` mints the deployment's settlement token, which on a local network is
 *    the mock token of contracts/test/MockTokens.sol (`MockERC20.mint`, open to anyone).
 *  - `dev price <market> <usd>` moves a market's price on both oracles the engine reads: the mark, by writing the
 *    market's mock Chainlink aggregator (`MockAggregatorV3.setAnswer`, the address book's `aggregator`), and the
 *    pull feed, by publishing a MockPyth update of the same price at that round's time (`updatePriceFeeds` with
 *    the update fee), so the two agree and orders committed from then on settle at it (the keeper's local price
 *    service proves the aggregator's rounds; the pull feed's own latest price is the update's).
 *
 * Sender: the key's wallet (BULKHEAD_PRIVATE_KEY or `--private-key-env`) if set, else the node's first unlocked
 * account (a local node manages a few), so a fresh checkout can fund any address without handling keys.
 */
import { type ContractTransactionResponse, type Signer, Wallet } from "ethers";

import { encodeMockPythUpdate } from "../sdk/pyth.js";
import {
  MockAggregatorV3__factory,
  MockERC20__factory,
  MockPyth__factory,
  PythPriceFeed__factory,
} from "../types/ethers-contracts/index.js";
import {
  CliError,
  type Context,
  type GlobalOptions,
  connect,
  keyAddress,
  parseAddress,
  parseDecimal,
  parseUsdTokens,
  resolveMarket,
} from "./context.js";
import * as fmt from "./format.js";
import type { Output } from "./read.js";

/** Hardhat's and Ganache/Anvil's chain ids. */
export const LOCAL_CHAIN_IDS = new Set([31337n, 1337n]);

type Log = (text: string) => void;

/** eth_chainId with a timeout; undefined when the node cannot be asked (connect() then reports why). */
async function chainIdOf(url: string): Promise<bigint | undefined> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json()) as { result?: string };
    return typeof body.result === "string" ? BigInt(body.result) : undefined;
  } catch {
    return undefined;
  }
}

function refuse(rpc: string, chainId: bigint): CliError {
  return new CliError(
    `bulkhead dev commands run on local networks only (chain id 31337 or 1337); the node at ${rpc} is chain ${chainId}`,
    "NotLocalNetwork",
  );
}

/** The context, after checking the chain id before anything else (a public network has no address book here). */
async function localContext(opts: GlobalOptions): Promise<Context> {
  const chainId = await chainIdOf(opts.rpc);
  if (chainId !== undefined && !LOCAL_CHAIN_IDS.has(chainId)) throw refuse(opts.rpc, chainId);
  const ctx = await connect(opts);
  if (!LOCAL_CHAIN_IDS.has(ctx.chainId)) throw refuse(opts.rpc, ctx.chainId);
  return ctx;
}

/** The key's wallet if one is set, else the node's first unlocked account. */
async function devSigner(ctx: Context): Promise<{ signer: Signer; from: string }> {
  const key = process.env[ctx.opts.privateKeyEnv];
  if (key !== undefined && key !== "") {
    try {
      const wallet = new Wallet(key.startsWith("0x") ? key : `0x${key}`, ctx.provider);
      return { signer: wallet, from: wallet.address };
    } catch {
      throw new CliError(`${ctx.opts.privateKeyEnv} does not hold a valid private key`, "MissingKey");
    }
  }
  const accounts = await ctx.provider.listAccounts();
  if (accounts.length === 0) {
    throw new CliError(
      `The node manages no account: set ${ctx.opts.privateKeyEnv} to a funded private key`,
      "MissingKey",
    );
  }
  return { signer: accounts[0], from: accounts[0].address };
}

async function mined(tx: ContractTransactionResponse) {
  const receipt = await tx.wait();
  if (receipt === null || receipt.status !== 1) {
    throw new CliError(`Transaction ${tx.hash} failed`, "TransactionError");
  }
  return { hash: tx.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
}

/** `dev mint <amountUSD> [--to]`: the mock settlement token to `--to` (default: the key's address). */
export async function mint(opts: GlobalOptions, log: Log, amountArg: string, to?: string): Promise<Output> {
  const ctx = await localContext(opts);
  const amount = parseUsdTokens(amountArg, ctx.tokenDecimals);
  const receiver = to === undefined ? keyAddress(opts) : parseAddress(to, "--to address");
  if (receiver === undefined) {
    throw new CliError(`Pass --to <address> or set ${opts.privateKeyEnv}: whom to mint for?`);
  }
  const { signer, from } = await devSigner(ctx);
  const token = MockERC20__factory.connect(ctx.book.token, signer);
  let tx: ContractTransactionResponse;
  try {
    tx = await token.mint(receiver, amount);
  } catch (error) {
    throw new CliError(
      `The settlement token ${ctx.book.token} refused mint (${(error as { shortMessage?: string }).shortMessage ?? (error as Error).message}): ` +
        "only the mock token of a local deployment mints",
      "NotMockToken",
    );
  }
  log(`Sent ${tx.hash}`);
  const transaction = await mined(tx);
  const blockTag = transaction.blockNumber;
  const [balance, symbol] = await Promise.all([
    token.balanceOf(receiver, { blockTag }),
    token.symbol({ blockTag }),
  ]);
  const d = ctx.tokenDecimals;
  return {
    json: { action: "dev mint", token: ctx.book.token, from, to: receiver, amount, balance, transaction },
    human: `Minted ${fmt.tokenUsd(amount, d)} of ${symbol} to ${receiver} in block ${blockTag}: balance ${fmt.tokenUsd(balance, d)}`,
  };
}

/**
 * `dev price <market> <usd>`: the mark (mock aggregator) and the pull feed (MockPyth update at the round's time)
 * both at `usd`, which must fit the aggregator's decimals.
 */
export async function price(
  opts: GlobalOptions,
  log: Log,
  marketArg: string,
  usdArg: string,
): Promise<Output> {
  const ctx = await localContext(opts);
  const market = resolveMarket(ctx.book, marketArg);
  const priceD18 = parseDecimal(usdArg, 18, "price");
  if (priceD18 === 0n) throw new CliError(`The price must be positive, got "${usdArg}"`);
  const { signer, from } = await devSigner(ctx);

  // The mark: a new round of the mock aggregator, in its decimals.
  const aggregator = MockAggregatorV3__factory.connect(market.aggregator, signer);
  const decimals = Number(await aggregator.decimals());
  const scale = 10n ** BigInt(18 - decimals);
  if (priceD18 % scale !== 0n) {
    throw new CliError(`Invalid price "${usdArg}": the ${market.symbol} feed has ${decimals} decimals`);
  }
  const answer = priceD18 / scale;
  const setAnswer = await aggregator.setAnswer(answer);
  log(`Sent ${setAnswer.hash} (aggregator)`);
  const markTx = await mined(setAnswer);
  const [round, , , updatedAt] = await aggregator.latestRoundData({ blockTag: markTx.blockNumber });

  // The pull feed: the same price published at the round's time (MockPyth keeps the freshest update per id).
  const data = [encodeMockPythUpdate(market.priceId, priceD18, updatedAt)];
  const pyth = MockPyth__factory.connect(ctx.book.pyth, signer);
  const fee = await pyth.getUpdateFee(data);
  const update = await pyth.updatePriceFeeds(data, { value: fee });
  log(`Sent ${update.hash} (Pyth update)`);
  const pullTx = await mined(update);

  const blockTag = pullTx.blockNumber;
  const params = await ctx.client.getMarketParams(market.id, { blockTag });
  const pull = PythPriceFeed__factory.connect(market.pullFeed, ctx.provider);
  const [markPriceD18, [pullPriceD18, publishTime]] = await Promise.all([
    ctx.client.oraclePrice(params.feed, { blockTag }),
    pull.latestPriceData({ blockTag }),
  ]);
  return {
    json: {
      action: "dev price",
      marketId: market.id,
      symbol: market.symbol,
      from,
      priceD18,
      aggregator: market.aggregator,
      aggregatorAnswer: answer,
      round,
      updatedAt,
      pyth: ctx.book.pyth,
      priceId: market.priceId,
      publishTime,
      updateFeeWei: fee,
      markPriceD18,
      pullPriceD18,
      transactions: [markTx, pullTx],
    },
    human: [
      `${market.symbol} moved to ${fmt.price(priceD18)} at ${new Date(Number(updatedAt) * 1000).toISOString()}:`,
      `  mark (aggregator ${market.aggregator}, round ${round}): ${fmt.price(markPriceD18)}`,
      `  pull feed (MockPyth update, published ${publishTime}): ${fmt.price(pullPriceD18)}`,
      "Orders committed from now on settle at it until it moves again (the local keeper proves the marks).",
    ].join("\n"),
  };
}
