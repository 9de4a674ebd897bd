/**
 * The wallet's margin accounts: create (cross, isolated to one market, or portfolio), deposit, withdraw, move margin between
 * accounts; the selected account's risk (equity, margins, health), positions with liquidation prices, pending
 * orders, and its equity-and-margin chart.
 */
import { useState } from "preact/hooks";

import { math } from "../../../sdk/index.js";
import { AccountMode } from "../../../sdk/types.js";
import { symbolOf, type AccountView } from "../data.js";
import {
  errorText,
  health,
  leverage,
  parseAmount,
  price,
  relative,
  signedUsd,
  size,
  usd,
} from "../format.js";
import { ActionButton, type AppContext, type Sent } from "./App.js";
import { EquityChart } from "./Chart.js";
import { Button, Card, Field, Pairs, Select, Table, Tone } from "./kit.js";

export function accountLabel(ctx: AppContext, a: AccountView): string {
  const mode = a.snapshot.info.isolated
    ? `isolated ${symbolOf(ctx.config, a.snapshot.info.marketId)}`
    : a.snapshot.info.mode === AccountMode.Portfolio
      ? "portfolio"
      : "cross";
  return `#${a.id} (${mode})`;
}

function healthTone(a: AccountView): "good" | "warn" | "bad" {
  if (a.risk.liquidatable) return "bad";
  return a.risk.healthFactorD18 < (math.WAD * 3n) / 2n ? "warn" : "good";
}

export function AccountsPage({ ctx }: { ctx: AppContext }) {
  const client = ctx.wallet?.client;
  const [isolatedMarket, setIsolatedMarket] = useState(String(ctx.config.book.markets[0]?.id ?? 1));
  if (!client) {
    return (
      <Card title="Accounts" id="accounts">
        <p class="muted">Connect a wallet to see and create margin accounts.</p>
      </Card>
    );
  }
  const accounts = ctx.view.accounts;
  const current = accounts.find((a) => a.id === ctx.selected);
  return (
    <div class="grid">
      <Card title="Your accounts" id="accounts">
        <Table
          testid="accounts-table"
          empty="No account yet: create one below, then deposit USDC."
          headers={["Account", "Equity", "Health", ""]}
          rows={accounts.map((a) => [
            accountLabel(ctx, a),
            usd(a.risk.summary.equityD18),
            <Tone tone={healthTone(a)}>{health(a.risk.healthFactorD18)}</Tone>,
            a.id === ctx.selected ? (
              <strong>selected</strong>
            ) : (
              <Button kind="plain" onClick={() => ctx.select(a.id)}>
                Select
              </Button>
            ),
          ])}
        />
        <div class="row">
          <ActionButton
            ctx={ctx}
            label="Create cross account"
            run={() => client.createCrossAccount().then(() => undefined)}
            testid="create-cross"
          />
        </div>
        <div class="row">
          <Select
            label="Isolated market"
            value={isolatedMarket}
            options={ctx.config.book.markets.map((m) => [String(m.id), m.symbol])}
            onChange={setIsolatedMarket}
          />
          <ActionButton
            ctx={ctx}
            kind="plain"
            label="Create isolated account"
            run={() => client.createIsolatedAccount(Number(isolatedMarket)).then(() => undefined)}
            testid="create-isolated"
          />
        </div>
        {ctx.view.snapshot.portfolio !== undefined && (
          <div class="row">
            <ActionButton
              ctx={ctx}
              kind="plain"
              label="Create portfolio account"
              run={() => client.createPortfolioAccount().then(() => undefined)}
              testid="create-portfolio"
            />
          </div>
        )}
        <p class="muted">
          A cross account backs all its positions with one pool of collateral; an isolated account holds one
          market and can never lose more than its own collateral; a portfolio account is a cross account whose
          margin comes from the risk model, so hedged positions (long ETH, short BTC) need far less than the
          sum of their margins, and a naked one more.
        </p>
      </Card>
      {current && <AccountDetail ctx={ctx} account={current} />}
    </div>
  );
}

