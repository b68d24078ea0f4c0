/**
 * Paired comparisons between strategies that share test images: each "with box" against the same
 * points without it, each jittered box against the tight box, and every strategy against the best
 * one of its dataset; two-sided Wilcoxon signed-rank tests on per-image Dice with Holm-adjusted
 * p-values per dataset. Each fine-tuned strategy is also compared with its zero-shot baseline (the
 * pretrained decoder, same prompts); those tests form a family of their own (Holm within it).
 */

import { mean, median, wilcoxonSignedRank } from "@sam-ablate/metrics";
import { parseStrategyId, withoutBoxId } from "./strategies.js";
import { bestStrategy, SummaryCache } from "./summaries.js";
import { csvTable, fmt3, fmtP, fmtSigned, markdownTable, type TextTable } from "./text-table.js";
import type { RunResults, StrategyResult } from "./types.js";

/** Why two strategies are compared. */
export type ComparisonKind = "box effect" | "jitter vs tight box" | "vs best" | "fine-tuned vs zero-shot";

/** One paired test: strategy A against strategy B on the images both evaluated. */
export interface PairedComparison {
    dataset: string;
    kind: ComparisonKind;
    a: string;
    b: string;
    /** Images evaluated by both (per-image Dice averaged over seeds first). */
    nPairs: number;
    /** Mean Dice (%) of A and of B over the shared images. */
    meanA: number;
    meanB: number;
    /** Mean and median of the per-image difference A - B, in percentage points. */
    meanDiff: number;
    medianDiff: number;
    /** Wilcoxon W+ (ranks of A > B) and the two-sided p-value; null when no pair differs. */
    wPlus: number;
    pValue: number | null;
    /** Holm-adjusted p-value within the dataset's family of comparisons. */
    pHolm: number | null;
    method: "exact" | "normal" | "none";
}

/** Per-image Dice (%) of a strategy keyed by image id, averaged over repeated entries (seeds). */
function perImageDice(s: StrategyResult): Map<string, number> {
    const sums = new Map<string, { sum: number; count: number }>();
    for (const r of s.perImage) {
        if (r.dice === null) continue;
        const acc = sums.get(r.imageId) ?? { sum: 0, count: 0 };
        acc.sum += r.dice * 100;
        acc.count += 1;
        sums.set(r.imageId, acc);
    }
    return new Map([...sums].map(([k, v]) => [k, v.sum / v.count]));
}

type Evaluated = Pick<StrategyResult, "id" | "perImage">;

/** The zero-shot side of a strategy as a comparable result (id "<id> zero-shot"), or undefined. */
export function zeroShotSide(s: StrategyResult): Evaluated | undefined {
    return s.zeroShot ? { id: `${s.id} zero-shot`, perImage: s.zeroShot.perImage } : undefined;
}

function compare(dataset: string, kind: ComparisonKind, a: Evaluated, b: Evaluated): PairedComparison {
    const da = perImageDice(a as StrategyResult);
    const db = perImageDice(b as StrategyResult);
    const xa: number[] = [];
    const xb: number[] = [];
    for (const [id, v] of da) {
        const w = db.get(id);
        if (w !== undefined) {
            xa.push(v);
            xb.push(w);
        }
    }
    const diffs = xa.map((v, i) => v - (xb[i] as number));
    const base = { dataset, kind, a: a.id, b: b.id, nPairs: xa.length, pHolm: null };
    if (xa.length === 0) {
        const nan = Number.NaN;
        return {
            ...base,
            meanA: nan,
            meanB: nan,
            meanDiff: nan,
            medianDiff: nan,
            wPlus: 0,
            pValue: null,
            method: "none",
        };
    }
    const w = wilcoxonSignedRank(xa, xb);
    return {
        ...base,
        meanA: mean(xa),
        meanB: mean(xb),
        meanDiff: mean(diffs),
        medianDiff: median(diffs),
        wPlus: w.rankSumPositive,
        pValue: w.method === "none" ? null : w.pValue,
        method: w.method,
    };
}

/** Holm-Bonferroni adjusted p-values (same order as the input), controlling the family-wise error rate. */
export function holmAdjust(pValues: readonly number[]): number[] {
    const m = pValues.length;
    const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
    const adjusted = new Array<number>(m).fill(1);
    let running = 0;
    order.forEach(({ p, i }, k) => {
        running = Math.max(running, Math.min(1, (m - k) * p));
        adjusted[i] = running;
    });
    return adjusted;
}

