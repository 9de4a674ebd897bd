/**
 * Write commands. Each one previews the action off-chain with the SDK (account health and liquidation prices
 * before -> after), then sends it; `--dry-run` stops after the preview.
 *
 * A preview that predicts a revert does not stop the command: the transaction's gas estimate runs it on the node,
 * which either reverts (nothing is mined; the decoded error is reported) or, if state moved in between,
 * executes it. The chain has the last word, the preview explains.
 */
import { type ContractTransactionResponse, type Interface, type TransactionReceipt } from "ethers";

import {
  type AccountRisk,
  type AccountSnapshot,
  type Preview,
  type ProtocolSnapshot,
  acceptablePrice,
  decodeError,
  errorInterface,
  previewDeposit,
  previewOpenIsolated,
  previewSettlement,
  previewTrade,
  settlementReward,
  previewTransferMargin,
  previewWithdraw,
} from "../sdk/index.js";
import { formatD18 } from "../sdk/errors.js";
import {
  CliError,
  type Context,
  type GlobalOptions,
  type SignerContext,
  connect,
  connectSigner,
  keyAddress,
  marketSymbol,
  parseAccountId,
  parseAddress,
  parseBps,
  parseDecimal,
  parseSize,
  parseUsdTokens,
  resolveMarket,
} from "./context.js";
import * as fmt from "./format.js";
import type { Output } from "./read.js";

export interface WriteOptions {
  dryRun?: boolean;
}

/** An action the engine (or the preview) refused: reported like a chain revert. */
export class PreviewRejected extends Error {
  constructor(
    readonly errorName: string,
    readonly args: Record<string, unknown>,
    message: string,
  ) {
    super(message);
  }
}

/** Human lines printed as the command goes (the preview before sending); nothing in --json mode. */
type Log = (text: string) => void;

/** A write command's context: a signer unless this is a dry run without a key. */
async function writeContext(opts: GlobalOptions, w: WriteOptions): Promise<Context & { from?: string }> {
  if (w.dryRun && keyAddress(opts) === undefined) return connect(opts);
  const ctx = await connectSigner(opts);
  return { ...ctx, from: ctx.wallet.address };
}

/**
 * The wallet a preview checks the account's authorization for (owner or operator, as the engine will): the key's
 * address; undefined in a dry run without a key (nobody to check).
 */
async function senderOf(ctx: Context & { from?: string }, accountId: bigint) {
  return ctx.from === undefined ? undefined : ctx.client.senderFor(accountId, { from: ctx.from });
}

function requireSigner(ctx: Context & { from?: string }): asserts ctx is SignerContext & { from: string } {
  if (ctx.from === undefined) throw new CliError("Internal: no signer");
}

/** The timestamp the next block will most likely have on a node mining on demand. */
async function nextTimestamp(ctx: Context, snap: ProtocolSnapshot): Promise<bigint> {
  const wall = BigInt(Math.floor(Date.now() / 1000));
  return wall > snap.timestamp ? wall : snap.timestamp + 1n;
}

async function snapshots(ctx: Context, ids: bigint[]) {
  const blockTag = await ctx.provider.getBlockNumber();
  const snap = await ctx.client.getProtocolSnapshot(undefined, { blockTag });
  const accounts = await Promise.all(
    ids.map(async (id) => {
      const a = await ctx.client.getAccountSnapshot(id, { blockTag });
      if (a.info.owner === "0x0000000000000000000000000000000000000000") {
        throw new CliError(`Account ${id} does not exist`, "UnknownAccount");
      }
      return a;
    }),
  );
  return { snap, accounts, now: await nextTimestamp(ctx, snap) };
}

/* ------------------------------------------------------------------------------------------------------------
                                               PREVIEW RENDERING
   ------------------------------------------------------------------------------------------------------------ */

function riskJson(r: AccountRisk) {
  return {
    collateralD18: r.collateralD18,
    equityD18: r.summary.equityD18,
    initialMarginD18: r.summary.initialMarginD18,
    maintenanceMarginD18: r.summary.maintenanceMarginD18,
    notionalD18: r.summary.notionalD18,
    healthFactorD18: r.healthFactorD18,
    liquidatable: r.liquidatable,
    positions: r.positions.map((p) => ({
      marketId: p.marketId,
      sizeD18: p.sizeD18,
      liquidationPriceD18: p.liquidationPriceD18,
    })),
  };
}

