// Per-image Dice/IoU with MONAI semantics, binarisation of logits, aggregation with exclusions.
import {
    aggregateOverlap,
    binarize,
    countOverlap,
    countOverlapFromLogits,
    diceFromCounts,
    diceIoU,
    diceIoUFromLogits,
    iouFromCounts,
    type MaskLike,
    MetricArgumentError,
    ShapeMismatchError,
    scoreLogits,
    scoreMask,
} from "@sam-ablate/metrics";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { lcg } from "../helpers/lcg.js";

const mask = (width: number, height: number, bits: number[]): MaskLike => ({
    width,
    height,
    data: Uint8Array.from(bits),
});
const close = (a: number | null, b: number, what = ""): void => {
    assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
};

test("hand-computed case: TP 2, FP 1, FN 1", () => {
    const gt = mask(3, 2, [1, 1, 1, 0, 0, 0]);
    const pred = mask(3, 2, [1, 1, 0, 1, 0, 0]);
    assert.equal(countOverlap(pred, gt), { tp: 2, fp: 1, fn: 1, tn: 2 });
    const s = scoreMask(pred, gt);
    close(s.dice, 4 / 6, "dice");
    close(s.iou, 2 / 4, "iou");
    assert.is(s.excluded, false);
});

test("nonzero bytes count as foreground on both sides", () => {
    const s = scoreMask(mask(2, 2, [255, 7, 0, 0]), mask(2, 2, [1, 0, 0, 9]));
    assert.equal(s.counts, { tp: 1, fp: 1, fn: 1, tn: 1 });
});

test("empty prediction against a non-empty ground truth scores 0 in both modes", () => {
    const gt = mask(2, 2, [0, 1, 1, 0]);
    const pred = mask(2, 2, [0, 0, 0, 0]);
    for (const ignoreEmpty of [true, false]) {
        const s = scoreMask(pred, gt, { ignoreEmpty });
        assert.is(s.dice, 0);
        assert.is(s.iou, 0);
        assert.is(s.excluded, false);
    }
});

test("empty ground truth: excluded with ignoreEmpty (default), else 1 if the prediction is empty, 0 if not", () => {
    const gt = mask(2, 2, [0, 0, 0, 0]);
    const emptyPred = mask(2, 2, [0, 0, 0, 0]);
    const somePred = mask(2, 2, [0, 1, 0, 0]);
    for (const pred of [emptyPred, somePred]) {
        const s = scoreMask(pred, gt);
        assert.equal([s.dice, s.iou, s.excluded], [null, null, true]);
        assert.equal(scoreMask(pred, gt, { ignoreEmpty: true }).excluded, true);
    }
    assert.equal(scoreMask(emptyPred, gt, { ignoreEmpty: false }), {
        dice: 1,
        iou: 1,
        excluded: false,
        counts: { tp: 0, fp: 0, fn: 0, tn: 4 },
    });
    const s = scoreMask(somePred, gt, { ignoreEmpty: false });
    assert.equal([s.dice, s.iou, s.excluded], [0, 0, false]);
    assert.is(diceFromCounts({ tp: 0, fp: 0, fn: 0, tn: 9 }), null);
    assert.is(iouFromCounts({ tp: 0, fp: 3, fn: 0, tn: 9 }, { ignoreEmpty: false }), 0);
});

test("logits are binarised strictly above 0; NaN counts as background", () => {
    const logits = { width: 5, height: 1, data: Float32Array.from([0.001, 0, -0.5, Number.NaN, 3]) };
    assert.equal([...binarize(logits.data)], [1, 0, 0, 0, 1]);
    assert.equal([...binarize(logits.data, 1)], [0, 0, 0, 0, 1]);
    const gt = mask(5, 1, [1, 1, 0, 1, 0]);
    assert.equal(countOverlapFromLogits(logits, gt), { tp: 1, fp: 1, fn: 2, tn: 1 });
    const s = scoreLogits(logits, gt);
    close(s.dice, 2 / 5, "dice");
    close(s.iou, 1 / 4, "iou");
    assert.equal(diceIoUFromLogits(logits.data, gt.data), s);
    assert.equal(diceIoU(binarize(logits.data), gt.data), s);
    assert.throws(
        () => binarize(logits.data, Number.NaN),
        (e: unknown) => e instanceof MetricArgumentError,
    );
});

