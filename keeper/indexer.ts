/**
 * Account index built from engine events, incrementally: each refresh reads only blocks after the last one
 * indexed, in bounded eth_getLogs ranges. It keeps every account and, per account, the net size of each market
 * as the events report it, so that the bot checks only accounts with open positions; and it remembers which
 * accounts and markets the new events touched, so that the bot re-reads and re-checks those first.
 *
 * It also keeps every pending delayed order (committed, not yet settled or cancelled), keyed by account and
 * market, with its commit time: the order-settlement task reads what is due from here, not from the chain.
 *
 * With a checkpoint file, the index is saved after every refresh that read new blocks (written to a temporary
 * file, then renamed, so a crash never leaves half a file) and loaded at start: a restarted keeper resumes at the
 * block after the checkpoint instead of rescanning from the deployment's start block.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { EngineAdapter, EngineEvent } from "./chain.js";

export interface IndexedAccount {
  owner: string;
  isolated: boolean;
  /** Net size per market id, from PositionModified (absolute) and liquidation/ADL closes (relative). */
  sizes: Map<number, bigint>;
}

/** A pending order as its `OrderCommitted` event described it. */
export interface IndexedOrder {
  accountId: bigint;
  marketId: number;
  /** Unix seconds; ready at commitTime + minDelay, expired after commitTime + maxDelay (the engine's params). */
  commitTime: bigint;
  sizeDeltaD18: bigint;
  /** The reward its settlement pays the keeper (D18 USD, fixed at commit). */
  rewardD18: bigint;
  /** IOrders.OrderKind: 0 trade, 1 isolated opening, 2 isolated close. */
  kind: number;
  /** Block of the commit. */
  block: number;
}

/** Version 2 adds the pending orders; a version-1 checkpoint is ignored (the index is rebuilt from startBlock). */
const CHECKPOINT_VERSION = 2;

interface CheckpointFile {
  version: number;
  engine: string;
  lastIndexedBlock: number;
  /** [accountId, owner, isolated, [[marketId, size], ...]] with bigints as decimal strings. */
  accounts: [string, string, boolean, [number, string][]][];
  /** [accountId, marketId, commitTime, sizeDelta, reward, kind, block] with bigints as decimal strings. */
  orders: [string, number, string, string, string, number, number][];
}

/** The key of an account's order on a market (one pending order per account and market). */
export const orderKey = (accountId: bigint, marketId: number): string => `${accountId}:${marketId}`;

export class AccountIndexer {
  readonly accounts = new Map<bigint, IndexedAccount>();
  /** Pending orders by `orderKey(accountId, marketId)`. */
  readonly orders = new Map<string, IndexedOrder>();
  /** Last block whose events are applied; startBlock - 1 before the first refresh. */
  lastIndexedBlock: number;
  /** Accounts touched by events since the last `takeTouched()`. */
  private touchedAccounts = new Set<bigint>();
  private touchedMarkets = new Set<number>();

  constructor(
    private readonly chain: Pick<EngineAdapter, "blockNumber" | "events">,
    startBlock: number,
    private readonly rangeSize: number,
    private readonly checkpoint?: { file: string; engine: string },
  ) {
    this.lastIndexedBlock = startBlock - 1;
    if (checkpoint !== undefined) this.load(checkpoint.file, checkpoint.engine);
  }

  /** Applies every event up to `head` (default: the chain's head); returns how many events were read. */
  async refresh(head?: number): Promise<number> {
    const to = head ?? (await this.chain.blockNumber());
    let read = 0;
    const before = this.lastIndexedBlock;
    while (this.lastIndexedBlock < to) {
      const from = this.lastIndexedBlock + 1;
      const end = Math.min(to, from + this.rangeSize - 1);
      const events = await this.chain.events(from, end);
      for (const event of events) this.apply(event);
      read += events.length;
      this.lastIndexedBlock = end;
    }
    if (this.lastIndexedBlock > before) this.save();
    return read;
  }

  /** The accounts and markets touched since the last call, and forgets them. */
  takeTouched(): { accounts: Set<bigint>; markets: Set<number> } {
    const out = { accounts: this.touchedAccounts, markets: this.touchedMarkets };
    this.touchedAccounts = new Set();
    this.touchedMarkets = new Set();
    return out;
  }

