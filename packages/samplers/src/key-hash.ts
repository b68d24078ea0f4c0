/**
 * Hashing of RNG derivation keys (seeds, image ids, steps, purposes) into 128-bit stream keys.
 *
 * Keys are encoded into 32-bit words with a type tag (so the number 5 and the string "5" differ),
 * absorbed one word at a time into a 4-word state that is stirred with ChaCha quarter rounds, and
 * finalised with further rounds. Only 32-bit integer arithmetic is used (no BigInt).
 */
import { SamplerArgumentError } from "./errors.js";

/** A value that identifies a random stream: a seed, an image id, a step index or a purpose label. */
export type RngKey = string | number;

/** A 128-bit stream key as four unsigned 32-bit words. */
export type StreamKey = readonly [number, number, number, number];

const TAG_INT = 0x1b873593;
const TAG_FLOAT = 0x85ebca6b;
const TAG_STRING = 0xc2b2ae35;

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));

/** The mutable sponge state, kept in a small object so that the rounds stay allocation-free. */
interface Sponge {
    a: number;
    b: number;
    c: number;
    d: number;
    words: number;
}

function rounds(s: Sponge, count: number): void {
    let { a, b, c, d } = s;
    for (let r = 0; r < count; r++) {
        a = (a + b) | 0;
        d = rotl(d ^ a, 16);
        c = (c + d) | 0;
        b = rotl(b ^ c, 12);
        a = (a + b) | 0;
        d = rotl(d ^ a, 8);
        c = (c + d) | 0;
        b = rotl(b ^ c, 7);
        // A round constant breaks the symmetry of the all-equal fixed points of the quarter round.
        a = (a + Math.imul(r + 1, 0x9e3779b9)) | 0;
    }
    s.a = a;
    s.b = b;
    s.c = c;
    s.d = d;
}

function absorb(s: Sponge, word: number): void {
    s.a ^= word;
    s.words++;
    rounds(s, 2);
}

const float64 = new Float64Array(1);
const float64Words = new Uint32Array(float64.buffer);

function absorbKey(s: Sponge, key: RngKey): void {
    if (typeof key === "string") {
        absorb(s, TAG_STRING);
        absorb(s, key.length);
        for (let i = 0; i < key.length; i += 2) {
            const lo = key.charCodeAt(i);
            const hi = i + 1 < key.length ? key.charCodeAt(i + 1) : 0;
            absorb(s, lo | (hi << 16));
        }
        return;
    }
    if (typeof key !== "number" || !Number.isFinite(key)) {
        throw new SamplerArgumentError(
            `random stream key must be a string or a finite number, got ${String(key)} (${typeof key})`,
        );
    }
    if (Number.isSafeInteger(key)) {
        const magnitude = Math.abs(key);
        absorb(s, TAG_INT ^ (key < 0 ? 1 : 0));
        absorb(s, magnitude >>> 0);
        absorb(s, Math.floor(magnitude / 4294967296) >>> 0);
        return;
    }
    float64[0] = key;
    absorb(s, TAG_FLOAT);
    absorb(s, float64Words[0] ?? 0);
    absorb(s, float64Words[1] ?? 0);
}

/**
 * Derives a 128-bit stream key from a parent key (or none, for a root) and a list of keys.
 * Pure: the same inputs always give the same output.
 */
export function deriveStreamKey(parent: StreamKey | null, keys: readonly RngKey[]): StreamKey {
    const s: Sponge = { a: 0x61707865, b: 0x3320646e, c: 0x79622d32, d: 0x6b206574, words: 0 };
    absorb(s, parent === null ? 0 : 1);
    if (parent !== null) {
        for (const w of parent) absorb(s, w);
    }
    absorb(s, keys.length);
    for (const key of keys) absorbKey(s, key);
    s.b ^= s.words;
    rounds(s, 10);
    let { a, b, c, d } = s;
    // xoshiro128** must not start from the all-zero state.
    if ((a | b | c | d) === 0) a = 0x9e3779b9;
    return [a >>> 0, b >>> 0, c >>> 0, d >>> 0];
}
