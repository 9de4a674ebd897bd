import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { network } from "hardhat";
import { loadAddressBook } from "../deploy/address-book.js";
import { deployFromFile, retireStaleLocalJournal } from "../deploy/deploy.js";
import { ROLES } from "../deploy/ignition/BulkheadModule.js";
import { ENGINE_BOUNDS, ParameterFileError, readParameterFile } from "../deploy/parameters/schema.js";
import { DAY, FEED_DECIMALS, TOKEN_DECIMALS, feedAnswer, wad } from "./helpers/constants.js";
import {
  HEARTBEAT,
  PYTH_UPDATE_FEE,
  marketParams,
  orderParams,
  pythPriceId,
  riskParams,
} from "./helpers/fixture.js";
import { trade } from "./helpers/orders.js";
import { lpDepositNow } from "./helpers/vault.js";

const connection = await network.getOrCreate();
const { ethers, networkHelpers } = connection;

const LOCAL = "deploy/parameters/local.json";
const SEPOLIA_EXAMPLE = "deploy/parameters/sepolia.example.json";
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const readJson = async (file: string): Promise<Json> => JSON.parse(await readFile(file, "utf8"));
const workDir = await mkdtemp(path.join(tmpdir(), "bulkhead-deploy-"));

/** Writes a variant of local.json (changed by `edit`) to a temp file and returns its path. */
async function variant(name: string, edit: (file: Json) => void): Promise<string> {
  const file = await readJson(LOCAL);
  edit(file);
  const out = path.join(workDir, `${name}.json`);
  await writeFile(out, JSON.stringify(file));
  return out;
}

/** Struct result -> plain object with the named fields only. */
const fields = <T extends object>(result: T, names: string[]) =>
  Object.fromEntries(names.map((name) => [name, (result as Record<string, unknown>)[name]]));

async function deployLocal() {
  const addressBookDir = path.join(workDir, "local");
  const deployment = await deployFromFile(connection, LOCAL, { addressBookDir });
  const book = deployment.addressBook;
  const [deployer] = await ethers.getSigners();
  const engine = await ethers.getContractAt("IBulkhead", book.engine);
  const engineImpl = await ethers.getContractAt("MarginEngine", book.engine);
  const vault = await ethers.getContractAt("LiquidityVault", book.vault);
  const token = await ethers.getContractAt("MockERC20", book.token);
  return { deployment, addressBookDir, book, deployer, engine, engineImpl, vault, token };
}

