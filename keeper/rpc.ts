/**
 * Backoff for RPC errors. A read that fails with a transient error (connection reset, timeout, rate limit, a
 * node's 5xx) is retried with exponential backoff and full jitter; a revert is never retried (it is an answer,
 * not a failure). Sends are not retried here: the transaction manager owns nonces and decides what to resend.
 */
import { isError } from "ethers";
import { revertDataOf } from "../sdk/errors.js";

export interface BackoffOptions {
  /** Tries in all, the first included (1 = no retry). */
  attempts: number;
  /** Delay before the first retry; doubles on each further retry. */
  baseMs: number;
  /** Cap on one delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { attempts: 5, baseMs: 100, maxMs: 5_000 };

const TRANSIENT_CODES = new Set(["SERVER_ERROR", "TIMEOUT", "NETWORK_ERROR", "UNKNOWN_ERROR"]);
const TRANSIENT_TEXT =
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|socket hang up|timeout|timed out|rate limit|too many requests|\b429\b|\b50[234]\b|header not found|missing trie node|temporarily unavailable/i;

/** Whether retrying `error` may succeed: a transport or node failure, never a revert or a bad argument. */
export function isTransient(error: unknown): boolean {
  if (revertDataOf(error) !== undefined) return false;
  if (isError(error, "CALL_EXCEPTION") || isError(error, "INVALID_ARGUMENT")) return false;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && TRANSIENT_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : String(error);
  return TRANSIENT_TEXT.test(message);
}

/** The delay before retry number `retry` (1-based): uniform in [0, min(max, base * 2^(retry-1))]. */
export function backoffDelay(
  retry: number,
  o: Pick<BackoffOptions, "baseMs" | "maxMs">,
  random = Math.random,
) {
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Runs `fn`, retrying transient failures up to `o.attempts` tries in all. `onRetry` sees each retried error
 * (for metrics and logs). The last error is rethrown.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  o: BackoffOptions = DEFAULT_BACKOFF,
  onRetry?: (error: unknown, retry: number, delayMs: number) => void,
): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await fn();
    } catch (error) {
      if (retry >= o.attempts || !isTransient(error)) throw error;
      const delayMs = backoffDelay(retry, o);
      onRetry?.(error, retry, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Provider reads that are safe to repeat (no state change on the node). */
const IDEMPOTENT_READS = new Set([
  "call",
  "estimateGas",
  "getBalance",
  "getBlock",
  "getBlockNumber",
  "getCode",
  "getFeeData",
  "getLogs",
  "getNetwork",
  "getTransaction",
  "getTransactionCount",
  "getTransactionReceipt",
]);

/**
 * The same runner, with every idempotent read (its provider's, and its own `call`) retried on transient errors
 * one call at a time, so a composite read (an SDK snapshot of a dozen calls) does not fail as a whole for one
 * dropped request. Sends pass through untouched.
 */
export function retryingRunner<T extends { provider: P | null }, P extends object>(
  runner: T,
  o: BackoffOptions = DEFAULT_BACKOFF,
  onRetry?: (error: unknown, retry: number, delayMs: number) => void,
): T {
  const wrap = <O extends object>(target: O, retried: (name: string) => boolean) =>
    new Proxy(target, {
      get(t, prop) {
        const value: unknown = Reflect.get(t, prop, t);
        if (typeof value !== "function") return value;
        const fn = value as (...args: unknown[]) => unknown;
        if (!retried(String(prop))) return fn.bind(t);
        return (...args: unknown[]) => withRetry(() => Promise.resolve(fn.apply(t, args)), o, onRetry);
      },
    });
  const provider =
    runner.provider === null ? null : wrap(runner.provider, (name) => IDEMPOTENT_READS.has(name));
  const outer = wrap(runner, (name) => name === "call" || name === "estimateGas");
  return new Proxy(outer, {
    get(t, prop) {
      return prop === "provider" ? provider : Reflect.get(t, prop);
    },
  });
}
