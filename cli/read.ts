/**
 * Read commands: markets, accounts, status, liquidatable, vault status. Each reads at one block and returns both
 * renderings; main.ts prints one of them.
 */
import { AccountMode, type AccountView, math, portfolio } from "../sdk/index.js";
import type { MarketSnapshot, ProtocolSnapshot, VaultRequests } from "../sdk/index.js";
import { CliError, type Context, marketSymbol, parseDecimal, resolveMarket } from "./context.js";
import * as fmt from "./format.js";

/** What a command produces: one JSON object for --json, text otherwise. */
export interface Output {
  json: Record<string, unknown>;
  human: string;
}

async function pinnedBlock(ctx: Context): Promise<{ blockNumber: number; timestamp: bigint }> {
  const blockNumber = await ctx.provider.getBlockNumber();
  return { blockNumber, timestamp: await ctx.client.viewTimestamp({ blockTag: blockNumber }) };
}

/* ------------------------------------------------------------------------------------------------------------
                                                  MARKETS
   ------------------------------------------------------------------------------------------------------------ */

export async function markets(ctx: Context): Promise<Output> {
  const { blockNumber } = await pinnedBlock(ctx);
  const snap = await ctx.client.getProtocolSnapshot(undefined, { blockTag: blockNumber });
  const rows = [...snap.markets.values()].map((m) => {
    const { rateD18 } = math.pendingFunding(m.state, m.params, m.priceD18, snap.timestamp);
    const entry = ctx.book.markets.find((b) => b.id === m.marketId);
    return {
      id: m.marketId,
      symbol: entry?.symbol ?? `#${m.marketId}`,
      feed: m.params.feed,
      aggregator: entry?.aggregator,
      priceD18: m.priceD18,
      skewD18: math.skewOf(m.state),
      fundingRatePerDayD18: rateD18,
      params: m.params,
      state: m.state,
    };
  });
  const human = table(
    [
      "ID",
      "MARKET",
      "PRICE",
      "LONG OI",
      "SHORT OI",
      "FUNDING/DAY",
      "MAX LEV",
      "MAKER",
      "TAKER",
      "MAX OI/SIDE",
    ],
    rows.map((r) => [
      String(r.id),
      r.symbol,
      fmt.price(r.priceD18),
      fmt.size(r.state.longOiD18).replace(/^\+/, ""),
      fmt.size(r.state.shortOiD18).replace(/^\+/, ""),
      fmt.percent(r.fundingRatePerDayD18),
      fmt.leverage(r.params.baseImrD18),
      fmt.percent(r.params.makerFeeD18),
      fmt.percent(r.params.takerFeeD18),
      fmt.size(r.params.maxOiPerSideD18, 0).replace(/^\+/, ""),
    ]),
    [1],
  );
  return {
    json: { chainId: ctx.chainId, blockNumber, timestamp: snap.timestamp, markets: rows },
    human: `${human}\n\nblock ${blockNumber}, paused: ${snap.paused ? "yes" : "no"}`,
  };
}

function table(headers: string[], rows: string[][], left: number[]): string {
  return rows.length === 0 ? `${headers.join("  ")}\n(none)` : fmt.table(headers, rows, left);
}

/* ------------------------------------------------------------------------------------------------------------
                                              ACCOUNT STATUS
   ------------------------------------------------------------------------------------------------------------ */

