/** The protocol's liquidations, bad debt and auto-deleveraging, newest first. */
import type { AppContext } from "./App.js";
import { Card, Table, Tone } from "./kit.js";

export function ActivityPage({ ctx }: { ctx: AppContext }) {
  return (
    <Card title="Liquidations and ADL" id="activity">
      <Table
        testid="feed"
        empty="No liquidation, bad debt or deleveraging since the deployment."
        headers={["Block", "Event", "Account", "What happened"]}
        rows={ctx.view.feed.map((f) => [
          String(f.block),
          <Tone tone={f.kind === "bad debt" ? "bad" : "warn"}>{f.kind}</Tone>,
          `#${f.accountId}`,
          f.text,
        ])}
      />
    </Card>
  );
}
