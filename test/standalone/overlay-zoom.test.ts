// The zoomed inset of an overlay: a small tumour gets one (around the ground truth, prediction and
// box, whatever the points), a large one does not; the figure then holds a nested, magnified view.
import { overlayFigure, type Sample, zoomRegion } from "@sam-ablate/report";
import { test } from "uvu";
import * as assert from "uvu/assert";

function sample(radius: number, negatives: [number, number][] = []): Sample {
    const w = 256;
    const h = 256;
    const gt = new Uint8Array(w * h);
    for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) gt[y * w + x] = (x - 60) ** 2 + (y - 200) ** 2 <= radius ** 2 ? 1 : 0;
    return {
        imageId: "s",
        width: w,
        height: h,
        image: new Uint8Array(w * h * 3),
        gt,
        pred: gt.slice(),
        points: [[60, 200], ...negatives],
        labels: [1, ...negatives.map(() => 0)],
        box: [60 - radius, 200 - radius, 60 + radius, 200 + radius],
        dice: 1,
    };
}

test("a 20-pixel tumour gets a zoom region around it; negative points far away do not widen it", () => {
    const spread: [number, number][] = [
        [5, 5],
        [250, 10],
        [240, 250],
    ];
    const z = zoomRegion(sample(2.5, spread));
    assert.ok(z, "no zoom region for a small tumour");
    assert.ok(z.size >= 16 && z.size < 40, `size ${z.size}`);
    assert.ok(z.x <= 57 && z.x + z.size >= 63 && z.y <= 197 && z.y + z.size >= 203, JSON.stringify(z));
    const svg = overlayFigure(sample(2.5, spread), new Uint8Array([1]), { title: "t" });
    assert.match(svg, new RegExp(`<svg [^>]*viewBox="${z.x} ${z.y} ${z.size} ${z.size}"`));
    assert.match(svg, /zoom x\d/);
    // the inset sits in the corner farthest from the tumour (tumour bottom-left: inset top-right)
    const m = /<svg x="([\d.]+)" y="([\d.]+)"/.exec(svg);
    assert.ok(m && Number(m[1]) > 180 && Number(m[2]) < 100, m?.[0]);
});

test("a large tumour gets no inset; the legend lists only the prompt types present", () => {
    assert.is(zoomRegion(sample(60)), undefined);
    const s = sample(60);
    const svg = overlayFigure(s, new Uint8Array([1]), { title: "t" });
    assert.not.match(svg, /zoom x/);
    assert.match(svg, />positive point</);
    assert.not.match(svg, />negative point</);
    assert.match(svg, />box</);
    const { box: _b, ...noBox } = s;
    assert.not.match(
        overlayFigure({ ...noBox, points: [], labels: [] }, new Uint8Array([1]), { title: "t" }),
        />box<|>positive point</,
    );
});

test.run();
