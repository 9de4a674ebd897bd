import { expect } from "chai";
import type { IBulkhead, MockERC20 } from "../../types/ethers-contracts/index.js";
import { TOKEN_SCALE, WAD } from "./constants.js";

/** The contracts the shared assertions read; any fixture's `contracts` object fits. */
export interface Core {
  engine: IBulkhead;
  token: MockERC20;
}

/** Every account id the engine has created (1..accountCount). */
export async function allAccountIds(engine: IBulkhead): Promise<bigint[]> {
  const n = await engine.accountCount();
  return Array.from({ length: Number(n) }, (_, i) => BigInt(i + 1));
}

/**
 * Custody identity, exact in D18: the engine's token balance backs every account's collateral, the vault's
 * cash and the insurance fund, and nothing else. Sums over every account unless `accountIds` is given.
 */
export async function expectCustodyIdentity(contracts: Core, accountIds?: bigint[]): Promise<void> {
  const { engine, token } = contracts;
  const ids = accountIds ?? (await allAccountIds(engine));
  let collateral = 0n;
  for (const id of ids) collateral += (await engine.getAccount(id)).collateralD18;
  const balance = await token.balanceOf(await engine.getAddress());
  const ledger = collateral + (await engine.vaultCash()) + (await engine.insuranceFund());
  expect(
    balance * TOKEN_SCALE,
    "custody identity: balance x scale == collateral + vaultCash + insurance",
  ).to.equal(ledger);
}

/** A plain, deep-comparable copy of an ethers Result (arrays of bigints and strings). */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return Array.from(value, plain);
  return value;
}

/** Everything an account exposes: static data, positions and every margin figure. */
export async function accountSnapshot(engine: IBulkhead, accountId: bigint) {
  return {
    account: plain(await engine.getAccount(accountId)),
    positions: plain(await engine.getPositions(accountId)),
    summary: plain(await engine.marginSummary(accountId)),
  };
}

/**
 * The engine's stored state (no time-dependent views): balances, ledger, every account with its positions and
 * pending orders, and every market's state. Two equal snapshots mean nothing changed.
 */
export async function engineState(contracts: Core, holders: string[] = []) {
  const { engine, token } = contracts;
  const marketCount = await engine.marketCount();
  const accounts = [];
  const orders = [];
  for (const id of await allAccountIds(engine)) {
    accounts.push([plain(await engine.getAccount(id)), plain(await engine.getPositions(id))]);
    for (let marketId = 1n; marketId <= marketCount; marketId++) {
      const order = await engine.getOrder(id, marketId);
      if (order.commitTime !== 0n) orders.push([id, marketId, plain(order)]);
    }
  }
  const markets = [];
  for (let id = 1n; id <= marketCount; id++) markets.push(plain(await engine.getMarketState(id)));
  const balances = [];
  for (const holder of [await engine.getAddress(), ...holders]) balances.push(await token.balanceOf(holder));
  return {
    accounts,
    orders,
    markets,
    balances,
    vaultCash: await engine.vaultCash(),
    insurance: await engine.insuranceFund(),
    reserved: await engine.totalReserved(),
    risk: plain(await engine.getRiskParams()),
    orderParams: plain(await engine.getOrderParams()),
  };
}

/**
 * Runs `check` (which must assert a revert) and asserts that the engine's stored state and the listed holders'
 * token balances are exactly as before.
 */
export async function expectUnchanged(
  contracts: Core,
  check: () => Promise<unknown>,
  holders: string[] = [],
) {
  const before = await engineState(contracts, holders);
  await check();
  expect(await engineState(contracts, holders), "state changed by a rejected call").to.deep.equal(before);
}

/** A call, the custom error it must revert with (on `errorSource`) and that error's arguments. */
export type RejectedCase = [call: () => Promise<unknown>, error: string, args: unknown[]];

/** Every case reverts with its error and arguments and leaves the engine's state unchanged. */
export async function expectEachRejected(
  contracts: Core,
  errorSource: Parameters<Chai.Assertion["revertedWithCustomError"]>[0],
  cases: RejectedCase[],
  holders: string[] = [],
) {
  for (const [call, error, args] of cases) {
    await expectUnchanged(
      contracts,
      () =>
        expect(call())
          .to.be.revertedWithCustomError(errorSource, error)
          .withArgs(...args),
      holders,
    );
  }
}

/*//////////////////////////////////////////////////////////////
        INDEPENDENT MARGIN MATH (bigint mirror of MarginMath.sol)
//////////////////////////////////////////////////////////////*/

export const abs = (x: bigint) => (x < 0n ? -x : x);
export const mulUp = (a: bigint, b: bigint) => (a * b === 0n ? 0n : (a * b - 1n) / WAD + 1n);
export const mulDown = (a: bigint, b: bigint) => (a * b) / WAD;
/** a / b rounded towards -inf (b > 0). */
export const divFloor = (a: bigint, b: bigint) => {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
};
/** a / b rounded towards +inf (b > 0). */
export const divCeil = (a: bigint, b: bigint) => {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
};

