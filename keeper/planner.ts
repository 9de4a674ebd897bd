/**
 * What to send, as pure functions: rank confirmed liquidations by expected reward minus gas cost, then pack them
 * into transactions of at most `gasTargetPerTx` each, up to `blockGasBudget` per block. Several transactions per
 * block instead of one batch per block: in a crash the keeper sends what a block can hold, all at once.
 */

/** Gas of `liquidateBatch`: a fixed part per transaction plus, per account, a part and a part per position. */
export interface GasModel {
  perTx: bigint;
  perAccount: bigint;
  perPosition: bigint;
}

/** Fitted to bench/gas-report.json (liquidateCross1 ~128k, liquidateBatch10 ~535k, liquidateCross16 ~987k). */
export const DEFAULT_GAS_MODEL: GasModel = { perTx: 75_000n, perAccount: 10_000n, perPosition: 40_000n };

export interface Candidate {
  accountId: bigint;
  /** Reward the on-chain quote promises (D18 USD). */
  rewardD18: bigint;
  positions: number;
  /** First block the keeper saw it liquidatable (for latency and to break ties: oldest first). */
  firstSeenBlock: number;
}

export interface Ranked extends Candidate {
  gas: bigint;
  /** Gas cost of this account's share of a batch, in D18 USD. */
  costD18: bigint;
  netD18: bigint;
}

export interface Pricing {
  /** Effective gas price the transaction will pay (base fee + tip), in wei. */
  gasPriceWei: bigint;
  /** USD per native token (D18). */
  nativeUsdD18: bigint;
}

const WAD = 10n ** 18n;

export function accountGas(model: GasModel, positions: number): bigint {
  return model.perAccount + model.perPosition * BigInt(Math.max(1, positions));
}

/** Gas (wei-denominated) cost in D18 USD: gas x price (wei) x USD per 1e18 wei. */
export function gasCostD18(gas: bigint, p: Pricing): bigint {
  return (gas * p.gasPriceWei * p.nativeUsdD18) / WAD;
}

/** Best first: highest reward net of its gas, then the longest waiting, then the lowest id (deterministic). */
export function rank(candidates: Candidate[], model: GasModel, pricing: Pricing): Ranked[] {
  return candidates
    .map((c) => {
      const gas = accountGas(model, c.positions);
      const costD18 = gasCostD18(gas, pricing);
      return { ...c, gas, costD18, netD18: c.rewardD18 - costD18 };
    })
    .sort((a, b) =>
      a.netD18 !== b.netD18
        ? a.netD18 > b.netD18
          ? -1
          : 1
        : a.firstSeenBlock !== b.firstSeenBlock
          ? a.firstSeenBlock - b.firstSeenBlock
          : a.accountId < b.accountId
            ? -1
            : a.accountId > b.accountId
              ? 1
              : 0,
    );
}

export interface Packing {
  batches: Ranked[][];
  /** Ranked accounts that did not fit in this block's budget. */
  overflow: Ranked[];
}

/**
 * Greedy, in rank order: each transaction takes accounts while perTx + their gas stays within `gasTargetPerTx`
 * (an account heavier than the target travels alone); transactions are opened while the block budget allows.
 */
export function pack(
  ranked: Ranked[],
  model: GasModel,
  gasTargetPerTx: bigint,
  blockGasBudget: bigint,
  maxAccountsPerTx = Number.MAX_SAFE_INTEGER,
): Packing {
  const batches: Ranked[][] = [];
  let used = 0n;
  let current: Ranked[] = [];
  let currentGas = model.perTx;
  let i = 0;
  for (; i < ranked.length; i++) {
    const r = ranked[i];
    if (current.length > 0 && (currentGas + r.gas > gasTargetPerTx || current.length >= maxAccountsPerTx)) {
      batches.push(current);
      used += currentGas;
      current = [];
      currentGas = model.perTx;
    }
    const first = batches.length === 0 && current.length === 0;
    if (!first && used + currentGas + r.gas > blockGasBudget) break;
    current.push(r);
    currentGas += r.gas;
  }
  if (current.length > 0) batches.push(current);
  return { batches, overflow: ranked.slice(i) };
}

/** The gas estimate of one batch. */
export function batchGas(model: GasModel, batch: Pick<Ranked, "gas">[]): bigint {
  return batch.reduce((sum, r) => sum + r.gas, model.perTx);
}