/** Every figure of one account at one block: the engine's summary, and per position the SDK's figures. */
export function accountFigures(
  ctx: Context,
  view: AccountView,
  snap: Pick<ProtocolSnapshot, "markets" | "timestamp" | "tokenScale">,
) {
  const s = view.summary;
  const portfolioMode = view.info.mode === AccountMode.Portfolio;
  const positions = view.positions.map((p) => {
    const m = snap.markets.get(p.marketId) as MarketSnapshot;
    const { indexD18 } = math.pendingFunding(m.state, m.params, m.priceD18, snap.timestamp);
    const margins = math.positionMargins(m.params, p.sizeD18, m.priceD18, m.state);
    return {
      marketId: p.marketId,
      symbol: marketSymbol(ctx.book, p.marketId),
      sizeD18: p.sizeD18,
      basisD18: p.basisD18,
      entryPriceD18: (p.basisD18 * math.WAD) / p.sizeD18,
      markPriceD18: m.priceD18,
      notionalD18: margins.notionalD18,
      unrealisedPnlD18: math.unrealisedPnl(p.sizeD18, m.priceD18, p.basisD18),
      accruedFundingD18: math.fundingOwed(p.sizeD18, indexD18, p.lastFundingIndexD18),
      initialMarginD18: margins.imD18,
      maintenanceMarginD18: margins.mmD18,
      imVolMultiplierD18: m.state.imVolMultiplierD18,
      mmVolMultiplierD18: m.state.mmVolMultiplierD18,
      // A portfolio account's MM is not linear in one price: no closed-form liquidation price (0 shows "-").
      liquidationPriceD18: portfolioMode ? 0n : math.liquidationPrice(s, p, m),
    };
  });
  return {
    accountId: view.accountId,
    owner: view.info.owner,
    mode: portfolioMode ? "portfolio" : view.info.isolated ? "isolated" : "cross",
    ...(view.info.isolated ? { marketId: view.info.marketId } : {}),
    summary: s,
    healthFactorD18: math.healthFactor(s),
    liquidatable: math.isLiquidatable(s),
    freeCollateralD18: math.freeCollateral(s),
    maxWithdrawable: math.maxWithdrawable(s, snap.tokenScale),
    positions,
  };
}

export async function status(ctx: Context, accountId: bigint): Promise<Output> {
  const { blockNumber, timestamp } = await pinnedBlock(ctx);
  const info = await ctx.client.getAccount(accountId, { blockTag: blockNumber });
  if (info.owner === "0x0000000000000000000000000000000000000000") {
    throw new CliError(`Account ${accountId} does not exist`, "UnknownAccount");
  }
  const view = await ctx.client.getAccountView(accountId, { blockTag: blockNumber });
  const markets = await ctx.client.getMarkets(
    view.positions.map((p) => p.marketId),
    { blockTag: blockNumber },
  );
  const tokenScale = 10n ** BigInt(18 - ctx.tokenDecimals);
  const f = accountFigures(ctx, view, { markets, timestamp, tokenScale });
  const s = f.summary;
  const mode = view.info.isolated ? `isolated ${marketSymbol(ctx.book, view.info.marketId)}` : f.mode;
  const head = keyValuesBlock(`Account ${accountId} (${mode}, owner ${f.owner}) at block ${blockNumber}`, [
    ["collateral", fmt.usd(s.collateralD18)],
    ["unrealised PnL", fmt.signedUsd(s.unrealisedPnlD18)],
    ["accrued funding", fmt.usd(s.accruedFundingD18) + " (owed)"],
    ["equity", fmt.usd(s.equityD18)],
    ["notional", fmt.usd(s.notionalD18)],
    ["initial margin", fmt.usd(s.initialMarginD18)],
    ["maintenance margin", fmt.usd(s.maintenanceMarginD18)],
    ["health factor", fmt.health(f.healthFactorD18)],
    ["free collateral", fmt.usd(f.freeCollateralD18)],
    ["max withdrawable", fmt.tokenUsd(f.maxWithdrawable, ctx.tokenDecimals)],
    ["liquidatable", f.liquidatable ? "YES" : "no"],
  ]);
  // A portfolio account's requirement, part by part (the SDK's mirror of the chain's model).
  let breakdown = "";
  let requirement: Awaited<ReturnType<typeof ctx.client.portfolioBreakdown>> | undefined;
  if (f.mode === "portfolio") {
    requirement = await ctx.client.portfolioBreakdown(accountId, { blockTag: blockNumber });
    const r = requirement;
    breakdown =
      "\n\n" +
      keyValuesBlock("Portfolio requirement (MM = max(VaR, stress, floor) + add-ons)", [
        ["VaR/ES term", fmt.usd(r.varD18)],
        [
          "stress term",
          `${fmt.usd(r.stressD18)}${r.worstScenario === 0 ? "" : ` (scenario ${r.worstScenario})`}`,
        ],
        ["floor (MM / IM)", `${fmt.usd(r.floorMmD18)} / ${fmt.usd(r.floorImD18)}`],
        ["size add-ons", fmt.usd(r.addOnsD18)],
        ["maintenance margin", fmt.usd(r.mmD18)],
        ["initial margin", fmt.usd(r.imD18)],
      ]);
  }
  const positions = table(
    ["MARKET", "SIZE", "ENTRY", "MARK", "NOTIONAL", "UPNL", "FUNDING", "MM", "VOL IM/MM", "LIQ PRICE"],
    f.positions.map((p) => [
      p.symbol,
      fmt.size(p.sizeD18),
      fmt.price(p.entryPriceD18),
      fmt.price(p.markPriceD18),
      fmt.usd(p.notionalD18),
      fmt.signedUsd(p.unrealisedPnlD18),
      fmt.usd(p.accruedFundingD18),
      fmt.usd(p.maintenanceMarginD18),
      `${fmt.multiplier(p.imVolMultiplierD18)}/${fmt.multiplier(p.mmVolMultiplierD18)}`,
      p.liquidationPriceD18 === 0n ? "-" : fmt.price(p.liquidationPriceD18),
    ]),
    [0],
  );
  return {
    json: { blockNumber, timestamp, ...f, ...(requirement ? { portfolioRequirement: requirement } : {}) },
    human: `${head}${breakdown}\n\nPositions\n${positions}`,
  };
}