/** The market parameters the margin formulas need. */
export interface MarginParams {
  baseImrD18: bigint;
  maxImrD18: bigint;
  imrSizeSlopeD18: bigint;
  mmScalarD18: bigint;
  minPositionMarginD18: bigint;
  skewScaleD18: bigint;
}

export function imr(size: bigint, p: MarginParams): bigint {
  const prod = abs(size) * p.imrSizeSlopeD18;
  const sizeTerm = prod === 0n ? 0n : (prod - 1n) / p.skewScaleD18 + 1n;
  const r = p.baseImrD18 + sizeTerm;
  return r > p.maxImrD18 ? p.maxImrD18 : r;
}

/** Notional, IM and MM of one position at `price`, rounded up as the spec says. */
export function positionMargins(size: bigint, price: bigint, p: MarginParams) {
  const notional = mulUp(abs(size), price);
  const ratio = imr(size, p);
  return {
    notional,
    im: mulUp(notional, ratio) + p.minPositionMarginD18,
    mm: mulUp(mulUp(notional, ratio), p.mmScalarD18) + p.minPositionMarginD18,
  };
}

/** Fill price with skew impact: oracle x (1 + (2 skew + delta) / (2 skewScale)), worse side of the last wei. */
export function fillPrice(oracle: bigint, skew: bigint, delta: bigint, skewScale: bigint): bigint {
  const num = oracle * (2n * skew + delta);
  const den = 2n * skewScale;
  const fill = oracle + (delta > 0n ? divCeil(num, den) : divFloor(num, den));
  return fill > 0n ? fill : 0n;
}

/**
 * Maker fee on the skew-reducing part, taker fee on the rest, each priced at its own segment's fill
 * (skew -> 0, then 0 -> skew + delta); each part rounded up.
 */
export function tradingFee(
  oracle: bigint,
  skew: bigint,
  delta: bigint,
  skewScale: bigint,
  maker: bigint,
  taker: bigint,
): bigint {
  const reduces = (skew > 0n && delta < 0n) || (skew < 0n && delta > 0n);
  const makerDelta = reduces ? (abs(delta) < abs(skew) ? delta : -skew) : 0n;
  const takerDelta = delta - makerDelta;
  const part = (d: bigint, from: bigint, rate: bigint) =>
    d === 0n ? 0n : mulUp(mulUp(abs(d), fillPrice(oracle, from, d, skewScale)), rate);
  return part(makerDelta, skew, maker) + part(takerDelta, skew + makerDelta, taker);
}

/**
 * The margin summary of an account computed in TypeScript from its stored positions, the given oracle prices
 * and each market's funding index as of now (read from `currentFunding`). Each position is marked at its exit
 * fill (oracle with the skew impact of closing it); notional and margins at the oracle price.
 */
export async function expectedSummary(engine: IBulkhead, accountId: bigint, prices: Map<bigint, bigint>) {
  const account = await engine.getAccount(accountId);
  let unrealised = 0n;
  let funding = 0n;
  let notional = 0n;
  let im = 0n;
  let mm = 0n;
  for (const pos of await engine.getPositions(accountId)) {
    const price = prices.get(pos.marketId);
    if (price === undefined) throw new Error(`no price for market ${pos.marketId}`);
    const params = await engine.getMarketParams(pos.marketId);
    const [, index] = await engine.currentFunding(pos.marketId);
    const state = await engine.getMarketState(pos.marketId);
    // Marked at the exit fill: what a trade closing the whole position at the current skew would get.
    const exit = fillPrice(price, state.longOiD18 - state.shortOiD18, -pos.sizeD18, params.skewScaleD18);
    unrealised += divFloor(pos.sizeD18 * exit, WAD) - pos.basisD18;
    funding += divCeil(pos.sizeD18 * (index - pos.lastFundingIndexD18), WAD);
    const m = positionMargins(pos.sizeD18, price, params);
    notional += m.notional;
    im += m.im;
    mm += m.mm;
  }
  const collateral = account.collateralD18;
  return {
    collateralD18: collateral,
    unrealisedPnlD18: unrealised,
    accruedFundingD18: funding,
    equityD18: collateral + unrealised - funding,
    initialMarginD18: im,
    maintenanceMarginD18: mm,
    notionalD18: notional,
  };
}

/** Asserts that the engine's marginSummary equals the independent computation, field by field. */
export async function expectSummaryMatches(
  engine: IBulkhead,
  accountId: bigint,
  prices: Map<bigint, bigint>,
) {
  const expected = await expectedSummary(engine, accountId, prices);
  const s = await engine.marginSummary(accountId);
  expect({
    collateralD18: s.collateralD18,
    unrealisedPnlD18: s.unrealisedPnlD18,
    accruedFundingD18: s.accruedFundingD18,
    equityD18: s.equityD18,
    initialMarginD18: s.initialMarginD18,
    maintenanceMarginD18: s.maintenanceMarginD18,
    notionalD18: s.notionalD18,
  }).to.deep.equal(expected);
  return expected;
}
