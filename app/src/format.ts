/**
 * Formatting and parsing for the app: the CLI's formatters (one set of rules for USD, prices, sizes, health),
 * plus shares, relative times, user input and errors in words. Nothing raw reaches the page.
 */
import { formatUnits, parseUnits } from "ethers";

import { decodeRevert } from "../../sdk/index.js";

export { usd, signedUsd, tokenUsd, price, size, percent, health, bps, leverage } from "../../cli/format.js";

/** Whole-token amounts with thousands separators and at most `digits` decimals ("999,000.999"). */
export function units(amount: bigint, decimals: number, digits = 4): string {
  const negative = amount < 0n;
  const [whole, fraction = ""] = formatUnits(negative ? -amount : amount, decimals).split(".");
  const trimmed = fraction.slice(0, digits).replace(/0+$/, "");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const text = trimmed === "" ? grouped : `${grouped}.${trimmed}`;
  return negative && /[1-9]/.test(text) ? `-${text}` : text;
}

export function shares(amount: bigint, decimals: number): string {
  return `${units(amount, decimals)} shares`;
}

/** "in 12 s", "3 min ago", relative to the chain's `now` (seconds). */
export function relative(at: bigint, now: bigint): string {
  const delta = Number(at - now);
  const span = Math.abs(delta);
  const text =
    span < 90 ? `${span} s` : span < 5400 ? `${Math.round(span / 60)} min` : `${(span / 3600).toFixed(1)} h`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

export class InputError extends Error {}

/** A positive decimal amount typed by a user ("10,000", "2.5") in base units of `decimals`. */
export function parseAmount(text: string, decimals: number, what = "amount"): bigint {
  const clean = text.replace(/[,_\s$]/g, "");
  if (!/^\d+(\.\d+)?$/.test(clean))
    throw new InputError(`Enter the ${what} as a positive number, e.g. 1,000 or 2.5.`);
  const fraction = clean.split(".")[1] ?? "";
  if (fraction.length > decimals) throw new InputError(`The ${what} has more than ${decimals} decimals.`);
  const value = parseUnits(clean, decimals);
  if (value === 0n) throw new InputError(`The ${what} must be more than zero.`);
  return value;
}

/** Any failure as a sentence: the protocol's custom errors decoded by the SDK, wallet refusals, RPC trouble. */
export function errorText(error: unknown, tokenDecimals: number): string {
  if (error instanceof InputError) return error.message;
  const decoded = decodeRevert(error, tokenDecimals);
  if (decoded !== undefined) return decoded.message;
  const e = error as {
    code?: string | number;
    shortMessage?: string;
    message?: string;
    info?: { error?: { code?: number } };
  };
  if (e.code === "ACTION_REJECTED" || e.code === 4001 || e.info?.error?.code === 4001) {
    return "You rejected the request in your wallet.";
  }
  if (e.code === "NETWORK_ERROR" || e.code === "SERVER_ERROR")
    return "The node did not answer; is it running?";
  return e.shortMessage ?? e.message ?? String(error);
}
