/**
 * Output of the CLI: human tables with formatted USD and prices, or one JSON object (bigints as decimal strings).
 * Values stay bigints in base units until they reach this file.
 */
import { formatD18, formatFixed, formatPercentD18, isZeroText } from "../sdk/errors.js";
import { math } from "../sdk/index.js";

/**
 * `magnitude` with "-" (or `plus` when given) in front of `prefix`, by the sign of `value`; a value whose shown
 * digits are all zero gets no sign ("$0.00", never "-$0.00" or "+$0.00").
 */
function signed(value: bigint, magnitude: string, prefix = "", plus = ""): string {
  if (value === 0n || isZeroText(magnitude)) return `${prefix}${magnitude}`;
  return `${value < 0n ? "-" : plus}${prefix}${magnitude}`;
}

const abs = (x: bigint) => (x < 0n ? -x : x);

/** A D18 USD amount: "$1,234.56", "-$12.00"; "$0.00" for anything that shows as zero. */
export function usd(d18: bigint, digits = 2): string {
  return signed(d18, formatD18(abs(d18), digits), "$");
}

/** A signed D18 USD amount with an explicit "+" for gains ("$0.00" when it shows as zero). */
export function signedUsd(d18: bigint): string {
  return signed(d18, formatD18(abs(d18), 2), "$", "+");
}

/** A token amount in token units as USD. */
export function tokenUsd(amount: bigint, decimals: number): string {
  return signed(amount, formatFixed(abs(amount), decimals), "$");
}

/** A D18 price: 2 decimals above $1, more below so small prices stay readable. */
export function price(d18: bigint): string {
  return formatD18(d18, d18 !== 0n && d18 < math.WAD ? 6 : 2);
}

/** A signed D18 size in base units, "+1.2500" / "-0.5000"; "0.0000" when it shows as zero. */
export function size(d18: bigint, digits = 4): string {
  return signed(d18, formatD18(abs(d18), digits), "", "+");
}

/**
 * Vault shares (base units with the vault's `decimals`) in whole shares: thousands separators, at most
 * `maxDigits` decimals (truncated; all of them when fewer would show a non-zero amount as 0), trailing zeros
 * trimmed. 999000999000000000n with 12 decimals -> "999,000.999".
 */
export function shares(amount: bigint, decimals: number, maxDigits = 6): string {
  let digits = Math.min(decimals, maxDigits);
  if (amount !== 0n && isZeroText(formatFixed(amount, decimals, digits))) digits = decimals;
  const text = formatFixed(amount, decimals, digits);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** A D18 ratio as a percentage. */
export const percent = formatPercentD18;

/** A health factor (D18): "∞" when the account has no maintenance margin. */
export function health(d18: bigint): string {
  return d18 === math.MAX_UINT256 ? "∞" : formatD18(d18, 2);
}

/** A D18 multiplier as "1.25x" (two decimals: the engine keeps them in 1/64 steps). */
export function multiplier(d18: bigint): string {
  return formatD18(d18, 2) + "x";
}

/** Basis points as a percentage. */
export function bps(value: bigint): string {
  return formatFixed(value, 2, 2) + "%";
}

/** A D18 ratio as leverage, "50.0x". */
export function leverage(ratioD18: bigint): string {
  return ratioD18 === 0n ? "∞" : formatFixed((math.WAD * 10n) / ratioD18, 1, 1) + "x";
}

/* ------------------------------------------------------------------------------------------------------------
                                                   TABLES
   ------------------------------------------------------------------------------------------------------------ */

/** Columns are right-aligned unless listed in `left` (by index; default: the first column). */
export function table(headers: string[], rows: string[][], left: number[] = [0]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (left.includes(i) ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** "label  value" pairs with the labels padded to one width. */
export function keyValues(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

/** Side-by-side before/after rows, with an arrow where the value changes. */
export function beforeAfter(rows: [string, string, string][]): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  const w1 = Math.max(...rows.map(([, b]) => b.length));
  return rows
    .map(([k, b, a]) => `${k.padEnd(width)}  ${b.padStart(w1)}${a === b ? "" : `  ->  ${a}`}`)
    .join("\n");
}

/* ------------------------------------------------------------------------------------------------------------
                                                    JSON
   ------------------------------------------------------------------------------------------------------------ */

/** A JSON-safe copy: bigints as decimal strings, Maps as objects, ethers Results as plain values. */
export function plain(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(v)]));
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, plain(v)]),
    );
  }
  return value;
}

export function toJson(value: unknown): string {
  return JSON.stringify(plain(value), null, 2);
}
