import { randomBytes } from "node:crypto";
import { rename, unlink, writeFile } from "node:fs/promises";

/** Writes bytes to a temporary sibling and renames it over the target, so readers never see a partial file. */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
    const temp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
        await writeFile(temp, bytes);
        await rename(temp, file);
    } catch (err) {
        await unlink(temp).catch(() => undefined);
        throw err;
    }
}
