/**
 * Relative improvement as in the paper's Table 3: how much a score changes when a box is added.
 */

/**
 * (withValue - withoutValue) / withoutValue x 100, in percent (e.g. 34.093 -> 72.311 gives
 * +112.099). IEEE division semantics: a zero baseline gives +-Infinity, or NaN when both are zero.
 */
export function relativeImprovement(withValue: number, withoutValue: number): number {
    return ((withValue - withoutValue) / withoutValue) * 100;
}
