// Seeded mutation fuzzing of the readers: small valid inputs are mutated (bit flips, interesting
// bytes and integers, inserted, deleted, duplicated or truncated ranges) and fed to a reader. An
// input passes when the reader succeeds or throws an error whose `code` starts with ERR_SA_;
// anything else (a TypeError, a RangeError, a stack overflow...) counts as a crash.

/** xorshift32: a small seeded generator (the inputs of a run are reproducible from its seed). */
export class FuzzRng {
    private s: number;
    constructor(seed: number) {
        this.s = seed >>> 0 || 0x9e3779b9;
    }
    u32(): number {
        let x = this.s;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        this.s = x >>> 0;
        return this.s;
    }
    /** Integer in [0, n). */
    int(n: number): number {
        return n <= 0 ? 0 : this.u32() % n;
    }
    pick<T>(xs: readonly T[]): T {
        return xs[this.int(xs.length)] as T;
    }
}

const BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x20, 0x2e, 0x7b, 0x7d, 0x22, 0x5b, 0x5d];
const INTS = [
    0,
    1,
    -1,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    348,
    352,
    1 << 20,
];

/** One to `max` random mutations of `input` (a new array). */
export function mutate(input: Uint8Array, rng: FuzzRng, max = 6): Uint8Array {
    let b: Uint8Array = Uint8Array.from(input);
    const n = 1 + rng.int(max);
    for (let k = 0; k < n; k++) {
        const at = rng.int(Math.max(1, b.length));
        switch (rng.int(8)) {
            case 0:
                if (b.length) b[at] = (b[at] as number) ^ (1 << rng.int(8));
                break;
            case 1:
                if (b.length) b[at] = rng.pick(BYTES);
                break;
            case 2:
                if (b.length) b[at] = rng.int(256);
                break;
            case 3: {
                if (b.length < 4) break;
                const v = rng.pick(INTS);
                const p = Math.min(at, b.length - 4);
                new DataView(b.buffer).setUint32(p, v >>> 0, rng.int(2) === 0);
                break;
            }
            case 4: {
                const len = 1 + rng.int(16);
                const ins = new Uint8Array(len).map(() => (rng.int(2) ? rng.pick(BYTES) : rng.int(256)));
                b = concat(b.subarray(0, at), ins, b.subarray(at));
                break;
            }
            case 5: {
                const len = 1 + rng.int(32);
                b = concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + len)));
                break;
            }
            case 6: {
                const len = 1 + rng.int(64);
                const from = rng.int(Math.max(1, b.length));
                b = concat(b.subarray(0, at), b.subarray(from, from + len), b.subarray(at));
                break;
            }
            default:
                if (rng.int(4) === 0) b = b.subarray(0, rng.int(b.length + 1)).slice();
                break;
        }
    }
    return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
        out.set(p, o);
        o += p.length;
    }
    return out;
}

/** What a fuzz run saw. */
export interface FuzzReport {
    name: string;
    tried: number;
    succeeded: number;
    codedErrors: number;
    crashes: { input: number; error: string }[];
    slowestMs: number;
    seconds: number;
}

/**
 * Feeds `count` mutated inputs (from `makeInput`) to `read`, stopping early when `budgetMs` is spent.
 * Prints one line with the figures.
 */
export async function fuzz(
    name: string,
    opts: { seed: number; count: number; budgetMs: number },
    makeInput: (rng: FuzzRng, i: number) => Uint8Array,
    read: (input: Uint8Array, i: number) => unknown,
): Promise<FuzzReport> {
    const rng = new FuzzRng(opts.seed);
    const report: FuzzReport = { name, tried: 0, succeeded: 0, codedErrors: 0, crashes: [], slowestMs: 0, seconds: 0 };
    const t0 = performance.now();
    for (let i = 0; i < opts.count && performance.now() - t0 < opts.budgetMs; i++) {
        const input = makeInput(rng, i);
        const t = performance.now();
        try {
            await read(input, i);
            report.succeeded++;
        } catch (e) {
            const code = (e as { code?: unknown } | null)?.code;
            if (typeof code === "string" && code.startsWith("ERR_SA_")) report.codedErrors++;
            else report.crashes.push({ input: i, error: String((e as Error)?.stack ?? e).slice(0, 600) });
        }
        report.slowestMs = Math.max(report.slowestMs, performance.now() - t);
        report.tried++;
    }
    report.seconds = (performance.now() - t0) / 1000;
    console.log(
        `  fuzz ${name}: ${report.tried} inputs (seed ${opts.seed}): ${report.succeeded} read, ${report.codedErrors} coded errors, ${report.crashes.length} crashes; slowest input ${report.slowestMs.toFixed(0)} ms, ${report.seconds.toFixed(1)} s`,
    );
    for (const c of report.crashes.slice(0, 3)) console.log(`    crash on input ${c.input}: ${c.error}`);
    return report;
}