function previewJson(p: Preview) {
  return {
    allowed: p.allowed,
    ...(p.allowed ? {} : { reason: p.reason, message: previewMessage(p) }),
    fillPriceD18: p.fillPriceD18,
    feeD18: p.feeD18,
    realisedPnlD18: p.realisedPnlD18,
    fundingPaidD18: p.fundingPaidD18,
    before: riskJson(p.before),
    after: riskJson(p.after),
  };
}

/** The SDK's decoding of the error a preview predicts (same name, named args and message as a chain revert). */
function previewDecoded(p: Preview): { name: string; args: Record<string, unknown>; message: string } {
  const name = p.error?.name ?? p.reason ?? "Rejected";
  const values = p.error?.args ?? [];
  try {
    const decoded = decodeError(errorInterface.encodeErrorResult(name, values));
    if (decoded !== undefined) return { name, args: decoded.args, message: decoded.message };
  } catch {
    // Not in the protocol's error ABI: fall through to the raw form.
  }
  return {
    name,
    args: Object.fromEntries(values.map((v, i) => [String(i), v])),
    message: `${name}(${values.join(", ")})`,
  };
}

function previewMessage(p: Preview): string {
  return previewDecoded(p).message;
}

function previewHuman(ctx: Context, title: string, p: Preview): string {
  const b = p.before;
  const a = p.after;
  const rows: [string, string, string][] = [
    ["collateral", fmt.usd(b.collateralD18), fmt.usd(a.collateralD18)],
    ["equity", fmt.usd(b.summary.equityD18), fmt.usd(a.summary.equityD18)],
    ["initial margin", fmt.usd(b.summary.initialMarginD18), fmt.usd(a.summary.initialMarginD18)],
    ["maintenance margin", fmt.usd(b.summary.maintenanceMarginD18), fmt.usd(a.summary.maintenanceMarginD18)],
    ["health factor", fmt.health(b.healthFactorD18), fmt.health(a.healthFactorD18)],
  ];
  const marketIds = [...new Set([...b.positions, ...a.positions].map((x) => x.marketId))];
  for (const id of marketIds) {
    const pb = b.positions.find((x) => x.marketId === id);
    const pa = a.positions.find((x) => x.marketId === id);
    const sym = marketSymbol(ctx.book, id);
    rows.push([`size ${sym}`, pb ? fmt.size(pb.sizeD18) : "-", pa ? fmt.size(pa.sizeD18) : "-"]);
    const liq = (x?: { liquidationPriceD18: bigint }) =>
      x === undefined || x.liquidationPriceD18 === 0n ? "-" : fmt.price(x.liquidationPriceD18);
    rows.push([`liq. price ${sym}`, liq(pb), liq(pa)]);
  }
  const lines = [`Preview: ${title}`];
  if (p.fillPriceD18 !== undefined) {
    lines.push(`fill price ${fmt.price(p.fillPriceD18)}, fee ${fmt.usd(p.feeD18 ?? 0n)}`);
  }
  lines.push(fmt.beforeAfter(rows));
  if (!p.allowed) lines.push(`The engine would reject this: ${previewMessage(p)}`);
  return lines.join("\n");
}

/* ------------------------------------------------------------------------------------------------------------
                                                  SENDING
   ------------------------------------------------------------------------------------------------------------ */

export interface DecodedEvent {
  contract: string;
  address: string;
  name: string;
  args: Record<string, unknown>;
}

function decodeEvents(ctx: Context, receipt: TransactionReceipt): DecodedEvent[] {
  const byAddress = new Map<string, [string, Interface]>([
    [ctx.book.engine.toLowerCase(), ["engine", ctx.client.engine.interface]],
    [ctx.book.vault.toLowerCase(), ["vault", ctx.client.vault.interface]],
    [ctx.book.token.toLowerCase(), ["token", ctx.client.token.interface]],
  ]);
  const out: DecodedEvent[] = [];
  for (const log of receipt.logs) {
    const known = byAddress.get(log.address.toLowerCase());
    const parsed = known?.[1].parseLog(log);
    if (!known || !parsed) continue;
    const args: Record<string, unknown> = {};
    parsed.fragment.inputs.forEach((input, i) => {
      const v = parsed.args[i] as unknown;
      args[input.name || String(i)] =
        v !== null && typeof v === "object" && "toObject" in v
          ? (v as { toObject(): unknown }).toObject()
          : v;
    });
    out.push({ contract: known[0], address: log.address, name: parsed.name, args });
  }
  return out;
}

