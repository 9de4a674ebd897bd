import { expect } from "chai";
import { deployProtocol, networkHelpers, ETH } from "../helpers/fixture.js";
import { feedAnswer, usd, wad } from "../helpers/constants.js";
import { expectCustodyIdentity } from "../helpers/invariants.js";
import { trade } from "../helpers/orders.js";

describe("core: a profit larger than the vault's cash", () => {
  const smallVault = () => deployProtocol({ lpDeposit: "100000" });

  it("is paid by the vault's cash, then the insurance fund, and the rest is haircut, never from other traders", async () => {
    const { signers, contracts } = await networkHelpers.loadFixture(smallVault);
    const { engine } = contracts;
    const { alice, bob, carol } = signers;
    // Bob's deposit is other traders' collateral: it must come through untouched.
    await engine.connect(bob).createCrossAccount(); // 1
    await engine.connect(bob).deposit(1, usd("50000"));
    await engine.connect(carol).fundInsurance(usd("1000"));
    await engine.connect(alice).createCrossAccount(); // 2
    await engine.connect(alice).deposit(2, usd("50000"));
    await trade(engine.connect(alice), 2, ETH, wad("60"), wad("3100")); // reserve 90k of the vault's ~100k cash
    await contracts.ethAggregator.setAnswer(feedAnswer("6000")); // alice's profit ~180k

    const cash = await engine.vaultCash();
    const insurance = await engine.insuranceFund();
    const collateral = (await engine.getAccount(2)).collateralD18;
    const tx = await trade(engine.connect(alice), 2, ETH, wad("-60"), 0);
    const receipt = await tx.wait();
    const parsed = receipt!.logs.map((log) => engine.interface.parseLog(log)).filter((e) => e !== null);
    const shortfall = parsed.find((e) => e.name === "ProfitShortfall")!;
    const modified = parsed.find((e) => e.name === "PositionModified")!;
    const realisedPnl: bigint = modified.args.realisedPnlD18;
    const fundingPaid: bigint = modified.args.fundingPaidD18;
    const feeD18: bigint = modified.args.feeD18;
    const feeToInsuranceD18: bigint = modified.args.feeToInsuranceD18;
    const owed = realisedPnl - fundingPaid;

    // The fee is paid first (its shares land in the vault and the fund), then the profit takes what they hold.
    const cashWithFee = cash + feeD18 - feeToInsuranceD18;
    const insuranceWithFee = insurance + feeToInsuranceD18;
    expect(shortfall.args.accountId).to.equal(2n);
    expect(shortfall.args.paidByVaultD18).to.equal(cashWithFee);
    expect(shortfall.args.paidByInsuranceD18).to.equal(insuranceWithFee);
    expect(shortfall.args.haircutD18).to.equal(owed - cashWithFee - insuranceWithFee);
    expect(shortfall.args.haircutD18).to.be.gt(0n);
    // The vault and the fund end empty; alice got exactly what they had, net of her fee.
    expect(await engine.vaultCash()).to.equal(0n);
    expect(await engine.insuranceFund()).to.equal(0n);
    expect((await engine.getAccount(2)).collateralD18).to.equal(collateral + cash + insurance);
    expect((await engine.getAccount(1)).collateralD18).to.equal(wad("50000"));
    await expectCustodyIdentity(contracts);
  });
});
