/**
 * The app shell: loads the deployment, connects the wallet, re-reads the chain on every new block (one `View`),
 * and runs every write through `act`, which waits for the receipt, turns any failure into words and refreshes.
 */
import type { ContractTransactionResponse, JsonRpcProvider } from "ethers";
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";

import { BulkheadClient } from "../../../sdk/index.js";
import { connectWallet, loadConfig, readProvider, type AppConfig, type Wallet } from "../chain.js";
import { loadView, type View } from "../data.js";
import { errorText, tokenUsd } from "../format.js";
import { AccountsPage } from "./AccountsPage.js";
import { ActivityPage } from "./ActivityPage.js";
import { DevTools } from "./DevTools.js";
import { MarketsPage } from "./MarketsPage.js";
import { TradePage } from "./TradePage.js";
import { VaultPage } from "./VaultPage.js";
import { Button } from "./kit.js";

export type Sent = ContractTransactionResponse | ContractTransactionResponse[] | undefined | void;

/** What every page gets. */
export interface AppContext {
  config: AppConfig;
  provider: JsonRpcProvider;
  reader: BulkheadClient;
  wallet?: Wallet;
  view: View;
  /** Runs a write; resolves true when every transaction it sent succeeded. */
  act: (label: string, send: () => Promise<Sent>) => Promise<boolean>;
  busy?: string;
  selected?: bigint;
  select: (accountId: bigint) => void;
  go: (page: Page) => void;
}

const PAGES = ["Trade", "Accounts", "Markets", "Vault", "Activity"] as const;
export type Page = (typeof PAGES)[number];

interface Notice {
  tone: "good" | "bad";
  text: string;
}

export function App() {
  const [config, setConfig] = useState<AppConfig>();
  const [fatal, setFatal] = useState<string>();
  const [wallet, setWallet] = useState<Wallet>();
  const [view, setView] = useState<View>();
  const [page, setPage] = useState<Page>("Trade");
  const [busy, setBusy] = useState<string>();
  const [notice, setNotice] = useState<Notice>();
  const [selected, setSelected] = useState<bigint>();

  useEffect(() => {
    loadConfig().then(setConfig, (e: unknown) => setFatal((e as Error).message));
  }, []);

  const provider = useMemo(() => (config ? readProvider(config) : undefined), [config]);
  const reader = useMemo(
    () => (config && provider ? new BulkheadClient(provider, config.book) : undefined),
    [config, provider],
  );

  const loading = useRef(false);
  /** Reloads the view; false when another load was already running (the caller tries again later). */
  const refresh = useCallback(async (): Promise<boolean> => {
    if (!config || !provider || !reader || loading.current) return false;
    loading.current = true;
    try {
      setView(await loadView(reader, provider, config, wallet?.address));
      setFatal(undefined);
      return true;
    } catch (error) {
      setFatal(`Cannot read the chain: ${errorText(error, 6)}`);
      return true;
    } finally {
      loading.current = false;
    }
  }, [config, provider, reader, wallet]);

  // One read per new block: poll the block number every second (an eth_blockNumber), reload when it moved.
  const lastBlock = useRef(-1);
  useEffect(() => {
    if (!provider) return;
    lastBlock.current = -1;
    const tick = async () => {
      const block = await provider.getBlockNumber().catch(() => lastBlock.current);
      if (block !== lastBlock.current && (await refresh())) lastBlock.current = block;
    };
    void tick();
    const timer = setInterval(() => void tick(), 1000);
    return () => clearInterval(timer);
  }, [provider, refresh]);

  useEffect(() => {
    if (selected === undefined && view && view.accounts.length > 0) setSelected(view.accounts[0].id);
  }, [view, selected]);

  useEffect(() => {
    const injected = window.ethereum;
    if (!injected?.on || !config) return;
    injected.on("accountsChanged", () => {
      setSelected(undefined);
      connectWallet(config).then(setWallet, () => setWallet(undefined));
    });
  }, [config]);

  const decimals = view?.snapshot.tokenDecimals ?? 6;
  const act = useCallback(
    async (label: string, send: () => Promise<Sent>) => {
      setBusy(label);
      setNotice(undefined);
      try {
        const sent = await send();
        const txs = sent === undefined ? [] : Array.isArray(sent) ? sent : [sent];
        for (const tx of txs) {
          const receipt = await tx.wait();
          if (receipt?.status !== 1) throw new Error(`${label}: the transaction failed`);
        }
        setNotice({ tone: "good", text: `${label}: done.` });
        return true;
      } catch (error) {
        setNotice({ tone: "bad", text: `${label} failed: ${errorText(error, decimals)}` });
        return false;
      } finally {
        setBusy(undefined);
        await refresh();
      }
    },
    [decimals, refresh],
  );

  const connect = async () => {
    if (!config) return;
    try {
      setWallet(await connectWallet(config));
    } catch (error) {
      setNotice({ tone: "bad", text: errorText(error, decimals) });
    }
  };

  if (!config || !provider || !reader || !view) {
    return (
      <main class="boot">
        <h1>Bulkhead</h1>
        <p class={fatal ? "tone-bad" : "muted"}>{fatal ?? "Connecting to the chain…"}</p>
      </main>
    );
  }

  const ctx: AppContext = {
    config,
    provider,
    reader,
    wallet,
    view,
    act,
    busy,
    selected,
    select: setSelected,
    go: setPage,
  };

  return (
    <main>
      <nav>
        <h1>Bulkhead</h1>
        {PAGES.map((p) => (
          <a key={p} class={p === page ? "active" : ""} onClick={() => setPage(p)} data-testid={`nav-${p}`}>
            {p}
          </a>
        ))}
        <span class="spacer" />
        <span class="muted" data-testid="block">
          chain {config.chainId} · block {view.block}
          {view.snapshot.paused && <strong class="tone-bad"> · PAUSED</strong>}
        </span>
        {wallet && view.wallet ? (
          <span class="wallet" data-testid="wallet">
            {wallet.address.slice(0, 6)}…{wallet.address.slice(-4)} ·{" "}
            {tokenUsd(view.wallet.tokenBalance, decimals)} USDC
          </span>
        ) : (
          <Button onClick={connect} testid="connect">
            Connect wallet
          </Button>
        )}
      </nav>
      {fatal && <p class="notice tone-bad">{fatal}</p>}
      {notice && (
        <p class={`notice tone-${notice.tone}`} data-testid="notice">
          {notice.text}
        </p>
      )}
      {config.local && wallet && <DevTools ctx={ctx} />}
      {page === "Trade" && <TradePage ctx={ctx} />}
      {page === "Accounts" && <AccountsPage ctx={ctx} />}
      {page === "Markets" && <MarketsPage ctx={ctx} />}
      {page === "Vault" && <VaultPage ctx={ctx} />}
      {page === "Activity" && <ActivityPage ctx={ctx} />}
    </main>
  );
}

/**
 * A button that runs one write through `act`, named once: the same label shows while it waits and heads the notice
 * of its outcome. `run` may throw an input error before sending; it is reported the same way.
 */
export function ActionButton(props: {
  ctx: AppContext;
  label: string;
  run: () => Promise<Sent>;
  onDone?: () => void;
  kind?: "primary" | "plain" | "danger";
  disabled?: boolean;
  testid?: string;
  children?: ComponentChildren;
}) {
  const { ctx, label } = props;
  return (
    <Button
      kind={props.kind}
      disabled={props.disabled}
      busy={ctx.busy === label}
      testid={props.testid}
      onClick={() => void ctx.act(label, props.run).then((ok) => ok && props.onDone?.())}
    >
      {props.children ?? label}
    </Button>
  );
}
