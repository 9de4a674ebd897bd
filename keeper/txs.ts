/**
 * The keeper's transactions: nonces assigned locally (several transactions per block without waiting for each
 * to be mined), EIP-1559 fees from the head's base fee, receipts collected on later ticks, and stuck
 * transactions replaced at the same nonce with fees bumped by `bumpPercent` (or cancelled by a zero-value
 * transfer to self when there is nothing left to do, so that later nonces are not held up).
 */
import type { Signer, TransactionReceipt } from "ethers";
import type { EngineAdapter } from "./chain.js";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";

/**
 * What a transaction does: a liquidation batch, an ADL, a cancellation (zero-value transfer to self replacing a
 * stuck transaction), or a task's work (order settlement and cancellation, LP request settlement, volatility
 * upkeep).
 */
export type TxKind =
  | "liquidate"
  | "adl"
  | "cancel"
  | "settleOrder"
  | "cancelOrder"
  | "settleRequests"
  | "pokeVolatility"
  | "syncVolatility";

export interface TxSpec {
  kind: TxKind;
  to: string;
  data: string;
  /** Native value sent (a settlement's oracle update fee); none by default. */
  value?: bigint;
  gasLimit: bigint;
  /** Accounts the transaction acts on (liquidation batch, ADL target). */
  accountIds: bigint[];
  marketId?: number;
  /** The gas the planner expected (for logs and the gas model's calibration). */
  gasEstimate: bigint;
}

export interface PendingTx {
  nonce: number;
  /** Every version sent at this nonce, the latest last. */
  hashes: string[];
  /** Head block when the latest version was sent. */
  sentBlock: number;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  spec: TxSpec;
}

export interface Resolved {
  tx: PendingTx;
  /** Null when the nonce was used by a transaction this keeper did not track (dropped or replaced elsewhere). */
  receipt: TransactionReceipt | null;
}

export interface FeeOptions {
  /** maxFeePerGas = base fee x this + tip. */
  baseFeeMultiplier: bigint;
  /** Priority fee; default: the node's suggestion. */
  tipWei?: bigint;
  /** Replacement fee increase, percent (nodes require at least 10). */
  bumpPercent: bigint;
  /** Blocks a transaction may stay unmined before it is replaced. */
  replaceAfterBlocks: number;
}

export const DEFAULT_FEES: FeeOptions = { baseFeeMultiplier: 2n, bumpPercent: 15n, replaceAfterBlocks: 3 };

export class TxManager {
  readonly pending = new Map<number, PendingTx>();
  private nextNonce: number | undefined;
  private address: string | undefined;

  constructor(
    private readonly signer: Signer,
    private readonly chain: Pick<EngineAdapter, "nonce" | "receipt" | "suggestedTip">,
    private readonly fees: FeeOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  async from(): Promise<string> {
    this.address ??= await this.signer.getAddress();
    return this.address;
  }

  /** Re-reads the next nonce from the node (pending block): at start and after a send the node refused. */
  async sync(): Promise<void> {
    this.nextNonce = await this.chain.nonce(await this.from(), "pending");
  }

  /** The fees a new transaction pays now: tip, and max fee = base fee x multiplier + tip. */
  async currentFees(baseFeePerGas: bigint): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const tip = this.fees.tipWei ?? (await this.chain.suggestedTip());
    return { maxPriorityFeePerGas: tip, maxFeePerGas: baseFeePerGas * this.fees.baseFeeMultiplier + tip };
  }

  /** Sends `spec` at the next nonce; does not wait for it to be mined. */
  async send(spec: TxSpec, head: { number: number; baseFeePerGas: bigint }): Promise<PendingTx> {
    if (this.nextNonce === undefined) await this.sync();
    const nonce = this.nextNonce!;
    const fees = await this.currentFees(head.baseFeePerGas);
    const tx: PendingTx = { nonce, hashes: [], sentBlock: head.number, ...fees, spec };
    await this.broadcast(tx);
    this.nextNonce = nonce + 1;
    this.pending.set(nonce, tx);
    this.metrics.set("keeper_pending_txs", this.pending.size);
    return tx;
  }

