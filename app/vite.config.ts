/**
 * The web app's build: `vite build --config app/vite.config.ts` writes app/dist, which `app/server.ts` serves
 * together with `/config.json` (the address book and chain) and `/rpc` (a proxy to the node). Preact through the
 * automatic JSX runtime; the SDK and the CLI's formatters are imported from the repository as source.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const here = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: "./",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: path.join(here, "dist"),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
});
