/**
 * Health computed off-chain from indexed state with the SDK's wei-exact mirror of the engine (`math.marginSummary`
 * copies `EngineBase._summary`), so a quiet tick costs a few reads for the markets and no call per account.
 *
 * The mirror only screens: an account it finds liquidatable, or within `marginBps` of its maintenance margin, is
 * a candidate that the bot confirms on chain with `liquidationQuotes` before doing anything (the chain is the
 * final word, and the margin absorbs the funding accrued between the snapshot's block and the next one).
 * Portfolio accounts are screened with the risk model's requirement (`sdk/portfolio.ts`, the snapshot's
 * configuration and ramp). An account whose state is unknown, or whose summary the mirror cannot compute (e.g. a
 * portfolio account while the engine has no model), is always a candidate.
 */
import { math } from "../sdk/index.js";
import * as portfolio from "../sdk/portfolio.js";
import type { AccountInfo, PositionInfo, ProtocolSnapshot } from "../sdk/types.js";
import type { EngineAdapter } from "./chain.js";

export interface AccountState {
  info: AccountInfo;
  positions: PositionInfo[];
}

export class HealthMirror {
  snapshot: ProtocolSnapshot | undefined;
  readonly states = new Map<bigint, AccountState>();
  private prices = new Map<number, bigint>();

  constructor(
    private readonly chain: Pick<EngineAdapter, "protocolSnapshot" | "accountState">,
    /** Concurrent account reads when re-reading touched accounts. */
    private readonly concurrency = 32,
  ) {}

  /**
   * Reads the markets at `block` and re-reads `stale` accounts; returns the markets whose oracle price moved
   * since the previous refresh (every market on the first one).
   */
  async refresh(block: number, stale: Iterable<bigint>): Promise<Set<number>> {
    this.snapshot = await this.chain.protocolSnapshot(block);
    const moved = new Set<number>();
    for (const [id, market] of this.snapshot.markets) {
      if (this.prices.get(id) !== market.priceD18) moved.add(id);
      this.prices.set(id, market.priceD18);
    }
    const ids = [...stale];
    for (let i = 0; i < ids.length; i += this.concurrency) {
      const chunk = ids.slice(i, i + this.concurrency);
      const states = await Promise.all(chunk.map((id) => this.chain.accountState(id, block)));
      chunk.forEach((id, j) => this.states.set(id, states[j]));
    }
    return moved;
  }

  /** Open position count (0 when unknown): sizes the gas estimate of a liquidation. */
  positionCount(accountId: bigint): number {
    return this.states.get(accountId)?.positions.length ?? 0;
  }

  /**
   * The accounts among `ids` (in the given order) to confirm on chain: liquidatable or within `marginBps` of
   * maintenance margin by the mirror, or not computable by it.
   */
  screen(ids: Iterable<bigint>, marginBps: number): bigint[] {
    const snapshot = this.snapshot;
    const out: bigint[] = [];
    const scale = 10_000n;
    const threshold = scale + BigInt(marginBps);
    // Portfolio accounts: the risk model's requirement, from the configuration in the snapshot (as the engine's).
    const model = snapshot?.portfolio;
    const portfolioMargins =
      model &&
      ((legs: portfolio.PortfolioLeg[]) => portfolio.portfolioRequirement(model, legs, snapshot!.timestamp));
    for (const id of ids) {
      const state = this.states.get(id);
      if (snapshot === undefined || state === undefined) {
        out.push(id);
        continue;
      }
      if (state.positions.length === 0) continue;
      try {
        const s = math.marginSummary(
          state.info,
          state.positions,
          snapshot.markets,
          snapshot.timestamp,
          portfolioMargins,
        );
        if (s.equityD18 * scale < s.maintenanceMarginD18 * threshold) out.push(id);
      } catch {
        out.push(id); // e.g. a market without a price in the snapshot: let the chain decide
      }
    }
    return out;
  }
}
