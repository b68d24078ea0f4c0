/**
 * A lock file per unit, so that two processes (two `ablate` runs, two array tasks, a resubmitted task
 * beside a slow one) never write the same unit. The file is created with O_EXCL (atomic on local file
 * systems and NFSv3+) and holds the holder's host, pid, start time and Slurm task; its mtime is the
 * heartbeat, touched every few seconds while the unit runs.
 *
 * A lock is stale when its holder is gone: same host and the pid no longer exists (kill -9, a node
 * reboot with the same name), or no heartbeat for `staleMs` (another host died or hangs). A stale lock
 * is taken over under a short-lived second lock (`<lock>.takeover`), so two processes that find the
 * same stale lock cannot both take it.
 */
import {
    closeSync,
    existsSync,
    mkdirSync,
    openSync,
    readFileSync,
    renameSync,
    rmSync,
    statSync,
    utimesSync,
    writeSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";

export interface LockInfo {
    host: string;
    pid: number;
    /** ISO time the holder took the lock. */
    started: string;
    /** Slurm job and array task of the holder, when it runs under Slurm. */
    slurm?: { jobId: string; arrayJobId?: string; arrayTaskId?: string };
}

export interface LockState {
    info: LockInfo;
    /** Milliseconds since the last heartbeat. */
    ageMs: number;
    stale: boolean;
    /** Why it is stale. */
    reason?: string;
}

/** Heartbeat period and the silence after which another host's lock counts as stale. */
export const HEARTBEAT_MS = 5000;
export function staleAfterMs(): number {
    const s = Number(process.env.SA_LOCK_STALE_S);
    return Number.isFinite(s) && s > 0 ? s * 1000 : 120_000;
}

function pidAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

function slurmInfo(): LockInfo["slurm"] {
    const jobId = process.env.SLURM_JOB_ID;
    if (!jobId) return undefined;
    return {
        jobId,
        ...(process.env.SLURM_ARRAY_JOB_ID ? { arrayJobId: process.env.SLURM_ARRAY_JOB_ID } : {}),
        ...(process.env.SLURM_ARRAY_TASK_ID ? { arrayTaskId: process.env.SLURM_ARRAY_TASK_ID } : {}),
    };
}

/** Reads a lock file; undefined when there is none (or it vanished meanwhile). */
export function readLock(file: string): LockState | undefined {
    let text: string;
    let mtime: number;
    try {
        mtime = statSync(file).mtimeMs;
        text = readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
    let info: LockInfo;
    try {
        info = JSON.parse(text) as LockInfo;
    } catch {
        // A holder killed between create and write: an empty or torn file; stale once old enough.
        info = { host: "?", pid: 0, started: new Date(mtime).toISOString() };
    }
    const ageMs = Date.now() - mtime;
    if (info.host === os.hostname() && info.pid > 0 && !pidAlive(info.pid)) {
        return { info, ageMs, stale: true, reason: `process ${info.pid} on this host is gone` };
    }
    if (ageMs > staleAfterMs())
        return { info, ageMs, stale: true, reason: `no heartbeat for ${Math.round(ageMs / 1000)} s` };
    return { info, ageMs, stale: false };
}

/** A held lock: heartbeats until released. */
export class UnitLock {
    private timer: NodeJS.Timeout | undefined;
    private constructor(
        readonly file: string,
        readonly info: LockInfo,
    ) {
        this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
        this.timer.unref();
    }

    /**
     * Takes the lock, or returns the live holder's state. A stale lock is taken over and reported
     * through `onTakeover`.
     */
    static acquire(file: string, onTakeover?: (prev: LockState) => void): UnitLock | LockState {
        mkdirSync(path.dirname(file), { recursive: true });
        for (let attempt = 0; attempt < 5; attempt++) {
            const got = UnitLock.create(file);
            if (got) return got;
            const cur = readLock(file);
            if (!cur) continue; // released meanwhile
            if (!cur.stale) return cur;
            if (UnitLock.takeOver(file, cur)) onTakeover?.(cur);
        }
        const cur = readLock(file);
        if (cur) return cur;
        throw Object.assign(new Error(`${file}: cannot take the lock (contended)`), { code: "ERR_SA_LOCK" });
    }

    private static create(file: string): UnitLock | undefined {
        const info: LockInfo = { host: os.hostname(), pid: process.pid, started: new Date().toISOString() };
        const slurm = slurmInfo();
        if (slurm) info.slurm = slurm;
        let fd: number;
        try {
            fd = openSync(file, "wx");
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined;
            throw e;
        }
        try {
            writeSync(fd, `${JSON.stringify(info)}\n`);
        } finally {
            closeSync(fd);
        }
        return new UnitLock(file, info);
    }

    /** Removes a stale lock unless someone else took or refreshed it meanwhile. */
    private static takeOver(file: string, seen: LockState): boolean {
        const guard = `${file}.takeover`;
        let fd: number;
        try {
            fd = openSync(guard, "wx");
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
            // Another process is taking it over; a guard left by a dead process expires.
            try {
                if (Date.now() - statSync(guard).mtimeMs > 30_000) rmSync(guard, { force: true });
            } catch {
                /* gone */
            }
            return false;
        }
        closeSync(fd);
        try {
            const now = readLock(file);
            if (
                !now?.stale ||
                now.info.pid !== seen.info.pid ||
                now.info.host !== seen.info.host ||
                now.info.started !== seen.info.started
            )
                return false;
            const aside = `${file}.stale-${process.pid}`;
            renameSync(file, aside);
            rmSync(aside, { force: true });
            return true;
        } finally {
            rmSync(guard, { force: true });
        }
    }

    private beat(): void {
        try {
            const t = new Date();
            utimesSync(this.file, t, t);
        } catch {
            /* taken over or removed: `stillHeld` reports it */
        }
    }

    /** True while the file still names this process (not taken over as stale). */
    stillHeld(): boolean {
        const cur = readLock(this.file);
        return (
            !!cur &&
            cur.info.pid === this.info.pid &&
            cur.info.host === this.info.host &&
            cur.info.started === this.info.started
        );
    }

    release(): void {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        if (this.stillHeld()) rmSync(this.file, { force: true });
    }
}

/** Whether a path holds a lock file (a cheap check before reading it). */
export function hasLock(file: string): boolean {
    return existsSync(file);
}
