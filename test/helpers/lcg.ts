// A 32-bit linear congruential generator for reproducible random test inputs.

/** Uniform numbers in [0, 1) from state' = (multiplier * state + increment) mod 2^32, starting at `seed`. */
export function lcg(seed: number, multiplier: number, increment: number): () => number {
    let state = seed >>> 0;
    return () => {
        state = (Math.imul(state, multiplier) + increment) >>> 0;
        return state / 4294967296;
    };
}

/** n random bytes (an image's pixels), one in ten saturated at 0 or 255 so that clipping is exercised. */
export function randomImage(n: number, seed: number): Uint8Array {
    const next = lcg(seed, 1103515245, 12345);
    return Uint8Array.from({ length: n }, () => (next() < 0.1 ? (next() < 0.5 ? 0 : 255) : Math.floor(next() * 256)));
}
