/** Scales and keys mirrored once from the contracts; import them instead of writing magic numbers. */
export const WAD = 10n ** 18n;
export const TOKEN_DECIMALS = 6;
export const TOKEN_SCALE = 10n ** BigInt(18 - TOKEN_DECIMALS);
export const FEED_DECIMALS = 8;
export const DAY = 24n * 60n * 60n;

/** Token units (6 decimals) from a whole-number string, e.g. usd("1000"). */
export const usd = (value: string): bigint => parseUnits(value, TOKEN_DECIMALS);
/** D18 fixed point from a decimal string, e.g. wad("0.5"). */
export const wad = (value: string): bigint => parseUnits(value, 18);
/** Chainlink answer (8 decimals) from a decimal string. */
export const feedAnswer = (value: string): bigint => parseUnits(value, FEED_DECIMALS);

function parseUnits(value: string, decimals: number): bigint {
  const negative = value.startsWith("-");
  const [whole, fraction = ""] = (negative ? value.slice(1) : value).split(".");
  if (fraction.length > decimals) throw new Error(`too many decimals in ${value}`);
  const result = BigInt(whole) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0") || "0");
  return negative ? -result : result;
}

export const MAX_UINT256 = 2n ** 256n - 1n;