/** All paired comparisons of a run, dataset by dataset, with Holm-adjusted p-values per dataset. */
export function pairedComparisons(results: RunResults, cache: SummaryCache = new SummaryCache()): PairedComparison[] {
    const out: PairedComparison[] = [];
    for (const d of results.datasets) {
        const byId = new Map(d.strategies.map((s) => [s.id, s]));
        const family: PairedComparison[] = [];
        const seen = new Set<string>();
        const add = (kind: ComparisonKind, a: StrategyResult, b: StrategyResult) => {
            const key = [a.id, b.id].sort().join("\u0000");
            if (seen.has(key) || a.id === b.id) return;
            seen.add(key);
            family.push(compare(d.name, kind, a, b));
        };
        for (const s of d.strategies) {
            const plain = withoutBoxId(s.id);
            const other = plain === undefined ? undefined : byId.get(plain);
            if (other) add("box effect", s, other);
        }
        const box = byId.get("box");
        if (box)
            for (const s of d.strategies)
                if (parseStrategyId(s.id).family === "jitter") add("jitter vs tight box", s, box);
        const best = bestStrategy(d.strategies.map((s) => cache.get(s)));
        const bestResult = best === undefined ? undefined : byId.get(best.id);
        if (bestResult) for (const s of d.strategies) add("vs best", bestResult, s);
        holmInPlace(family);
        out.push(...family);
        out.push(...zeroShotComparisons(d.name, d.strategies));
    }
    return out;
}

function holmInPlace(family: PairedComparison[]): void {
    const tested = family.filter((c) => c.pValue !== null);
    const adjusted = holmAdjust(tested.map((c) => c.pValue as number));
    tested.forEach((c, i) => {
        c.pHolm = adjusted[i] as number;
    });
}

/**
 * Each strategy of a dataset that has a zero-shot baseline against it (A = fine-tuned, B = zero-shot;
 * a positive difference is the gain of fine-tuning), Holm-adjusted within this family.
 */
export function zeroShotComparisons(dataset: string, strategies: readonly StrategyResult[]): PairedComparison[] {
    const out: PairedComparison[] = [];
    for (const s of strategies) {
        const z = zeroShotSide(s);
        if (z) out.push(compare(dataset, "fine-tuned vs zero-shot", s, z));
    }
    holmInPlace(out);
    return out;
}

const HEADERS = [
    "Dataset",
    "Comparison",
    "A",
    "B",
    "n pairs",
    "Dice A",
    "Dice B",
    "Mean diff (pp)",
    "Median diff (pp)",
    "W+",
    "p",
    "p (Holm)",
];

/** The comparisons as preformatted text cells. */
export function comparisonsTextTable(rows: readonly PairedComparison[]): TextTable {
    return {
        headers: HEADERS,
        align: HEADERS.map((_, c) => (c < 4 ? "left" : "right")),
        rows: rows.map((r) => [
            r.dataset,
            r.kind,
            r.a,
            r.b,
            String(r.nPairs),
            fmt3(r.meanA),
            fmt3(r.meanB),
            fmtSigned(r.meanDiff),
            fmtSigned(r.medianDiff),
            r.method === "none" ? "-" : String(r.wPlus),
            r.pValue === null ? "-" : fmtP(r.pValue),
            r.pHolm === null ? "-" : fmtP(r.pHolm),
        ]),
    };
}

/** Explanation printed under the statistics table. */
export const COMPARISONS_NOTE =
    "Two-sided Wilcoxon signed-rank tests on per-image Dice (%) of the test images both strategies evaluated " +
    "(per-image values averaged over seeds; zero differences dropped; exact p-value up to 25 non-zero pairs without " +
    "ties, otherwise the normal approximation with tie and continuity correction). Differences are A - B in percentage points; p (Holm) is adjusted over all " +
    "comparisons of a dataset between strategies, and separately over the dataset's fine-tuned vs zero-shot comparisons " +
    "(B = the pretrained decoder with the same prompts on the same images).";

/** The comparisons as a Markdown document. */
export function comparisonsMarkdown(rows: readonly PairedComparison[]): string {
    const body = rows.length ? markdownTable(comparisonsTextTable(rows)) : "_No two strategies share test images._";
    return `# Paired comparisons (Wilcoxon signed-rank, Dice)\n\n${body}\n\n${COMPARISONS_NOTE}\n`;
}

/** The comparisons as CSV (unrounded). */
export function comparisonsCsv(rows: readonly PairedComparison[]): string {
    return csvTable(
        [
            "dataset",
            "comparison",
            "a",
            "b",
            "n_pairs",
            "dice_a_pct",
            "dice_b_pct",
            "mean_diff_pp",
            "median_diff_pp",
            "w_plus",
            "p_value",
            "p_holm",
            "method",
        ],
        rows.map((r) => [
            r.dataset,
            r.kind,
            r.a,
            r.b,
            r.nPairs,
            r.meanA,
            r.meanB,
            r.meanDiff,
            r.medianDiff,
            r.method === "none" ? null : r.wPlus,
            r.pValue,
            r.pHolm,
            r.method,
        ]),
    );
}
