import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatChaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import hardhatIgnitionEthers from "@nomicfoundation/hardhat-ignition-ethers";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";

const require = createRequire(import.meta.url);
const SOLC_VERSION = "0.8.28";
const SOLC_PATH = require.resolve("solc/soljson.js");

/**
 * Solidity fuzz and invariant depth. `npm test` (CI) runs the fast profile; `npm run test:deep` sets
 * BULKHEAD_TEST_PROFILE=deep: 500 runs x 200 calls = 100,000 handler calls per invariant, 10,000 runs per fuzz
 * test. BULKHEAD_FUZZ_SEED (hex) replaces the fixed seed, to explore other sequences.
 */
const DEEP = process.env.BULKHEAD_TEST_PROFILE === "deep";

/**
 * BULKHEAD_BUILD=playground (set by `npm run playground`): compile for start-up time, not gas. Unoptimized via-IR
 * builds in about 2 minutes on 2 cores instead of 3.5, into its own artifacts and cache folders (so it never
 * invalidates the production build), and the in-process node (`hardhat node`) accepts the larger unoptimized
 * contracts (above EIP-170's 24 KiB). Behaviour is identical; gas figures are not: measure gas on the default build.
 */
const PLAYGROUND_BUILD = process.env.BULKHEAD_BUILD === "playground";

/**
 * BULKHEAD_BUILD=mutation (set by `npm run mutation`, which builds mutants with the unoptimised `coverage` profile
 * in about half the time of the default build): the in-process test network, and the `hardhat node` the CLI tests
 * start, accept contracts above EIP-170's 24 KiB, as the unoptimised engine is, and lift the gas caps as coverage
 * does (the tests' explicit gas limits are sized for unoptimised code: `UNOPTIMIZED` in test/helpers/fixture.ts). Never set it for gas or size measurements.
 */
const MUTATION_BUILD = process.env.BULKHEAD_BUILD === "mutation";
const UNOPTIMISED_NETWORK = {
  type: "edr-simulated",
  allowUnlimitedContractSize: true,
  blockGasLimit: false,
  transactionGasCap: false,
} as const;
const FUZZ_SEED = process.env.BULKHEAD_FUZZ_SEED;

export default defineConfig({
  plugins: [
    hardhatEthers,
    hardhatIgnitionEthers,
    hardhatChaiMatchers,
    hardhatMocha,
    hardhatNetworkHelpers,
    hardhatTypechain,
  ],
  solidity: {
    profiles: {
      default: {
        // Offline: the WASM compiler from the pinned `solc` package (keep both versions in lock-step).
        version: SOLC_VERSION,
        path: SOLC_PATH,
        // via-IR: ~5% less gas on the trade path; the engine stays under 24 KiB at 200 runs.
        settings: PLAYGROUND_BUILD
          ? { optimizer: { enabled: false }, evmVersion: "cancun", viaIR: true }
          : { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun", viaIR: true },
      },
      // `npm run coverage`: instrumented code adds a call per statement, and the optimizer's inlining then leaves
      // `MarginEngine._trade` too deep for via-IR's stack-limit evader ("memPtr_1 is 6 too deep", HHE910).
      // Unoptimized via-IR compiles it (coverage lifts the size limit); coverage counts statements, so the
      // optimizer's absence does not change what is reported.
      coverage: {
        version: SOLC_VERSION,
        path: SOLC_PATH,
        settings: { optimizer: { enabled: false }, evmVersion: "cancun", viaIR: true },
      },
    },
    // Artifacts for npm contracts that tests and local deployments deploy (never used by production code).
    npmFilesToBuild: ["@pythnetwork/pyth-sdk-solidity/MockPyth.sol"],
  },
  test: {
    solidity: {
      fuzz: { runs: DEEP ? 10_000 : 256, ...(FUZZ_SEED === undefined ? {} : { seed: FUZZ_SEED }) },
      invariant: DEEP ? { runs: 500, depth: 200 } : { runs: 32, depth: 50 },
    },
  },
  ...(PLAYGROUND_BUILD ? { paths: { artifacts: "artifacts-playground", cache: "cache-playground" } } : {}),
  networks: {
    // What `hardhat node` serves (chain 31337); only the playground build needs more than the defaults.
    ...(PLAYGROUND_BUILD ? { node: { type: "edr-simulated", allowUnlimitedContractSize: true } } : {}),
    // Mutants built unoptimised: what `hardhat test` runs on and the `hardhat node` the CLI tests start get what
    // `--coverage` gives its networks (no size limit, no block or transaction gas cap).
    ...(MUTATION_BUILD ? { default: UNOPTIMISED_NETWORK, node: UNOPTIMISED_NETWORK } : {}),
    // A local node (`hardhat node`, `npm run playground`). BULKHEAD_RPC_URL is the one RPC setting that deploy,
    // the keeper (both `--network localhost`), the CLI (its default --rpc) and the app server (its /rpc upstream)
    // all honour.
    localhost: {
      type: "http",
      url: process.env.BULKHEAD_RPC_URL ?? "http://127.0.0.1:8545",
    },
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("DEPLOYER_PRIVATE_KEY")],
    },
  },
});
