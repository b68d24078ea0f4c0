/**
 * The seeded generator behind the bootstrap: samplers' `Sfc32.forBootstrap` (SFC32, 32-bit
 * operations only, the seed mixed through a SplitMix32-style finaliser), drawn without modulo bias.
 * Reproducible across platforms for a given seed.
 */
import { Sfc32, uniformIntBelow } from "@sam-ablate/samplers";
import { MetricArgumentError } from "./errors.js";

/** A uniform integer source: `next(n)` returns an integer in [0, n) without modulo bias. */
export interface UniformInts {
    next(n: number): number;
}

/**
 * A seeded uniform integer generator. Integer seeds in the safe range and strings are accepted;
 * equal seeds give equal sequences.
 */
export function seededInts(seed: number | string): UniformInts {
    if (typeof seed !== "string" && !Number.isSafeInteger(seed)) {
        throw new MetricArgumentError(`seed must be a safe integer or a string, got ${String(seed)}`);
    }
    const stream = Sfc32.forBootstrap(seed);
    return {
        next(n: number): number {
            if (!Number.isInteger(n) || n < 1 || n > 4294967296) {
                throw new MetricArgumentError(`uniform integer bound must be in [1, 2^32], got ${n}`);
            }
            return uniformIntBelow(() => stream.uint32(), n);
        },
    };
}
