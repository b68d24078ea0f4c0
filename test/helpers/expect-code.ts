// Checks of coded errors: the call must fail with an error whose `code` is the expected one and
// whose message matches a pattern.
import * as assert from "uvu/assert";

function check(err: unknown, code: string, pattern: RegExp): string {
    const e = err as { code?: string; message: string };
    assert.is(e.code, code, e.message);
    assert.match(e.message, pattern);
    return e.message;
}

/** Asserts that `fn` throws `code` with a message matching `pattern`; returns the message. */
export function expectThrowsCode(fn: () => unknown, code: string, pattern: RegExp): string {
    try {
        fn();
    } catch (err) {
        return check(err, code, pattern);
    }
    assert.unreachable(`expected ${code} matching ${pattern}`);
    return "";
}

/** Asserts that `p` rejects with `code` and a message matching `pattern`; returns the message. */
export async function expectRejectsCode(p: Promise<unknown>, code: string, pattern: RegExp): Promise<string> {
    try {
        await p;
    } catch (err) {
        return check(err, code, pattern);
    }
    assert.unreachable(`expected ${code} matching ${pattern}`);
    return "";
}

/** As expectThrowsCode, and the message stays short (under 1000 characters, however long the input). */
export function expectShortCode(fn: () => unknown, code: string, pattern: RegExp): string {
    const message = expectThrowsCode(fn, code, pattern);
    assert.ok(message.length < 1000, `message of ${message.length} characters`);
    return message;
}
