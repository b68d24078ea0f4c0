#!/usr/bin/env node
// Runs the uvu test files tier by tier, each file in its own Node process (a native fault then
// fails one file, not the run), straight from the TypeScript sources (tsx + the source condition).
//   node tools/run-tests.mjs [tier|file ...]     tiers: standalone native gpu e2e (default: all)
// Prints a closing line "N passed, N failed, N skipped" and exits non-zero when anything failed.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TIERS = ["standalone", "native", "gpu", "e2e"];
const argv = process.argv.slice(2);
const wanted = argv.length ? argv : TIERS;
const timeoutMs = Number(process.env.SA_TEST_TIMEOUT_S ?? 1200) * 1000;

function listTests(dir) {
    if (!existsSync(dir)) return [];
    const out = [];
    for (const name of readdirSync(dir).sort()) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) out.push(...listTests(p));
        else if (name.endsWith(".test.ts")) out.push(p);
    }
    return out;
}

const files = [];
for (const w of wanted) {
    if (TIERS.includes(w)) files.push(...listTests(path.join(root, "test", w)));
    else if (existsSync(w)) files.push(path.resolve(w));
    else {
        console.error(`run-tests: no tier or file named ${w}`);
        process.exit(2);
    }
}

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
function runFile(file) {
    return new Promise((resolve) => {
        const t0 = Date.now();
        const child = spawn(
            process.execPath,
            ["--conditions=@sam-ablate/source", "--import", "tsx", file],
            { cwd: root, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
        );
        let out = "";
        child.stdout.on("data", (d) => {
            out += d;
            process.stdout.write(d);
        });
        child.stderr.on("data", (d) => {
            out += d;
            process.stderr.write(d);
        });
        const timer = setTimeout(() => {
            out += `\nrun-tests: ${file} timed out after ${timeoutMs / 1000}s\n`;
            child.kill("SIGKILL");
        }, timeoutMs);
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            const text = strip(out);
            const num = (label) => {
                const m = text.match(new RegExp(`${label}:\\s+(\\d+)`, "g"));
                if (!m) return null;
                return Number(m[m.length - 1].match(/(\d+)/)[1]);
            };
            const total = num("Total");
            const passed = num("Passed");
            const skipped = num("Skipped") ?? 0;
            let failed = total !== null && passed !== null ? total - passed : 0;  // uvu's Total leaves skipped tests out
            if ((code !== 0 || signal) && failed === 0) failed = 1;  // crash, timeout or no summary
            resolve({ file, passed: passed ?? 0, failed, skipped, ms: Date.now() - t0, code, signal });
        });
    });
}

const results = [];
for (const f of files) {
    console.log(`\n### ${path.relative(root, f)}`);
    results.push(await runFile(f));
}
const sum = (k) => results.reduce((a, r) => a + r[k], 0);
console.log("\nrun-tests summary:");
for (const r of results) {
    const status = r.failed ? "FAIL" : "ok  ";
    console.log(`  ${status} ${path.relative(root, r.file)}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)}s)`);
}
console.log(`${sum("passed")} passed, ${sum("failed")} failed, ${sum("skipped")} skipped`);
process.exit(sum("failed") > 0 || files.length === 0 ? 1 : 0);
