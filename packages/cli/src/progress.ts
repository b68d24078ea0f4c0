/**
 * Progress output: a single-line bar with rate and ETA on a TTY, plain timestamped lines otherwise
 * (logs, CI), nothing with --json (machine output goes to stdout as one JSON document at the end).
 */
export interface Reporter {
    stage(message: string): void;
    progress(task: string, done: number, total: number, detail?: string): void;
    info(message: string): void;
    done(): void;
}

function fmtSeconds(s: number): string {
    if (!Number.isFinite(s) || s < 0) return "--";
    if (s < 60) return `${s.toFixed(0)}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
    return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A reporter for the given mode. */
export function createReporter(mode: { json: boolean; quiet?: boolean; stream?: NodeJS.WriteStream }): Reporter {
    const out = mode.stream ?? process.stderr;
    if (mode.json || mode.quiet) {
        return { stage() {}, progress() {}, info() {}, done() {} };
    }
    const tty = Boolean(out.isTTY);
    const starts = new Map<string, { t: number; done: number }>();
    let lastPlain = new Map<string, number>();
    let lineOpen = false;
    const clear = () => {
        if (tty && lineOpen) {
            out.write("\r\x1b[2K");
            lineOpen = false;
        }
    };
    return {
        stage(message) {
            clear();
            out.write(`» ${message}\n`);
        },
        info(message) {
            clear();
            out.write(`  ${message}\n`);
        },
        progress(task, done, total, detail) {
            const now = performance.now() / 1000;
            // The rate counts from the task's first report (a resumed task starts past 0): no ETA until
            // something was done since.
            let start = starts.get(task);
            if (!start || done < start.done) {
                start = { t: now, done };
                starts.set(task, start);
            }
            const rate = (done - start.done) / Math.max(now - start.t, 1e-9);
            const eta = done >= total ? 0 : rate > 0 ? (total - done) / rate : Number.NaN;
            const pct = total > 0 ? done / total : 1;
            if (tty) {
                const width = 24;
                const fill = Math.round(pct * width);
                const bar = `${"█".repeat(fill)}${"░".repeat(width - fill)}`;
                const line = `  ${task} ${bar} ${done}/${total} ${(pct * 100).toFixed(0)}% ETA ${fmtSeconds(eta)}${detail ? ` ${detail}` : ""}`;
                out.write(`\r\x1b[2K${line.slice(0, (out.columns ?? 120) - 1)}`);
                lineOpen = true;
                if (done >= total) clear();
            } else {
                const last = lastPlain.get(task) ?? -1;
                if (done >= total || done === 1 || now - last >= 5) {
                    out.write(
                        `  [${new Date().toISOString().slice(11, 19)}] ${task}: ${done}/${total} (${(pct * 100).toFixed(0)}%, ETA ${fmtSeconds(eta)})${detail ? ` ${detail}` : ""}\n`,
                    );
                    lastPlain.set(task, now);
                }
            }
        },
        done() {
            clear();
            lastPlain = new Map();
        },
    };
}
