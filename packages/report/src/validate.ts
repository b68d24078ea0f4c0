/** Consistency checks of run results before anything is rendered. */
import { quoted, ReportError } from "./errors.js";
import { checkSample } from "./figures/overlay.js";
import type { RunResults } from "./types.js";

function fail(message: string): never {
    throw new ReportError("ERR_SA_REPORT_INPUT", message);
}

function checkMetric(v: unknown, where: string): void {
    if (v === null) return;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1) {
        fail(`${where}: expected a fraction in [0, 1] or null, got ${quoted(v)}`);
    }
}

/**
 * Throws ERR_SA_REPORT_INPUT, naming the dataset, strategy and image, when run results are
 * inconsistent: duplicate dataset or strategy names, metrics outside [0, 1], a Dice that is null
 * where the IoU is not (or the reverse), negative counts, or sample arrays of the wrong size.
 */
export function validateRunResults(results: RunResults): void {
    if (!results || !Array.isArray(results.datasets)) fail("run results: `datasets` must be an array");
    const names = new Set<string>();
    for (const d of results.datasets) {
        const dn = `dataset "${d.name}"`;
        if (typeof d.name !== "string" || d.name.length === 0) fail("run results: a dataset has no name");
        if (names.has(d.name)) fail(`run results: ${dn} appears twice`);
        names.add(d.name);
        if (d.kind !== "radiology" && d.kind !== "pathology")
            fail(`${dn}: kind must be "radiology" or "pathology", got ${quoted(d.kind)}`);
        if (d.paperName !== undefined && d.paperName !== "BCSS" && d.paperName !== "BraTS 2020") {
            fail(`${dn}: paperName must be "BCSS" or "BraTS 2020", got ${quoted(d.paperName)}`);
        }
        for (const key of ["nTrain", "nTest"] as const) {
            if (!Number.isInteger(d[key]) || d[key] < 0)
                fail(`${dn}: ${key} must be a non-negative integer, got ${d[key]}`);
        }
        const ids = new Set<string>();
        for (const s of d.strategies) {
            const sn = `${dn}, strategy "${s.id}"`;
            if (typeof s.id !== "string" || s.id.length === 0) fail(`${dn}: a strategy has no id`);
            if (ids.has(s.id)) fail(`${sn} appears twice`);
            ids.add(s.id);
            if (!Number.isInteger(s.excluded) || s.excluded < 0)
                fail(`${sn}: excluded must be a non-negative integer, got ${s.excluded}`);
            for (const r of s.perImage) {
                const where = `${sn}, image "${r.imageId}"`;
                checkMetric(r.dice, `${where} dice`);
                checkMetric(r.iou, `${where} iou`);
                if ((r.dice === null) !== (r.iou === null))
                    fail(`${where}: dice and iou must both be null (excluded) or both set`);
            }
            for (const f of s.folds ?? []) {
                if (!Number.isInteger(f.fold) || f.fold < 0)
                    fail(`${sn}: fold ${JSON.stringify(f.fold)} is not a fold number`);
                if (!Number.isInteger(f.n) || f.n < 0) fail(`${sn}, fold ${f.fold}: n must be a non-negative integer`);
                if (f.n > 0) {
                    checkMetric(f.dice, `${sn}, fold ${f.fold} dice`);
                    checkMetric(f.iou, `${sn}, fold ${f.fold} iou`);
                }
                if (!Array.isArray(f.perSeed)) fail(`${sn}, fold ${f.fold}: perSeed must be an array`);
            }
            if (s.zeroShot !== undefined) {
                if (!Array.isArray(s.zeroShot.perImage)) fail(`${sn}: zeroShot.perImage must be an array`);
                if (!Number.isInteger(s.zeroShot.excluded) || s.zeroShot.excluded < 0)
                    fail(`${sn}: zeroShot.excluded must be a non-negative integer, got ${s.zeroShot.excluded}`);
                for (const r of s.zeroShot.perImage) {
                    const where = `${sn}, zero-shot, image "${r.imageId}"`;
                    checkMetric(r.dice, `${where} dice`);
                    checkMetric(r.iou, `${where} iou`);
                    if ((r.dice === null) !== (r.iou === null))
                        fail(`${where}: dice and iou must both be null (excluded) or both set`);
                }
            }
            if (s.lossCurve !== undefined && !Array.isArray(s.lossCurve))
                fail(`${sn}: lossCurve must be an array of numbers`);
            for (const sample of s.samples ?? []) checkSample(sample, sn);
            if (s.selection !== undefined) {
                const v = s.selection;
                if (v.mode !== "best-val" && v.mode !== "last")
                    fail(`${sn}: selection.mode must be "best-val" or "last"`);
                if (!Array.isArray(v.curve) || !Array.isArray(v.epochs))
                    fail(`${sn}: selection.curve and selection.epochs must be arrays`);
                for (const p of v.curve) {
                    if (!Number.isFinite(p.epoch)) fail(`${sn}: selection.curve has an epoch that is not a number`);
                    checkMetric(p.dice, `${sn} validation dice`);
                }
            }
        }
    }
}
