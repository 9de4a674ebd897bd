/**
 * Local chains only (the playground): mint test USDC to the connected wallet and move a market's mock price
 * (the mock Chainlink aggregator; the keeper's local price publisher republishes it to MockPyth, so orders
 * settle at it). Nothing here exists on a public network.
 */
import { useState } from "preact/hooks";

import { MockAggregatorV3__factory } from "../../../types/ethers-contracts/index.js";
import { parseAmount, price } from "../format.js";
import { ActionButton, type AppContext } from "./App.js";
import { Field, Select } from "./kit.js";

export function DevTools({ ctx }: { ctx: AppContext }) {
  const wallet = ctx.wallet!;
  const { book } = ctx.config;
  const [marketText, setMarket] = useState(String(book.markets[0]?.id ?? 1));
  const [movePct, setMovePct] = useState("-10");
  const d = ctx.view.snapshot.tokenDecimals;
  const market = book.markets.find((m) => String(m.id) === marketText);
  const current = market ? ctx.view.snapshot.markets.get(market.id)?.priceD18 : undefined;

  const move = async () => {
    if (!market || current === undefined) throw new Error("Choose a market.");
    const pct = Number(movePct);
    if (!Number.isFinite(pct) || pct <= -100 || pct > 1000)
      throw new Error("The move must be a percentage above -100.");
    const aggregator = MockAggregatorV3__factory.connect(market.aggregator, wallet.signer);
    const round = await aggregator.latestRoundData();
    const next = (round.answer * BigInt(Math.round((100 + pct) * 100))) / 10_000n;
    return aggregator.setAnswer(next);
  };

  return (
    <section class="devtools" data-testid="devtools">
      <strong>Local chain tools</strong>
      <ActionButton
        ctx={ctx}
        kind="plain"
        label="Mint 10,000 test USDC"
        run={() => wallet.client.token.mint(wallet.address, parseAmount("10000", d))}
        testid="dev-mint"
      />
      <Select
        label="Market"
        value={marketText}
        options={book.markets.map((m) => [String(m.id), m.symbol])}
        onChange={setMarket}
        testid="dev-market"
      />
      <Field label="Move" value={movePct} onInput={setMovePct} suffix="%" testid="dev-move" />
      <ActionButton
        ctx={ctx}
        kind="plain"
        label={`Move ${market?.symbol} price`}
        run={move}
        testid="dev-price"
      >
        Move price{current === undefined ? "" : ` (now $${price(current)})`}
      </ActionButton>
    </section>
  );
}