function keyValuesBlock(title: string, pairs: [string, string][]): string {
  return `${title}\n${fmt.keyValues(pairs)}`;
}

/* ------------------------------------------------------------------------------------------------------------
                                                 ACCOUNTS
   ------------------------------------------------------------------------------------------------------------ */

export async function accounts(ctx: Context, owner: string): Promise<Output> {
  const { blockNumber, timestamp } = await pinnedBlock(ctx);
  const ids = await ctx.client.accountsOf(owner, ctx.book.startBlock, blockNumber);
  const tokenScale = 10n ** BigInt(18 - ctx.tokenDecimals);
  const views = await Promise.all(ids.map((id) => ctx.client.getAccountView(id, { blockTag: blockNumber })));
  const marketIds = [...new Set(views.flatMap((v) => v.positions.map((p) => p.marketId)))];
  const markets = await ctx.client.getMarkets(marketIds, { blockTag: blockNumber });
  const rows = views.map((v) => accountFigures(ctx, v, { markets, timestamp, tokenScale }));
  const human = table(
    ["ID", "MODE", "COLLATERAL", "EQUITY", "MM", "HEALTH", "POSITIONS"],
    rows.map((r) => [
      String(r.accountId),
      r.mode === "isolated" ? `isolated ${marketSymbol(ctx.book, r.marketId ?? 0)}` : r.mode,
      fmt.usd(r.summary.collateralD18),
      fmt.usd(r.summary.equityD18),
      fmt.usd(r.summary.maintenanceMarginD18),
      fmt.health(r.healthFactorD18),
      r.positions.map((p) => `${fmt.size(p.sizeD18)} ${p.symbol}`).join(", ") || "-",
    ]),
    [1, 6],
  );
  return {
    json: {
      owner,
      blockNumber,
      accounts: rows.map((r) => ({
        accountId: r.accountId,
        mode: r.mode,
        marketId: r.marketId,
        summary: r.summary,
        healthFactorD18: r.healthFactorD18,
        liquidatable: r.liquidatable,
        positions: r.positions.map((p) => ({ marketId: p.marketId, symbol: p.symbol, sizeD18: p.sizeD18 })),
      })),
    },
    human: `Accounts of ${owner} at block ${blockNumber}\n${human}`,
  };
}