function AccountDetail({ ctx, account }: { ctx: AppContext; account: AccountView }) {
  const client = ctx.wallet!.client;
  const d = ctx.view.snapshot.tokenDecimals;
  const scale = ctx.view.snapshot.tokenScale;
  const [amount, setAmount] = useState("");
  const [target, setTarget] = useState("");
  const s = account.risk.summary;
  const now = ctx.view.timestamp;

  /** A write of the typed amount (token units); an amount that does not parse is reported like a failed write. */
  const withAmount = (send: (units: bigint) => Promise<Sent>) => () => send(parseAmount(amount, d));
  const clear = () => setAmount("");
  const others = ctx.view.accounts.filter((a) => a.id !== account.id);
  const maxWithdraw = math.maxWithdrawable(s, scale, account.orders.length > 0);

  return (
    <>
      <Card title={`Account ${accountLabel(ctx, account)}`} id="account">
        <Pairs
          testid="account-summary"
          rows={[
            ["collateral", usd(account.risk.collateralD18)],
            ["unrealised PnL", signedUsd(s.unrealisedPnlD18)],
            ["funding owed", usd(s.accruedFundingD18)],
            ["equity", usd(s.equityD18)],
            ["initial margin", usd(s.initialMarginD18)],
            ["maintenance margin", usd(s.maintenanceMarginD18)],
            [
              "health factor",
              <Tone tone={healthTone(account)}>
                <span data-testid="health">{health(account.risk.healthFactorD18)}</span>
                {account.risk.liquidatable ? " (liquidatable)" : ""}
              </Tone>,
            ],
            [
              "leverage",
              s.equityD18 > 0n && s.notionalD18 > 0n
                ? leverage((s.equityD18 * math.WAD) / s.notionalD18)
                : "-",
            ],
            ["withdrawable", usd(maxWithdraw * scale)],
          ]}
        />
        {!account.authorized && (
          <p class="tone-bad">
            This wallet is neither the owner nor an operator of this account: it can only watch.
          </p>
        )}
        <div class="row">
          <Field label="Amount" value={amount} onInput={setAmount} suffix="USDC" testid="amount" />
          <ActionButton
            ctx={ctx}
            label="Deposit"
            run={withAmount((u) => client.deposit(account.id, u))}
            onDone={clear}
            disabled={!account.authorized}
            testid="deposit"
          />
          <ActionButton
            ctx={ctx}
            kind="plain"
            label="Withdraw"
            run={withAmount((u) => client.withdraw(account.id, u))}
            onDone={clear}
            disabled={!account.authorized}
            testid="withdraw"
          />
        </div>
        {others.length > 0 && (
          <div class="row">
            <Select
              label="Move margin to"
              value={target}
              options={[
                ["", "choose an account"],
                ...others.map((a) => [String(a.id), accountLabel(ctx, a)] as [string, string]),
              ]}
              onChange={setTarget}
            />
            <ActionButton
              ctx={ctx}
              kind="plain"
              label="Transfer margin"
              run={withAmount((u) => client.transferMargin(account.id, BigInt(target), u * scale))}
              onDone={clear}
              disabled={target === "" || !account.authorized}
            >
              Transfer
            </ActionButton>
          </div>
        )}
      </Card>
      <Card title="Positions" id="positions">
        <Table
          testid="positions-table"
          empty="No open position."
          headers={["Market", "Size", "Entry", "Mark", "Unrealised PnL", "Liquidation price", ""]}
          rows={account.risk.positions.map((p) => {
            const market = ctx.view.snapshot.markets.get(p.marketId)!;
            const pnl = math.unrealisedPnl(p.sizeD18, market.priceD18, p.basisD18);
            return [
              symbolOf(ctx.config, p.marketId),
              size(p.sizeD18),
              `$${price((p.basisD18 * math.WAD) / p.sizeD18)}`,
              `$${price(market.priceD18)}`,
              signedUsd(pnl),
              p.liquidationPriceD18 === 0n ? "-" : `$${price(p.liquidationPriceD18)}`,
              <ActionButton
                ctx={ctx}
                kind="plain"
                label={`Close ${symbolOf(ctx.config, p.marketId)}`}
                run={() => client.commitOrder(account.id, p.marketId, -p.sizeD18, { toleranceBps: 100n })}
                disabled={!account.authorized || account.orders.some((o) => o.marketId === p.marketId)}
              >
                Close
              </ActionButton>,
            ];
          })}
        />
      </Card>
      <Card title="Pending orders" id="orders">
        <Table
          testid="orders-table"
          empty="No pending order."
          headers={["Market", "Size", "Limit", "Status", ""]}
          rows={account.orders.map((o) => [
            symbolOf(ctx.config, o.marketId),
            size(o.sizeDeltaD18),
            `${o.sizeDeltaD18 > 0n ? "≤" : "≥"} $${price(o.acceptablePriceD18)}`,
            o.status === "waiting"
              ? `waiting for a price published ${relative(o.readyTime, now)}`
              : o.status === "ready"
                ? `ready: a keeper settles it (expires ${relative(o.expiryTime, now)})`
                : "expired: cancel it to release the slot",
            o.status === "expired" ? (
              <ActionButton
                ctx={ctx}
                kind="plain"
                label="Cancel order"
                run={() => client.cancelOrder(account.id, o.marketId)}
              >
                Cancel
              </ActionButton>
            ) : (
              ""
            ),
          ])}
        />
      </Card>
      <Card title="Equity and margin" id="chart">
        <EquityChart ctx={ctx} accountId={account.id} />
      </Card>
    </>
  );
}
