import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { DataError, errorText } from "./errors.js";

/** A staging folder next to the output folder; commit() moves it into place in one rename. */
export interface StagedDir {
    /** The folder to write into. */
    staging: string;
    /** Replaces the output folder with the staging folder. */
    commit(): Promise<void>;
    /** Removes the staging folder (after a failure). */
    abort(): Promise<void>;
}

/**
 * Creates a hidden staging folder beside `outDir`. The output folder may be missing or empty; if it
 * holds something, it is replaced only when `overwrite` is set and `isReplaceable(entries)` accepts
 * its contents (so an unrelated folder is never deleted). `what` names the output in messages.
 */
export async function stageOutputDir(
    outDir: string,
    overwrite: boolean,
    isReplaceable: (entries: string[]) => boolean,
    what: string,
): Promise<StagedDir> {
    const target = path.resolve(outDir);
    await checkTarget(target, overwrite, isReplaceable, what);
    const parent = path.dirname(target);
    const staging = path.join(
        parent,
        `.${path.basename(target)}.partial-${process.pid}-${randomBytes(4).toString("hex")}`,
    );
    try {
        await mkdir(staging, { recursive: true });
    } catch (err) {
        throw new DataError("ERR_SA_DATA", `${target}: cannot create the ${what} folder (${errorText(err)})`, {
            cause: err,
        });
    }
    return {
        staging,
        async commit() {
            await checkTarget(target, overwrite, isReplaceable, what);
            const old = `${staging}.old`;
            let moved = false;
            if (await exists(target)) {
                await rename(target, old);
                moved = true;
            }
            try {
                await rename(staging, target);
            } catch (err) {
                if (moved) await rename(old, target).catch(() => undefined);
                throw new DataError(
                    "ERR_SA_DATA",
                    `${target}: cannot move the ${what} into place (${errorText(err)})`,
                    { cause: err },
                );
            }
            if (moved) await rm(old, { recursive: true, force: true });
        },
        async abort() {
            await rm(staging, { recursive: true, force: true });
        },
    };
}

async function checkTarget(
    target: string,
    overwrite: boolean,
    isReplaceable: (entries: string[]) => boolean,
    what: string,
): Promise<void> {
    let entries: string[];
    try {
        const s = await stat(target);
        if (!s.isDirectory()) throw new DataError("ERR_SA_DATA", `${target}: exists and is not a folder`);
        entries = await readdir(target);
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
        if (err instanceof DataError) throw err;
        throw new DataError("ERR_SA_DATA", `${target}: cannot inspect the output folder (${errorText(err)})`, {
            cause: err,
        });
    }
    if (entries.length === 0) return;
    if (!overwrite) {
        throw new DataError(
            "ERR_SA_DATA",
            `${target}: output folder is not empty; pass overwrite to replace an existing ${what}`,
        );
    }
    if (!isReplaceable(entries)) {
        throw new DataError(
            "ERR_SA_DATA",
            `${target}: output folder holds files that are not a ${what} (${entries.slice(0, 5).join(", ")}); refusing to replace it`,
        );
    }
}

async function exists(p: string): Promise<boolean> {
    try {
        await stat(p);
        return true;
    } catch {
        return false;
    }
}