/* ------------------------------------------------------------------------------------------------------------
                                               LIQUIDATABLE
   ------------------------------------------------------------------------------------------------------------ */

export async function liquidatable(ctx: Context, fromBlock?: number): Promise<Output> {
  const { blockNumber } = await pinnedBlock(ctx);
  const from = fromBlock ?? ctx.book.startBlock;
  const ids = await ctx.client.allAccounts(from, blockNumber);
  const found = await ctx.client.liquidatable(ids, 200, { blockTag: blockNumber });
  const rows = await Promise.all(
    found.map(async ({ accountId, quote }) => {
      const view = await ctx.client.getAccountView(accountId, { blockTag: blockNumber });
      return {
        accountId,
        owner: view.info.owner,
        equityD18: view.summary.equityD18,
        maintenanceMarginD18: view.summary.maintenanceMarginD18,
        healthFactorD18: math.healthFactor(view.summary),
        partial: quote.partial_,
        closeFractionD18: quote.closeFractionD18,
        closedNotionalD18: quote.closedNotionalD18,
        keeperRewardD18: quote.keeperRewardD18,
      };
    }),
  );
  const human = table(
    ["ID", "OWNER", "EQUITY", "MM", "HEALTH", "KIND", "CLOSES", "REWARD"],
    rows.map((r) => [
      String(r.accountId),
      r.owner,
      fmt.usd(r.equityD18),
      fmt.usd(r.maintenanceMarginD18),
      fmt.health(r.healthFactorD18),
      r.partial ? `partial ${fmt.percent(r.closeFractionD18)}` : "full",
      fmt.usd(r.closedNotionalD18),
      fmt.usd(r.keeperRewardD18),
    ]),
    [1, 5],
  );
  return {
    json: { blockNumber, fromBlock: from, scanned: ids.length, liquidatable: rows },
    human: `${rows.length} of ${ids.length} accounts liquidatable at block ${blockNumber}\n${human}`,
  };
}

/* ------------------------------------------------------------------------------------------------------------
                                                   VAULT
   ------------------------------------------------------------------------------------------------------------ */

/** An LP's pending and claimable requests, as status lines. */
function requestLines(r: VaultRequests, shareDecimals: number, d: number): [string, string][] {
  const when = (t: bigint) => new Date(Number(t) * 1000).toISOString();
  const out: [string, string][] = [];
  const dep = r.pendingDeposit;
  const red = r.pendingRedeem;
  out.push([
    "pending deposit",
    dep.assets === 0n
      ? "-"
      : `${fmt.tokenUsd(dep.assets, d)} (settles from ${when(dep.readyAt)}, expires ${when(dep.expiresAt)})`,
  ]);
  out.push([
    "pending redemption",
    red.shares === 0n
      ? "-"
      : `${fmt.shares(red.shares, shareDecimals)} shares (settles from ${when(red.readyAt)}, expires ${when(red.expiresAt)})`,
  ]);
  out.push([
    "claimable",
    `${fmt.shares(r.claimableDepositShares, shareDecimals)} shares, ${fmt.tokenUsd(r.claimableRedeemAssets, d)}`,
  ]);
  return out;
}

