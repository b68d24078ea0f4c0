/**
 * Temporary files left by a killed process: `.<name>.<pid>.<random>.tmp` (atomic writes),
 * `<name>.tmp-<pid>[-<random>]` (embedding caches, older writers) and `.<name>.partial-<pid>-<random>`
 * staging folders. Each carries its writer's pid; one whose process is gone is removed on the next run.
 */
import { lstatSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";

const PATTERNS = [
    /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/,
    /\.tmp-(\d+)(?:-[0-9a-z]+)?$/,
    /^\..+\.partial-(\d+)-[0-9a-f]+(?:\.old)?$/,
];

/** The writer's pid when `name` is a temporary file or staging folder; undefined otherwise. */
export function tempOwnerPid(name: string): number | undefined {
    for (const re of PATTERNS) {
        const m = re.exec(name);
        if (m) return Number(m[1]);
    }
    return undefined;
}

/** Whether a process with this pid runs on this host. */
export function pidAlive(pid: number): boolean {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

export interface TempCleanupOptions {
    /** Also look in sub-folders (default true). */
    recursive?: boolean;
    /** Leave files younger than this (ms; default 0). Use it on folders shared between hosts. */
    minAgeMs?: number;
    /** Decides whether the writer is alive (default: a process with that pid runs here). */
    isAlive?: (pid: number) => boolean;
}

/** Removes the temporary files and staging folders of dead writers under `dir`; returns what was removed. */
export function removeStaleTemps(dir: string, opts: TempCleanupOptions = {}): string[] {
    const removed: string[] = [];
    const alive = opts.isAlive ?? pidAlive;
    const now = Date.now();
    const minAge = opts.minAgeMs ?? 0;
    // (file times have sub-millisecond parts and may read a hair after Date.now())
    const oldEnough = (mtimeMs: number) => minAge <= 0 || now - mtimeMs >= minAge;
    const walk = (d: string) => {
        let names: string[];
        try {
            names = readdirSync(d);
        } catch {
            return;
        }
        for (const name of names) {
            const p = path.join(d, name);
            let st: ReturnType<typeof lstatSync>;
            try {
                st = lstatSync(p);
            } catch {
                continue;
            }
            const pid = tempOwnerPid(name);
            if (pid !== undefined && pid !== process.pid && !alive(pid) && oldEnough(st.mtimeMs)) {
                rmSync(p, { recursive: true, force: true });
                removed.push(p);
            } else if (st.isDirectory() && opts.recursive !== false) {
                walk(p);
            }
        }
    };
    walk(dir);
    return removed;
}
