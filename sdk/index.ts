/** Bulkhead TypeScript SDK: exact off-chain math, a typed client, previews and error decoding. */
export * from "./types.js";
export * as math from "./math.js";
export * from "./client.js";
export * from "./errors.js";
export * from "./preview.js";
export * from "./pyth.js";
export * as portfolio from "./portfolio.js";
export * as volatility from "./volatility.js";
