/**
 * LP request settlement: the keeper task that settles the liquidity vault's ERC-7540 deposit and redeem requests.
 *
 * Every tick, after liquidations, ADL and order settlement (it gets the block gas they left, `ctx.gasBudget`):
 *   1. read the vault's queue lengths; nothing queued, nothing to do;
 *   2. simulate `settleRequests(n)` from the keeper (n = the queue, at most `maxRequestsPerTx`): it returns how
 *      many entries it would process. 0 means nothing is ready yet: a request waits `minDelay`, and while a market
 *      holds open interest it also waits for every mark to be republished after it (the vault prices requests
 *      only on prices published after them, `engine.vaultValueAt()`);
 *   3. estimate its gas; if the block budget has no room, wait for the next tick;
 *   4. send it through the shared transaction manager (nonces, fees, stuck replacement) unless dry-run.
 * The receipt's `DepositSettled`/`RedeemSettled` events count into `keeper_lp_requests_settled_total`. A batch
 * another keeper settled first simulates to 0 or reverts harmlessly: a lost race, not an error. One settlement
 * transaction is in flight at a time (the queue is FIFO: a second one would only race the first).
 *
 * Settling earns nothing on chain: it is a service to the LPs, and the valuation loop (one price per active
 * market) is paid once per batch, not per LP.
 */
import type { TransactionReceipt } from "ethers";
import { type LiquidityVault, LiquidityVault__factory } from "../types/ethers-contracts/index.js";
import { decodeError } from "./chain.js";
import type { KeeperTask, TickContext } from "./bot.js";
import type { PendingTx, TxSpec } from "./txs.js";

export interface LpRequestTaskOptions {
  /** The vault's address (from the address book). */
  vault: string;
  /** Most queue entries per `settleRequests` transaction (default 50). */
  maxRequestsPerTx?: number;
}

export class LpRequestTask implements KeeperTask {
  readonly name = "lpRequests";
  private inFlight = false;
  private vault: LiquidityVault | undefined;

  constructor(private readonly o: LpRequestTaskOptions) {}

  private contract(ctx: TickContext): LiquidityVault {
    this.vault ??= LiquidityVault__factory.connect(this.o.vault, ctx.chain.runner);
    return this.vault;
  }

  async run(ctx: TickContext): Promise<void> {
    if (this.inFlight) return;
    const vault = this.contract(ctx);
    const [deposits, redemptions] = await vault.queueLengths({ blockTag: ctx.head.number });
    const queued = deposits + redemptions;
    if (queued === 0n) return;
    const cap = BigInt(this.o.maxRequestsPerTx ?? 50);
    const max = queued < cap ? queued : cap;

    let processed: bigint;
    let gas: bigint;
    try {
      processed = await vault.settleRequests.staticCall(max);
      if (processed === 0n) {
        ctx.log("debug", "lp_requests_waiting", { deposits, redemptions });
        return;
      }
      gas = await vault.settleRequests.estimateGas(max);
    } catch (error) {
      const decoded = decodeError(error);
      ctx.fail("lp_requests_simulation_failed", error, { error: decoded.name, detail: decoded.message });
      return;
    }
    if (gas > ctx.gasBudget.remaining()) {
      ctx.log("info", "lp_requests_deferred", { reason: "block_gas_budget", gas, processed });
      return;
    }
    ctx.gasBudget.take(gas);
    const fields = { maxRequests: max, processed, gasEstimate: gas };
    if (ctx.dryRun) {
      ctx.log("info", "lp_requests_dry_run", fields);
      return;
    }
    const spec: TxSpec = {
      kind: "settleRequests",
      to: this.o.vault,
      data: vault.interface.encodeFunctionData("settleRequests", [max]),
      gasLimit: (gas * ctx.gasLimitPercent) / 100n,
      accountIds: [],
      gasEstimate: gas,
    };
    this.inFlight = true;
    try {
      await ctx.send(spec);
      ctx.log("info", "lp_requests_sent", fields);
    } catch (error) {
      this.inFlight = false;
      ctx.fail("lp_requests_send_failed", error, fields);
    }
  }

  async onReceipt(tx: PendingTx, receipt: TransactionReceipt | null, ctx: TickContext): Promise<void> {
    this.inFlight = false;
    if (receipt === null || receipt.status !== 1 || tx.spec.kind === "cancel") {
      ctx.log("info", "lp_requests_race_lost", { hash: tx.hashes.at(-1), status: receipt?.status });
      return;
    }
    const vault = this.contract(ctx);
    let settled = 0;
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== this.o.vault.toLowerCase()) continue;
      const name = vault.interface.parseLog(log)?.name;
      if (name === "DepositSettled" || name === "RedeemSettled") ++settled;
    }
    ctx.metrics.inc("keeper_lp_requests_settled_total", settled);
    ctx.log("info", "lp_requests_settled", { settled, hash: receipt.hash, gasUsed: receipt.gasUsed });
  }

  async onStuck(tx: PendingTx): Promise<TxSpec | "cancel"> {
    return tx.spec;
  }
}
