/**
 * Small deterministic random source (sfc32 seeded through splitmix32). Streams are derived from a
 * seed plus string/number keys, so one patient's data does not depend on how many others exist.
 */
export class Rng {
    private a: number;
    private b: number;
    private c: number;
    private d: number;

    /** Creates the stream for (seed, ...keys). */
    constructor(seed: number, ...keys: (string | number)[]) {
        let h = mix32((Math.trunc(seed) >>> 0) ^ 0x9e3779b9);
        h = mix32(h ^ (Math.trunc(seed / 0x100000000) >>> 0));
        for (const key of keys) h = mix32(h ^ hashKey(key));
        let s = h;
        const next = (): number => {
            s = (s + 0x9e3779b9) >>> 0;
            return mix32(s);
        };
        this.a = next();
        this.b = next();
        this.c = next();
        this.d = next();
        for (let i = 0; i < 12; i++) this.uint32();
    }

    /** Next uniform 32-bit unsigned integer. */
    uint32(): number {
        const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
        this.d = (this.d + 1) >>> 0;
        this.a = this.b ^ (this.b >>> 9);
        this.b = (this.c + (this.c << 3)) >>> 0;
        this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
        this.c = (this.c + t) >>> 0;
        return t;
    }

    /** Uniform float in [0, 1). */
    float(): number {
        return this.uint32() / 4294967296;
    }

    /** Uniform float in [lo, hi). */
    uniform(lo: number, hi: number): number {
        return lo + (hi - lo) * this.float();
    }

    /** Uniform integer in [0, n). */
    int(n: number): number {
        return Math.floor(this.float() * n);
    }

    /** Standard normal (Box-Muller). */
    normal(): number {
        const u = 1 - this.float();
        const v = this.float();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }

    /** Shuffles an array in place (Fisher-Yates) and returns it. */
    shuffle<T>(items: T[]): T[] {
        for (let i = items.length - 1; i > 0; i--) {
            const j = this.int(i + 1);
            const t = items[i] as T;
            items[i] = items[j] as T;
            items[j] = t;
        }
        return items;
    }
}

function mix32(x: number): number {
    let z = x >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
}

function hashKey(key: string | number): number {
    const text = typeof key === "number" ? `#${key}` : `$${key}`;
    let h = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    return h;
}
