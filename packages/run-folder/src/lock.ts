/**
 * An owner lock on a folder or a unit of work, the only lock implementation: a small JSON file
 * (owner, host, pid, start time, heartbeat, the Slurm job and array task when there is one) created
 * with an atomic create-if-absent (a hard link of a complete temporary file, so no reader ever sees it
 * half written; exclusive create where the file system has no hard links). The holder refreshes the
 * heartbeat; a lock whose process is gone (same host) or whose heartbeat is older than the stale
 * period (any host: another node died or hangs; `staleAfterMs`, else `SA_LOCK_STALE_S`, else 120 s)
 * is taken over, and the taker is told whose lock it took. A takeover goes through a short-lived guard
 * file so that two takers cannot both win. A second process either waits for the lock, gets
 * ERR_SA_LOCKED naming the holder (`acquire`), or is handed the holder's record (`tryAcquire`).
 */
import { randomBytes } from "node:crypto";
import {
    closeSync,
    fsyncSync,
    linkSync,
    mkdirSync,
    openSync,
    readFileSync,
    renameSync,
    rmSync,
    statSync,
    writeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { tempPathFor, writeJsonAtomicSync } from "./atomic.js";
import { pidAlive } from "./cleanup.js";
import { RunFolderError } from "./errors.js";

/** What a lock file holds. */
export interface LockInfo {
    /** What holds it, e.g. "sam-ablate ablate". */
    owner: string;
    host: string;
    pid: number;
    /** ISO times. */
    startedAt: string;
    heartbeatAt: string;
    /** Unique per acquisition: tells a lock from the next one of the same process. */
    token: string;
    /** Slurm job and array task of the holder, when it runs under Slurm. */
    slurm?: { jobId: string; arrayJobId?: string; arrayTaskId?: string };
}

/** A lock file as seen by someone who does not hold it (`sam-ablate status`). */
export interface LockState {
    /** The holder's record (host "?" and pid 0 for a file that cannot be read, e.g. torn by a kill). */
    info: LockInfo;
    /** Milliseconds since the last heartbeat. */
    ageMs: number;
    stale: boolean;
    /** Why it is stale. */
    reason?: string;
}

export interface LockOptions {
    /** What takes the lock, shown to whoever finds it held. */
    owner: string;
    /** Heartbeat period (ms, default 15 s). */
    heartbeatMs?: number;
    /** A lock without a heartbeat for this long is stale (ms, default `defaultStaleAfterMs()`; at least 3 heartbeats). */
    staleAfterMs?: number;
    /** Create the lock file's folder when missing (default false). */
    mkdir?: boolean;
    /** Wait for a held lock: true (forever) or a number of ms; default false (fail at once). */
    wait?: boolean | number;
    /** Polling period while waiting (ms, default 1000). */
    pollMs?: number;
    /** Called once while waiting for a live holder. */
    onWait?: (holder: LockInfo) => void;
    /** Called when a stale lock was taken over. */
    onTakeover?: (previous: LockInfo | undefined, reason: string) => void;
    /** Called when the heartbeat finds the lock taken by someone else (the holder should stop writing). */
    onLost?: (by: LockInfo | undefined) => void;
    /** What the lock protects, for messages (default: the lock file). */
    what?: string;
}

const GUARD_STALE_MS = 30_000;

/** The stale period when a lock does not set one: `SA_LOCK_STALE_S` seconds, else 120 s. */
export function defaultStaleAfterMs(): number {
    const s = Number(process.env.SA_LOCK_STALE_S);
    return Number.isFinite(s) && s > 0 ? s * 1000 : 120_000;
}

/** The Slurm job and array task this process runs in (from its environment), or undefined outside Slurm. */
export function slurmInfo(): LockInfo["slurm"] {
    const jobId = process.env.SLURM_JOB_ID;
    if (!jobId) return undefined;
    return {
        jobId,
        ...(process.env.SLURM_ARRAY_JOB_ID ? { arrayJobId: process.env.SLURM_ARRAY_JOB_ID } : {}),
        ...(process.env.SLURM_ARRAY_TASK_ID ? { arrayTaskId: process.env.SLURM_ARRAY_TASK_ID } : {}),
    };
}

/** Reads a lock file; undefined when absent or not a lock. */
export function readLock(file: string): LockInfo | undefined {
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
    try {
        const v = JSON.parse(text) as Partial<LockInfo>;
        if (
            typeof v.pid === "number" &&
            typeof v.host === "string" &&
            typeof v.token === "string" &&
            typeof v.heartbeatAt === "string"
        ) {
            return v as LockInfo;
        }
    } catch {
        /* not a lock */
    }
    return undefined;
}

/** Why a lock is stale, or undefined when its holder looks alive. */
export function staleReason(
    info: LockInfo | undefined,
    file: string,
    staleAfterMs: number,
    now = Date.now(),
): string | undefined {
    if (!info) {
        // unreadable: only a lock older than the stale period is given up
        try {
            const age = now - statSync(file).mtimeMs;
            return age > staleAfterMs ? `unreadable lock file, ${Math.round(age / 1000)} s old` : undefined;
        } catch {
            return "gone";
        }
    }
    if (info.host === os.hostname() && !pidAlive(info.pid)) return `its process ${info.pid} on ${info.host} is gone`;
    const age = now - Date.parse(info.heartbeatAt);
    if (!(age <= staleAfterMs))
        return `no heartbeat from process ${info.pid} on ${info.host} for ${Math.round(age / 1000)} s`;
    return undefined;
}

/** The state of a lock file for someone who does not hold it; undefined when there is none. */
export function lockState(file: string, staleAfterMs = defaultStaleAfterMs(), now = Date.now()): LockState | undefined {
    let mtimeMs: number;
    try {
        mtimeMs = statSync(file).mtimeMs;
    } catch {
        return undefined;
    }
    const read = readLock(file);
    const info: LockInfo = read ?? {
        owner: "?",
        host: "?",
        pid: 0,
        startedAt: new Date(mtimeMs).toISOString(),
        heartbeatAt: new Date(mtimeMs).toISOString(),
        token: "",
    };
    const beat = read ? Date.parse(read.heartbeatAt) : mtimeMs;
    const reason = staleReason(read, file, staleAfterMs, now);
    if (reason === "gone") return undefined;
    return { info, ageMs: now - beat, stale: reason !== undefined, ...(reason !== undefined ? { reason } : {}) };
}

/** One line about a holder, for messages. */
export function describeHolder(info: LockInfo): string {
    const beat = Math.max(0, Math.round((Date.now() - Date.parse(info.heartbeatAt)) / 1000));
    return `${info.owner} (pid ${info.pid} on ${info.host}, started ${info.startedAt}, last heartbeat ${beat} s ago)`;
}

function createExclusive(file: string, content: string): boolean {
    const tmp = tempPathFor(file);
    const fd = openSync(tmp, "wx");
    try {
        writeSync(fd, content);
        fsyncSync(fd);
    } finally {
        closeSync(fd);
    }
    try {
        linkSync(tmp, file);
        return true;
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EEXIST") return false;
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw e;
        // no hard links on this file system: exclusive create (a reader may briefly see it empty,
        // which counts as held until the stale period)
        let fd2: number;
        try {
            fd2 = openSync(file, "wx");
        } catch (e2) {
            if ((e2 as NodeJS.ErrnoException).code === "EEXIST") return false;
            throw e2;
        }
        try {
            writeSync(fd2, content);
            fsyncSync(fd2);
        } finally {
            closeSync(fd2);
        }
        return true;
    } finally {
        rmSync(tmp, { force: true });
    }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A held lock. Release it (or `using` it) when the work is done; the heartbeat runs until then. */
export class FileLock {
    private timer: NodeJS.Timeout | undefined;
    private released = false;
    private lostTo: LockInfo | undefined | null = null;

    private constructor(
        readonly file: string,
        private info: LockInfo,
        private readonly opts: LockOptions,
    ) {
        const period = opts.heartbeatMs ?? 15_000;
        this.timer = setInterval(() => this.beat(), period);
        this.timer.unref();
    }

    /** Takes the lock, taking over a stale one, waiting for a live one when asked; ERR_SA_LOCKED otherwise. */
    static async acquire(file: string, opts: LockOptions): Promise<FileLock> {
        const deadline =
            opts.wait === true ? Number.POSITIVE_INFINITY : typeof opts.wait === "number" ? Date.now() + opts.wait : 0;
        let told = false;
        for (;;) {
            const got = FileLock.tryAcquire(file, opts);
            if (got instanceof FileLock) return got;
            if (Date.now() >= deadline) {
                const what = opts.what ?? file;
                throw new RunFolderError(
                    "ERR_SA_LOCKED",
                    got
                        ? `${what} is in use by ${describeHolder(got)}; lock file ${file}`
                        : `${what} is being locked by another process; lock file ${file}`,
                );
            }
            if (!told && got) {
                opts.onWait?.(got);
                told = true;
            }
            await sleep(opts.pollMs ?? 1000);
        }
    }

    /** One attempt: the lock, or the live holder's info (undefined when it could not be read). */
    static tryAcquire(file: string, opts: LockOptions): FileLock | LockInfo | undefined {
        const staleAfter = Math.max(opts.staleAfterMs ?? defaultStaleAfterMs(), 3 * (opts.heartbeatMs ?? 15_000));
        const now = new Date().toISOString();
        const slurm = slurmInfo();
        const info: LockInfo = {
            owner: opts.owner,
            host: os.hostname(),
            pid: process.pid,
            startedAt: now,
            heartbeatAt: now,
            token: randomBytes(8).toString("hex"),
            ...(slurm ? { slurm } : {}),
        };
        if (opts.mkdir) mkdirSync(path.dirname(file), { recursive: true });
        const content = `${JSON.stringify(info, null, 2)}\n`;
        if (createExclusive(file, content)) return new FileLock(file, info, opts);
        const held = readLock(file);
        const reason = staleReason(held, file, staleAfter);
        if (reason === undefined) return held;
        // take over under a guard so that only one taker wins
        const guard = `${file}.takeover`;
        if (!createExclusive(guard, content)) {
            try {
                if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) rmSync(guard, { force: true });
            } catch {
                /* gone already */
            }
            return held;
        }
        try {
            const again = readLock(file);
            if (again?.token !== held?.token) return again; // someone else took it meanwhile
            rmSync(file, { force: true });
            if (!createExclusive(file, content)) return readLock(file);
        } finally {
            rmSync(guard, { force: true });
        }
        opts.onTakeover?.(held, reason);
        return new FileLock(file, info, opts);
    }

    /** The holder's record. */
    get holder(): LockInfo {
        return this.info;
    }

    /** True when another process took the lock over (this holder should stop writing). */
    get lost(): boolean {
        return this.lostTo !== null;
    }

    /** Refreshes the heartbeat now (also done on a timer). */
    beat(): void {
        if (this.released || this.lostTo !== null) return;
        const cur = readLock(this.file);
        if (cur?.token !== this.info.token) {
            this.lostTo = cur;
            if (this.timer) clearInterval(this.timer);
            this.opts.onLost?.(cur);
            return;
        }
        this.info = { ...this.info, heartbeatAt: new Date().toISOString() };
        try {
            writeJsonAtomicSync(this.file, this.info);
        } catch {
            /* the next beat tries again */
        }
    }

    /** Stops the heartbeat and removes the lock file when it is still ours. */
    release(): void {
        if (this.released) return;
        this.released = true;
        if (this.timer) clearInterval(this.timer);
        const cur = readLock(this.file);
        if (cur?.token === this.info.token) {
            // move it away first so a concurrent reader never sees our lock after release
            const gone = `${this.file}.released-${process.pid}`;
            try {
                renameSync(this.file, gone);
                rmSync(gone, { force: true });
            } catch {
                rmSync(this.file, { force: true });
            }
        }
    }

    [Symbol.dispose](): void {
        this.release();
    }
}