/** Whether an event argument is an amount of vault shares (the vault's `shares`, and its share transfers). */
function isShares(e: DecodedEvent, key: string): boolean {
  return e.contract === "vault" && (key === "shares" || (e.name === "Transfer" && key === "value"));
}

/** One event as a line: D18 figures and vault shares formatted (`shareDecimals`: the vault's decimals). */
export function eventHuman(e: DecodedEvent, shareDecimals?: number): string {
  const value = (k: string, v: unknown) => {
    if (typeof v !== "bigint") return String(v);
    if (k.endsWith("D18")) return formatD18(v, 4);
    if (shareDecimals !== undefined && isShares(e, k)) return fmt.shares(v, shareDecimals);
    return String(v);
  };
  const args = Object.entries(e.args)
    .map(([k, v]) => `${k}=${value(k, v)}`)
    .join(" ");
  return `  ${e.contract}.${e.name} ${args}`;
}

/** The vault's share decimals when any event is the vault's (undefined otherwise: no call). */
async function shareDecimalsFor(ctx: Context, events: DecodedEvent[]): Promise<number | undefined> {
  return events.some((e) => e.contract === "vault") ? Number(await ctx.client.vault.decimals()) : undefined;
}

/**
 * Shows the preview, then (unless dry run) sends and waits for the receipt. Returns the command's output: the
 * preview and, when sent, the transaction and its decoded events.
 */
async function previewThenSend(
  ctx: Context & { from?: string },
  w: WriteOptions,
  log: Log,
  action: string,
  preview: { json: unknown; human: string; allowed: boolean; rejection?: PreviewRejected },
  send: () => Promise<ContractTransactionResponse>,
  summarize?: (events: DecodedEvent[]) => { json: Record<string, unknown>; human: string },
): Promise<Output> {
  if (w.dryRun) {
    if (!preview.allowed && preview.rejection) {
      log(preview.human);
      throw preview.rejection;
    }
    return {
      json: { action, dryRun: true, preview: preview.json },
      human: `${preview.human}\n(dry run: nothing sent)`,
    };
  }
  requireSigner(ctx);
  log(preview.human);
  if (!preview.allowed) log("Sending anyway: the node has the last word.");
  const tx = await send();
  log(`Sent ${tx.hash}`);
  const receipt = await tx.wait();
  if (receipt === null) throw new CliError(`No receipt for ${tx.hash}`, "TransactionError");
  const events = decodeEvents(ctx, receipt);
  const shareDecimals = await shareDecimalsFor(ctx, events);
  const extra = summarize?.(events);
  const json = {
    action,
    from: ctx.from,
    preview: preview.json,
    transaction: {
      hash: tx.hash,
      blockNumber: receipt.blockNumber,
      gasUsed: receipt.gasUsed,
      status: receipt.status,
    },
    events,
    ...extra?.json,
  };
  const human = [
    `Mined in block ${receipt.blockNumber} (gas ${receipt.gasUsed})`,
    ...(extra ? [extra.human] : []),
    "Events:",
    ...events.map((e) => eventHuman(e, shareDecimals)),
  ].join("\n");
  return { json, human };
}

/** A rejection predicted off-chain for a protocol error, with the SDK's message. */
function decodedRejection(name: string, values: unknown[], tokenDecimals: number): PreviewRejected {
  const d = decodeError(errorInterface.encodeErrorResult(name, values), tokenDecimals);
  return new PreviewRejected(name, d?.args ?? {}, d?.message ?? name);
}

function rejection(p: Preview): PreviewRejected {
  const d = previewDecoded(p);
  return new PreviewRejected(d.name, d.args, d.message);
}

function fromPreview(ctx: Context, title: string, p: Preview) {
  return {
    json: previewJson(p),
    human: previewHuman(ctx, title, p),
    allowed: p.allowed,
    rejection: p.allowed ? undefined : rejection(p),
  };
}

