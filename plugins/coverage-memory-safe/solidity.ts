import type { SolidityHooks } from "hardhat/types/hooks";

const LIBRARY = "__NomicFoundationCoverage";
const UNSAFE = /(function _castToPure\([^)]*\)[^{]*\{\s*)assembly(\s*\{)/;

/** Marks the coverage library's function-pointer cast as memory-safe (see index.ts for why that is sound). */
export function annotateCoverageLibrary(content: string): string {
  if (!content.includes(`library ${LIBRARY}`) || !UNSAFE.test(content)) return content;
  return content.replace(UNSAFE, '$1assembly ("memory-safe")$2');
}

export default async (): Promise<Partial<SolidityHooks>> => ({
  // The coverage plugin inserts its library before or after this handler depending on the order of the chain,
  // so patch the input that comes back from the rest of the chain, which has it either way.
  preprocessSolcInputBeforeBuilding: async (context, solcInput, next) => {
    const input = await next(context, solcInput);
    if (!context.globalOptions.coverage) return input;
    for (const [name, source] of Object.entries(input.sources)) {
      if (name.startsWith(LIBRARY) && "content" in source && typeof source.content === "string") {
        source.content = annotateCoverageLibrary(source.content);
      }
    }
    return input;
  },
});
