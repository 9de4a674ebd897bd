/**
 * The liquidity vault's asynchronous (ERC-7540) flows as one call each, for tests that need an LP position and
 * are not about the request lifecycle itself: request, wait the vault's `minDelay`, republish prices (when a
 * market has open interest, settlement needs prices published after the request), settle, claim. Local networks
 * only (it moves the clock); it works on whatever connection the vault is bound to, so the demo and the stress
 * harness use it too.
 */
import type { LiquidityVault } from "../../types/ethers-contracts/index.js";

type Signer = Parameters<LiquidityVault["connect"]>[0] & { getAddress(): Promise<string> };

/** Settles at most this many queue entries per helper call (the tests have a handful at most). */
export const SETTLE_BATCH = 32n;

/** Waits out `minDelay`, runs `republish` (e.g. re-sets the mock aggregators' answers), settles. */
export async function settleWhenReady(vault: LiquidityVault, republish?: () => Promise<unknown>) {
  const provider = vault.runner?.provider as unknown as {
    send(method: string, params: unknown[]): Promise<unknown>;
  };
  await provider.send("evm_increaseTime", [Number(await vault.minDelay())]);
  await provider.send("evm_mine", []);
  if (republish) await republish();
  return vault.settleRequests(SETTLE_BATCH);
}

/** Requests a deposit of `assets` for `lp`, settles it and claims it; returns the shares claimed. */
export async function lpDepositNow(
  vault: LiquidityVault,
  lp: Signer,
  assets: bigint,
  republish?: () => Promise<unknown>,
): Promise<bigint> {
  const me = await lp.getAddress();
  await vault.connect(lp).requestDeposit(assets, me, me);
  await settleWhenReady(vault, republish);
  const shares = await vault.maxMint(me);
  await vault.connect(lp)["deposit(uint256,address)"](await vault.maxDeposit(me), me);
  return shares;
}

/** Requests a redemption of `shares` for `lp`, settles it and claims it; returns the assets claimed. */
export async function lpRedeemNow(
  vault: LiquidityVault,
  lp: Signer,
  shares: bigint,
  republish?: () => Promise<unknown>,
): Promise<bigint> {
  const me = await lp.getAddress();
  await vault.connect(lp).requestRedeem(shares, me, me);
  await settleWhenReady(vault, republish);
  const assets = await vault.maxWithdraw(me);
  await vault.connect(lp).redeem(await vault.maxRedeem(me), me, me);
  return assets;
}
