// A 32-bit linear congruential generator for reproducible random test inputs.

/** Uniform numbers in [0, 1) from state' = (multiplier * state + increment) mod 2^32, starting at `seed`. */
export function lcg(seed: number, multiplier: number, increment: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (Math.imul(state, multiplier) + increment) >>> 0;
        return state / 4294967296;
    };
}
