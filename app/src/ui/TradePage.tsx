/**
 * The trade ticket: an order for one of the wallet's accounts, previewed by the SDK at the current price (fill
 * price, fee, settlement reward, health and liquidation price before and after, and the engine's verdict), then
 * committed. A keeper settles it at the first oracle price published one delay later: the fill will differ from
 * the preview by whatever the price does meanwhile, within the limit the slippage sets.
 */
import { useState } from "preact/hooks";

import {
  acceptablePrice,
  math,
  previewErrorMessage,
  previewSettlement,
  settlementReward,
  type Preview,
} from "../../../sdk/index.js";
import { symbolOf, type AccountView } from "../data.js";
import { errorText, health, parseAmount, price, size, usd } from "../format.js";
import { accountLabel } from "./AccountsPage.js";
import { ActionButton, type AppContext } from "./App.js";
import { Card, Field, Pairs, Select, Tone } from "./kit.js";

interface Ticket {
  account: AccountView;
  marketId: number;
  sizeD18: bigint;
  bound: bigint;
  preview: Preview;
}

/** The preview's verdict in words: the engine's custom error, as the SDK decodes the same revert from the chain. */
function verdict(ctx: AppContext, t: Ticket): { ok: boolean; text: string } {
  if (t.preview.allowed)
    return { ok: true, text: "The engine would accept this order at the current price." };
  return { ok: false, text: previewErrorMessage(t.preview, ctx.view.snapshot.tokenDecimals) ?? "Refused." };
}