  private apply(event: EngineEvent): void {
    switch (event.kind) {
      case "AccountCreated":
        this.accounts.set(event.accountId, {
          owner: event.owner,
          isolated: event.isolated,
          sizes: new Map(),
        });
        this.touchedAccounts.add(event.accountId);
        return;
      case "AccountTouched":
        for (const id of event.accountIds) if (this.accounts.has(id)) this.touchedAccounts.add(id);
        return;
      case "MarketTouched":
        this.touchedMarkets.add(event.marketId);
        return;
      case "OrderCommitted":
        this.orders.set(orderKey(event.accountId, event.marketId), {
          accountId: event.accountId,
          marketId: event.marketId,
          commitTime: event.commitTime,
          sizeDeltaD18: event.sizeDeltaD18,
          rewardD18: event.rewardD18,
          kind: event.orderKind,
          block: event.block,
        });
        return;
      case "OrderClosed":
        this.orders.delete(orderKey(event.accountId, event.marketId));
        return;
      default:
        break;
    }
    const account = this.accounts.get(event.accountId);
    if (account === undefined) return; // created before startBlock: not tracked
    this.touchedAccounts.add(event.accountId);
    this.touchedMarkets.add(event.marketId);
    const size =
      event.kind === "PositionModified"
        ? event.newSizeD18
        : (account.sizes.get(event.marketId) ?? 0n) - event.closedSizeD18;
    if (size === 0n) account.sizes.delete(event.marketId);
    else account.sizes.set(event.marketId, size);
  }

  /** Accounts holding at least one position, ascending by id. */
  withPositions(): bigint[] {
    return [...this.accounts.entries()]
      .filter(([, a]) => a.sizes.size > 0)
      .map(([id]) => id)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Accounts holding a position in `marketId`. */
  inMarket(marketId: number): bigint[] {
    return [...this.accounts.entries()].filter(([, a]) => a.sizes.has(marketId)).map(([id]) => id);
  }

  private save(): void {
    if (this.checkpoint === undefined) return;
    const body: CheckpointFile = {
      version: CHECKPOINT_VERSION,
      engine: this.checkpoint.engine.toLowerCase(),
      lastIndexedBlock: this.lastIndexedBlock,
      accounts: [...this.accounts.entries()].map(([id, a]) => [
        id.toString(),
        a.owner,
        a.isolated,
        [...a.sizes.entries()].map(([m, s]) => [m, s.toString()]),
      ]),
      orders: [...this.orders.values()].map((o) => [
        o.accountId.toString(),
        o.marketId,
        o.commitTime.toString(),
        o.sizeDeltaD18.toString(),
        o.rewardD18.toString(),
        o.kind,
        o.block,
      ]),
    };
    const file = this.checkpoint.file;
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(body));
    renameSync(tmp, file);
  }

  /** Loads a checkpoint written for the same engine; a missing file is a fresh start, a foreign one an error. */
  private load(file: string, engine: string): void {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return;
    }
    const body = JSON.parse(text) as CheckpointFile;
    if (body.version === 1) return; // no orders in it: rebuild from startBlock rather than miss pending ones
    if (body.version !== CHECKPOINT_VERSION)
      throw new Error(`checkpoint ${file}: unknown version ${body.version}`);
    if (body.engine !== engine.toLowerCase()) {
      throw new Error(`checkpoint ${file} is for engine ${body.engine}, not ${engine}: use another file`);
    }
    if (body.lastIndexedBlock < this.lastIndexedBlock) return; // older than the configured start: ignore
    this.lastIndexedBlock = body.lastIndexedBlock;
    for (const [id, owner, isolated, sizes] of body.accounts) {
      this.accounts.set(BigInt(id), {
        owner,
        isolated,
        sizes: new Map(sizes.map(([m, s]) => [m, BigInt(s)])),
      });
      this.touchedAccounts.add(BigInt(id));
    }
    for (const [id, marketId, commitTime, sizeDelta, reward, kind, block] of body.orders) {
      this.orders.set(orderKey(BigInt(id), marketId), {
        accountId: BigInt(id),
        marketId,
        commitTime: BigInt(commitTime),
        sizeDeltaD18: BigInt(sizeDelta),
        rewardD18: BigInt(reward),
        kind,
        block,
      });
    }
  }
}
