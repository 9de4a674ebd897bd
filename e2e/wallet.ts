/**
 * An injected EIP-1193 wallet for browser tests: `window.ethereum` in the page forwards every request to this
 * process, where a real local key (an ethers `Wallet`) signs and sends transactions; reads go to the node.
 * Nothing is auto-approved that a real wallet would refuse: it only knows one account and one chain.
 */
import { JsonRpcProvider, Wallet, type TransactionRequest } from "ethers";
import type { BrowserContext } from "playwright-core";

/** The page side: a minimal EIP-1193 provider with `request` and `on`, calling the exposed binding. */
const PAGE_PROVIDER = `
  (() => {
    const listeners = {};
    window.ethereum = {
      isBulkheadTestWallet: true,
      request: ({ method, params }) => window.__bulkheadWallet(method, params ?? []).then((r) => {
        if (r && r.error) { const e = new Error(r.error.message); e.code = r.error.code; e.data = r.error.data; throw e; }
        return r.result;
      }),
      on: (event, handler) => { (listeners[event] ??= []).push(handler); },
      removeListener: (event, handler) => { listeners[event] = (listeners[event] ?? []).filter((h) => h !== handler); },
    };
  })();
`;

type Hex = string;
interface RpcTx {
  from?: Hex;
  to?: Hex;
  data?: Hex;
  value?: Hex;
  gas?: Hex;
}

export class TestWallet {
  readonly wallet: Wallet;
  /** Every transaction hash it sent, in order. */
  readonly sent: string[] = [];

  constructor(
    privateKey: string,
    readonly provider: JsonRpcProvider,
  ) {
    this.wallet = new Wallet(privateKey, provider);
  }

  get address(): string {
    return this.wallet.address;
  }

  async install(context: BrowserContext): Promise<void> {
    await context.exposeBinding("__bulkheadWallet", (_source, method: string, params: unknown[]) =>
      this.handle(method, params).then(
        (result) => ({ result }),
        (error: {
          code?: number;
          message?: string;
          data?: unknown;
          info?: { error?: { data?: unknown } };
        }) => ({
          error: {
            code: typeof error.code === "number" ? error.code : -32603,
            message: error.message ?? String(error),
            data: error.data ?? error.info?.error?.data,
          },
        }),
      ),
    );
    await context.addInitScript(PAGE_PROVIDER);
  }

  private async handle(method: string, params: unknown[]): Promise<unknown> {
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return [this.address];
      case "wallet_switchEthereumChain": {
        const wanted = BigInt((params[0] as { chainId: string }).chainId);
        const { chainId } = await this.provider.getNetwork();
        if (wanted !== chainId) throw Object.assign(new Error("Unrecognized chain"), { code: 4902 });
        return null;
      }
      case "eth_sendTransaction": {
        const tx = params[0] as RpcTx;
        if (tx.from !== undefined && tx.from.toLowerCase() !== this.address.toLowerCase()) {
          throw Object.assign(new Error("unknown account"), { code: 4100 });
        }
        const request: TransactionRequest = {
          to: tx.to,
          data: tx.data,
          value: tx.value === undefined ? undefined : BigInt(tx.value),
          gasLimit: tx.gas === undefined ? undefined : BigInt(tx.gas),
        };
        const sent = await this.wallet.sendTransaction(request);
        this.sent.push(sent.hash);
        return sent.hash;
      }
      case "personal_sign":
        return this.wallet.signMessage(params[0] as string);
      default:
        return this.provider.send(method, params);
    }
  }
}
