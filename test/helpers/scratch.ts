// A scratch folder for a test file: created under the system's temporary folder, removed with
// everything in it after the file's tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "uvu";

/** A new empty folder named `prefix` + random characters, removed after the tests. */
export function scratchDir(prefix: string): string {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    test.after(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
}
