/**
 * Keeper test fixtures: a deployment with two liquidatable accounts, a keeper wired to capture its logs, and the
 * local price publisher its order settlement reads prices from.
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { deployBulkhead, ETH } from "./fixture.js";
import { feedAnswer, usd, wad } from "./constants.js";
import { EngineAdapter, type AdapterOptions } from "../../keeper/chain.js";
import { Keeper, type KeeperOptions } from "../../keeper/bot.js";
import { jsonLogger } from "../../keeper/log.js";
import { Metrics } from "../../keeper/metrics.js";
import { openIsolated, trade } from "./orders.js";
import { LocalPricePublisher, holdPath, type PricePath } from "../../keeper/price-publisher.js";
import { PullFeedFees, withUpdateFee } from "../../keeper/prices.js";

/**
 * Keeper rewards here (issue 8: flat 5 + liquidation fee x 50% share, below the 1,000 cap), at ETH 2920:
 * bob's 10 ETH: 5 + 29,200 x 0.5% x 0.5 = 78; carol's 15 ETH: 5 + 43,800 x 0.5% x 0.5 = 114.5.
 */
export const REWARD_BOB = usd("78");
export const REWARD_CAROL = usd("114.5");
export const REWARDS = REWARD_BOB + REWARD_CAROL; // 192.5 USDC

export type Base = Awaited<ReturnType<typeof deployBulkhead>>;

/**
 * Three accounts, then ETH 3000 -> 2920:
 *  1 alice, cross, 1 ETH long on 10,000      healthy
 *  2 bob, isolated, 10 ETH long on 1,000     equity ~180 < MM ~312: liquidatable
 *  3 carol, cross, 15 ETH long on 1,500      equity ~270 < MM ~470: liquidatable
 */
export async function twoUnderwater(): Promise<Base> {
  const base = await deployBulkhead();
  const { engine, ethAggregator } = base.contracts;
  const { alice, bob, carol } = base.signers;
  await engine.connect(alice).createCrossAccount();
  await engine.connect(alice).deposit(1, usd("10000"));
  await trade(engine.connect(alice), 1, ETH, wad("1"), wad("3100"));
  await openIsolated(engine.connect(bob), ETH, 0, usd("1000"), wad("10"), wad("3100"));
  await engine.connect(carol).createCrossAccount();
  await engine.connect(carol).deposit(3, usd("1500"));
  await trade(engine.connect(carol), 3, ETH, wad("15"), wad("3100"));
  await ethAggregator.setAnswer(feedAnswer("2920"));
  return base;
}

/**
 * The local price publisher over `base`'s markets, publishing from the admin account along `path` (default: hold).
 * Nothing is read until its first `sync()` or `step()`.
 */
export function makePublisher(base: Base, path: PricePath = holdPath()): LocalPricePublisher {
  const { admin } = base.signers;
  return new LocalPricePublisher({
    engine: base.contracts.engine.target as string,
    runner: admin,
    signer: admin,
    path,
  });
}

/**
 * A keeper over `base` acting as `signer` (default: the keeper signer), with its log lines and metrics. With
 * `prices`, it settles orders with that publisher's prices (synced at the start of each order run, fee read
 * from the pull feed), as keeper/main.ts wires it in local mode; `orders` overrides the order options.
 */
export function makeKeeper(
  base: Base,
  overrides: Partial<KeeperOptions> & { prices?: LocalPricePublisher } = {},
  signer: HardhatEthersSigner = base.signers.keeper,
  adapter: { runner?: HardhatEthersSigner; options?: AdapterOptions } = {},
) {
  const lines: Record<string, unknown>[] = [];
  const metrics = new Metrics();
  const chain = new EngineAdapter(base.contracts.engine.target as string, adapter.runner ?? signer, {
    backoff: { attempts: 5, baseMs: 1, maxMs: 5 },
    onRetry: () => metrics.inc("keeper_rpc_retries_total"),
    ...adapter.options,
  });
  const { prices, ...options } = overrides;
  const orders =
    prices === undefined
      ? options.orders
      : {
          priceService: withUpdateFee(prices.service, new PullFeedFees(chain).read),
          beforeRun: () => prices.sync(),
          ...options.orders,
        };
  const keeper = new Keeper({
    chain,
    rewardReceiver: signer.address,
    log: jsonLogger((line) => lines.push(JSON.parse(line))),
    metrics,
    startBlock: 0,
    logRange: 2000,
    batchSize: 50,
    dryRun: false,
    ...options,
    orders,
  });
  return { keeper, chain, metrics, lines, byMsg: (msg: string) => lines.filter((l) => l.msg === msg) };
}
