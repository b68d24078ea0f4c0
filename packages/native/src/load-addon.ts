import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SamAblateError } from "@sam-ablate/errors";
import type { BindingModule } from "./binding.js";

/** Error thrown when the native addon cannot be found or loaded. */
export class AddonLoadError extends SamAblateError<"ERR_SA_ADDON_LOAD"> {
    constructor(message: string) {
        super("ERR_SA_ADDON_LOAD", message);
    }
}

const require = createRequire(import.meta.url);
let cached: BindingModule | undefined;

/** The workspace root (where build/ lives), found from this file's location. */
export function workspaceRoot(): string {
    let dir = path.dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 6; i++) {
        if (existsSync(path.join(dir, "CMakeLists.txt")) && existsSync(path.join(dir, "native"))) return dir;
        dir = path.dirname(dir);
    }
    return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
}

/** Candidate paths of the addon, in the order they are tried. */
export function addonCandidates(): string[] {
    const out: string[] = [];
    const env = process.env.SA_ADDON_PATH;
    if (env) out.push(path.resolve(env));
    const root = workspaceRoot();
    out.push(path.join(root, "build", "Release", "sam_ablate.node"));
    out.push(path.join(root, "build", "Debug", "sam_ablate.node"));
    return out;
}

/**
 * Loads the native addon once (later calls return the same module). Throws AddonLoadError listing
 * every path tried and why it failed, with the command that builds it.
 */
export function loadAddon(): BindingModule {
    if (cached) return cached;
    const failures: string[] = [];
    for (const p of addonCandidates()) {
        if (!existsSync(p)) {
            failures.push(`${p}: not found`);
            continue;
        }
        try {
            const mod = require(p) as BindingModule;
            withSymbolDispose(mod);
            cached = mod;
            return cached;
        } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            const hint = /NODE_MODULE_VERSION|napi/i.test(msg) ? " (built for another Node.js? rebuild it)" : "";
            failures.push(`${p}: ${msg}${hint}`);
        }
    }
    throw new AddonLoadError(
        `the sam-ablate native addon could not be loaded:\n  ${failures.join("\n  ")}\n` +
            "Possible solutions:\n  - build it: npm run build:native (needs CMake >= 3.20 and a C++17 compiler)\n" +
            "  - or point SA_ADDON_PATH at a built sam_ablate.node",
    );
}

/** Gives the wrapped classes `[Symbol.dispose]` (= dispose), so that `using` frees them at scope end. */
function withSymbolDispose(mod: BindingModule): void {
    for (const cls of [
        mod.ImageEncoder,
        mod.SamDecoder,
        mod.DecoderTrainer,
        mod.TrainableEncoder,
        mod.HeadTrainer,
    ] as unknown as {
        prototype: Record<PropertyKey, unknown>;
    }[]) {
        const proto = cls?.prototype;
        if (proto && typeof proto.dispose === "function" && !(Symbol.dispose in proto)) {
            Object.defineProperty(proto, Symbol.dispose, { value: proto.dispose, configurable: true, writable: true });
        }
    }
}

/** True when the addon can be loaded (never throws). */
export function addonAvailable(): boolean {
    try {
        loadAddon();
        return true;
    } catch {
        return false;
    }
}
