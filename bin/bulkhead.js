#!/usr/bin/env node
// The `bulkhead` command: runs cli/main.ts through the project's tsx on the project's Node (the `node` package,
// Node 22; the machine's own node otherwise), passing arguments, output and exit code through unchanged.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "package.json"));

function projectNode() {
  try {
    const candidate = path.join(path.dirname(require.resolve("node/package.json")), "bin", "node");
    if (existsSync(candidate)) return candidate;
  } catch {
    // No `node` package: use the Node running this launcher.
  }
  return process.execPath;
}

const tsx = import.meta.resolve("tsx");
const child = spawn(
  projectNode(),
  ["--import", tsx, path.join(root, "cli", "main.ts"), ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => child.kill(signal));
}
child.on("exit", (code, signal) => {
  if (signal !== null) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