export async function vaultStatus(ctx: Context, owner?: string): Promise<Output> {
  const { blockNumber } = await pinnedBlock(ctx);
  const b = { blockTag: blockNumber };
  const v = ctx.client.vault;
  const e = ctx.client.engine;
  const shareDecimals = Number(await v.decimals(b));
  const oneShare = 10n ** BigInt(shareDecimals);
  const [totalAssets, totalSupply, sharePrice, withdrawable, vaultCashD18, reservedD18, insuranceD18] =
    await Promise.all([
      v.totalAssets(b),
      v.totalSupply(b),
      v.convertToAssets(oneShare, b),
      v.withdrawableAssets(b),
      e.vaultCash(b),
      e.totalReserved(b),
      e.insuranceFund(b),
    ]);
  const [entryFeeBps, exitFeeBps, cooldown, minDelay, maxDelay, queues] = await Promise.all([
    v.entryFeeBps(b),
    v.exitFeeBps(b),
    v.cooldown(b),
    v.minDelay(b),
    v.maxDelay(b),
    v.queueLengths(b),
  ]);
  let position: Record<string, unknown> | undefined;
  if (owner !== undefined) {
    const [shares, unlocksAt, requests] = await Promise.all([
      v.balanceOf(owner, b),
      v.unlocksAt(owner, b),
      ctx.client.vaultRequests(owner, b),
    ]);
    position = { owner, shares, assets: await v.convertToAssets(shares, b), unlocksAt, requests };
  }
  const d = ctx.tokenDecimals;
  const pairs: [string, string][] = [
    ["total assets", fmt.tokenUsd(totalAssets, d)],
    ["share price", `$${fmt.price(sharePrice * 10n ** BigInt(18 - d))} per share`],
    ["total shares", fmt.shares(totalSupply, shareDecimals)],
    ["vault cash", fmt.usd(vaultCashD18)],
    ["reserved for traders", fmt.usd(reservedD18)],
    ["withdrawable by LPs", fmt.tokenUsd(withdrawable, d)],
    ["insurance fund", fmt.usd(insuranceD18)],
    ["entry / exit fee", `${fmt.bps(entryFeeBps)} / ${fmt.bps(exitFeeBps)}`],
    ["cooldown", `${cooldown} s`],
    [
      "request delay",
      `settles ${minDelay} s after the request at the earliest, refundable after ${maxDelay} s`,
    ],
    ["queued requests", `${queues[0]} deposit, ${queues[1]} redeem entries`],
  ];
  if (position !== undefined) {
    const unlocks = position.unlocksAt as bigint;
    pairs.push(
      ["your shares", fmt.shares(position.shares as bigint, shareDecimals)],
      ["your assets", fmt.tokenUsd(position.assets as bigint, d)],
      ["unlocks at", unlocks === 0n ? "-" : new Date(Number(unlocks) * 1000).toISOString()],
      ...requestLines(position.requests as VaultRequests, shareDecimals, d),
    );
  }
  return {
    json: {
      blockNumber,
      vault: ctx.book.vault,
      totalAssets,
      totalSupply,
      shareDecimals,
      assetsPerShare: sharePrice,
      withdrawableAssets: withdrawable,
      vaultCashD18,
      totalReservedD18: reservedD18,
      insuranceFundD18: insuranceD18,
      entryFeeBps,
      exitFeeBps,
      cooldownSeconds: cooldown,
      minDelaySeconds: minDelay,
      maxDelaySeconds: maxDelay,
      queuedDeposits: queues[0],
      queuedRedemptions: queues[1],
      ...(position === undefined ? {} : { position }),
    },
    human: `Vault ${ctx.book.vault} at block ${blockNumber}\n${fmt.keyValues(pairs)}`,
  };
}

/* ------------------------------------------------------------------------------------------------------------
                                              MARGIN COMPARE
   ------------------------------------------------------------------------------------------------------------ */

/**
 * `margin compare <positions>`: the initial and maintenance margin a set of positions needs in each account mode,
 * at the current mark prices, skews and volatility multipliers. `positions` lists signed USD notionals by market,
 * "ETH:100000,BTC:-100000". Isolated (one account per position) and cross need the same sum of the positions'
 * margins (cross only shares the equity that meets it); portfolio needs the risk model's requirement, shown part
 * by part. Needs the deployment's portfolio model for the last column.
 */
