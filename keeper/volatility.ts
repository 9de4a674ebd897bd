/**
 * Volatility upkeep: the keeper task that keeps dynamic margin current (DESIGN.md, Dynamic margin).
 *
 * The engine's margin ratios are scaled by per-market multipliers it copies from the `VolatilityOracle`; neither
 * updates itself. Every tick, for each market the oracle is configured for:
 *   1. **poke** the estimator when its next sample is due (`lastSample + interval <= head time`, or it was never
 *      started): one EWMA step on the mark price, at most once per interval by the oracle's own rule;
 *   2. otherwise **sync** the engine when its stored multipliers differ from what `syncVolatility` would copy now
 *      (the oracle's IM and lagged MM multipliers, each rounded up to 1/64, MM at most IM; the same rounding as
 *      `GovernanceModule._toX64`), so a rise reaches IM at once and a fall releases margin as soon as it is due.
 * A poke moves the oracle's multipliers, so the sync follows on the next tick. Both calls are permissionless and
 * earn nothing: the keeper pays their gas as a service (a poke ~62k, a sync ~40k). Each is simulated before it is
 * sent (another keeper may have done it first: `TooEarly`, or nothing left to sync), fits the block gas budget
 * left by liquidations, ADL and orders, and at most one transaction per market is in flight. A market that needs
 * nothing is not read again for `checkEverySeconds` of chain time (or until its next sample falls due).
 */
import type { TransactionReceipt } from "ethers";
import {
  type IBulkhead,
  type VolatilityOracle,
  VolatilityOracle__factory,
} from "../types/ethers-contracts/index.js";
import { decodeError } from "./chain.js";
import type { KeeperTask, TickContext } from "./bot.js";
import type { PendingTx, TxSpec } from "./txs.js";

const WAD = 10n ** 18n;

export interface VolatilityTaskOptions {
  /** The `VolatilityOracle` the engine reads (the address book's `volatilityOracle`). */
  oracle: string;
  /**
   * Seconds of chain time between two reads of a market that needs nothing (default 30; a market whose sample
   * falls due sooner is read when it does). Samples are at least an hour apart, so this bounds the task's RPC load
   * (about five calls per market per check) at no cost in timeliness.
   */
  checkEverySeconds?: number;
}

/** `GovernanceModule._toX64`: a D18 multiplier as the engine stores it, 1 + k / 64 with k rounded up, k <= 255. */
export function quantise(multiplierD18: bigint): bigint {
  if (multiplierD18 <= WAD) return WAD;
  let k = ((multiplierD18 - WAD) * 64n + WAD - 1n) / WAD;
  if (k > 255n) k = 255n;
  return WAD + (k * WAD) / 64n;
}

type Action = "poke" | "sync";

export class VolatilityTask implements KeeperTask {
  readonly name = "volatility";
  /** Markets with a transaction of this task in flight. */
  private readonly inFlight = new Set<number>();
  /** Chain time before which a market that needed nothing is not read again. */
  private readonly quietUntil = new Map<number, bigint>();
  private contracts: { oracle: VolatilityOracle; engine: IBulkhead } | undefined;

  constructor(private readonly o: VolatilityTaskOptions) {}

  private connect(ctx: TickContext) {
    this.contracts ??= {
      oracle: VolatilityOracle__factory.connect(this.o.oracle, ctx.chain.runner),
      engine: ctx.chain.engine,
    };
    return this.contracts;
  }