/* ------------------------------------------------------------------------------------------------------------
                                                 COMMANDS
   ------------------------------------------------------------------------------------------------------------ */

export async function createAccount(opts: GlobalOptions, w: WriteOptions, log: Log, isolated?: string) {
  const ctx = await writeContext(opts, w);
  const market = isolated === undefined ? undefined : resolveMarket(ctx.book, isolated);
  const what =
    market === undefined ? "create a cross account" : `create an isolated ${market.symbol} account`;
  const preview = { json: { isolated: market?.id }, human: `Preview: ${what}`, allowed: true };
  return previewThenSend(
    ctx,
    w,
    log,
    "create-account",
    preview,
    () =>
      market === undefined
        ? ctx.client.engine.createCrossAccount()
        : ctx.client.engine.createIsolatedAccount(market.id),
    createdAccount,
  );
}

function createdAccount(events: DecodedEvent[]) {
  const created = events.find((e) => e.contract === "engine" && e.name === "AccountCreated");
  const accountId = created?.args.accountId as bigint | undefined;
  return { json: { accountId }, human: `Account ${accountId}` };
}

export async function deposit(
  opts: GlobalOptions,
  w: WriteOptions,
  log: Log,
  idArg: string,
  amountArg: string,
) {
  const ctx = await writeContext(opts, w);
  const id = parseAccountId(idArg);
  const amount = parseUsdTokens(amountArg, ctx.tokenDecimals);
  const { snap, accounts, now } = await snapshots(ctx, [id]);
  const p = previewDeposit(snap, accounts[0], amount, now);
  const title = `deposit ${fmt.tokenUsd(amount, ctx.tokenDecimals)} into account ${id}`;
  return previewThenSend(ctx, w, log, "deposit", fromPreview(ctx, title, p), () =>
    ctx.client.deposit(id, amount),
  );
}

export async function withdraw(
  opts: GlobalOptions,
  w: WriteOptions,
  log: Log,
  idArg: string,
  amountArg: string,
  to?: string,
) {
  const ctx = await writeContext(opts, w);
  const id = parseAccountId(idArg);
  const amount = parseUsdTokens(amountArg, ctx.tokenDecimals);
  const receiver = to === undefined ? ctx.from : parseAddress(to, "--to address");
  const { snap, accounts, now } = await snapshots(ctx, [id]);
  const p = previewWithdraw(snap, accounts[0], amount, now, await senderOf(ctx, id));
  const title = `withdraw ${fmt.tokenUsd(amount, ctx.tokenDecimals)} from account ${id}${receiver ? ` to ${receiver}` : ""}`;
  return previewThenSend(ctx, w, log, "withdraw", fromPreview(ctx, title, p), () =>
    ctx.client.withdraw(id, amount, receiver),
  );
}

export async function transfer(
  opts: GlobalOptions,
  w: WriteOptions,
  log: Log,
  fromArg: string,
  toArg: string,
  amountArg: string,
) {
  const ctx = await writeContext(opts, w);
  const from = parseAccountId(fromArg, "source account id");
  const to = parseAccountId(toArg, "destination account id");
  const amountD18 = parseDecimal(amountArg, 18, "USD amount");
  if (amountD18 === 0n) throw new CliError("The USD amount must be positive");
  const { snap, accounts, now } = await snapshots(ctx, [from, to]);
  const p = previewTransferMargin(snap, accounts[0], accounts[1], amountD18, now, await senderOf(ctx, from));
  const title = `move ${fmt.usd(amountD18)} of margin from account ${from} to account ${to} (source account shown)`;
  return previewThenSend(ctx, w, log, "transfer", fromPreview(ctx, title, p), () =>
    ctx.client.transferMargin(from, to, amountD18),
  );
}

/** The acceptable price for `sizeD18` now: the chain's quote moved against the trader by `bps`. */
async function boundFor(ctx: Context, marketId: number, sizeD18: bigint, bps: bigint) {
  const q = await ctx.client.quoteTrade(marketId, sizeD18);
  return acceptablePrice(q.fillPriceD18, sizeD18, bps);
}

