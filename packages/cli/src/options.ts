/**
 * Checks of numeric options that yargs only types (it turns `abc` into NaN), and `--threads`, applied
 * once for every command.
 */
import { loadAddon } from "@sam-ablate/native";
import { CliError } from "./errors.js";

/** The text given for `--name` on the command line (for messages), or the parsed value. */
function given(raw: readonly string[], name: string, parsed: unknown): string {
    for (let i = 0; i < raw.length; i++) {
        const a = raw[i] as string;
        if (a === `--${name}`) return raw[i + 1] ?? "";
        if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    }
    return String(parsed);
}

/** Throws ERR_SA_USAGE unless each named option (when present) is a whole number >= its minimum. */
export function requireWholeNumbers(
    raw: readonly string[],
    argv: Record<string, unknown>,
    mins: Record<string, number>,
): void {
    for (const [name, min] of Object.entries(mins)) {
        const v = argv[name];
        if (v === undefined) continue;
        const values = Array.isArray(v) ? v : [v];
        for (const x of values) {
            if (typeof x !== "number" || !Number.isInteger(x) || x < min) {
                throw new CliError(
                    `--${name}: expected a whole number >= ${min}, got '${given(raw, name, x).slice(0, 40)}'`,
                    "ERR_SA_USAGE",
                );
            }
        }
    }
}

/** Applies --threads (0 = all cores) to the native pool before any command runs; returns the count in effect. */
export function applyThreads(raw: readonly string[], threads: unknown): number | undefined {
    if (threads === undefined) return undefined;
    requireWholeNumbers(raw, { threads }, { threads: 0 });
    return loadAddon().setThreads(threads as number);
}
