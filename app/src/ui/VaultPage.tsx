/**
 * The liquidity vault (ERC-7540): request a deposit or a redemption, wait for the keeper to settle it at a price
 * published after the request, then claim.
 */
import { useState } from "preact/hooks";

import { bps, parseAmount, price, relative, shares, tokenUsd } from "../format.js";
import { ActionButton, type AppContext } from "./App.js";
import { Card, Field, Pairs } from "./kit.js";

export function VaultPage({ ctx }: { ctx: AppContext }) {
  const { vault, snapshot, timestamp } = ctx.view;
  const d = snapshot.tokenDecimals;
  const [depositText, setDeposit] = useState("");
  const [redeemText, setRedeem] = useState("");
  const client = ctx.wallet?.client;
  const sharePrice = vault.assetsPerShare * 10n ** BigInt(18 - d);

  const mine = vault.mine;
  const r = mine?.requests;
  const pendingLine = (readyAt: bigint, expiresAt: bigint) =>
    readyAt > timestamp
      ? `settles ${relative(readyAt, timestamp)} at the earliest`
      : expiresAt > timestamp
        ? "ready: a keeper settles it at the next published price"
        : "expired: it will be refunded";
  return (
    <div class="grid">
      <Card title="Vault" id="vault">
        <Pairs
          testid="vault-stats"
          rows={[
            ["total assets", tokenUsd(vault.totalAssets, d)],
            ["share price", `$${price(sharePrice)} per share`],
            ["total shares", shares(vault.totalSupply, vault.shareDecimals)],
            ["withdrawable by LPs", tokenUsd(vault.withdrawable, d)],
            ["entry / exit fee", `${bps(vault.entryFeeBps)} / ${bps(vault.exitFeeBps)}`],
            ["cooldown after a deposit", `${vault.cooldown} s`],
            ["request delay", `${vault.minDelay} s to ${vault.maxDelay} s`],
          ]}
        />
        <p class="muted">
          Deposits and redemptions are requests: they are priced at the vault's value on oracle prices
          published at least {String(vault.minDelay)} s after the request, so nobody can enter or leave on a
          price move they already know.
        </p>
      </Card>
      <Card title="Your liquidity" id="my-vault">
        {!client || !mine || !r ? (
          <p class="muted">Connect a wallet to provide liquidity.</p>
        ) : (
          <>
            <Pairs
              testid="my-vault-stats"
              rows={[
                ["your shares", shares(mine.shares, vault.shareDecimals)],
                ["worth", tokenUsd(mine.assets, d)],
                ["unlocks", mine.unlocksAt > timestamp ? relative(mine.unlocksAt, timestamp) : "unlocked"],
                [
                  "pending deposit",
                  r.pendingDeposit.assets === 0n
                    ? "none"
                    : `${tokenUsd(r.pendingDeposit.assets, d)}: ${pendingLine(r.pendingDeposit.readyAt, r.pendingDeposit.expiresAt)}`,
                ],
                [
                  "pending redemption",
                  r.pendingRedeem.shares === 0n
                    ? "none"
                    : `${shares(r.pendingRedeem.shares, vault.shareDecimals)}: ${pendingLine(r.pendingRedeem.readyAt, r.pendingRedeem.expiresAt)}`,
                ],
                [
                  "claimable",
                  `${shares(r.claimableDepositShares, vault.shareDecimals)}, ${tokenUsd(r.claimableRedeemAssets, d)}`,
                ],
              ]}
            />
            {[
              {
                label: "Request deposit",
                field: "Deposit",
                unit: "USDC",
                text: depositText,
                set: setDeposit,
                id: "deposit",
                run: () => client.vaultRequestDeposit(parseAmount(depositText, d, "deposit")),
              },
              {
                label: "Request redemption",
                field: "Redeem",
                unit: "shares",
                text: redeemText,
                set: setRedeem,
                id: "redeem",
                run: () =>
                  client.vaultRequestRedeem(parseAmount(redeemText, vault.shareDecimals, "share amount")),
              },
            ].map((x) => (
              <div class="row" key={x.id}>
                <Field
                  label={x.field}
                  value={x.text}
                  onInput={x.set}
                  suffix={x.unit}
                  testid={`vault-${x.id}-amount`}
                />
                <ActionButton
                  ctx={ctx}
                  label={x.label}
                  run={x.run}
                  onDone={() => x.set("")}
                  testid={`vault-request-${x.id}`}
                />
              </div>
            ))}
            <ActionButton
              ctx={ctx}
              label="Claim"
              run={() => client.vaultClaim()}
              disabled={r.claimableDepositShares === 0n && r.claimableRedeemAssets === 0n}
              testid="vault-claim"
            />
          </>
        )}
      </Card>
    </div>
  );
}
