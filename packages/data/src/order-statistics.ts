import { DataError } from "./errors.js";

/**
 * Percentile of ascending-sorted values with linear interpolation between closest ranks (NumPy's
 * default "linear" method). `p` is in [0, 100].
 */
export function percentileOfSorted(sorted: ArrayLike<number>, p: number): number {
    const n = sorted.length;
    checkPercentiles(n, [p]);
    const pos = ((n - 1) * p) / 100;
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, n - 1);
    const a = sorted[lo] as number;
    const b = sorted[hi] as number;
    return a + (b - a) * (pos - lo);
}

/** Refuses an empty set and a percentile outside [0, 100]. */
function checkPercentiles(n: number, ps: readonly number[]): void {
    if (n === 0) throw new DataError("ERR_SA_DATA", "percentile of an empty set");
    for (const p of ps)
        if (!(p >= 0 && p <= 100)) throw new DataError("ERR_SA_DATA", `percentile must be in [0, 100], got ${p}`);
}

/**
 * Percentiles of unsorted values with NumPy's default "linear" method, the numbers
 * percentileOfSorted gives on the same values sorted ascending (NaN after every number, as
 * Float64Array#sort orders them), without sorting: the ranks they interpolate between are put in
 * place by one selection (quickselect over several ranks at once: Hoare partitions around a median
 * of three, each going on into the sides that hold a wanted rank, and a sort of the remaining range
 * when partitions keep coming out lopsided, so it never costs more than a sort), or, when every value
 * is a whole number within a span of 2^22 (an MR scanner's integers), read off a histogram. The
 * millions of voxels of a 240 x 240 x 155 MR volume take two or three passes instead of an n log n
 * sort.
 * `values` is reordered in place; `ps` are in [0, 100]. `partitions` (default 2) scales the number
 * of partitions allowed before the fallback sort, 2 log2(n) by default; 0 sorts at once (and skips
 * the histogram).
 */
export function percentiles(values: Float64Array, ps: readonly number[], partitions = 2): number[] {
    const n = values.length;
    checkPercentiles(n, ps);
    // NaN takes the top ranks (m and up); the m numbers, moved to the front, are selected among.
    let m = 0;
    for (let i = 0; i < n; i++) {
        const v = values[i] as number;
        if (!Number.isNaN(v)) values[m++] = v;
    }
    // The ranks each percentile interpolates between, put in place by one selection over all of them.
    const wanted = ps.map((p) => {
        const pos = ((n - 1) * p) / 100;
        const lo = Math.floor(pos);
        return { lo, hi: Math.min(lo + 1, n - 1), t: pos - lo };
    });
    const ranks = [...new Set(wanted.flatMap((w) => [w.lo, w.hi]))].sort((x, y) => x - y);
    const inside = ranks.filter((r) => r < m);
    const at = new Map(ranks.map((r) => [r, Number.NaN]));
    const counted = inside.length > 0 && partitions > 0 ? countedRanks(values, m, inside) : undefined;
    if (counted) {
        for (const [i, r] of inside.entries()) at.set(r, counted[i] as number);
    } else if (inside.length > 0) {
        selectRanks(values, 0, m - 1, inside, partitions * Math.ceil(Math.log2(m + 1)));
        for (const r of inside) at.set(r, values[r] as number);
    }
    return wanted.map(({ lo, hi, t }) => {
        const a = at.get(lo) as number;
        const b = at.get(hi) as number;
        return a + (b - a) * t;
    });
}

/** The widest span of whole numbers counted in a histogram instead of selected (16 MiB of counts). */
const MAX_COUNTED_SPAN = 1 << 22;

/**
 * The values at `ranks` (ascending) among a[0..m) when they are all whole numbers spanning at most
 * MAX_COUNTED_SPAN (MR scanners store 16-bit integers): one histogram pass and a walk over the
 * counts, no data moved. Undefined for any other data.
 */
function countedRanks(a: Float64Array, m: number, ranks: number[]): number[] | undefined {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < m; i++) {
        const v = a[i] as number;
        if (v !== Math.floor(v)) return undefined;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    if (!(hi - lo < MAX_COUNTED_SPAN)) return undefined;
    const counts = new Uint32Array(hi - lo + 1);
    for (let i = 0; i < m; i++) {
        const bin = (a[i] as number) - lo;
        counts[bin] = (counts[bin] as number) + 1;
    }
    const out: number[] = [];
    let below = 0; // values in the bins before bin b
    let b = 0;
    for (const r of ranks) {
        while (below + (counts[b] as number) <= r) below += counts[b++] as number;
        out.push(lo + b);
    }
    return out;
}

/** Below this many values a range is sorted instead of partitioned. */
const SORT_BELOW = 32;

/**
 * Puts the k-th smallest of a[left..right] (no NaN) at index k for every k of `ranks` (ascending,
 * within the range), with every value before it <= it and every value after it >= it. Each partition
 * goes on into the sides that hold a wanted rank; after `budget` partitions along one path the
 * range is sorted, so the work stays O(n log n) at worst.
 */
function selectRanks(a: Float64Array, left: number, right: number, ranks: number[], budget: number): void {
    while (ranks.length > 0) {
        if (right - left < SORT_BELOW || budget-- <= 0) {
            a.subarray(left, right + 1).sort();
            return;
        }
        const mid = left + ((right - left) >> 1);
        const pivot = medianOf3(a[left] as number, a[mid] as number, a[right] as number);
        let i = left;
        let j = right;
        while (i <= j) {
            while ((a[i] as number) < pivot) i++;
            while ((a[j] as number) > pivot) j--;
            if (i <= j) {
                const x = a[i] as number;
                a[i] = a[j] as number;
                a[j] = x;
                i++;
                j--;
            }
        }
        // [left, j] <= pivot, [i, right] >= pivot, and whatever lies between equals the pivot (those
        // ranks are in place).
        const below = ranks.filter((k) => k <= j);
        const above = ranks.filter((k) => k >= i);
        if (below.length > 0 && above.length > 0) selectRanks(a, left, j, below, budget);
        if (above.length > 0) {
            left = i;
            ranks = above;
        } else {
            right = j;
            ranks = below;
        }
    }
}

function medianOf3(a: number, b: number, c: number): number {
    // no NaN here, so Math.min/max pick the same value the comparisons would
    return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
}
