// Runs the sam-ablate CLI from the sources in a child process, and the checks every end-to-end test
// makes of its exit: success, or a refusal with one `sam-ablate: <cause> [CODE]` line.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as assert from "uvu/assert";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = path.join(REPO, "packages", "cli", "src", "bin.ts");

export interface CliResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
}

/** Starts the CLI; `onStderr` sees the progress output as it comes. */
export function startCli(
    args: string[],
    onStderr?: (chunk: string, child: ChildProcess) => void,
): { child: ChildProcess; done: Promise<CliResult> } {
    const child = spawn(process.execPath, ["--conditions=@sam-ablate/source", "--import", "tsx", BIN, ...args], {
        cwd: REPO,
        env: { ...process.env, NO_COLOR: "1" },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
        stdout += d;
    });
    child.stderr?.on("data", (d) => {
        stderr += d;
        onStderr?.(String(d), child);
    });
    const done = new Promise<CliResult>((resolve) =>
        child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
    );
    return { child, done };
}

export function runCliProcess(args: string[]): Promise<CliResult> {
    return startCli(args).done;
}

/** Asserts that a CLI run exited 0 (the message shows the ends of its output). */
export function expectOk(r: CliResult, what = "sam-ablate"): CliResult {
    assert.is(r.code, 0, `${what}: exit ${r.code}\n${r.stderr.slice(-2500)}\n${r.stdout.slice(-1000)}`);
    return r;
}

/** Runs the CLI and asserts that it exited 0. */
export async function runCliOk(args: string[]): Promise<CliResult> {
    return expectOk(await runCliProcess(args), `sam-ablate ${args.join(" ")}`);
}

/**
 * Asserts that a CLI run failed (with exit code `exit`, or any non-zero code when it is undefined)
 * and that its output (stdout and stderr: `--json` errors go to stdout) matches every pattern.
 */
export function expectCliError(r: CliResult, exit: number | undefined, ...patterns: RegExp[]): void {
    if (exit === undefined) assert.ok(r.code !== 0 && r.code !== null, `exit ${r.code}\n${r.stderr}`);
    else assert.is(r.code, exit, r.stderr);
    for (const re of patterns) assert.match(r.stdout + r.stderr, re);
}

/**
 * The `sam-ablate: <cause> [CODE]` line of a refusal: asserts that it carries `code`, that no stack
 * trace leaked and, with `hint`, that a hint line follows.
 */
export function causeLine(stderr: string, code: string, { hint = false } = {}): string {
    const lines = stderr.split("\n");
    const line = lines.find((l) => l.startsWith("sam-ablate: ")) ?? "";
    assert.ok(line.includes(`[${code}]`), `expected [${code}] in:\n${stderr}`);
    if (hint)
        assert.ok(
            lines.some((l) => l.trim().startsWith("hint:")),
            `no hint in:\n${stderr}`,
        );
    assert.not.match(stderr, /at .*\.ts:\d+/, "a stack trace leaked");
    return line;
}

/** `ablate` of the quick plan with a vit_b `checkpoint` into `out` (the checkpoint refusal tests). */
export function ablateWithCheckpoint(checkpoint: string, out: string): string[] {
    return ["ablate", "--plan", "quick", "--model", "vit_b", "--checkpoint", checkpoint, "--out", out];
}

/**
 * `prepare phantom-radiology --patients 4 --folds k --json` into `data`: asserts that the summary
 * lists k folds and that the manifest's k folds partition its patients; returns both.
 */
export async function prepareFolds(
    data: string,
    k: number,
): Promise<{
    out: { folds: string[][] };
    manifest: { patients: string[]; folds: { k: number; patients: string[][] } };
}> {
    const args = ["prepare", "phantom-radiology", "--out", data, "--patients", "4", "--folds", String(k), "--json"];
    const r = await runCliOk(args);
    const out = JSON.parse(r.stdout);
    assert.is(out.folds.length, k);
    const manifest = JSON.parse(readFileSync(path.join(data, "manifest.json"), "utf8"));
    assert.is(manifest.folds.k, k);
    assert.equal(manifest.folds.patients.flat().sort(), [...manifest.patients].sort());
    return { out, manifest };
}
