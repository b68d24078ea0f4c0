/**
 * SFC32 (the Small Fast Counting generator, 32-bit operations only) with the two seedings whose
 * streams are pinned by the golden and e2e tests, so their bits never change:
 * - `Sfc32.forKeys(seed, ...keys)`: phantom data, patient splits and folds. The seed is mixed with
 *   murmur3's 32-bit finaliser, each key (tagged: `#5` for a number, `$5` for a string) hashed with
 *   FNV-1a, the state filled from a Weyl sequence; a stream depends only on its own keys.
 * - `Sfc32.forBootstrap(seed)`: the metrics' bootstrap (an integer or string seed, other finaliser
 *   constants, counter starting at 1).
 * Both discard their first 12 outputs. New code draws from `Rng` (xoshiro128**, splittable).
 */
import { SamplerArgumentError } from "./errors.js";
import { shuffleInPlace } from "./rng.js";

const GOLDEN = 0x9e3779b9;

/** murmur3's fmix32. */
function fmix32(x: number): number {
    let z = x >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
}

/** The bootstrap's finaliser (other multipliers and shifts than fmix32). */
function mixBootstrap(x: number): number {
    let z = x | 0;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
}

function hashKey(key: string | number): number {
    const text = typeof key === "number" ? `#${key}` : `$${key}`;
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    return h;
}

/** A seeded SFC32 stream; see the module documentation for its two seedings. */
export class Sfc32 {
    private a: number;
    private b: number;
    private c: number;
    private counter: number;

    private constructor(a: number, b: number, c: number, counter: number) {
        this.a = a;
        this.b = b;
        this.c = c;
        this.counter = counter;
        for (let i = 0; i < 12; i++) this.uint32();
    }

    /** The stream for (seed, ...keys) of the data package (phantoms, splits, folds). */
    static forKeys(seed: number, ...keys: (string | number)[]): Sfc32 {
        let h = fmix32((Math.trunc(seed) >>> 0) ^ GOLDEN);
        h = fmix32(h ^ (Math.trunc(seed / 0x100000000) >>> 0));
        for (const key of keys) h = fmix32(h ^ hashKey(key));
        let s = h;
        const next = (): number => {
            s = (s + GOLDEN) >>> 0;
            return fmix32(s);
        };
        const a = next();
        const b = next();
        const c = next();
        return new Sfc32(a, b, c, next());
    }

    /** The bootstrap's stream for a safe-integer or string seed. */
    static forBootstrap(seed: number | string): Sfc32 {
        let h0: number;
        let h1: number;
        if (typeof seed === "string") {
            // FNV-1a over the UTF-16 code units, twice with different offsets.
            h0 = 0x811c9dc5;
            h1 = 0x01000193;
            for (let i = 0; i < seed.length; i++) {
                const c = seed.charCodeAt(i);
                h0 = Math.imul(h0 ^ c, 0x01000193);
                h1 = Math.imul(h1 ^ c, 0x01000193) ^ (h1 >>> 13);
            }
        } else if (Number.isSafeInteger(seed)) {
            h0 = seed >>> 0;
            h1 = Math.floor(seed / 4294967296) >>> 0;
        } else {
            throw new SamplerArgumentError(`seed must be a safe integer or a string, got ${String(seed)}`);
        }
        const a = mixBootstrap(h0 ^ GOLDEN);
        const b = mixBootstrap(h1 ^ 0x7f4a7c15);
        return new Sfc32(a, b, mixBootstrap(a ^ b ^ 0x85ebca6b), 1);
    }

    /** Next uniform 32-bit unsigned integer. */
    uint32(): number {
        const t = (((this.a + this.b) >>> 0) + this.counter) >>> 0;
        this.counter = (this.counter + 1) >>> 0;
        this.a = this.b ^ (this.b >>> 9);
        this.b = (this.c + (this.c << 3)) >>> 0;
        this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
        this.c = (this.c + t) >>> 0;
        return t;
    }

    /** Uniform float in [0, 1) (32 random bits). */
    float(): number {
        return this.uint32() / 4294967296;
    }

    /** Uniform float in [lo, hi). */
    uniform(lo: number, hi: number): number {
        return lo + (hi - lo) * this.float();
    }

    /** Integer in [0, n) scaled from `float()` (the data package's pinned draw; `Rng.int` is unbiased). */
    int(n: number): number {
        return Math.floor(this.float() * n);
    }

    /** Standard normal (Box-Muller). */
    normal(): number {
        const u = 1 - this.float();
        const v = this.float();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    /** Shuffles an array in place (Fisher-Yates over `int`) and returns it. */
    shuffle<T>(items: T[]): T[] {
        return shuffleInPlace(items, (n) => this.int(n));
    }
}