function tradeTitle(ctx: Context, id: bigint | string, marketId: number, sizeD18: bigint, bound: bigint) {
  const side = sizeD18 > 0n ? "buy" : "sell";
  const sym = marketSymbol(ctx.book, marketId);
  return `${side} ${fmt.size(sizeD18 < 0n ? -sizeD18 : sizeD18).replace(/^\+/, "")} ${sym} in account ${id}, ${side === "buy" ? "at most" : "at least"} ${fmt.price(bound)}`;
}

/** What a committed order waits for, in words: the preview is at today's price, the fill will not be. */
async function orderNote(ctx: Context): Promise<string> {
  const p = await ctx.client.getOrderParams();
  const reward = fmt.usd(p.settlementRewardD18);
  return (
    `Order: fills at the first oracle price published ${p.minDelay} s after the commit (settled by a keeper ` +
    `within ${p.maxDelay} s, for a ${reward} reward), not at the preview's price; a move past the limit ` +
    `makes it expire unfilled.`
  );
}

/** The order summary of a commit: the order's id (account, market) and its window. */
function committedOrder(events: DecodedEvent[]) {
  const e = events.find((x) => x.name === "OrderCommitted");
  if (!e) return { json: {}, human: "" };
  const a = e.args as Record<string, unknown>;
  return {
    json: { order: { accountId: a.accountId, marketId: a.marketId, commitTime: a.commitTime } },
    human: `Order committed for account ${a.accountId} on market ${a.marketId}: \`bulkhead order status ${a.accountId}\` follows it.`,
  };
}

export async function trade(
  opts: GlobalOptions,
  w: WriteOptions,
  log: Log,
  idArg: string,
  marketArg: string,
  sizeArg: string,
  slippageBps: string,
) {
  const ctx = await writeContext(opts, w);
  const id = parseAccountId(idArg);
  const market = resolveMarket(ctx.book, marketArg);
  const sizeD18 = parseSize(sizeArg);
  const bps = parseBps(slippageBps);
  const { snap, accounts, now } = await snapshots(ctx, [id]);
  const bound = await boundFor(ctx, market.id, sizeD18, bps);
  const reward = await rewardFor(ctx);
  const p = previewSettlement(
    snap,
    accounts[0],
    market.id,
    { sizeDeltaD18: sizeD18, acceptablePriceD18: bound },
    snap.markets.get(market.id)?.priceD18 ?? 0n,
    reward,
    now,
    await senderOf(ctx, id),
  );
  const preview = fromPreview(ctx, "commit an order: " + tradeTitle(ctx, id, market.id, sizeD18, bound), p);
  preview.human += "\n" + (await orderNote(ctx));
  return previewThenSend(
    ctx,
    w,
    log,
    "order commit",
    preview,
    () => ctx.client.commitOrder(id, market.id, sizeD18, { acceptablePriceD18: bound }),
    committedOrder,
  );
}

/** The settlement reward an order committed now pays (whole token units). */
async function rewardFor(ctx: Context): Promise<bigint> {
  const p = await ctx.client.getOrderParams();
  const scale = await ctx.client.tokenScale();
  return settlementReward(p.settlementRewardD18, p.settlementRewardD18, scale);
}

/** `order status <accountId> [--market]`: the account's pending orders and where they stand. */
export async function orderStatus(opts: GlobalOptions, idArg: string, o: { market?: string }) {
  const ctx = await connect(opts);
  const id = parseAccountId(idArg);
  const ids =
    o.market === undefined ? ctx.book.markets.map((m) => m.id) : [resolveMarket(ctx.book, o.market).id];
  const orders = (await Promise.all(ids.map((m) => ctx.client.getOrder(id, m)))).filter(
    (x) => x.status !== "none",
  );
  const human =
    orders.length === 0
      ? `Account ${id} has no pending order.`
      : orders
          .map(
            (x) =>
              `${marketSymbol(ctx.book, x.marketId)}: ${tradeTitle(ctx, id, x.marketId, x.sizeDeltaD18, x.acceptablePriceD18)}; ` +
              `${x.status} (ready at ${x.readyTime}, expires after ${x.expiryTime})`,
          )
          .join("\n");
  return { json: { accountId: id, orders }, human };
}

