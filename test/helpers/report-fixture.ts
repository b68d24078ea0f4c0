// Synthetic run results for the report tests: two datasets (one named like the paper's, one a
// phantom), deterministic per-image metrics, loss curves, samples with a disc-shaped lesion.
import type { DatasetResults, RunResults, Sample, StrategyResult } from "@sam-ablate/report";

/** Deterministic uniform numbers in [0, 1) from a seed. */
export function uniform(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** What a drawn sample shows at one pixel: its RGB colour, ground truth and prediction. */
export type Pixel = (x: number, y: number) => { rgb: [number, number, number]; gt: boolean; pred: boolean };

/** A w x h sample drawn pixel by pixel, with its prompts and the Dice of its prediction. */
export function drawnSample(
    imageId: string,
    w: number,
    h: number,
    pixel: Pixel,
    prompts: Pick<Sample, "points" | "labels" | "box">,
): Sample {
    const image = new Uint8Array(w * h * 3);
    const gt = new Uint8Array(w * h);
    const pred = new Uint8Array(w * h);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
            const i = y * w + x;
            const p = pixel(x, y);
            image.set(p.rgb, 3 * i);
            gt[i] = p.gt ? 1 : 0;
            pred[i] = p.pred ? 1 : 0;
            if (p.gt && p.pred) tp++;
            else if (p.pred) fp++;
            else if (p.gt) fn++;
        }
    }
    return { imageId, width: w, height: h, image, gt, pred, ...prompts, dice: (2 * tp) / (2 * tp + fp + fn) };
}

/** A w x h sample: grey gradient image, disc ground truth, shifted disc prediction, prompts. */
export function discSample(imageId: string, w = 48, h = 40, withNegative = true): Sample {
    const points: [number, number][] = [
        [20, 18],
        [16, 15],
    ];
    const labels = [1, 1];
    if (withNegative) {
        points.push([40, 5]);
        labels.push(0);
    }
    const pixel: Pixel = (x, y) => {
        const v = 60 + Math.round((150 * x) / w);
        return {
            rgb: [v, v, 200 - Math.round((100 * y) / h)],
            gt: (x - 20) ** 2 + (y - 18) ** 2 <= 81,
            pred: (x - 22) ** 2 + (y - 19) ** 2 <= 81,
        };
    };
    return drawnSample(imageId, w, h, pixel, { points, labels, box: [11, 9, 29, 27] });
}

/** A strategy whose per-image Dice is around `meanDice` (fraction), with `excluded` empty-GT images. */
export function strategy(
    id: string,
    label: string,
    meanDice: number,
    nImages: number,
    seed: number,
    excluded = 0,
): StrategyResult {
    const next = uniform(seed);
    const perImage = [];
    for (let i = 0; i < nImages; i++) {
        const dice = Math.min(1, Math.max(0, meanDice + (next() - 0.5) * 0.3));
        perImage.push({
            imageId: `img${String(i).padStart(3, "0")}`,
            patient: `p${Math.floor(i / 4)}`,
            dice,
            iou: dice / (2 - dice),
        });
    }
    for (let i = 0; i < excluded; i++)
        perImage.push({ imageId: `empty${i}`, patient: "p-empty", dice: null, iou: null });
    return { id, label, seeds: [0], perImage, excluded };
}

/** A run of the given datasets (title and creator "t", empty config). */
export function runOf(...datasets: DatasetResults[]): RunResults {
    return { title: "t", createdBy: "t", config: {}, datasets };
}

/** Two datasets with most of the paper's grid, a few strategies left out on purpose. */
export function syntheticRun(): RunResults {
    const brats: DatasetResults = {
        name: "BraTS 2020",
        kind: "radiology",
        paperName: "BraTS 2020",
        nTrain: 200,
        nTest: 42,
        strategies: [
            strategy("points3", "3 points", 0.74, 40, 1, 2),
            strategy("points3_box", "3 points + box", 0.78, 40, 2, 2),
            strategy("points10", "10 points", 0.78, 40, 3, 2),
            strategy("points10_box", "10 points + box", 0.8, 40, 4, 2),
            strategy("box", "box", 0.76, 40, 5, 2),
            strategy("box_jitter5", "box, 5% jitter", 0.75, 40, 6, 2),
            strategy("pos50_neg50_box", "50 pos + 50 neg + box", 0.84, 40, 7, 2),
            strategy("centroid", "GT centroid", 0.63, 40, 8, 2),
        ],
    };
    brats.strategies.forEach((s, k) => {
        s.lossCurve = Array.from({ length: 12 }, (_, e) => 0.9 * Math.exp(-e / (3 + k)) + 0.15 + 0.02 * k);
        s.trainSeconds = 30 + k;
    });
    (brats.strategies[7] as StrategyResult).notes = ["centroid outside mask in 12% of images"];
    (brats.strategies[1] as StrategyResult).samples = [discSample("img000"), discSample("img001", 48, 40, false)];
    const phantom: DatasetResults = {
        name: "phantom pathology",
        kind: "pathology",
        nTrain: 100,
        nTest: 30,
        strategies: [
            strategy("points3", "3 points", 0.4, 30, 11),
            strategy("points10", "10 points", 0.8, 30, 12),
            strategy("box", "box", 0.74, 30, 13),
            strategy("pos50_neg50", "50 pos + 50 neg", 0.4, 30, 14),
            strategy("four_sections", "4 sections", 0.6, 30, 15),
        ],
    };
    return {
        title: "Synthetic ablation",
        createdBy: "sam-ablate test",
        config: { epochs: 2, note: "<synthetic & small>" },
        datasets: [brats, phantom],
    };
}
