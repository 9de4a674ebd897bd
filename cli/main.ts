/**
 * `bulkhead`: a command line over the SDK. Read commands print aligned tables, or one JSON object with `--json`;
 * write commands preview (health and liquidation price before -> after), then send (`--dry-run`: preview only).
 * Failures exit with code 1: the decoded revert (or usage error) on stderr, and `{"error": {...}}` on stdout
 * with `--json`.
 */
import { Command, CommanderError, Option } from "commander";

import { decodeRevert } from "../sdk/index.js";
import {
  CliError,
  DEFAULT_KEY_ENV,
  DEFAULT_RPC,
  type GlobalOptions,
  connect,
  keyAddress,
  parseAccountId,
  parseAddress,
  parseBlock,
} from "./context.js";
import * as dev from "./dev.js";
import { toJson } from "./format.js";
import * as read from "./read.js";
import * as write from "./write.js";

type Output = read.Output;

/** The program's options merged with the subcommand's (each subcommand defines the ones it uses). */
interface Opts extends GlobalOptions, write.WriteOptions {
  owner?: string;
  fromBlock?: string;
  isolated?: string;
  to?: string;
  slippageBps: string;
  fromAccount?: string;
  toAccount?: string;
  market?: string;
}

/** Prints a command's output in the requested form. */
function print(opts: GlobalOptions, out: Output): void {
  process.stdout.write(opts.json ? `${toJson(out.json)}\n` : `${out.human}\n`);
}

/** Reports a failure: decoded revert > CLI error > anything else, as one message (and a JSON error object). */
function fail(opts: GlobalOptions | undefined, error: unknown, tokenDecimals = 6): void {
  // source: "chain" (a revert from the node), "preview" (the SDK predicted it; --dry-run), "cli" (usage, setup).
  let report: {
    name: string;
    message: string;
    source: string;
    args?: unknown;
    selector?: string;
    signature?: string;
  };
  const decoded = decodeRevert(error, tokenDecimals);
  if (decoded !== undefined) {
    report = {
      name: decoded.name,
      message: decoded.message,
      source: "chain",
      args: decoded.args,
      selector: decoded.selector,
      signature: decoded.signature,
    };
  } else if (error instanceof write.PreviewRejected) {
    report = { name: error.errorName, message: error.message, source: "preview", args: error.args };
  } else if (error instanceof CliError) {
    report = { name: error.errorName, message: error.message, source: "cli" };
  } else {
    const e = error as { shortMessage?: string; message?: string; code?: string };
    report = {
      name: e.code ?? "Error",
      message: e.shortMessage ?? e.message ?? String(error),
      source: "cli",
    };
  }
  process.stderr.write(`Error: ${report.message}\n`);
  if (opts?.json) process.stdout.write(`${toJson({ error: report })}\n`);
  process.exitCode = 1;
}

/** Wraps an action: output on success, a decoded error on failure. */
function run(action: (opts: Opts, log: (text: string) => void, args: string[]) => Promise<Output>) {
  // commander calls action(...positionals, options, command).
  return async (...params: unknown[]) => {
    const cmd = params[params.length - 1] as Command;
    const args = params.slice(0, -2) as string[];
    const opts = cmd.optsWithGlobals<Opts>();
    const log = (text: string) => {
      if (!opts.json) process.stdout.write(`${text}\n`);
    };
    try {
      print(opts, await action(opts, log, args));
    } catch (error) {
      fail(opts, error);
    }
  };
}

const dryRun = () => new Option("--dry-run", "preview only: send nothing");
const slippage = () =>
  new Option("--slippage-bps <bps>", "worst fill vs the current quote, in bps").default("50");

