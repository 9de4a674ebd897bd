/** Human formatting of D18 and token amounts for the demo, at the edge only, on top of the SDK's formatter. */
import { formatD18 } from "../../sdk/index.js";

const WAD = 10n ** 18n;

/** "12,345.67" from a D18 amount, rounded towards zero to cents. */
export const usd18 = (d18: bigint): string => formatD18(d18, 2);

/** "+$12.34" / "-$12.34" from a D18 amount; "$0.00" (no sign) when it rounds to zero cents. */
export function signedUsd(d18: bigint): string {
  const cents = usd18(d18 < 0n ? -d18 : d18);
  return cents === "0.00" ? "$0.00" : `${d18 < 0n ? "-" : "+"}$${cents}`;
}

/** "$12,345.67" from token units of `decimals`. */
export function usdToken(amount: bigint, decimals: number): string {
  return "$" + usd18(amount * 10n ** BigInt(18 - decimals));
}

/** A D18 value as a float (charts only). */
export function toNumber(d18: bigint): number {
  return Number(d18 / 10n ** 10n) / 1e8;
}

/** "3,000.00" from a D18 price. */
export const price18 = usd18;

/** "1.0234" from a D18 ratio. */
export function ratio18(d18: bigint, digits = 4): string {
  return (Number((d18 * 10n ** BigInt(digits)) / WAD) / 10 ** digits).toFixed(digits);
}

export function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}
