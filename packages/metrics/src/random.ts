/**
 * The seeded generator behind the bootstrap: SFC32 (Chris Doty-Humphrey's Small Fast Counting
 * generator, 32-bit operations only), seeded by mixing the seed through a SplitMix32-style
 * finaliser. Reproducible across platforms for a given seed.
 */
import { MetricArgumentError } from "./errors.js";

const mix32 = (x: number): number => {
    let z = x | 0;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
};

/** A uniform integer source: `next(n)` returns an integer in [0, n) without modulo bias. */
export interface UniformInts {
    next(n: number): number;
}

/**
 * A seeded uniform integer generator. Integer seeds in the safe range and strings are accepted;
 * equal seeds give equal sequences.
 */
export function seededInts(seed: number | string): UniformInts {
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
        throw new MetricArgumentError(`seed must be a safe integer or a string, got ${String(seed)}`);
    }
    let a = mix32(h0 ^ 0x9e3779b9);
    let b = mix32(h1 ^ 0x7f4a7c15);
    let c = mix32(a ^ b ^ 0x85ebca6b);
    let counter = 1;
    const nextUint32 = (): number => {
        const t = (((a + b) | 0) + counter) | 0;
        counter = (counter + 1) | 0;
        a = b ^ (b >>> 9);
        b = (c + (c << 3)) | 0;
        c = (c << 21) | (c >>> 11);
        c = (c + t) | 0;
        return t >>> 0;
    };
    // Discard the first outputs so that nearby seeds decorrelate.
    for (let i = 0; i < 12; i++) nextUint32();
    return {
        next(n: number): number {
            if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
                throw new MetricArgumentError(`uniform integer bound must be in [1, 2^32], got ${n}`);
            }
            const limit = 4294967296 - (4294967296 % n);
            for (;;) {
                const x = nextUint32();
                if (x < limit) return x % n;
            }
        },
    };
}
