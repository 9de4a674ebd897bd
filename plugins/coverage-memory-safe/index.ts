import type { HardhatPlugin } from "hardhat/types/plugins";

/**
 * Makes `hardhat test --coverage` compile Bulkhead under via-IR.
 *
 * Hardhat's coverage mode adds EDR's `__NomicFoundationCoverage` library to every compilation and calls it
 * from every statement. Its `_castToPure` helper is an `assembly { fnOut := fnIn }` block without the
 * memory-safe annotation, and one such block anywhere in a compilation turns off via-IR's stack-limit evader
 * (the pass that moves variables to memory when the stack is too deep). The engine relies on that pass, so the
 * instrumented build fails with `YulException: Variable memPtr_1 is N too deep in the stack` (HHE910).
 *
 * The block only copies a function pointer between stack slots and never touches memory, so annotating it is
 * sound. This plugin does that, and nothing else, on the solc input of coverage builds. It leaves normal
 * builds and every project file untouched.
 */
const plugin: HardhatPlugin = {
  id: "bulkhead-coverage-memory-safe",
  hookHandlers: {
    solidity: () => import("./solidity.js"),
  },
};

export default plugin;