export async function marginCompare(ctx: Context, spec: string): Promise<Output> {
  const { blockNumber, timestamp } = await pinnedBlock(ctx);
  const entries = spec
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (entries.length === 0) throw new CliError('No positions; write them as "ETH:100000,BTC:-100000"');
  const wanted = entries.map((entry) => {
    const [symbol, notional, ...rest] = entry.split(":");
    if (notional === undefined || rest.length > 0) {
      throw new CliError(`Invalid position "${entry}"; write <market>:<signed USD notional>`);
    }
    const notionalD18 = parseDecimal(notional, 18, "USD notional", true);
    if (notionalD18 === 0n) throw new CliError(`The notional of "${entry}" must not be zero`);
    return { market: resolveMarket(ctx.book, symbol), notionalD18 };
  });
  const ids = wanted.map((w) => w.market.id);
  if (new Set(ids).size !== ids.length) throw new CliError("Each market may appear once (one net position)");
  const markets = await ctx.client.getMarkets(ids, { blockTag: blockNumber });
  const positions = wanted.map((w) => ({
    marketId: w.market.id,
    sizeD18: (w.notionalD18 * math.WAD) / (markets.get(w.market.id) as MarketSnapshot).priceD18,
    basisD18: 0n,
    lastFundingIndexD18: 0n,
  }));
  let im = 0n;
  let mm = 0n;
  const rows = positions.map((p) => {
    const m = markets.get(p.marketId) as MarketSnapshot;
    const pm = math.positionMargins(m.params, p.sizeD18, m.priceD18, m.state);
    im += pm.imD18;
    mm += pm.mmD18;
    return {
      marketId: p.marketId,
      sizeD18: p.sizeD18,
      notionalD18: pm.notionalD18,
      imD18: pm.imD18,
      mmD18: pm.mmD18,
    };
  });
  const state = await ctx.client.getPortfolioState({ blockTag: blockNumber });
  const requirement =
    state === undefined
      ? undefined
      : portfolio.portfolioRequirement(state, math.portfolioLegs(positions, markets), timestamp);
  const modes = [
    { mode: "isolated", imD18: im, mmD18: mm },
    { mode: "cross", imD18: im, mmD18: mm },
    ...(requirement ? [{ mode: "portfolio", imD18: requirement.imD18, mmD18: requirement.mmD18 }] : []),
  ];
  const human =
    table(
      ["MARKET", "SIZE", "NOTIONAL", "IM", "MM"],
      rows.map((r) => [
        marketSymbol(ctx.book, r.marketId),
        fmt.size(r.sizeD18),
        fmt.usd(r.notionalD18),
        fmt.usd(r.imD18),
        fmt.usd(r.mmD18),
      ]),
      [0],
    ) +
    "\n\n" +
    table(
      ["MODE", "INITIAL MARGIN", "MAINTENANCE MARGIN"],
      modes.map((x) => [x.mode, fmt.usd(x.imD18), fmt.usd(x.mmD18)]),
      [0],
    ) +
    (requirement
      ? "\n\n" +
        keyValuesBlock("Portfolio requirement (MM = max(VaR, stress, floor) + add-ons)", [
          ["VaR/ES term", fmt.usd(requirement.varD18)],
          [
            "stress term",
            `${fmt.usd(requirement.stressD18)}${requirement.worstScenario === 0 ? "" : ` (scenario ${requirement.worstScenario})`}`,
          ],
          ["floor (MM / IM)", `${fmt.usd(requirement.floorMmD18)} / ${fmt.usd(requirement.floorImD18)}`],
          ["size add-ons", fmt.usd(requirement.addOnsD18)],
        ])
      : "\n\n(no portfolio risk model on this deployment: portfolio accounts are not available)");
  return {
    json: { blockNumber, timestamp, positions: rows, modes, portfolioRequirement: requirement },
    human,
  };
}
