/**
 * EXTENSION POINT - LP request settlement (not implemented yet).
 *
 * The vault is being rewritten to ERC-7540 asynchronous deposit and redeem requests on another branch. Once
 * `contracts/vault/LiquidityVault.sol` has the batch entry point `settleRequests(maxRequests)`, the keeper settles
 * requests with one more `KeeperTask` (keeper/bot.ts), added to `KeeperOptions.tasks` (keeper/main.ts builds the
 * list). Nothing else in the keeper needs to change: the task gets the tick's head, the shared transaction
 * manager (`ctx.send`: nonces, fees, stuck-transaction replacement with its `onStuck`), the block gas that
 * liquidations and order settlement left (`ctx.gasBudget`), the gas price (`ctx.economics()`), dry-run, logs and
 * metrics (`keeper_lp_requests_settled_total` is already registered).
 *
 * The task, when the vault has it (`LpRequestTaskFactory` below is its signature):
 *   run(ctx):      n = the vault's count of settleable requests (or its request events since the last tick);
 *                  if n == 0 return; maxRequests = min(n, maxRequestsPerTx, (ctx.gasBudget.remaining() -
 *                  perTx) / perRequest); staticCall settleRequests(maxRequests) from the keeper (how many it
 *                  settles; a request another keeper settled is simply not counted: not an error);
 *                  ctx.gasBudget.take(gas); unless ctx.dryRun, ctx.send({ kind: "settleRequests", to: vault,
 *                  data: encode("settleRequests", [maxRequests]), gasLimit, accountIds: [], gasEstimate }).
 *   onReceipt:     count the vault's settlement events in the receipt -> keeper_lp_requests_settled_total, log
 *                  `lp_requests_settled`; a reverted transaction whose requests are gone is a lost race.
 *   onStuck:       resend while anything is still settleable, else "cancel".
 *
 * It is left as types only because the vault on main has no `settleRequests` (checked when this was written);
 * the typechain factory for the new vault will replace `LpRequestVault`.
 */
import type { KeeperTask } from "./bot.js";

/** The vault surface the task needs (the ERC-7540 branch's names; adjust to what lands). */
export interface LpRequestVault {
  /** Settles up to `maxRequests` pending requests in FIFO order; returns how many it settled. */
  settleRequests(maxRequests: bigint): Promise<bigint>;
  /** Requests settleable now (claimable once settled). */
  pendingRequestCount(): Promise<bigint>;
}

export interface LpRequestTaskOptions {
  /** The vault's address (from the address book). */
  vault: string;
  /** Most requests per `settleRequests` transaction (default: as many as the gas budget allows). */
  maxRequestsPerTx?: number;
  /** Gas of a `settleRequests` transaction: fixed part and per request (to be measured in bench/gas-report.json). */
  gasModel?: { perTx: bigint; perRequest: bigint };
}

/**
 * Builds the LP request task. Not available until the vault has `settleRequests`: main.ts installs it only when
 * this is implemented (see above).
 */
export type LpRequestTaskFactory = (options: LpRequestTaskOptions) => KeeperTask;
