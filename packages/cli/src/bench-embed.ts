/**
 * `bench --what embed`: the embed step as a study runs it, per patch: PNG patches read and decoded,
 * preprocessed (ResizeLongestSide, normalisation), encoded, converted to fp16 and written to the
 * cache (ensureEmbeddings). Beside it, in the same run and alternating with it: the encoder alone on
 * the same preprocessed inputs (the floor: what the pipeline would take if the host work were free),
 * and the host side alone (the same pipeline with an encoder that answers at once), the rate at which
 * this host can feed a faster encoder such as a GPU's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { preprocessImage, type SamModel } from "@sam-ablate/model";
import { type AblationPlan, ensureEmbeddings, prepareDataset, presetPlan } from "@sam-ablate/train";

export interface EmbedBench {
    patches: number;
    patchSize: [number, number];
    /** The whole pipeline, seconds per patch (median over the rounds). */
    pipelineSeconds: number;
    /** The encoder alone on the same inputs, seconds per patch (median). */
    encoderSeconds: number;
    /** The host side alone (an encoder that answers at once), seconds per patch (median). */
    hostSeconds: number;
}

function median(xs: number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] as number;
}

/** The model with an encoder that returns `embedding` at once, without computing anything. */
function instantEncoder(model: SamModel, embedding: Float32Array): SamModel {
    const encoder = {
        info: model.encoder.info,
        encode: async (_images: Float32Array, batch: number) => ({
            embedding: batch === 1 ? embedding : new Float32Array(batch * embedding.length),
        }),
    };
    return Object.create(model, { encoder: { value: encoder } }) as SamModel;
}

/** Times the embed pipeline on synthetic MRI patches (phantoms in BraTS's layout, prepared as `prepare` does). */
export async function benchEmbed(model: SamModel, rounds: number): Promise<EmbedBench> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sa-bench-embed-"));
    try {
        const plan: AblationPlan = { ...presetPlan("quick"), validation: "none" };
        const data = await prepareDataset(
            {
                name: "bench-phantom",
                kind: "radiology",
                source: { type: "phantom", patients: 4, slicesPerPatient: 24 },
            },
            plan,
            dir,
        );
        const ids = [...data.train.ids, ...data.test.ids];
        const read = (i: number) =>
            i < data.train.ids.length ? data.train.image(i) : data.test.image(i - data.train.ids.length);
        const S = model.imgSize;
        const inputs: Float32Array[] = [];
        for (let i = 0; i < ids.length; i++)
            inputs.push(preprocessImage(await read(i), data.height, data.width, S).input);
        const first = await model.encoder.encode(inputs[0] as Float32Array, 1);
        const instant = instantEncoder(model, first.embedding);
        const pipeline: number[] = [];
        const encoder: number[] = [];
        const host: number[] = [];
        for (let r = 0; r < Math.max(1, rounds); r++) {
            let t0 = performance.now();
            for (const x of inputs) await model.encoder.encode(x, 1);
            encoder.push((performance.now() - t0) / 1000 / ids.length);
            const cache = path.join(dir, `cache-${r}`);
            t0 = performance.now();
            await ensureEmbeddings(model, data, cache);
            pipeline.push((performance.now() - t0) / 1000 / ids.length);
            rmSync(cache, { recursive: true, force: true });
            t0 = performance.now();
            await ensureEmbeddings(instant, data, cache);
            host.push((performance.now() - t0) / 1000 / ids.length);
            rmSync(cache, { recursive: true, force: true });
        }
        return {
            patches: ids.length,
            patchSize: [data.height, data.width],
            pipelineSeconds: median(pipeline),
            encoderSeconds: median(encoder),
            hostSeconds: median(host),
        };
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}