  /**
   * Receipts of every pending transaction that has one (any version), and the transactions whose nonce was
   * consumed without one of ours being mined. Returns the stuck ones too: unmined for `replaceAfterBlocks`.
   */
  async reconcile(headNumber: number): Promise<{ resolved: Resolved[]; stuck: PendingTx[] }> {
    const resolved: Resolved[] = [];
    const stuck: PendingTx[] = [];
    if (this.pending.size === 0) return { resolved, stuck };
    let confirmedNonce: number | undefined;
    for (const tx of [...this.pending.values()].sort((a, b) => a.nonce - b.nonce)) {
      let receipt: TransactionReceipt | null = null;
      for (const hash of [...tx.hashes].reverse()) {
        receipt = await this.chain.receipt(hash);
        if (receipt !== null) break;
      }
      if (receipt !== null) {
        resolved.push({ tx, receipt });
        this.pending.delete(tx.nonce);
        continue;
      }
      confirmedNonce ??= await this.chain.nonce(await this.from(), "latest");
      if (confirmedNonce > tx.nonce) {
        resolved.push({ tx, receipt: null });
        this.pending.delete(tx.nonce);
      } else if (headNumber - tx.sentBlock >= this.fees.replaceAfterBlocks) {
        stuck.push(tx);
      }
    }
    this.metrics.set("keeper_pending_txs", this.pending.size);
    return { resolved, stuck };
  }

  /**
   * Sends a new version of a stuck transaction at the same nonce: `spec` (e.g. the batch without the accounts
   * that are gone), or a cancellation. Fees rise by at least `bumpPercent` and to at least the current ones.
   */
  async replace(tx: PendingTx, spec: TxSpec | "cancel", head: { number: number; baseFeePerGas: bigint }) {
    const now = await this.currentFees(head.baseFeePerGas);
    const bump = (v: bigint) => (v * (100n + this.fees.bumpPercent) + 99n) / 100n;
    const tip = max(bump(tx.maxPriorityFeePerGas), now.maxPriorityFeePerGas);
    const maxFee = max(bump(tx.maxFeePerGas), now.maxFeePerGas, tip);
    const previous = { maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas };
    tx.spec =
      spec === "cancel"
        ? {
            kind: "cancel",
            to: await this.from(),
            data: "0x",
            gasLimit: 21_000n,
            accountIds: [],
            gasEstimate: 21_000n,
          }
        : spec;
    tx.maxFeePerGas = maxFee;
    tx.maxPriorityFeePerGas = tip;
    tx.sentBlock = head.number;
    try {
      await this.broadcast(tx);
    } catch (error) {
      Object.assign(tx, previous);
      throw error;
    }
    this.metrics.inc("keeper_txs_replaced_total");
    this.log("warn", "tx_replaced", {
      nonce: tx.nonce,
      kind: tx.spec.kind,
      hash: tx.hashes.at(-1),
      maxFeePerGas: maxFee,
      maxPriorityFeePerGas: tip,
      accounts: tx.spec.accountIds,
    });
  }

  private async broadcast(tx: PendingTx): Promise<void> {
    try {
      const response = await this.signer.sendTransaction({
        to: tx.spec.to,
        data: tx.spec.data,
        value: tx.spec.value ?? 0n,
        gasLimit: tx.spec.gasLimit,
        nonce: tx.nonce,
        maxFeePerGas: tx.maxFeePerGas,
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
        type: 2,
      });
      tx.hashes.push(response.hash);
      this.metrics.inc("keeper_txs_sent_total");
    } catch (error) {
      // The node refused it (nonce, fees, balance): our view of the nonce may be wrong; ask the node again.
      await this.sync().catch(() => undefined);
      throw error;
    }
  }
}

function max(...values: bigint[]): bigint {
  return values.reduce((a, b) => (a > b ? a : b));
}