export function TradePage({ ctx }: { ctx: AppContext }) {
  const { snapshot, orderParams } = ctx.view;
  const accounts = ctx.view.accounts;
  const account = accounts.find((a) => a.id === ctx.selected) ?? accounts[0];
  const [marketText, setMarket] = useState(String(ctx.config.book.markets[0]?.id ?? 1));
  const [side, setSide] = useState<"long" | "short">("long");
  const [amount, setAmount] = useState("");
  const [slippage, setSlippage] = useState("50");

  if (!ctx.wallet) {
    return (
      <Card title="Trade" id="trade">
        <p class="muted">Connect a wallet to trade.</p>
      </Card>
    );
  }
  if (!account) {
    return (
      <Card title="Trade" id="trade">
        <p class="muted">
          You have no margin account yet.{" "}
          <a onClick={() => ctx.go("Accounts")} data-testid="go-accounts">
            Create one and deposit USDC
          </a>{" "}
          first.
        </p>
      </Card>
    );
  }
  const client = ctx.wallet.client;
  const marketId = account.snapshot.info.isolated ? account.snapshot.info.marketId : Number(marketText);
  const market = snapshot.markets.get(marketId);

  let ticket: Ticket | undefined;
  let inputError: string | undefined;
  if (amount.trim() !== "" && market) {
    try {
      const magnitude = parseAmount(amount, 18, "size");
      const sizeD18 = side === "long" ? magnitude : -magnitude;
      const bps = BigInt(Math.round(Number(slippage)));
      if (!(bps >= 0n && bps <= 1000n)) throw new Error("Slippage must be between 0 and 1,000 bps.");
      const quote = math.quoteTrade(market, sizeD18);
      const bound = acceptablePrice(quote.fillPriceD18, sizeD18, bps);
      const reward = settlementReward(
        orderParams.settlementRewardD18,
        orderParams.settlementRewardD18,
        snapshot.tokenScale,
      );
      const now = snapshot.timestamp + 1n;
      const preview = previewSettlement(
        snapshot,
        account.snapshot,
        marketId,
        { sizeDeltaD18: sizeD18, acceptablePriceD18: bound },
        market.priceD18,
        reward,
        now,
        { address: ctx.wallet.address, authorized: account.authorized },
      );
      ticket = { account, marketId, sizeD18, bound, preview };
    } catch (error) {
      inputError = errorText(error, snapshot.tokenDecimals);
    }
  }
  const v = ticket ? verdict(ctx, ticket) : undefined;
  const pending = account.orders.find((o) => o.marketId === marketId);
  const sym = symbolOf(ctx.config, marketId);

  const liq = (p: Preview["before"]) => {
    const pos = p.positions.find((x) => x.marketId === marketId);
    return pos === undefined || pos.liquidationPriceD18 === 0n ? "-" : `$${price(pos.liquidationPriceD18)}`;
  };
  const posSize = (p: Preview["before"]) => {
    const pos = p.positions.find((x) => x.marketId === marketId);
    return pos === undefined ? "-" : size(pos.sizeD18);
  };

  return (
    <div class="grid">
      <Card title="Trade" id="trade">
        <Select
          label="Account"
          value={String(account.id)}
          options={accounts.map((a) => [String(a.id), accountLabel(ctx, a)])}
          onChange={(id) => ctx.select(BigInt(id))}
          testid="trade-account"
        />
        {account.snapshot.info.isolated ? (
          <p class="muted">Isolated account: it trades {sym} only.</p>
        ) : (
          <Select
            label="Market"
            value={marketText}
            options={ctx.config.book.markets.map((m) => [String(m.id), m.symbol])}
            onChange={setMarket}
            testid="trade-market"
          />
        )}
        <div class="sides">
          <button
            class={side === "long" ? "long active" : "long"}
            onClick={() => setSide("long")}
            data-testid="side-long"
          >
            Long
          </button>
          <button
            class={side === "short" ? "short active" : "short"}
            onClick={() => setSide("short")}
            data-testid="side-short"
          >
            Short
          </button>
        </div>
        <Field
          label="Size"
          value={amount}
          onInput={setAmount}
          suffix={sym}
          placeholder="e.g. 2.5"
          testid="trade-size"
        />
        <Field
          label="Slippage limit"
          value={slippage}
          onInput={setSlippage}
          suffix="bps"
          testid="trade-slippage"
        />
        {inputError && <p class="tone-bad">{inputError}</p>}
        <ActionButton
          ctx={ctx}
          label="Commit order"
          run={() =>
            client.commitOrder(ticket!.account.id, ticket!.marketId, ticket!.sizeD18, {
              acceptablePriceD18: ticket!.bound,
            })
          }
          onDone={() => setAmount("")}
          disabled={!ticket || !v?.ok || pending !== undefined}
          testid="commit-order"
        >
          {pending ? `An order on ${sym} is pending` : `Commit ${side} order`}
        </ActionButton>
        <p class="muted">
          Orders fill at the first oracle price published {String(orderParams.minDelay)} s after the commit (a
          keeper settles within {String(orderParams.maxDelay)} s for a {usd(orderParams.settlementRewardD18)}{" "}
          reward), not at the preview's price; a move past your limit makes the order expire unfilled.
        </p>
      </Card>
      <Card title="Preview at the current price" id="preview">
        {!ticket ? (
          <p class="muted">Enter a size to see the fill, the fees and your health after the trade.</p>
        ) : (
          <>
            <p data-testid="verdict">
              <Tone tone={v!.ok ? "good" : "bad"}>{v!.text}</Tone>
            </p>
            <Pairs
              testid="preview-table"
              rows={[
                [
                  "order",
                  `${side} ${size(ticket.sizeD18 < 0n ? -ticket.sizeD18 : ticket.sizeD18).replace(/^\+/, "")} ${sym}`,
                ],
                [
                  "estimated fill",
                  ticket.preview.fillPriceD18 === undefined ? "-" : `$${price(ticket.preview.fillPriceD18)}`,
                ],
                ["limit price", `${ticket.sizeD18 > 0n ? "at most" : "at least"} $${price(ticket.bound)}`],
                ["trading fee", ticket.preview.feeD18 === undefined ? "-" : usd(ticket.preview.feeD18)],
                ["settlement reward", usd(orderParams.settlementRewardD18)],
                [`${sym} position`, `${posSize(ticket.preview.before)} → ${posSize(ticket.preview.after)}`],
                [
                  "equity",
                  `${usd(ticket.preview.before.summary.equityD18)} → ${usd(ticket.preview.after.summary.equityD18)}`,
                ],
                [
                  "initial margin",
                  `${usd(ticket.preview.before.summary.initialMarginD18)} → ${usd(ticket.preview.after.summary.initialMarginD18)}`,
                ],
                [
                  "health factor",
                  `${health(ticket.preview.before.healthFactorD18)} → ${health(ticket.preview.after.healthFactorD18)}`,
                ],
                [`${sym} liquidation price`, `${liq(ticket.preview.before)} → ${liq(ticket.preview.after)}`],
              ]}
            />
          </>
        )}
      </Card>
    </div>
  );
}
