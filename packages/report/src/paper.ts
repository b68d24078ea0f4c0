/**
 * The published results of "Exploring SAM Ablations for Enhancing Medical Segmentation in Radiology
 * and Pathology" (Tables 3, 4 and 5), transcribed as printed: IoU and Dice in percent, "-" as null.
 */
import type { PaperDataset } from "./types.js";

/** One published IoU/Dice pair for one strategy on one of the paper's datasets. */
export interface PaperEntry {
    table: 3 | 4 | 5;
    /** The row name as printed in the paper. */
    experiment: string;
    dataset: PaperDataset;
    /** The strategy id of the configuration the paper ran for this row and dataset. */
    strategyId: string;
    /** Mean IoU in percent; null where the paper prints "-". */
    iou: number | null;
    /** Mean Dice in percent; null where the paper prints "-". */
    dice: number | null;
    /** A remark on the printed numbers. */
    note?: string;
}

/** Table 3's printed "Improvement with BB (%)" columns: relative change from without to with box. */
export interface PaperImprovement {
    positives: 3 | 10 | 50 | 100;
    dataset: PaperDataset;
    iou: number;
    dice: number;
}

/** The paper's two datasets, in the order the paper prints them. */
export const PAPER_DATASETS: readonly PaperDataset[] = ["BCSS", "BraTS 2020"];

/** The paper's dataset of each domain: BraTS 2020 for radiology, BCSS for pathology. */
export const PAPER_DATASET_BY_KIND: Readonly<Record<"radiology" | "pathology", PaperDataset>> = {
    radiology: "BraTS 2020",
    pathology: "BCSS",
};

function e(
    table: 3 | 4 | 5,
    experiment: string,
    dataset: PaperDataset,
    strategyId: string,
    iou: number | null,
    dice: number | null,
    note?: string,
): PaperEntry {
    return note === undefined
        ? { table, experiment, dataset, strategyId, iou, dice }
        : { table, experiment, dataset, strategyId, iou, dice, note };
}

/** Every published IoU/Dice value of Tables 3, 4 and 5. */
export const PAPER_RESULTS: readonly PaperEntry[] = [
    // Table 3: positive points without and with bounding box.
    e(3, "3 Positive Points", "BCSS", "points3", 34.093, 39.056),
    e(3, "3 Positive Points", "BCSS", "points3_box", 72.311, 77.807),
    e(3, "3 Positive Points", "BraTS 2020", "points3", 61.879, 74.217),
    e(3, "3 Positive Points", "BraTS 2020", "points3_box", 66.498, 77.988),
    e(3, "10 Positive Points", "BCSS", "points10", 74.561, 79.697),
    e(3, "10 Positive Points", "BCSS", "points10_box", 75.331, 80.313),
    e(3, "10 Positive Points", "BraTS 2020", "points10", 66.818, 78.351),
    e(3, "10 Positive Points", "BraTS 2020", "points10_box", 68.613, 79.738),
    e(3, "50 Positive Points", "BCSS", "points50", 79.834, 83.511),
    e(3, "50 Positive Points", "BCSS", "points50_box", 79.935, 83.418),
    e(3, "50 Positive Points", "BraTS 2020", "points50", 70.088, 80.799),
    e(3, "50 Positive Points", "BraTS 2020", "points50_box", 71.715, 82.086),
    e(3, "100 Positive Points", "BCSS", "points100", 81.478, 84.409),
    e(3, "100 Positive Points", "BCSS", "points100_box", 81.109, 84.102),
    e(3, "100 Positive Points", "BraTS 2020", "points100", 73.048, 82.947),
    e(3, "100 Positive Points", "BraTS 2020", "points100_box", 73.051, 83.029),
    // Table 4: tight box and box jitter.
    e(4, "Normal Bounding Box", "BCSS", "box", 68.673, 74.524),
    e(4, "Normal Bounding Box", "BraTS 2020", "box", 64.406, 76.139),
    e(4, "Bounding Box with 5% Jitter", "BCSS", "box_jitter5", 40.498, 46.005),
    e(4, "Bounding Box with 5% Jitter", "BraTS 2020", "box_jitter5", 64.771, 76.421),
    e(4, "Bounding Box with 10% Jitter", "BCSS", "box_jitter10", 38.927, 44.768),
    e(4, "Bounding Box with 10% Jitter", "BraTS 2020", "box_jitter10", 64.274, 75.884),
    e(4, "Bounding Box with 20% Jitter", "BCSS", "box_jitter20", 39.962, 45.577),
    e(4, "Bounding Box with 20% Jitter", "BraTS 2020", "box_jitter20", 63.125, 75.026),
    // Table 5: special strategies. The paper's negative-point configuration is its best points
    // configuration with half the points made negative: with box on BraTS, without on BCSS.
    e(
        5,
        "50 Positive + 50 Negative Points",
        "BCSS",
        "pos50_neg50",
        34.093,
        39.056,
        "as printed; identical to Table 3's 3 points without box on BCSS",
    ),
    e(5, "50 Positive + 50 Negative Points", "BraTS 2020", "pos50_neg50_box", 74.6944, 84.492),
    e(5, "Center of Curated Bounding Box", "BCSS", "box_centre", 35.393, 40.532),
    e(5, "Center of Curated Bounding Box", "BraTS 2020", "box_centre", 64.157, 75.92),
    e(5, "Centroid of Ground Truth", "BCSS", "centroid", null, null, "not run in the paper (GPU memory)"),
    e(5, "Centroid of Ground Truth", "BraTS 2020", "centroid", 50.788, 63.384),
    e(
        5,
        "Dividing Ground Truth into 4 Sections",
        "BCSS",
        "four_sections",
        null,
        null,
        "not run in the paper (GPU memory)",
    ),
    e(5, "Dividing Ground Truth into 4 Sections", "BraTS 2020", "four_sections", 57.038, 70.034),
];

/** Table 3's printed improvement columns (relative change in percent, as printed). */
export const PAPER_TABLE3_IMPROVEMENT: readonly PaperImprovement[] = [
    { positives: 3, dataset: "BCSS", iou: 112.099, dice: 99.21 },
    { positives: 3, dataset: "BraTS 2020", iou: 7.465, dice: 5.081 },
    { positives: 10, dataset: "BCSS", iou: 1.033, dice: 0.773 },
    { positives: 10, dataset: "BraTS 2020", iou: 2.686, dice: 1.77 },
    { positives: 50, dataset: "BCSS", iou: 0.127, dice: -0.111 },
    { positives: 50, dataset: "BraTS 2020", iou: 2.321, dice: 1.593 },
    { positives: 100, dataset: "BCSS", iou: -0.453, dice: -0.363 },
    { positives: 100, dataset: "BraTS 2020", iou: 0.004, dice: 0.099 },
];

/** The paper's entries of one table row (one per dataset the paper printed it for). */
export function paperRow(table: 3 | 4 | 5, experiment: string): PaperEntry[] {
    return PAPER_RESULTS.filter((r) => r.table === table && r.experiment === experiment);
}

/** The paper's entry for exactly this strategy id on a dataset, or undefined when the paper did not run it there. */
export function paperEntryForStrategy(strategyId: string, dataset: PaperDataset): PaperEntry | undefined {
    return PAPER_RESULTS.find((r) => r.strategyId === strategyId && r.dataset === dataset);
}
