#!/usr/bin/env node
// Checks that the native sources (native/**/*.{h,cpp,cu,cuh}) are formatted as .clang-format says.
// `node tools/check-native-format.mjs --fix` rewrites them in place. Fails (exit 1) on a file that
// differs, and (exit 2) when clang-format is not installed (Debian: apt-get install clang-format).
import { execFileSync, spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fix = process.argv.includes("--fix");
const bin = process.env.CLANG_FORMAT ?? "clang-format";

const version = spawnSync(bin, ["--version"], { encoding: "utf8" });
if (version.status !== 0) {
    console.error(`check-native-format: ${bin} not found (install clang-format, or set CLANG_FORMAT)`);
    process.exit(2);
}
const files = execFileSync("git", ["ls-files", "native/*.h", "native/*.cpp", "native/*.cu", "native/*.cuh"], {
    cwd: root,
    encoding: "utf8",
})
    .split("\n")
    .filter(Boolean);

const args = fix ? ["-i", ...files] : ["--dry-run", "--Werror", ...files];
const run = spawnSync(bin, args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
if (run.status !== 0) {
    const bad = [...new Set([...run.stderr.matchAll(/^([^:\n]+):\d+:\d+: (?:error|warning)/gm)].map((m) => m[1]))];
    for (const f of bad) console.error(`not formatted: ${f}`);
    if (bad.length === 0) console.error(run.stderr);
    console.error(
        `check-native-format: ${bad.length} file(s) differ from .clang-format (${version.stdout.trim()}); ` +
            "fix with: node tools/check-native-format.mjs --fix",
    );
    process.exit(1);
}
console.log(`check-native-format: ${files.length} native files formatted (${version.stdout.trim()})`);