  /** What market `id` needs now, if anything, as of the tick's head. */
  private async due(ctx: TickContext, id: number): Promise<Action | undefined> {
    const { oracle, engine } = this.connect(ctx);
    const blockTag = ctx.head.number;
    const now = BigInt(ctx.head.timestamp);
    const quiet = now + BigInt(this.o.checkEverySeconds ?? 30);
    const params = await oracle.params(id, { blockTag });
    if (BigInt(params.feed) === 0n) {
      this.quietUntil.set(id, quiet); // not configured: the engine keeps multipliers of 1
      return undefined;
    }
    const state = await oracle.state(id, { blockTag });
    const nextSample = state.lastSample + params.interval;
    if (state.lastSample === 0n || nextSample <= now) return "poke";
    const [im, mm, market] = await Promise.all([
      oracle.imMultiplier(id, { blockTag }),
      oracle.mmMultiplier(id, { blockTag }),
      engine.getMarketState(id, { blockTag }),
    ]);
    const imX = quantise(im);
    let mmX = quantise(mm);
    if (mmX > imX) mmX = imX;
    if (imX !== market.imVolMultiplierD18 || mmX !== market.mmVolMultiplierD18) return "sync";
    this.quietUntil.set(id, nextSample < quiet ? nextSample : quiet);
    return undefined;
  }

  async run(ctx: TickContext): Promise<void> {
    const { oracle, engine } = this.connect(ctx);
    const count = Number(await engine.marketCount({ blockTag: ctx.head.number }));
    for (let id = 1; id <= count; ++id) {
      if (this.inFlight.has(id) || (this.quietUntil.get(id) ?? 0n) > BigInt(ctx.head.timestamp)) continue;
      let action: Action | undefined;
      try {
        action = await this.due(ctx, id);
      } catch (error) {
        ctx.fail("volatility_read_failed", error, { marketId: id });
        continue;
      }
      if (action === undefined) continue;
      const call = action === "poke" ? oracle.poke : engine.syncVolatility;
      let gas: bigint;
      try {
        await call.staticCall(id);
        gas = await call.estimateGas(id);
      } catch (error) {
        // Another keeper poked first (TooEarly), or the mark feed is stale: try again next tick.
        ctx.log("info", "volatility_not_ready", { marketId: id, action, error: decodeError(error).name });
        continue;
      }
      if (gas > ctx.gasBudget.remaining()) {
        ctx.log("info", "volatility_deferred", { marketId: id, action, reason: "block_gas_budget", gas });
        continue;
      }
      ctx.gasBudget.take(gas);
      const fields = { marketId: id, action, gasEstimate: gas };
      if (ctx.dryRun) {
        ctx.log("info", "volatility_dry_run", fields);
        continue;
      }
      const spec: TxSpec = {
        kind: action === "poke" ? "pokeVolatility" : "syncVolatility",
        to: action === "poke" ? this.o.oracle : ctx.chain.address,
        data:
          action === "poke"
            ? oracle.interface.encodeFunctionData("poke", [id])
            : engine.interface.encodeFunctionData("syncVolatility", [id]),
        gasLimit: (gas * ctx.gasLimitPercent) / 100n,
        accountIds: [],
        marketId: id,
        gasEstimate: gas,
      };
      this.inFlight.add(id);
      try {
        await ctx.send(spec);
        ctx.log("info", "volatility_sent", fields);
      } catch (error) {
        this.inFlight.delete(id);
        ctx.fail("volatility_send_failed", error, fields);
      }
    }
  }

  async onReceipt(tx: PendingTx, receipt: TransactionReceipt | null, ctx: TickContext): Promise<void> {
    if (tx.spec.marketId !== undefined) {
      this.inFlight.delete(tx.spec.marketId);
      this.quietUntil.delete(tx.spec.marketId); // a poke moves the multipliers: check the sync at once
    }
    if (receipt === null || receipt.status !== 1 || tx.spec.kind === "cancel") {
      ctx.log("info", "volatility_race_lost", { marketId: tx.spec.marketId, hash: tx.hashes.at(-1) });
      return;
    }
    const poke = tx.spec.kind === "pokeVolatility";
    ctx.metrics.inc(poke ? "keeper_volatility_pokes_total" : "keeper_volatility_syncs_total");
    ctx.log("info", poke ? "volatility_poked" : "volatility_synced", {
      marketId: tx.spec.marketId,
      hash: receipt.hash,
      gasUsed: receipt.gasUsed,
    });
  }

  async onStuck(tx: PendingTx): Promise<TxSpec | "cancel"> {
    return tx.spec;
  }
}
