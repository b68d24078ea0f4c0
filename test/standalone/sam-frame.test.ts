// SamFrame: ResizeLongestSide sizes, prompt transforms and batching, low-res targets, errors.
import { PromptBatchError, SamFrame } from "@sam-ablate/model";
import { test } from "uvu";
import * as assert from "uvu/assert";

test("sizes follow ResizeLongestSide (round half up on the short side)", () => {
    const f = new SamFrame(120, 170, 256);
    assert.equal([...f.originalSize], [120, 170]);
    assert.equal([...f.inputSize], [181, 256]);
    assert.equal([...new SamFrame(256, 256, 1024).inputSize], [1024, 1024]);
    assert.equal([...new SamFrame(155, 240, 1024).inputSize], [661, 1024]);
    assert.throws(() => new SamFrame(0, 5, 1024), /positive integer/);
});

test("coordinates and boxes scale by the resized/original ratio per axis", () => {
    const f = new SamFrame(120, 170, 256);
    const pts = f.applyCoords([10, 20, 169, 119]);
    assert.equal(
        [...pts],
        [...Float32Array.of(10 * (256 / 170), 20 * (181 / 120), 169 * (256 / 170), 119 * (181 / 120))],
    );
    assert.equal([...f.applyBoxes([10, 20, 169, 119])], [...pts]);
    assert.throws(() => f.applyBoxes([1, 2, 3]), /whole number of boxes/);
});

test("a batch pads shorter prompts with label -1 and keeps boxes", () => {
    const f = new SamFrame(256, 256, 1024);
    const n = f.toNative([
        { points: [[1, 2]], labels: [1], box: [0, 0, 10, 10] },
        {
            points: [
                [3, 4],
                [5, 6],
            ],
            labels: [1, 0],
            box: [1, 1, 9, 9],
        },
    ]);
    assert.is(n.batch, 2);
    assert.is(n.nPoints, 2);
    assert.equal([...(n.labels ?? [])], [1, -1, 1, 0]);
    assert.equal([...(n.points ?? [])], [4, 8, 0, 0, 12, 16, 20, 24]);
    assert.equal([...(n.boxes ?? [])], [0, 0, 40, 40, 4, 4, 36, 36]);
    const boxOnly = f.toNative([{ points: [], labels: [], box: [0, 0, 1, 1] }], new Float32Array(4));
    assert.is(boxOnly.points, undefined);
    assert.ok(boxOnly.maskInput);
});

test("prompts that cannot be converted fail with ERR_SA_PROMPT", () => {
    const f = new SamFrame(64, 64, 1024);
    const bad = [
        () => f.toNative([]),
        () => f.toNative([{ points: [], labels: [] }]),
        () => f.toNative([{ points: [[1, 1]], labels: [] }]),
        () =>
            f.toNative([
                { points: [[1, 1]], labels: [1], box: [0, 0, 2, 2] },
                { points: [[1, 1]], labels: [1] },
            ]),
    ];
    for (const run of bad) {
        try {
            run();
            assert.unreachable("should throw");
        } catch (e) {
            assert.instance(e, PromptBatchError);
            assert.is((e as PromptBatchError).code, "ERR_SA_PROMPT");
        }
    }
});

test("low-res target: a square patch fills the top-left of the logits grid", () => {
    const mask = new Uint8Array(8 * 8);
    mask[3 * 8 + 5] = 1;
    const same = new SamFrame(8, 8, 32).lowResTarget(mask, 8);
    assert.is(same[3 * 8 + 5], 1);
    assert.is(
        same.reduce((a, v) => a + v, 0),
        1,
    );
    const big = new SamFrame(8, 8, 32).lowResTarget(mask, 16);
    assert.is(
        big.reduce((a, v) => a + v, 0),
        4,
    );
    assert.is(big[6 * 16 + 10], 1);
    // A non-square image leaves padding rows at the bottom.
    const wide = new SamFrame(4, 8, 32).lowResTarget(new Uint8Array(32).fill(1), 8);
    assert.is(
        wide.reduce((a, v) => a + v, 0),
        32,
    );
    assert.is(wide[4 * 8], 0);
});

test.run();