/** `order cancel <accountId> <market>`: removes an expired order (anyone, no fee). */
export async function orderCancel(
  opts: GlobalOptions,
  w: WriteOptions,
  log: Log,
  idArg: string,
  marketArg: string,
) {
  const ctx = await writeContext(opts, w);
  const id = parseAccountId(idArg);
  const market = resolveMarket(ctx.book, marketArg);
  const order = await ctx.client.getOrder(id, market.id);
  const allowed = order.status === "expired";
  const reason =
    order.status === "none" ? "NoPendingOrder" : order.status === "expired" ? undefined : "OrderNotExpired";
  const preview = {
    json: { accountId: id, marketId: market.id, status: order.status },
    human: allowed
      ? `Preview: cancel the expired ${market.symbol} order of account ${id}`
      : `Preview: the ${market.symbol} order of account ${id} cannot be cancelled (${order.status}: ${reason})`,
    allowed,
    rejection: allowed
      ? undefined
      : new PreviewRejected(reason ?? "", { status: order.status }, `the order is ${order.status}`),
  };
  return previewThenSend(ctx, w, log, "order cancel", preview, () => ctx.client.cancelOrder(id, market.id));
}

export async function openIsolated(
  opts: GlobalOptions,
  w: WriteOptions,
  log: Log,
  marketArg: string,
  marginArg: string,
  sizeArg: string,
  o: { fromAccount?: string; slippageBps: string },
) {
  const ctx = await writeContext(opts, w);
  const market = resolveMarket(ctx.book, marketArg);
  const margin = parseUsdTokens(marginArg, ctx.tokenDecimals);
  const sizeD18 = parseSize(sizeArg);
  const bps = parseBps(o.slippageBps);
  const source = o.fromAccount === undefined ? undefined : parseAccountId(o.fromAccount, "--from-account id");
  const { snap, accounts, now } = await snapshots(ctx, source === undefined ? [] : [source]);
  const bound = await boundFor(ctx, market.id, sizeD18, bps);
  const owner = ctx.from ?? "0x0000000000000000000000000000000000000000";
  const p = previewOpenIsolated(snap, owner, market.id, margin, sizeD18, {
    source: accounts[0],
    acceptablePriceD18: bound,
    now,
    sender: source === undefined ? undefined : await senderOf(ctx, source),
  });
  const funding = source === undefined ? "the wallet" : `account ${source}`;
  const title =
    `open an isolated ${market.symbol} account with ${fmt.tokenUsd(margin, ctx.tokenDecimals)} from ${funding}: ` +
    tradeTitle(ctx, "(new)", market.id, sizeD18, bound);
  return previewThenSend(
    ctx,
    w,
    log,
    "open-isolated",
    { ...fromPreview(ctx, title, p), human: previewHuman(ctx, title, p) + "\n" + (await orderNote(ctx)) },
    async () => {
      if (source === undefined) await ctx.client.ensureAllowance(ctx.book.engine, margin);
      const budget = (await ctx.client.getOrderParams()).settlementRewardD18;
      return ctx.client.engine.commitIsolatedOrder(market.id, source ?? 0n, margin, sizeD18, bound, budget);
    },
    createdAccount,
  );
}

