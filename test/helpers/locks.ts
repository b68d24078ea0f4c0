// Lock files of a run folder as another process would leave them (dead, on another host, stale).
import { writeFileSync } from "node:fs";
import os from "node:os";

/** A pid no process can have: above Linux's largest pid_max (2^22); pids of exited processes get reused. */
export const DEAD_PID = 4_194_305;

export interface LockHolder {
    token: string;
    owner?: string;
    /** Default: this machine. */
    host?: string;
    /** Default: DEAD_PID. */
    pid?: number;
    /** Start and last heartbeat (ISO time; default: now). */
    at?: string;
}

/** Writes `file` as the lock of `holder` (owner default "sam-ablate ablate"). */
export function writeLock(file: string, holder: LockHolder): void {
    const at = holder.at ?? new Date().toISOString();
    writeFileSync(
        file,
        JSON.stringify({
            owner: holder.owner ?? "sam-ablate ablate",
            host: holder.host ?? os.hostname(),
            pid: holder.pid ?? DEAD_PID,
            startedAt: at,
            heartbeatAt: at,
            token: holder.token,
        }),
    );
}