export function buildProgram(): Command {
  const program = new Command("bulkhead")
    .description("Bulkhead margin/perps protocol: accounts, trading, the liquidity vault")
    .option("--rpc <url>", "JSON-RPC endpoint", process.env.BULKHEAD_RPC_URL ?? DEFAULT_RPC)
    .option(
      "--address-book <path>",
      "address book file (.json) or folder of <chainId>.json (default deployments/)",
    )
    .option(
      "--private-key-env <VAR>",
      "environment variable holding the sender's private key",
      DEFAULT_KEY_ENV,
    )
    .option("--json", "print one JSON object (bigints as decimal strings)")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("markets")
    .description("list markets: price, open interest, funding, fees")
    .action(run(async (opts) => read.markets(await connect(opts))));

  program
    .command("accounts")
    .description("accounts of an owner (default: the key's address) with equity and health")
    .option("--owner <address>", "owner address")
    .action(
      run(async (opts) => {
        const owner =
          opts.owner === undefined ? keyAddress(opts) : parseAddress(opts.owner, "--owner address");
        if (owner === undefined) throw new CliError(`Pass --owner <address> or set ${opts.privateKeyEnv}`);
        return read.accounts(await connect(opts), owner);
      }),
    );

  program
    .command("status <accountId>")
    .description("an account's margin summary, positions, health, liquidation prices, max withdrawable")
    .action(run(async (opts, _log, a) => read.status(await connect(opts), parseAccountId(a[0]))));

  program
    .command("margin")
    .description("margin requirements")
    .command("compare <positions>")
    .description(
      'IM and MM of signed USD notionals ("ETH:100000,BTC:-100000") under isolated, cross and portfolio mode',
    )
    .action(run(async (opts, _log, a) => read.marginCompare(await connect(opts), a[0])));

  program
    .command("liquidatable")
    .description("accounts liquidatable now (scans AccountCreated events)")
    .option("--from-block <n>", "first block to scan (default: the address book's startBlock)")
    .action(
      run(async (opts) => {
        const from = opts.fromBlock;
        return read.liquidatable(await connect(opts), from === undefined ? undefined : parseBlock(from));
      }),
    );

  program
    .command("create-account")
    .description("create a cross account (or an isolated one with --isolated <market>)")
    .option("--isolated <market>", "market of an isolated account")
    .addOption(dryRun())
    .action(run((opts, log, a) => write.createAccount(opts, opts, log, opts.isolated)));

  program
    .command("deposit <accountId> <amountUSD>")
    .description("deposit settlement tokens into an account (approves the engine if needed)")
    .addOption(dryRun())
    .action(run((opts, log, a) => write.deposit(opts, opts, log, a[0], a[1])));

  program
    .command("withdraw <accountId> <amountUSD>")
    .description("withdraw settlement tokens from an account")
    .option("--to <address>", "receiver (default: the sender)")
    .addOption(dryRun())
    .action(run((opts, log, a) => write.withdraw(opts, opts, log, a[0], a[1], opts.to)));

  program
    .command("transfer <fromAccount> <toAccount> <amountUSD>")
    .description("move margin between two accounts of the same owner")
    .addOption(dryRun())
    .action(run((opts, log, a) => write.transfer(opts, opts, log, a[0], a[1], a[2])));

  program
    .command("trade <accountId> <market> <size>")
    .description("commit an order changing a position by <size> base units (negative sells); = order commit")
    .addOption(slippage())
    .addOption(dryRun())
    .action(run((opts, log, a) => write.trade(opts, opts, log, a[0], a[1], a[2], opts.slippageBps)));

  const order = program
    .command("order")
    .description(
      "delayed orders: committed now, settled by a keeper on the first oracle price after a delay",
    );
  order
    .command("commit <accountId> <market> <size>")
    .description("commit an order changing a position by <size> base units (negative sells)")
    .addOption(slippage())
    .addOption(dryRun())
    .action(run((opts, log, a) => write.trade(opts, opts, log, a[0], a[1], a[2], opts.slippageBps)));
  order
    .command("status <accountId>")
    .description("the account's pending orders: waiting, ready to settle, or expired")
    .option("--market <market>", "only this market")
    .action(run(async (opts, _log, a) => write.orderStatus(opts, a[0], opts)));
  order
    .command("cancel <accountId> <market>")
    .description(
      "remove an expired order (anyone may; no fee; an unfilled isolated opening returns its margin)",
    )
    .addOption(dryRun())
    .action(run((opts, log, a) => write.orderCancel(opts, opts, log, a[0], a[1])));

  program
    .command("open-isolated <market> <marginUSD> <size>")
    .description("open a position in a new isolated account funded from the wallet or a cross account")
    .option("--from-account <id>", "cross account to take the margin from (default: the wallet)")
    .addOption(slippage())
    .addOption(dryRun())
    .action(run((opts, log, a) => write.openIsolated(opts, opts, log, a[0], a[1], a[2], opts)));

  program
    .command("close <accountId>")
    .description(
      "close an isolated account (rest to the wallet or --to-account), or one --market of a cross account",
    )
    .option("--to-account <id>", "isolated: cross account receiving the rest (default: the wallet)")
    .option("--market <market>", "cross: the position to close")
    .addOption(slippage())
    .addOption(dryRun())
    .action(run((opts, log, a) => write.close(opts, opts, log, a[0], opts)));

  const vault = program
    .command("vault")
    .description("the liquidity vault (ERC-7540 requests over ERC-4626 shares)");
  vault
    .command("status")
    .description("vault assets, share price, reserve, fees; your shares with a key or --owner")
    .option("--owner <address>", "show this LP's shares")
    .action(
      run(async (opts) => {
        const o = opts.owner;
        const owner = o === undefined ? keyAddress(opts) : parseAddress(o, "--owner address");
        return read.vaultStatus(await connect(opts), owner);
      }),
    );
  vault
    .command("request-deposit <amountUSD>")
    .description(
      "request a deposit (ERC-7540): tokens move now, shares are priced when a keeper settles it after the delay",
    )
    .addOption(dryRun())
    .action(run((opts, log, a) => write.vaultRequestDeposit(opts, opts, log, a[0])));
  vault
    .command("request-redeem <shares>")
    .description(
      'request the redemption of vault shares ("all" for every share you hold), priced at settlement',
    )
    .addOption(dryRun())
    .action(run((opts, log, a) => write.vaultRequestRedeem(opts, opts, log, a[0])));
  vault
    .command("claim")
    .description("claim the shares and assets of your settled requests")
    .addOption(dryRun())
    .action(run((opts, log) => write.vaultClaim(opts, opts, log)));
  vault
    .command("settle [maxRequests]")
    .description("settle ready LP requests at one valuation (what the keeper does; anyone may)")
    .addOption(dryRun())
    .action(run((opts, log, a) => write.vaultSettle(opts, opts, log, a[0])));

  const devCommands = program
    .command("dev")
    .description("local networks only (chain id 31337 or 1337): test tokens and oracle prices");
  devCommands
    .command("mint <amountUSD>")
    .description("mint the mock settlement token (test USDC) to --to (default: the key's address)")
    .option("--to <address>", "receiver (default: the key's address)")
    .action(run((opts, log, a) => dev.mint(opts, log, a[0], opts.to)));
  devCommands
    .command("price <market> <usd>")
    .description(
      "move a market's price: its mock Chainlink aggregator (the mark) and a matching MockPyth update (orders)",
    )
    .action(run((opts, log, a) => dev.price(opts, log, a[0], a[1])));

  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      process.exitCode = error.exitCode === 0 ? 0 : 1;
      return;
    }
    fail(undefined, error);
  }
}

await main(process.argv.slice(2));
