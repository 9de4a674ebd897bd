/**
 * Account index built from engine events, incrementally: each refresh reads only blocks after the last one
 * indexed, in bounded eth_getLogs ranges. It keeps every account and, per account, the net size of each market
 * as the events report it, so that the bot quotes only accounts with open positions.
 */
import type { EngineAdapter, EngineEvent } from "./chain.js";

export interface IndexedAccount {
  owner: string;
  isolated: boolean;
  /** Net size per market id, from PositionModified (absolute) and liquidation/ADL closes (relative). */
  sizes: Map<number, bigint>;
}

export class AccountIndexer {
  readonly accounts = new Map<bigint, IndexedAccount>();
  /** Last block whose events are applied; startBlock - 1 before the first refresh. */
  lastIndexedBlock: number;

  constructor(
    private readonly chain: Pick<EngineAdapter, "blockNumber" | "events">,
    startBlock: number,
    private readonly rangeSize: number,
  ) {
    this.lastIndexedBlock = startBlock - 1;
  }

  /** Applies every event up to the current head; returns how many events were read. */
  async refresh(): Promise<number> {
    const head = await this.chain.blockNumber();
    let read = 0;
    while (this.lastIndexedBlock < head) {
      const from = this.lastIndexedBlock + 1;
      const to = Math.min(head, from + this.rangeSize - 1);
      const events = await this.chain.events(from, to);
      for (const event of events) this.apply(event);
      read += events.length;
      this.lastIndexedBlock = to;
    }
    return read;
  }

  private apply(event: EngineEvent): void {
    if (event.kind === "AccountCreated") {
      this.accounts.set(event.accountId, { owner: event.owner, isolated: event.isolated, sizes: new Map() });
      return;
    }
    const account = this.accounts.get(event.accountId);
    if (account === undefined) return; // created before startBlock: not tracked
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
}