describe("deploy: parameter file -> Ignition -> address book", function () {
  describe("a restarted local node", function () {
    /** A journal folder whose deployed_addresses.json lists `addresses`. */
    async function journal(name: string, addresses: string[]): Promise<string> {
      const dir = path.join(workDir, "ignition", name);
      await mkdir(dir, { recursive: true });
      const entries = Object.fromEntries(addresses.map((a, i) => [`Bulkhead#C${i}`, a]));
      await writeFile(path.join(dir, "deployed_addresses.json"), JSON.stringify(entries));
      return dir;
    }

    it("moves aside a local journal whose contracts are gone, so the next deploy starts afresh", async function () {
      const live = await ethers.deployContract("MockERC20", ["USD Coin", "USDC", 6]);
      const gone = "0x" + "ab".repeat(20);
      const dir = await journal("stale", [await live.getAddress(), gone]);
      const retired = await retireStaleLocalJournal(ethers.provider, 31337, dir);
      expect(retired).to.match(/stale\.stale-\d+$/);
      expect(existsSync(dir)).to.equal(false);
      expect(existsSync(path.join(retired!, "deployed_addresses.json"))).to.equal(true);
    });

    it("keeps a journal whose contracts all exist, any journal on a live chain, and a missing one", async function () {
      const live = await ethers.deployContract("MockERC20", ["USD Coin", "USDC", 6]);
      const current = await journal("current", [await live.getAddress()]);
      expect(await retireStaleLocalJournal(ethers.provider, 31337, current)).to.equal(undefined);
      expect(existsSync(current)).to.equal(true);
      const remote = await journal("sepolia", ["0x" + "cd".repeat(20)]);
      expect(await retireStaleLocalJournal(ethers.provider, 11155111, remote)).to.equal(undefined);
      expect(existsSync(remote)).to.equal(true);
      expect(await retireStaleLocalJournal(ethers.provider, 31337, path.join(workDir, "none"))).to.equal(
        undefined,
      );
    });
  });

  describe("deploy/parameters/local.json", function () {
    it("lists every market with the fixture's parameters, in file order, on working feeds", async function () {
      const { book, engine, deployer } = await networkHelpers.loadFixture(deployLocal);
      expect(await engine.marketCount()).to.equal(2n);
      expect(book.markets.map((m) => [m.id, m.symbol])).to.deep.equal([
        [1, "ETH-USD"],
        [2, "BTC-USD"],
      ]);
      const expected = { "ETH-USD": ["ETH", "3000"], "BTC-USD": ["BTC", "60000"] } as const;
      for (const market of book.markets) {
        const [kind, price] = expected[market.symbol as keyof typeof expected];
        // The fixture's parameters, pull feed and 5% divergence bound included.
        const want = marketParams(market.feed, kind, market.pullFeed);
        expect(want.maxDivergenceD18).to.equal(wad("0.05"));
        const onChain = await engine.getMarketParams(market.id);
        expect(fields(onChain, Object.keys(want))).to.deep.equal(want);

        // Its orders settle on a PythPriceFeed over the deployment's MockPyth, with the fixture's price id and bounds.
        const pull = await ethers.getContractAt("PythPriceFeed", market.pullFeed);
        expect(await pull.pyth()).to.equal(book.pyth);
        expect(await pull.priceId()).to.equal(pythPriceId(market.id));
        expect(market.priceId).to.equal(pythPriceId(market.id));
        expect(await pull.maxAge()).to.equal(HEARTBEAT);
        expect(await pull.maxConfidenceBps()).to.equal(100n);
        expect(await pull.owner()).to.equal(deployer.address);

        const feed = await ethers.getContractAt("ChainlinkPriceFeed", market.feed);
        const aggregator = await ethers.getContractAt("MockAggregatorV3", market.aggregator);
        expect(await feed.aggregator()).to.equal(market.aggregator);
        expect(await feed.heartbeat()).to.equal(DAY);
        expect(await feed.sequencerUptimeFeed()).to.equal(ZERO_ADDRESS);
        expect(await feed.gracePeriod()).to.equal(0n);
        expect(await aggregator.decimals()).to.equal(BigInt(FEED_DECIMALS));
        expect((await aggregator.latestRoundData()).answer).to.equal(feedAnswer(price));
        expect(await feed.latestPrice()).to.equal(wad(price));
      }
    });

    it("sets the risk and order parameters, the vault, the token, the module and the MockPyth", async function () {
      const { book, engine, engineImpl, vault, token } = await networkHelpers.loadFixture(deployLocal);
      expect(fields(await engine.getRiskParams(), Object.keys(riskParams))).to.deep.equal(
        Object.fromEntries(Object.entries(riskParams).map(([k, v]) => [k, BigInt(v)])),
      );
      expect(fields(await engine.getOrderParams(), Object.keys(orderParams))).to.deep.equal(
        Object.fromEntries(Object.entries(orderParams).map(([k, v]) => [k, BigInt(v)])),
      );
      const pyth = await ethers.getContractAt("MockPyth", book.pyth);
      expect(await pyth.getValidTimePeriod()).to.equal(HEARTBEAT);
      expect(await pyth.getUpdateFee(["0x"])).to.equal(PYTH_UPDATE_FEE);
      expect(await vault.entryFeeBps()).to.equal(10n);
      expect(await vault.exitFeeBps()).to.equal(10n);
      expect(await vault.cooldown()).to.equal(3600n);
      expect(await vault.asset()).to.equal(book.token);
      expect(await token.decimals()).to.equal(BigInt(TOKEN_DECIMALS));
      expect(await token.symbol()).to.equal("USDC");
      expect(await token.name()).to.equal("USD Coin");
      expect(await engine.settlementToken()).to.equal(book.token);
      expect(await engineImpl.liquidationModule()).to.equal(book.liquidationModule);
      expect(await engineImpl.governanceModule()).to.equal(book.governanceModule);
      expect(await engineImpl.vault()).to.equal(book.vault);
      expect(await vault.engine()).to.equal(book.engine);
    });

    it("deploys the portfolio risk model and the volatility oracle and wires both into the engine", async function () {
      const { book, engine, deployer } = await networkHelpers.loadFixture(deployLocal);
      expect(book.portfolioMargin).to.be.a("string");
      expect(book.volatilityOracle).to.be.a("string");
      expect(await engine.portfolioMargin()).to.equal(book.portfolioMargin);
      expect(await engine.volatilityOracle()).to.equal(book.volatilityOracle);
      const pm = await ethers.getContractAt("PortfolioMargin", book.portfolioMargin!);
      const model = await pm.model();
      expect(model.factors).to.equal(2n);
      expect(model.cholesky).to.deep.equal([wad("0.009"), 0n, 0n, wad("0.003")]);
      expect(model.scenarios.length).to.equal(16);
      expect(model.scenarios[0]).to.equal(-wad("0.08"));
      expect((await pm.marketRisk(2)).loadingsD18).to.deep.equal([wad("1"), -wad("0.6")]);
      expect(await pm.rampDuration()).to.equal(3600n);
      expect(await pm.hasRole(ROLES.RISK_ROLE, deployer)).to.equal(true);
      const oracle = await ethers.getContractAt("VolatilityOracle", book.volatilityOracle!);
      const eth = await oracle.params(1);
      expect(eth.feed).to.equal(book.markets[0].feed);
      expect(eth.baseVolD18).to.equal(wad("0.01"));
      expect((await oracle.params(2)).baseVolD18).to.equal(wad("0.008"));
      // A portfolio account can be opened on the deployment.
      await expect(engine.createPortfolioAccount()).to.emit(engine, "AccountCreated");
    });

    it("leaves every role with the deployer and nobody else", async function () {
      const { deployer, engineImpl, vault } = await networkHelpers.loadFixture(deployLocal);
      const [, other] = await ethers.getSigners();
      for (const role of [ROLES.DEFAULT_ADMIN_ROLE, ROLES.RISK_ROLE, ROLES.PAUSER_ROLE]) {
        expect(await engineImpl.hasRole(role, deployer)).to.equal(true);
        expect(await engineImpl.hasRole(role, other)).to.equal(false);
      }
      expect(await engineImpl.RISK_ROLE()).to.equal(ROLES.RISK_ROLE);
      expect(await engineImpl.PAUSER_ROLE()).to.equal(ROLES.PAUSER_ROLE);
      expect(await vault.hasRole(ROLES.DEFAULT_ADMIN_ROLE, deployer)).to.equal(true);
    });

    it("writes an address book that loadAddressBook reads back, starting at the engine's creation block", async function () {
      const { book, addressBookDir, deployment } = await networkHelpers.loadFixture(deployLocal);
      expect(deployment.addressBookFile).to.equal(path.join(addressBookDir, "31337.json"));
      expect(loadAddressBook(31337, addressBookDir)).to.deep.equal(book);
      expect(book.chainId).to.equal(31337);
      expect(await ethers.provider.getCode(book.engine, book.startBlock)).to.not.equal("0x");
      expect(await ethers.provider.getCode(book.engine, book.startBlock - 1)).to.equal("0x");
      expect(() => loadAddressBook(1, addressBookDir)).to.throw(/No Bulkhead address book for chain 1/);
    });

    it("deploys a protocol that trades: an order settled on the pull feed at the price published after it", async function () {
      const { deployer, engine, vault, token } = await networkHelpers.loadFixture(deployLocal);
      const amount = 1_000_000n * 10n ** BigInt(TOKEN_DECIMALS);
      await token.mint(deployer, 2n * amount);
      await token.approve(vault, amount);
      await token.approve(engine, amount);
      await lpDepositNow(vault, deployer, amount);
      await engine.createCrossAccount();
      await engine.deposit(1n, amount);
      // Committed at the 3000 mark, settled at 3012 from the MockPyth update (fee paid exactly).
      await expect(trade(engine, 1n, 1, wad("1"), wad("3100"), { priceD18: wad("3012") }))
        .to.emit(engine, "OrderSettled")
        .withArgs(1n, 1n, deployer.address, wad("3012"), anyValue, 0n);
      const [position] = await engine.getPositions(1n);
      expect(position.sizeD18).to.equal(wad("1"));
      expect(position.basisD18 > wad("3012") && position.basisD18 < wad("3013")).to.equal(true);
    });
  });

  describe("admin handover to a timelock", function () {
    async function deployWithTimelock() {
      const [deployer, proposer, pauser] = await ethers.getSigners();
      const file = await variant("timelock", (f) => {
        f.admin = "timelock";
        f.riskAdmin = "timelock";
        f.pauser = pauser.address;
        f.timelock = { minDelay: 3600, proposers: [proposer.address], executors: [ZERO_ADDRESS] };
      });
      const { addressBook } = await deployFromFile(connection, file, { addressBookDir: null });
      return { addressBook, deployer, proposer, pauser };
    }

    it("gives the admin and risk roles of engine and vault to the timelock and leaves the deployer none", async function () {
      const { addressBook, deployer, proposer, pauser } =
        await networkHelpers.loadFixture(deployWithTimelock);
      const timelockAddress = addressBook.timelock as string;
      expect(timelockAddress).to.match(/^0x[0-9a-fA-F]{40}$/);
      const engine = await ethers.getContractAt("MarginEngine", addressBook.engine);
      const vault = await ethers.getContractAt("LiquidityVault", addressBook.vault);
      const timelock = await ethers.getContractAt(
        [
          "function getMinDelay() view returns (uint256)",
          "function hasRole(bytes32,address) view returns (bool)",
        ],
        timelockAddress,
      );
      expect(await timelock.getMinDelay()).to.equal(3600n);
      expect(await timelock.hasRole(ethers.id("PROPOSER_ROLE"), proposer.address)).to.equal(true);
      expect(await timelock.hasRole(ethers.id("EXECUTOR_ROLE"), ZERO_ADDRESS)).to.equal(true);
      expect(await timelock.hasRole(ROLES.DEFAULT_ADMIN_ROLE, deployer.address)).to.equal(false);

      expect(await engine.hasRole(ROLES.DEFAULT_ADMIN_ROLE, timelockAddress)).to.equal(true);
      expect(await engine.hasRole(ROLES.RISK_ROLE, timelockAddress)).to.equal(true);
      expect(await engine.hasRole(ROLES.PAUSER_ROLE, pauser.address)).to.equal(true);
      expect(await vault.hasRole(ROLES.DEFAULT_ADMIN_ROLE, timelockAddress)).to.equal(true);
      for (const role of [ROLES.DEFAULT_ADMIN_ROLE, ROLES.RISK_ROLE, ROLES.PAUSER_ROLE]) {
        expect(await engine.hasRole(role, deployer)).to.equal(false);
      }
      // The risk model and the volatility oracle answer to the timelock too.
      const pm = await ethers.getContractAt("PortfolioMargin", addressBook.portfolioMargin!);
      const oracle = await ethers.getContractAt("VolatilityOracle", addressBook.volatilityOracle!);
      for (const c of [pm, oracle]) {
        expect(await c.hasRole(ROLES.DEFAULT_ADMIN_ROLE, timelockAddress)).to.equal(true);
        expect(await c.hasRole(ROLES.RISK_ROLE, timelockAddress)).to.equal(true);
        for (const role of [ROLES.DEFAULT_ADMIN_ROLE, ROLES.RISK_ROLE]) {
          expect(await c.hasRole(role, deployer)).to.equal(false);
        }
      }
      expect(await vault.hasRole(ROLES.DEFAULT_ADMIN_ROLE, deployer)).to.equal(false);
      expect(await (await ethers.getContractAt("IBulkhead", addressBook.engine)).marketCount()).to.equal(2n);
      // The pull feeds' bounds belong to the risk admin, here the timelock.
      for (const market of addressBook.markets) {
        const pull = await ethers.getContractAt("PythPriceFeed", market.pullFeed);
        expect(await pull.owner()).to.equal(timelockAddress);
      }
    });
  });

  describe("bad parameter files fail before any transaction", function () {
    /** Deploys `file`, expects a ParameterFileError naming every fragment, and checks nothing was sent. */
    async function expectRejectedBeforeSending(file: string, ...fragments: string[]) {
      const [deployer] = await ethers.getSigners();
      const nonce = await ethers.provider.getTransactionCount(deployer);
      const block = await ethers.provider.getBlockNumber();
      let error: unknown;
      try {
        await deployFromFile(connection, file, { addressBookDir: null });
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(ParameterFileError);
      for (const fragment of fragments) expect((error as Error).message).to.include(fragment);
      expect(await ethers.provider.getTransactionCount(deployer)).to.equal(nonce);
      expect(await ethers.provider.getBlockNumber()).to.equal(block);
    }

    it("liquidationFee + takerFee >= baseImr x mmScalar", async function () {
      // 0.0095 alone is below 0.01, but a liquidation also pays the taker fee (0.0006): 0.0101 is not.
      const file = await variant("liquidation-fee", (f) => (f.markets[1].params.liquidationFee = "0.0095"));
      await expectRejectedBeforeSending(
        file,
        "markets[1].params.liquidationFee: liquidationFee + takerFee must be < baseImr x mmScalar (0.01)",
        'ParameterOutOfBounds("liquidationFee")',
      );
    });

    it("a missing field", async function () {
      const file = await variant("missing", (f) => delete f.markets[0].params.takerFee);
      await expectRejectedBeforeSending(file, "markets[0].params.takerFee: Required");
    });

    it("a malformed address and a bad checksum", async function () {
      const short = await variant("short-address", (f) => (f.token = { address: "0x1234" }));
      await expectRejectedBeforeSending(short, "token.address: is not a valid address");
      const checksum = await variant(
        "checksum",
        (f) => (f.pauser = "0x694AA1769357215DE4FAC081bf1f309aDC325307"),
      );
      await expectRejectedBeforeSending(checksum, "pauser: is not a valid address");
    });

    it("a value out of its zod range (maxPositionsPerAccount 17)", async function () {
      const file = await variant("positions", (f) => (f.riskParams.maxPositionsPerAccount = 17));
      await expectRejectedBeforeSending(
        file,
        "riskParams.maxPositionsPerAccount: Number must be less than or equal to 16",
      );
    });

    it("every cross-field violation at once: minPositionMargin < flatKeeperReward, adlTarget >= adlTrigger, adlMinShare, keeper cap", async function () {
      const file = await variant("bounds", (f) => {
        f.markets[0].params.minPositionMargin = "4.999";
        f.riskParams.adlTarget = "0.5";
        f.riskParams.adlMinShare = "0.51";
        f.riskParams.maxKeeperReward = "100000.000000000000000001";
      });
      await expectRejectedBeforeSending(
        file,
        "markets[0].params.minPositionMargin: must be >= riskParams.flatKeeperReward (5)",
        "riskParams.adlTarget: must be < adlTrigger (0.5)",
        "riskParams.adlMinShare: must be in (0, 0.5]",
        "riskParams.maxKeeperReward: must be <= 100000",
      );
    });

    it("a zero adlMinShare, and a missing one", async function () {
      const zero = await variant("adl-min-share-zero", (f) => (f.riskParams.adlMinShare = "0"));
      await expectRejectedBeforeSending(
        zero,
        "riskParams.adlMinShare: must be in (0, 0.5]",
        'ParameterOutOfBounds("adlMinShare")',
      );
      const missing = await variant("adl-min-share-missing", (f) => delete f.riskParams.adlMinShare);
      await expectRejectedBeforeSending(missing, "riskParams.adlMinShare: Required");
    });

    it("a value that does not fit its Solidity type, and more decimals than a ratio keeps", async function () {
      const file = await variant("overflow", (f) => {
        f.markets[0].params.maxImr = "18.5"; // uint64 holds at most ~18.44 in D18
        f.markets[0].params.baseImr = "0.0000000001"; // ratios are stored with 9 decimals
        f.markets[0].params.minPositionMargin = "0.0000000000000000001";
      });
      await expectRejectedBeforeSending(
        file,
        "markets[0].params.maxImr: does not fit a uint64",
        "markets[0].params.baseImr: must be a non-negative decimal string with at most 9 decimals",
        "markets[0].params.minPositionMargin: must be a non-negative decimal string with at most 18 decimals",
      );
    });

    it("order parameters out of the engine's bounds, a divergence above 10%, a real Pyth without price ids, and no orders section", async function () {
      const file = await variant("orders", (f) => {
        f.orders = { minDelaySeconds: 10, maxDelaySeconds: 10, settlementReward: "1000.5" };
        f.markets[1].params.maxDivergence = "0.1000001";
        f.pyth = { address: "0xDd24F84d36BF92C65F92307595335bdFab5Bbd21" };
      });
      await expectRejectedBeforeSending(
        file,
        'orders.maxDelaySeconds: must be > minDelaySeconds (10) (on chain: ParameterOutOfBounds("maxDelay"))',
        'orders.settlementReward: must be <= 1000 (on chain: ParameterOutOfBounds("settlementReward"))',
        'markets[1].params.maxDivergence: must be <= 0.1 (on chain: ParameterOutOfBounds("maxDivergence"))',
        "markets[0].pullFeed.priceId: required with a Pyth contract address (pyth.address)",
        "markets[1].pullFeed.priceId: required with a Pyth contract address (pyth.address)",
      );
      const window = await variant("order-window", (f) => {
        f.orders = { minDelaySeconds: 3601, maxDelaySeconds: 90000, settlementReward: "0" };
      });
      await expectRejectedBeforeSending(
        window,
        "orders.minDelaySeconds: Number must be less than or equal to 3600",
      );
      const wide = await variant("order-window-wide", (f) => {
        f.orders = { minDelaySeconds: 1, maxDelaySeconds: 86402, settlementReward: "0" };
      });
      await expectRejectedBeforeSending(
        wide,
        'orders.maxDelaySeconds: must be at most 86400 s after minDelaySeconds (on chain: ParameterOutOfBounds("maxDelay"))',
      );
      const precise = await variant("reward-precision", (f) => {
        f.orders = { minDelaySeconds: 1, maxDelaySeconds: 60, settlementReward: "0.0000005" };
      });
      await expectRejectedBeforeSending(
        precise,
        "orders.settlementReward: must be a non-negative decimal string with at most 6 decimals",
      );
      const missing = await variant("no-orders", (f) => delete f.orders);
      await expectRejectedBeforeSending(missing, "orders: Required");
      const noPull = await variant("no-pull-feed", (f) => delete f.markets[0].pullFeed);
      await expectRejectedBeforeSending(noPull, "markets[0].pullFeed: Required");
    });

    it("a portfolio model or volatility section whose shapes or markets do not fit", async function () {
      const file = await variant("bad-risk", (f) => {
        f.portfolioMargin.cholesky = [["0.009"]];
        f.portfolioMargin.scenarios[0].shocks = ["-0.08"];
        f.portfolioMargin.markets["DOGE-USD"] = { loadings: ["1", "0"], idioVol: "0.01", depth: "0" };
        f.volatility.baseVol["SOL-USD"] = "0.01";
      });
      await expectRejectedBeforeSending(
        file,
        "portfolioMargin.cholesky: must be 2 rows of 2",
        "portfolioMargin.scenarios[0].shocks: must list 2 shocks",
        "portfolioMargin.markets.DOGE-USD: is not a listed market",
        "volatility.baseVol.SOL-USD: is not a listed market",
      );
    });

    it('a role given to "timelock" without a timelock section', async function () {
      const file = await variant("no-timelock", (f) => (f.admin = "timelock"));
      await expectRejectedBeforeSending(file, 'admin: "timelock" needs a `timelock` section');
    });

    it("a token or aggregator address with no contract on this chain", async function () {
      const sepolia = await readJson(SEPOLIA_EXAMPLE);
      const file = await variant("no-code", (f) => {
        f.token = sepolia.token;
        f.markets[0].feed = sepolia.markets[0].feed;
        f.pyth = sepolia.pyth;
        f.markets.forEach((m: Json, i: number) => (m.pullFeed = sepolia.markets[i].pullFeed));
      });
      await expectRejectedBeforeSending(
        file,
        "token.address: no contract at 0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238",
        "pyth.address: no contract at 0xDd24F84d36BF92C65F92307595335bdFab5Bbd21",
        "markets[0].feed.aggregator: no contract at 0x694AA1769357215DE4FAC081bf1f309aDC325306",
      );
    });

    it("the Sepolia example passes every off-chain check (it only lacks its contracts here)", async function () {
      const parameters = await readParameterFile(SEPOLIA_EXAMPLE);
      expect(parameters.admin).to.equal("timelock");
      expect(parameters.timelock?.minDelay).to.equal(86400);
      // Real networks: the chain's Pyth contract and the feeds' price ids come from the file.
      expect(parameters.pyth).to.deep.equal({ address: "0xDd24F84d36BF92C65F92307595335bdFab5Bbd21" });
      expect(parameters.markets.map((m) => [m.symbol, m.pullFeed.priceId])).to.deep.equal([
        ["ETH-USD", "0xff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace"],
        ["BTC-USD", "0xe62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"],
      ]);
      await expectRejectedBeforeSending(SEPOLIA_EXAMPLE, "token.address: no contract at");
    });
  });

  describe("the schema's bounds match the engine's", function () {
    it("ENGINE_BOUNDS equal GovernanceModule's public constants, and the engine delegates to the book's module", async function () {
      const { book, engineImpl } = await networkHelpers.loadFixture(deployLocal);
      expect(await engineImpl.governanceModule()).to.equal(book.governanceModule);
      const governance = await ethers.getContractAt("GovernanceModule", book.governanceModule);
      const onChain = {
        MIN_BASE_IMR: await governance.MIN_BASE_IMR(),
        MAX_IMR: await governance.MAX_IMR(),
        MAX_IMR_SLOPE: await governance.MAX_IMR_SLOPE(),
        MIN_MM_SCALAR: await governance.MIN_MM_SCALAR(),
        MAX_MM_SCALAR: await governance.MAX_MM_SCALAR(),
        MAX_FUNDING_VELOCITY: await governance.MAX_FUNDING_VELOCITY(),
        MAX_MIN_POSITION_MARGIN: await governance.MAX_MIN_POSITION_MARGIN(),
        MAX_TRADE_FEE: await governance.MAX_TRADE_FEE(),
        MAX_LIQUIDATION_FEE: await governance.MAX_LIQUIDATION_FEE(),
        MAX_KEEPER_REWARD: await governance.MAX_KEEPER_REWARD(),
        MAX_LIQUIDATION_BUFFER: await governance.MAX_LIQUIDATION_BUFFER(),
        MAX_INSURANCE_FEE_SHARE: await governance.MAX_INSURANCE_FEE_SHARE(),
        MAX_ADL_MIN_SHARE: await governance.MAX_ADL_MIN_SHARE(),
        MAX_PRICE_DIVERGENCE: await governance.MAX_PRICE_DIVERGENCE(),
        MAX_MIN_ORDER_DELAY: await governance.MAX_MIN_ORDER_DELAY(),
        MAX_ORDER_WINDOW: await governance.MAX_ORDER_WINDOW(),
        MAX_SETTLEMENT_REWARD: await governance.MAX_SETTLEMENT_REWARD(),
        MAX_SIZE_PARAM: await governance.MAX_SIZE_PARAM(),
      };
      const mirrored = Object.fromEntries(
        Object.keys(onChain).map((k) => [k, ENGINE_BOUNDS[k as keyof typeof onChain]]),
      );
      expect(mirrored).to.deep.equal(onChain);
    });

    it("the engine rejects the liquidation fee the schema rejects, and accepts one ratio step (1e-9) less", async function () {
      const { book, engine } = await networkHelpers.loadFixture(deployLocal);
      const params = marketParams(book.markets[0].feed, "ETH", book.markets[0].pullFeed);
      // liquidationFee + takerFee < baseImr x mmScalar (both paid by a liquidation at the maintenance boundary).
      const boundary = (params.baseImrD18 * params.mmScalarD18) / 10n ** 18n - params.takerFeeD18;
      await expect(engine.listMarket({ ...params, liquidationFeeD18: boundary }))
        .to.be.revertedWithCustomError(engine, "ParameterOutOfBounds")
        .withArgs(ethers.encodeBytes32String("liquidationFee"));
      // Ratios are stored with 9 decimals: one wei below is not representable, one step of 1e-9 is.
      await expect(engine.listMarket({ ...params, liquidationFeeD18: boundary - 1n }))
        .to.be.revertedWithCustomError(engine, "ParameterOutOfBounds")
        .withArgs(ethers.encodeBytes32String("ratioPrecision"));
      await engine.listMarket({ ...params, liquidationFeeD18: boundary - 10n ** 9n });
      expect(await engine.marketCount()).to.equal(3n);
    });

    it("the engine rejects a minPositionMargin below flatKeeperReward, and accepts it equal", async function () {
      const { book, engine } = await networkHelpers.loadFixture(deployLocal);
      const params = marketParams(book.markets[0].feed, "ETH", book.markets[0].pullFeed);
      await expect(
        engine.listMarket({ ...params, minPositionMarginD18: riskParams.flatKeeperRewardD18 - 1n }),
      )
        .to.be.revertedWithCustomError(engine, "ParameterOutOfBounds")
        .withArgs(ethers.encodeBytes32String("minPositionMargin"));
      // The cap (1000) is far above it: it no longer bounds minPositionMargin.
      await engine.listMarket({ ...params, minPositionMarginD18: riskParams.flatKeeperRewardD18 });
      expect(await engine.marketCount()).to.equal(3n);
    });
  });
});
