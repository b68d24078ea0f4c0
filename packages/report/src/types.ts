/**
 * The input of the report: what an ablation run produced. The ablation runner writes exactly this
 * shape; every metric is a fraction in [0, 1] (tables and figures show percent).
 */

/** The paper's dataset names, used to put the published numbers beside ours. */
export type PaperDataset = "BCSS" | "BraTS 2020";

/** A whole ablation run: one or more datasets, each with the strategies that were trained and evaluated. */
export interface RunResults {
    /** Title shown at the top of the report. */
    title: string;
    /** The tool and its version that produced the run, e.g. "sam-ablate 0.1.0". */
    createdBy: string;
    /** The resolved configuration of the run, shown verbatim (as JSON) in the report. */
    config: unknown;
    datasets: DatasetResults[];
}

/** The results of all strategies on one dataset. */
export interface DatasetResults {
    name: string;
    kind: "radiology" | "pathology";
    /** Set when the dataset is the paper's own; otherwise the paper's dataset of the same kind is shown as a reference. */
    paperName?: PaperDataset;
    /** Number of training patches. */
    nTrain: number;
    /** Number of test patches (including those excluded for an empty ground truth; with folds: over the evaluated folds). */
    nTest: number;
    /** Patient-level cross-validation: the number of folds K and those evaluated (their test images are pooled in `perImage`). */
    folds?: { k: number; evaluated: number[] };
    strategies: StrategyResult[];
}

/** One cross-validation fold of a strategy: means over the fold's own test images. */
export interface FoldResult {
    fold: number;
    /** Evaluated (not excluded) test images of the fold. */
    n: number;
    /** Mean Dice and IoU in [0, 1] over the fold's images, seeds averaged per image (NaN: no image evaluated). */
    dice: number;
    iou: number;
    /** The fold's mean Dice of each training seed, in [0, 1]. */
    perSeed: { seed: number; dice: number }[];
}

/** One evaluated test image. `null` metrics mark an image excluded for an empty ground truth. */
export interface PerImageResult {
    imageId: string;
    patient: string;
    /** Dice in [0, 1]; null = excluded (empty ground truth). */
    dice: number | null;
    /** IoU in [0, 1]; null = excluded (empty ground truth). */
    iou: number | null;
}

/** The pretrained decoder's per-image results with a strategy's evaluation prompts. */
export interface ZeroShotResult {
    perImage: PerImageResult[];
    /** Number of test images excluded for an empty ground truth. */
    excluded: number;
}

/** One prompt strategy trained and evaluated on one dataset. */
export interface StrategyResult {
    /** Strategy id, e.g. points3, points3_box, box, box_jitter5, pos50_neg50, box_centre, centroid, four_sections. */
    id: string;
    /** Human-readable name shown in tables and figures. */
    label: string;
    /** Training seeds whose evaluations are pooled in `perImage`. */
    seeds: number[];
    /** Cross-validation: per-fold means (the folds' test images are concatenated in `perImage`). */
    folds?: FoldResult[];
    perImage: PerImageResult[];
    /** Number of test images excluded for an empty ground truth. */
    excluded: number;
    /**
     * The zero-shot baseline: the pretrained (not fine-tuned) decoder evaluated with this strategy's
     * evaluation prompts on the same test images. Absent when it was not evaluated.
     */
    zeroShot?: ZeroShotResult;
    /** Mean training loss per epoch. */
    lossCurve?: number[];
    /** Wall-clock training time in seconds. */
    trainSeconds?: number;
    /** Free-text observations, e.g. "centroid outside mask in 12% of images". */
    notes?: string[];
    /** Example predictions for overlay figures. */
    samples?: Sample[];
    /** Model selection on a validation split inside the training patients (absent: no validation, as in the paper). */
    selection?: SelectionResult;
}

/**
 * How the reported weights of a strategy were chosen. The strategy's `perImage` scores are those of
 * the selected weights; the test scores of both candidates are here.
 */
export interface SelectionResult {
    /** The plan's rule: the weights of the best validation Dice, or the last step's. */
    mode: "best-val" | "last";
    /** Test mean Dice and IoU in [0, 1] of the best-validation weights and of the last weights (mean over seeds). */
    bestValDice: number;
    lastDice: number;
    bestValIou: number;
    lastIou: number;
    /** Per seed: the epoch of the best validation (fractional when validating every N steps); null: nothing was scored. */
    epochs: (number | null)[];
    /** Per seed: the best validation Dice in [0, 1]; null: nothing was scored. */
    valDice: (number | null)[];
    /** Per seed: the epochs trained when early stopping ended the run, null when it ran all epochs. */
    stoppedAtEpoch: (number | null)[];
    /** Validation Dice in [0, 1] after each validation of the first seed (null: nothing scored). */
    curve: { epoch: number; dice: number | null }[];
    /** Seconds spent validating, summed over seeds. */
    valSeconds: number;
    /** Size of the validation split. */
    valPatients: number;
    valImages: number;
}

/** One test image with its ground truth, prompts and prediction, for an overlay figure. */
export interface Sample {
    imageId: string;
    width: number;
    height: number;
    /** Interleaved RGB, width * height * 3 bytes. */
    image: Uint8Array;
    /** Ground-truth mask, width * height values of 0 or 1. */
    gt: Uint8Array;
    /** Predicted mask, width * height values of 0 or 1. */
    pred: Uint8Array;
    /** Prompt points in patch pixels (x right, y down). */
    points: [number, number][];
    /** One label per point: 1 = positive, 0 = negative. */
    labels: number[];
    /** Prompt box [x0, y0, x1, y1] in patch pixels. */
    box?: [number, number, number, number];
    /** Dice of this prediction in [0, 1]. */
    dice: number;
}
