#!/usr/bin/env node
// After `npm install` / `npm ci`: build the native addon and the TypeScript packages through nx
// (cached). Set SA_SKIP_BUILD=1 to install without building.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

if (process.env.SA_SKIP_BUILD === "1") process.exit(0);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const nx = path.join(root, "node_modules", "nx", "dist", "bin", "nx.js");
const r = spawnSync(process.execPath, [nx, "run-many", "-t", "build", "--outputStyle=stream"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false" },
});
process.exit(r.status ?? 1);
