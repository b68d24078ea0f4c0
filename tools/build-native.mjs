#!/usr/bin/env node
// Builds the native addon with cmake-js in Node-API mode (no header download: the Node-API headers
// come from the node-api-headers package). Options through the environment:
//   SA_CUDA=AUTO|ON|OFF   build the CUDA backend (AUTO: when nvcc and cuBLAS are found)
//   SA_ARCH=x86-64-v3|... baseline CPU target (-march); the AVX-512/BF16/AMX kernels are chosen at run time
//   SA_NATIVE=1           compile everything with -march=native (runs only on CPUs like the build machine)
//   SA_BUILD_TESTS=1      also build the native C++ tests (native/tests -> build/native/tests)
//   SA_BUILD_DIR=build    output folder (default build; the addon lands in <dir>/Release)
//   SA_DEBUG=1            Debug build
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const cmakeJs = require.resolve("cmake-js/bin/cmake-js");
const env = process.env;
const out = env.SA_BUILD_DIR ?? "build";
const args = [
    cmakeJs,
    "compile",
    "--out",
    out,
    `--CDSA_CUDA=${env.SA_CUDA ?? "AUTO"}`,
    `--CDSA_ARCH=${env.SA_ARCH ?? "x86-64-v3"}`,
    `--CDSA_NATIVE=${env.SA_NATIVE === "1" ? "ON" : "OFF"}`,
    `--CDSA_BUILD_TESTS=${env.SA_BUILD_TESTS === "1" ? "ON" : "OFF"}`,
];
if (env.SA_DEBUG === "1") args.push("--debug");
const jobs = env.SA_JOBS ?? String(Math.max(1, (await import("node:os")).availableParallelism()));
args.push("--parallel", jobs);
console.log(`[build-native] node ${args.slice(1).join(" ")}`);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit", env });
if (r.status !== 0) {
    console.error(
        "[build-native] the native build failed. Needs CMake >= 3.20 and a C++20 compiler; " +
            "set SA_CUDA=OFF to skip the CUDA backend.",
    );
    process.exit(r.status ?? 1);
}
