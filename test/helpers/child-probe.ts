// Runs a reader or the CLI in a child process and reports its exit, output and peak RSS (bytes),
// so tests can show that hostile files end in a coded error without large allocations.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO } from "./cli.js";

export interface ProbeResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** Peak resident set size of the child in bytes. */
    maxRss: number;
}

const RSS_HOOK = path.join(REPO, "test", "helpers", "rss-at-exit.mjs");

/** Runs a TypeScript entry point (from the sources) in a child Node process. */
export function runTsChild(script: string, args: string[], env: Record<string, string> = {}): Promise<ProbeResult> {
    const dir = mkdtempSync(path.join(tmpdir(), "sa-rss-"));
    const rssFile = path.join(dir, "rss");
    const child = spawn(
        process.execPath,
        ["--conditions=@sam-ablate/source", "--import", "tsx", "--import", RSS_HOOK, script, ...args],
        {
            cwd: REPO,
            env: { ...process.env, NO_COLOR: "1", ...env, SA_RSS_FILE: rssFile },
            stdio: ["ignore", "pipe", "pipe"],
        },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
        stdout += d;
    });
    child.stderr.on("data", (d) => {
        stderr += d;
    });
    return new Promise((resolve) =>
        child.on("close", (code, signal) => {
            let maxRss = Number.NaN;
            try {
                maxRss = Number(readFileSync(rssFile, "utf8"));
            } catch {}
            rmSync(dir, { recursive: true, force: true });
            resolve({ code, signal, stdout, stderr, maxRss });
        }),
    );
}

/** Reads `file` with one reader (pth, safetensors, checkpoint, nifti, image) in a child process. */
export async function probeRead(
    reader: string,
    file: string,
    env: Record<string, string> = {},
): Promise<ProbeResult & { result: { ok?: boolean; code?: string | null; message?: string } }> {
    const r = await runTsChild(path.join(REPO, "test", "helpers", "read-probe.ts"), [reader, file], env);
    let result = {};
    try {
        result = JSON.parse(r.stdout.trim().split("\n").pop() ?? "");
    } catch {}
    return { ...r, result };
}

/** Runs the CLI from the sources in a child process, measuring its peak RSS. */
export function probeCli(args: string[], env: Record<string, string> = {}): Promise<ProbeResult> {
    return runTsChild(path.join(REPO, "packages", "cli", "src", "bin.ts"), args, env);
}

export const MB = 1024 * 1024;
