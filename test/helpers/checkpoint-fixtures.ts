// Paths of the sam-tiny golden checkpoints and small utilities shared by the checkpoint tests.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as assert from "uvu/assert";
import { FIXTURES as FIXTURES_DIR } from "./fixtures.js";

/** The folder holding the sam-tiny fixtures. */
export const SAM_TINY_DIR = path.resolve(FIXTURES_DIR, "sam-tiny");

/** Paths of the three sam-tiny weight files. */
export const SAM_TINY = {
    pth: path.join(SAM_TINY_DIR, "sam_tiny.pth"),
    nestedFp16: path.join(SAM_TINY_DIR, "sam_tiny_nested_fp16.pth"),
    safetensors: path.join(SAM_TINY_DIR, "sam_tiny.safetensors"),
} as const;

/** A fresh temporary folder and a function that removes it. */
export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
    const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
    return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Bytes from a hex string. */
export function hex(s: string): Uint8Array {
    return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));
}

/**
 * Awaits `fn` and asserts that it rejects with an error carrying `code`, whose message contains
 * every string of `parts`. Returns the error for further checks.
 */
export async function rejectsWithCode(
    fn: () => Promise<unknown> | unknown,
    code: string,
    parts: readonly string[] = [],
): Promise<Error & { code: string; file?: string }> {
    let err: unknown;
    try {
        await fn();
    } catch (e) {
        err = e;
    }
    if (err === undefined) assert.unreachable(`expected an error with code ${code}`);
    const e = err as Error & { code: string; file?: string };
    assert.is(e.code, code, `wrong code; error was: ${String(e?.stack ?? e)}`);
    for (const p of parts)
        assert.ok(e.message.includes(p), `message ${JSON.stringify(e.message)} should contain ${JSON.stringify(p)}`);
    return e;
}

/** A numeric tensor's values as plain numbers (empty for a missing tensor). */
export function values(t: { readonly data: ArrayLike<number | bigint> } | undefined): number[] {
    return t === undefined ? [] : Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}
