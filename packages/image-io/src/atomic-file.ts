import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Writes `data` to a temporary sibling and renames it over `file`, creating the folder if needed, so
 * readers see the old file or the complete new one, never a partial one. Node's own errors (naming
 * the path) are passed on; callers wrap them in their error types.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    try {
        await mkdir(dir, { recursive: true });
        await writeFile(temp, data);
        await rename(temp, file);
    } catch (err) {
        await rm(temp, { force: true }).catch(() => undefined);
        throw err;
    }
}
