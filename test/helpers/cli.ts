// Runs the sam-ablate CLI from the sources in a child process.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

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