export async function close(
  opts: GlobalOptions,
  w: WriteOptions,
  log: Log,
  idArg: string,
  o: { toAccount?: string; market?: string; slippageBps: string },
) {
  const ctx = await writeContext(opts, w);
  const id = parseAccountId(idArg);
  const bps = parseBps(o.slippageBps);
  const { snap, accounts, now } = await snapshots(ctx, [id]);
  const account: AccountSnapshot = accounts[0];
  if (account.info.isolated) {
    if (o.market !== undefined && resolveMarket(ctx.book, o.market).id !== account.info.marketId) {
      throw new CliError(`Account ${id} is isolated on ${marketSymbol(ctx.book, account.info.marketId)}`);
    }
    const dest = o.toAccount === undefined ? 0n : parseAccountId(o.toAccount, "--to-account id");
    const marketId = account.info.marketId;
    const sizeD18 = account.positions.find((x) => x.marketId === marketId)?.sizeD18 ?? 0n;
    const bound = sizeD18 === 0n ? 0n : await boundFor(ctx, marketId, -sizeD18, bps);
    const where = dest === 0n ? "the wallet" : `account ${dest}`;
    let preview;
    if (sizeD18 === 0n) {
      preview = {
        json: { allowed: true, closesSizeD18: 0n },
        human: `Preview: close isolated account ${id} (no position), collateral to ${where}`,
        allowed: true,
      };
    } else {
      const p = previewTrade(snap, account, marketId, -sizeD18, bound, now, await senderOf(ctx, id));
      const title = `close isolated account ${id}: ${tradeTitle(ctx, id, marketId, -sizeD18, bound)}; the rest to ${where}`;
      preview = fromPreview(ctx, title, p);
    }
    if (sizeD18 === 0n) {
      throw new CliError(`Account ${id} has no position: withdraw its collateral instead`, "NoPosition");
    }
    preview.human += "\n" + (await orderNote(ctx));
    return previewThenSend(
      ctx,
      w,
      log,
      "close",
      preview,
      () => ctx.client.commitCloseIsolated(id, { destinationAccountId: dest, toleranceBps: bps }),
      committedOrder,
    );
  }
  if (o.toAccount !== undefined) throw new CliError("--to-account applies to isolated accounts only");
  if (o.market === undefined) {
    const open = account.positions.map((x) => marketSymbol(ctx.book, x.marketId)).join(", ") || "none";
    throw new CliError(`Account ${id} is a cross account: pass --market <market> (open positions: ${open})`);
  }
  const market = resolveMarket(ctx.book, o.market);
  const sizeD18 = account.positions.find((x) => x.marketId === market.id)?.sizeD18 ?? 0n;
  if (sizeD18 === 0n) throw new CliError(`Account ${id} has no ${market.symbol} position`, "NoPosition");
  const bound = await boundFor(ctx, market.id, -sizeD18, bps);
  const p = previewTrade(snap, account, market.id, -sizeD18, bound, now, await senderOf(ctx, id));
  const title = `close the ${market.symbol} position of account ${id}: ${tradeTitle(ctx, id, market.id, -sizeD18, bound)}`;
  const preview = fromPreview(ctx, title, p);
  preview.human += "\n" + (await orderNote(ctx));
  return previewThenSend(
    ctx,
    w,
    log,
    "close",
    preview,
    () => ctx.client.commitOrder(id, market.id, -sizeD18, { acceptablePriceD18: bound }),
    committedOrder,
  );
}

/* ------------------------------------------------------------------------------------------------------------
                                                   VAULT
   ------------------------------------------------------------------------------------------------------------ */

/** When a request made now can settle and when it expires, in words. */
async function requestWindow(ctx: Context): Promise<{ minDelay: bigint; maxDelay: bigint; human: string }> {
  const [minDelay, maxDelay] = await Promise.all([ctx.client.vault.minDelay(), ctx.client.vault.maxDelay()]);
  return {
    minDelay,
    maxDelay,
    human:
      `settled by a keeper at the vault value on prices published at least ${minDelay} s from now ` +
      `(not at today's share price); refundable after ${maxDelay} s if nobody settles it`,
  };
}

export async function vaultRequestDeposit(opts: GlobalOptions, w: WriteOptions, log: Log, amountArg: string) {
  const ctx = await writeContext(opts, w);
  const assets = parseUsdTokens(amountArg, ctx.tokenDecimals);
  const window = await requestWindow(ctx);
  const cooldown = await ctx.client.vault.cooldown();
  const pending = ctx.from === undefined ? 0n : (await ctx.client.vault.depositRequestOf(ctx.from)).assets;
  const d = ctx.tokenDecimals;
  const preview = {
    json: {
      assets,
      minDelaySeconds: window.minDelay,
      maxDelaySeconds: window.maxDelay,
      cooldownSeconds: cooldown,
    },
    human:
      `Preview: request a deposit of ${fmt.tokenUsd(assets, d)} into the vault, ${window.human}; ` +
      `then claim the shares (entry fee taken) and they stay locked for ${cooldown} s`,
    allowed: pending === 0n,
    rejection: pending === 0n ? undefined : decodedRejection("RequestPending", [ctx.from], ctx.tokenDecimals),
  };
  return previewThenSend(ctx, w, log, "vault request-deposit", preview, () =>
    ctx.client.vaultRequestDeposit(assets),
  );
}

