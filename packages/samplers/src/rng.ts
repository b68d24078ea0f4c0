/**
 * A seeded, splittable pseudo-random number generator.
 *
 * Each `Rng` is a xoshiro128** stream (32-bit operations only) started from a 128-bit key. The key
 * is the stream's identity: `split(...keys)` hashes the parent's key together with the given keys
 * into a child key, without reading or advancing the parent. A stream therefore depends only on the
 * path of keys that names it (seed, image id, step, purpose, ...), never on the order in which
 * other streams were created or consumed.
 */
import { SamplerArgumentError } from "./errors.js";
import { deriveStreamKey, type RngKey, type StreamKey } from "./key-hash.js";

export type { RngKey, StreamKey } from "./key-hash.js";

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

/** A seeded random stream; see the module documentation for the splitting semantics. */
export class Rng {
    /** The 128-bit key this stream started from (its identity; unaffected by draws). */
    readonly key: StreamKey;
    private s0: number;
    private s1: number;
    private s2: number;
    private s3: number;

    private constructor(key: StreamKey) {
        this.key = key;
        [this.s0, this.s1, this.s2, this.s3] = key;
    }

    /**
     * The stream that starts at an explicit 128-bit key (as read from `rng.key`); four unsigned
     * 32-bit integers, not all zero.
     */
    static fromKey(key: readonly number[]): Rng {
        if (
            key.length !== 4 ||
            !key.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) ||
            key.every((w) => w === 0)
        ) {
            throw new SamplerArgumentError(
                `Rng.fromKey needs four unsigned 32-bit integers, not all zero, got [${key.join(", ")}]`,
            );
        }
        return new Rng([key[0] as number, key[1] as number, key[2] as number, key[3] as number]);
    }

    /** A root stream for a seed (a string or a finite number; `5` and `"5"` are different seeds). */
    static fromSeed(seed: RngKey): Rng {
        return new Rng(deriveStreamKey(null, [seed]));
    }

    /**
     * An independent child stream named by `keys` under this stream's key. Pure: it neither reads
     * nor advances this stream, so `a.split("x")` is the same stream whenever it is called.
     */
    split(...keys: RngKey[]): Rng {
        return new Rng(deriveStreamKey(this.key, keys));
    }

    /** A copy of this stream at its current position (both then produce the same draws). */
    clone(): Rng {
        const copy = new Rng(this.key);
        copy.s0 = this.s0;
        copy.s1 = this.s1;
        copy.s2 = this.s2;
        copy.s3 = this.s3;
        return copy;
    }

    /** The next 32 random bits as an unsigned integer in [0, 2^32). */
    nextUint32(): number {
        const s0 = this.s0;
        const s1 = this.s1;
        const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
        const t = s1 << 9;
        this.s2 ^= s0;
        this.s3 ^= s1;
        this.s1 = s1 ^ this.s2;
        this.s0 = s0 ^ this.s3;
        this.s2 ^= t;
        this.s3 = rotl(this.s3, 11);
        return result;
    }

    /** A uniform float in [0, 1) with 53 random bits. */
    float(): number {
        const hi = this.nextUint32() >>> 5; // 27 bits
        const lo = this.nextUint32() >>> 6; // 26 bits
        return (hi * 67108864 + lo) / TWO_POW_53;
    }

    /** A uniform float in [lo, hi). */
    uniform(lo: number, hi: number): number {
        if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) {
            throw new SamplerArgumentError(`uniform(lo, hi) needs finite lo <= hi, got lo=${lo}, hi=${hi}`);
        }
        return lo + (hi - lo) * this.float();
    }

    /**
     * A uniform integer in [0, n), without modulo bias (rejection of the incomplete last block of
     * 2^32). `n` must be an integer in [1, 2^32].
     */
    int(n: number): number {
        if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
            throw new SamplerArgumentError(`int(n) needs an integer n in [1, 2^32], got ${n}`);
        }
        return uniformIntBelow(() => this.nextUint32(), n);
    }

    /** A uniform integer in [lo, hi] (both inclusive). */
    intBetween(lo: number, hi: number): number {
        if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
            throw new SamplerArgumentError(`intBetween(lo, hi) needs integers lo <= hi, got lo=${lo}, hi=${hi}`);
        }
        return lo + this.int(hi - lo + 1);
    }

    /**
     * `k` distinct integers drawn uniformly from [0, n), in uniformly random order. Uses Floyd's
     * algorithm when `k` is small against `n`, a partial Fisher–Yates shuffle otherwise (the choice
     * depends only on `n` and `k`, so results are reproducible).
     */
    sample(n: number, k: number): number[] {
        checkCount("sample", n, k);
        if (k > n) {
            throw new SamplerArgumentError(`sample(n, k) without replacement needs k <= n, got n=${n}, k=${k}`);
        }
        if (k * 8 < n) {
            const chosen = new Set<number>();
            for (let j = n - k; j < n; j++) {
                const t = this.int(j + 1);
                chosen.add(chosen.has(t) ? j : t);
            }
            return this.shuffle([...chosen]);
        }
        const pool = new Uint32Array(n);
        for (let i = 0; i < n; i++) pool[i] = i;
        const out = new Array<number>(k);
        for (let i = 0; i < k; i++) {
            const j = i + this.int(n - i);
            const picked = pool[j] as number;
            pool[j] = pool[i] as number;
            pool[i] = picked;
            out[i] = picked;
        }
        return out;
    }

    /** `k` integers drawn uniformly and independently from [0, n) (with replacement). */
    sampleWithReplacement(n: number, k: number): number[] {
        checkCount("sampleWithReplacement", n, k);
        if (k > 0 && n === 0) {
            throw new SamplerArgumentError(`sampleWithReplacement(n, k) needs n >= 1 when k > 0, got n=0, k=${k}`);
        }
        const out = new Array<number>(k);
        for (let i = 0; i < k; i++) out[i] = this.int(n);
        return out;
    }

    /** Shuffles `items` in place (Fisher–Yates) and returns it. */
    shuffle<T>(items: T[]): T[] {
        return shuffleInPlace(items, (n) => this.int(n));
    }
}

/**
 * A uniform integer in [0, n) from 32-bit draws, without modulo bias (rejection of the incomplete
 * last block of 2^32); `n` is an integer in [1, 2^32], checked by the caller.
 */
export function uniformIntBelow(nextUint32: () => number, n: number): number {
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
        const x = nextUint32();
        if (x < limit) return x % n;
    }
}

/** Fisher–Yates shuffle of `items` in place, `int(n)` drawing in [0, n); returns `items`. */
export function shuffleInPlace<T>(items: T[], int: (n: number) => number): T[] {
    for (let i = items.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = items[i] as T;
        items[i] = items[j] as T;
        items[j] = tmp;
    }
    return items;
}

function checkCount(what: string, n: number, k: number): void {
    if (!Number.isInteger(n) || n < 0 || n > TWO_POW_32 || !Number.isInteger(k) || k < 0) {
        throw new SamplerArgumentError(`${what}(n, k) needs integers n in [0, 2^32] and k >= 0, got n=${n}, k=${k}`);
    }
}

/**
 * The stream for one image at one step: `Rng.fromSeed(seed).split(imageId, step, purpose)`.
 * The same arguments always give the same stream, whatever else was drawn before.
 */
export function rngFor(seed: RngKey, imageId: RngKey, step: number, purpose: string = "prompt"): Rng {
    if (!Number.isSafeInteger(step)) {
        throw new SamplerArgumentError(`rngFor: step must be an integer, got ${step}`);
    }
    return Rng.fromSeed(seed).split(imageId, step, purpose);
}