test("prediction and ground truth must have the same size", () => {
    const isShape = (e: unknown): boolean => e instanceof ShapeMismatchError && e.code === "ERR_SA_SHAPE";
    // Same number of pixels but transposed shapes is still a mismatch.
    assert.throws(() => scoreMask(mask(3, 2, [0, 0, 0, 0, 0, 1]), mask(2, 3, [0, 0, 0, 0, 0, 1])), isShape);
    assert.throws(
        () => scoreLogits({ width: 2, height: 2, data: new Float32Array(4) }, mask(4, 1, [1, 0, 0, 0])),
        isShape,
    );
    assert.throws(() => diceIoU(new Uint8Array(4), new Uint8Array(5)), isShape);
    assert.throws(() => diceIoUFromLogits(new Float32Array(3), new Uint8Array(2)), isShape);
    assert.throws(
        () => scoreMask(mask(2, 2, [0, 1, 0]), mask(2, 2, [0, 1, 0, 0])),
        (e: unknown) => e instanceof MetricArgumentError && e.code === "ERR_SA_INVALID_ARG",
    );
});

test("random masks: counts, Dice and IoU agree with set arithmetic and with each other", () => {
    const next = lcg(12345, 1103515245, 12345);
    for (let t = 0; t < 200; t++) {
        const w = 1 + Math.floor(next() * 20);
        const h = 1 + Math.floor(next() * 20);
        const pg = next();
        const pp = next();
        const gt = new Uint8Array(w * h).map(() => (next() < pg ? 1 : 0));
        const pred = new Uint8Array(w * h).map(() => (next() < pp ? 1 : 0));
        const gtSet = new Set([...gt.keys()].filter((i) => gt[i]));
        const predSet = new Set([...pred.keys()].filter((i) => pred[i]));
        const inter = [...gtSet].filter((i) => predSet.has(i)).length;
        const union = new Set([...gtSet, ...predSet]).size;
        const s = scoreMask(
            { width: w, height: h, data: pred },
            { width: w, height: h, data: gt },
            { ignoreEmpty: false },
        );
        if (union === 0) {
            assert.equal([s.dice, s.iou], [1, 1]);
            continue;
        }
        close(s.iou, inter / union, "iou");
        close(s.dice, (2 * inter) / (gtSet.size + predSet.size), "dice");
        if (s.iou !== null && s.dice !== null) close(s.dice, (2 * s.iou) / (1 + s.iou), "dice from iou");
    }
});

test("aggregation leaves excluded images out and counts them", () => {
    const gtEmpty = mask(2, 1, [0, 0]);
    const gt = mask(2, 1, [1, 1]);
    const images = [
        scoreMask(mask(2, 1, [1, 1]), gt),
        scoreMask(mask(2, 1, [1, 0]), gt),
        scoreMask(mask(2, 1, [1, 0]), gtEmpty),
        scoreMask(mask(2, 1, [0, 0]), gtEmpty),
    ];
    const a = aggregateOverlap(images);
    assert.is(a.n, 2);
    assert.is(a.excluded, 2);
    close(a.meanDice, (1 + 2 / 3) / 2, "mean dice");
    close(a.meanIou, (1 + 1 / 2) / 2, "mean iou");
    // Without ignore_empty the empty-GT images score 0 (non-empty prediction) and 1 (empty prediction).
    const b = aggregateOverlap([
        scoreMask(mask(2, 1, [1, 1]), gt, { ignoreEmpty: false }),
        scoreMask(mask(2, 1, [1, 0]), gtEmpty, { ignoreEmpty: false }),
        scoreMask(mask(2, 1, [0, 0]), gtEmpty, { ignoreEmpty: false }),
    ]);
    assert.equal([b.n, b.excluded], [3, 0]);
    close(b.meanDice, 2 / 3, "mean dice");
    const none = aggregateOverlap([images[2] as (typeof images)[number]]);
    assert.ok(Number.isNaN(none.meanDice) && Number.isNaN(none.meanIou) && none.n === 0 && none.excluded === 1);
});

test.run();