export async function vaultRequestRedeem(opts: GlobalOptions, w: WriteOptions, log: Log, sharesArg: string) {
  const ctx = await writeContext(opts, w);
  const shareDecimals = Number(await ctx.client.vault.decimals());
  const window = await requestWindow(ctx);
  const d = ctx.tokenDecimals;
  const [balance, unlocksAt, pending, now] =
    ctx.from === undefined
      ? [undefined, 0n, 0n, 0n]
      : await Promise.all([
          ctx.client.vault.balanceOf(ctx.from),
          ctx.client.vault.unlocksAt(ctx.from),
          ctx.client.vault.redeemRequestOf(ctx.from).then((r) => r.shares),
          ctx.client.viewTimestamp(),
        ]);
  let shares: bigint;
  if (sharesArg.trim() === "all") {
    if (balance === undefined) throw new CliError('"all" needs a key: whose shares?');
    shares = balance;
  } else {
    shares = parseDecimal(sharesArg, shareDecimals, "share amount");
  }
  if (shares === 0n) throw new CliError("Nothing to redeem: the share amount must be positive");
  const worth = await ctx.client.vault.convertToAssets(shares);
  let rejection: PreviewRejected | undefined;
  if (pending !== 0n) rejection = decodedRejection("RequestPending", [ctx.from], d);
  else if (unlocksAt > now) rejection = decodedRejection("CooldownActive", [ctx.from, unlocksAt], d);
  else if (balance !== undefined && shares > balance)
    rejection = decodedRejection("ERC20InsufficientBalance", [ctx.from, balance, shares], d);
  const preview = {
    json: { shares, worthNow: worth, minDelaySeconds: window.minDelay, maxDelaySeconds: window.maxDelay },
    human:
      `Preview: request the redemption of ${fmt.shares(shares, shareDecimals)} shares (worth ${fmt.tokenUsd(worth, d)} at today's price, ` +
      `before the exit fee), ${window.human}; then claim the assets`,
    allowed: rejection === undefined,
    rejection,
  };
  return previewThenSend(ctx, w, log, "vault request-redeem", preview, () =>
    ctx.client.vaultRequestRedeem(shares),
  );
}

export async function vaultClaim(opts: GlobalOptions, w: WriteOptions, log: Log) {
  const ctx = await writeContext(opts, w);
  requireSigner(ctx);
  const me = ctx.from as string;
  const [r, shareDecimals] = await Promise.all([
    ctx.client.vaultRequests(me),
    ctx.client.vault.decimals().then(Number),
  ]);
  const d = ctx.tokenDecimals;
  const human =
    `Claimable: ${fmt.shares(r.claimableDepositShares, shareDecimals)} shares from settled deposits, ` +
    `${fmt.tokenUsd(r.claimableRedeemAssets, d)} from settled redemptions`;
  if (w.dryRun)
    return {
      json: { action: "vault claim", dryRun: true, claimable: r },
      human: `${human}\n(dry run: nothing sent)`,
    };
  if (r.claimableDepositShares === 0n && r.claimableRedeemAssets === 0n) {
    throw new CliError(
      "Nothing to claim: a request becomes claimable once a keeper settles it (vault status shows pending requests)",
      "NothingToClaim",
    );
  }
  log(human);
  const txs = await ctx.client.vaultClaim();
  const hashes = [];
  for (const tx of txs) {
    log(`Sent ${tx.hash}`);
    await tx.wait();
    hashes.push(tx.hash);
  }
  return {
    json: { action: "vault claim", from: me, claimed: r, transactions: hashes },
    human: `${human}: claimed`,
  };
}

export async function vaultSettle(
  opts: GlobalOptions,
  w: WriteOptions,
  log: Log,
  maxArg: string | undefined,
) {
  const ctx = await writeContext(opts, w);
  const max = maxArg === undefined ? 50n : BigInt(maxArg);
  const [deposits, redemptions] = await ctx.client.vault.queueLengths();
  const preview = {
    json: { maxRequests: max, queued: { deposits, redemptions } },
    human: `Preview: settle up to ${max} ready LP requests (${deposits} deposit and ${redemptions} redeem entries queued)`,
    allowed: true,
  };
  return previewThenSend(ctx, w, log, "vault settle", preview, () => ctx.client.vaultSettleRequests(max));
}
