/** Markets: mark price, skew, the funding rate accrued to now, open interest against its cap, max leverage. */
import { math } from "../../../sdk/index.js";
import { symbolOf } from "../data.js";
import { leverage, percent, price, size, usd } from "../format.js";
import type { AppContext } from "./App.js";
import { Card, Table } from "./kit.js";

export function MarketsPage({ ctx }: { ctx: AppContext }) {
  const { snapshot } = ctx.view;
  const rows = [...snapshot.markets.values()].map((m) => {
    const funding = math.pendingFunding(m.state, m.params, m.priceD18, snapshot.timestamp);
    const cap = m.params.maxOiPerSideD18;
    const oi = (side: bigint) => `${size(side, 3).replace(/^\+/, "")} / ${size(cap, 0).replace(/^\+/, "")}`;
    return [
      <strong>{symbolOf(ctx.config, m.marketId)}</strong>,
      `$${price(m.priceD18)}`,
      size(math.skewOf(m.state), 3),
      `${percent(funding.rateD18)} / day`,
      oi(m.state.longOiD18),
      oi(m.state.shortOiD18),
      usd(math.notional(m.state.longOiD18 + m.state.shortOiD18, m.priceD18), 0),
      leverage(m.params.baseImrD18),
    ];
  });
  return (
    <Card title="Markets" id="markets">
      <Table
        testid="markets-table"
        headers={[
          "Market",
          "Price",
          "Skew",
          "Funding (longs pay if > 0)",
          "Long OI / cap",
          "Short OI / cap",
          "OI (USD)",
          "Max leverage",
        ]}
        rows={rows}
      />
      <p class="muted">
        Sizes in the market's base asset. Trades fill at the price with skew impact; funding drifts towards
        the side with less open interest.
      </p>
    </Card>
  );
}
