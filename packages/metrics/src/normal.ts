/**
 * The standard normal distribution's tail, from a complementary error function accurate to about
 * 1e-14 relative: a positive-term series of erf for |x| < 2 and a Lentz continued fraction of
 * erfc beyond.
 */

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

function erfSeries(x: number): number {
    // erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_k 2^k x^(2k+1) / (1 * 3 * ... * (2k+1)); every term is positive.
    const x2 = x * x;
    let term = x;
    let total = x;
    for (let k = 1; k < 200; k++) {
        term *= (2 * x2) / (2 * k + 1);
        total += term;
        if (term < total * 1e-17) break;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * total;
}

function erfcContinuedFraction(x: number): number {
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))), x > 0.
    const tiny = 1e-300;
    let f = x;
    let c = x;
    let d = 0;
    for (let k = 1; k < 500; k++) {
        const a = k / 2;
        d = x + a * d;
        d = Math.abs(d) < tiny ? tiny : d;
        c = x + a / c;
        c = Math.abs(c) < tiny ? tiny : c;
        d = 1 / d;
        const delta = c * d;
        f *= delta;
        if (Math.abs(delta - 1) < 1e-16) break;
    }
    return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / f;
}

/** The complementary error function erfc(x) = 1 - erf(x). */
export function erfc(x: number): number {
    if (Number.isNaN(x)) return Number.NaN;
    if (x < 0) return 2 - erfc(-x);
    if (x < 2) return 1 - erfSeries(x);
    return erfcContinuedFraction(x);
}

/** P(Z > z) for a standard normal Z. */
export function normalSf(z: number): number {
    return 0.5 * erfc(z / Math.SQRT2);
}

/** P(Z <= z) for a standard normal Z. */
export function normalCdf(z: number): number {
    return 0.5 * erfc(-z / Math.SQRT2);
}
