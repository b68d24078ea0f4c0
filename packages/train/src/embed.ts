/**
 * Encodes a dataset's patches once with the frozen image encoder and keeps the embeddings in the
 * fp16 cache (one file per dataset and model, keyed by the weights' hash and the preprocessing).
 */
import type { SamModel } from "@sam-ablate/model";
import { loadAddon } from "@sam-ablate/native";
import type { PreparedData } from "./datasets.js";
import {
    cacheFileName,
    EmbeddingCache,
    type EmbeddingCacheKey,
    EmbeddingCacheWriter,
    ShardedEmbeddingCache,
    shardFileName,
} from "./embedding-cache.js";
import { shardRange } from "./units.js";

/** Embedding accessors for the train and test splits. */
export interface SplitEmbeddings {
    /** Embedding i of the split (into `into` when given, see EmbeddingCache.get). */
    train: (i: number, into?: Float32Array) => Float32Array;
    /** Validation patches (an empty split under `validation: none`). */
    val: (i: number, into?: Float32Array) => Float32Array;
    test: (i: number, into?: Float32Array) => Float32Array;
    file: string;
    fromCache: boolean;
}

/** The cache key of a model and the preprocessing it uses. */
export function embeddingKey(model: SamModel): EmbeddingCacheKey {
    return {
        modelHash: model.weightsHash,
        model: model.name,
        // bf16 and fp32 embeddings differ in the last bits: a cache made with one is never read as the other.
        precision: model.precision,
        ...(model.encoderTag ? { encoderTag: model.encoderTag } : {}),
        preprocessing: {
            imgSize: model.imgSize,
            resize: "resize-longest-side/pil-bilinear",
            normalize: "sam-mean-std",
            pad: "bottom-right-zero",
        },
    };
}

/**
 * Embeddings of the test split only, for evaluation: a cache in `cacheDir` that already holds every
 * test image (the one `ablate` wrote for the dataset) is reused; otherwise only the test patches
 * are encoded, into a cache of their own. `train` is not available (throws).
 */
export async function ensureTestEmbeddings(
    model: SamModel,
    data: PreparedData,
    cacheDir: string,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
): Promise<SplitEmbeddings> {
    const key = embeddingKey(model);
    const ids = data.test.ids;
    const found = EmbeddingCache.findContaining(cacheDir, key, ids);
    const noTrain = (): Float32Array => {
        throw new Error("ensureTestEmbeddings: the training split was not encoded");
    };
    if (found)
        return {
            train: noTrain,
            val: noTrain,
            test: (i, into) => found.getById(ids[i] as string, into),
            file: found.file,
            fromCache: true,
        };
    const file = cacheFileName(cacheDir, `${data.name}-test-${data.fingerprint}`, key);
    const { cache, fromCache } = await buildCache(
        model,
        file,
        ids,
        (i) => data.test.image(i),
        data.height,
        data.width,
        onProgress,
        signal,
    );
    return { train: noTrain, val: noTrain, test: (i, into) => cache.get(i, into), file, fromCache };
}

/** Input buffers of the embed pipeline: the batch being encoded and the ones read ahead. */
const PIPELINE_DEPTH = 3;

/**
 * Encodes `ids` into a new cache file (or opens a valid one), as a pipeline: while the encoder works
 * on one batch (off the JS thread), the previous batch's embeddings are written and the next
 * PIPELINE_DEPTH - 1 batches are read and preprocessed, concurrently, off the JS thread (natively:
 * sa/preprocess.h, the bits of the model package's preprocessImage), each into an input buffer of its
 * own. The encoder reads its input until its promise settles, so a buffer is refilled only after that.
 * The cache holds the same bytes as encoding one image after another.
 */
async function buildCache(
    model: SamModel,
    file: string,
    ids: readonly string[],
    image: (i: number) => Promise<Uint8Array>,
    height: number,
    width: number,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
    batch = 1,
): Promise<{ cache: EmbeddingCache; fromCache: boolean }> {
    const key = embeddingKey(model);
    const existing = EmbeddingCache.openIfValid(file, key, ids);
    if (existing) return { cache: existing, fromCache: true };
    const E = model.embedSize;
    const C = model.encoder.info.embedDim;
    const S = model.imgSize;
    const per = C * E * E;
    const plane = 3 * S * S;
    const total = ids.length;
    const addon = loadAddon();
    // An interrupted run of the same cache left its embeddings in a partial file: go on after them.
    const writer = new EmbeddingCacheWriter(file, key, ids, [C, E, E], true);
    const first = writer.count;
    const batches = Math.ceil((total - first) / batch);
    // Buffers in the ring: the batch encoded and depth - 1 ahead (at least one ahead: the first batch
    // is read before the loop).
    const depth = Math.min(PIPELINE_DEPTH, batches + 1);
    const buffers: Float32Array[] = [];
    // Batch j (images first + j * batch ...) read and preprocessed into its buffer (made on first use);
    // resolves with the encoder's input.
    const prepare = async (j: number): Promise<Float32Array> => {
        const start = first + j * batch;
        const n = Math.min(batch, total - start);
        buffers[j % depth] ??= new Float32Array(batch * plane);
        const buf = buffers[j % depth] as Float32Array;
        for (let b = 0; b < n; b++)
            await addon.preprocessImage(
                await image(start + b),
                height,
                width,
                S,
                buf.subarray(b * plane, (b + 1) * plane),
            );
        return n === batch ? buf : buf.subarray(0, n * plane);
    };
    // Batches read ahead, by buffer. A promise awaited later must not count as unhandled if it fails first.
    const ahead: Promise<Float32Array>[] = [];
    const readAhead = (j: number) => {
        if (j >= batches) return;
        const p = prepare(j);
        p.catch(() => {});
        ahead[j % depth] = p;
    };
    const write = (d: { embedding: Float32Array; n: number }) => {
        for (let b = 0; b < d.n; b++) writer.append(d.embedding.subarray(b * per, (b + 1) * per));
    };
    let done: { embedding: Float32Array; n: number } | undefined;
    try {
        if (first > 0) onProgress?.(first, total);
        for (let j = 0; j < depth - 1; j++) readAhead(j);
        for (let j = 0; j < batches; j++) {
            if (signal?.aborted) throw signal.reason ?? new Error("aborted");
            const input = await (ahead[j % depth] as Promise<Float32Array>);
            const n = input.length / plane;
            const encoding = model.encoder.encode(input, n);
            encoding.catch(() => {});
            // While the encoder runs: the buffer of the batch before (its encoding has settled) takes the
            // batch depth - 1 ahead, and the batch before is written.
            readAhead(j + depth - 1);
            if (done) {
                const d = done;
                done = undefined;
                write(d);
                onProgress?.(first + j * batch, total);
            }
            done = { embedding: (await encoding).embedding, n };
        }
        if (done) {
            const d = done;
            done = undefined;
            write(d);
            onProgress?.(total, total);
        }
        writer.finish();
    } catch (e) {
        // Interrupted: the finished embeddings are kept (the batch encoded last included) for the next
        // run of the same cache to go on from; any other failure leaves no file.
        if (signal?.aborted) {
            try {
                if (done) write(done);
            } catch {
                /* kept up to the last whole embedding */
            }
            writer.suspend();
        } else writer.abort();
        throw e;
    }
    const cache = EmbeddingCache.openIfValid(file, key, ids);
    if (!cache) throw new Error(`${file}: the cache just written does not validate`);
    return { cache, fromCache: false };
}

/** Opens the dataset's cache or builds it (batches of `batch` images). */
export async function ensureEmbeddings(
    model: SamModel,
    data: PreparedData,
    cacheDir: string,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
    batch = 1,
): Promise<SplitEmbeddings> {
    if (data.all) {
        // Cross-validation: one cache of every patch of the dataset serves all folds.
        const all = data.all;
        const file = cacheFileName(cacheDir, `${data.name}-all-${all.fingerprint}`, embeddingKey(model));
        const { cache, fromCache } = await buildCache(
            model,
            file,
            all.ids,
            (i) => all.image(i),
            data.height,
            data.width,
            onProgress,
            signal,
            batch,
        );
        return {
            train: (i, into) => cache.getById(data.train.ids[i] as string, into),
            val: (i, into) => cache.getById(data.val.ids[i] as string, into),
            test: (i, into) => cache.getById(data.test.ids[i] as string, into),
            file,
            fromCache,
        };
    }
    // Validation ids sit between train and test; with no validation split the key is as it always was.
    const ids = [...data.train.ids, ...data.val.ids, ...data.test.ids];
    const file = cacheFileName(cacheDir, `${data.name}-${data.fingerprint}`, embeddingKey(model));
    const nTrain = data.train.ids.length;
    const nVal = data.val.ids.length;
    const image = (i: number) =>
        i < nTrain
            ? data.train.image(i)
            : i < nTrain + nVal
              ? data.val.image(i - nTrain)
              : data.test.image(i - nTrain - nVal);
    const { cache: c, fromCache } = await buildCache(
        model,
        file,
        ids,
        image,
        data.height,
        data.width,
        onProgress,
        signal,
        batch,
    );
    return {
        train: (i, into) => c.get(i, into),
        val: (i, into) => c.get(nTrain + i, into),
        test: (i, into) => c.get(nTrain + nVal + i, into),
        file,
        fromCache,
    };
}

/** The shard files of a dataset's cache, one per embed unit. */
export function embeddingShardFiles(model: SamModel, data: PreparedData, cacheDir: string, count: number): string[] {
    const key = embeddingKey(model);
    return Array.from({ length: count }, (_, k) =>
        shardFileName(
            cacheDir,
            data.all ? `${data.name}-all-${data.all.fingerprint}` : `${data.name}-${data.fingerprint}`,
            key,
            k,
            count,
        ),
    );
}

/** All images of a dataset in cache order (train, validation, test) and a reader by position. */
function allImages(data: PreparedData): { ids: string[]; image: (i: number) => Promise<Uint8Array> } {
    // cross-validation: every patch of the dataset, one cache for all folds
    if (data.all) return { ids: data.all.ids, image: data.all.image };
    const nTrain = data.train.ids.length;
    const nVal = data.val.ids.length;
    return {
        ids: [...data.train.ids, ...data.val.ids, ...data.test.ids],
        image: (i) =>
            i < nTrain
                ? data.train.image(i)
                : i < nTrain + nVal
                  ? data.val.image(i - nTrain)
                  : data.test.image(i - nTrain - nVal),
    };
}

/**
 * Encodes shard `index` of `count` of a dataset (a contiguous range of train, validation then test
 * images) into its own file, unless a valid one is there.
 */
export async function embedShard(
    model: SamModel,
    data: PreparedData,
    cacheDir: string,
    index: number,
    count: number,
    onProgress?: (done: number, total: number) => void,
    signal?: AbortSignal,
): Promise<{ file: string; fromCache: boolean }> {
    const { ids, image } = allImages(data);
    const [a, b] = shardRange(ids.length, index, count);
    const file = embeddingShardFiles(model, data, cacheDir, count)[index] as string;
    const { fromCache } = await buildCache(
        model,
        file,
        ids.slice(a, b),
        (i) => image(a + i),
        data.height,
        data.width,
        onProgress,
        signal,
    );
    return { file, fromCache };
}

/** Opens a dataset's sharded cache, shard files in order, for training and evaluation (every shard must be there and current). */
export function openShardedEmbeddings(model: SamModel, data: PreparedData, files: readonly string[]): SplitEmbeddings {
    const { ids } = allImages(data);
    const count = files.length;
    const ranges = files.map((_, k) => shardRange(ids.length, k, count));
    const c = ShardedEmbeddingCache.open(files, embeddingKey(model), ids, ranges);
    if (data.all) {
        const at = new Map(ids.map((id, i) => [id, i]));
        const get = (id: string | undefined, into?: Float32Array) => c.get(at.get(id as string) as number, into);
        return {
            train: (i, into) => get(data.train.ids[i], into),
            val: (i, into) => get(data.val.ids[i], into),
            test: (i, into) => get(data.test.ids[i], into),
            file: files[0] as string,
            fromCache: true,
        };
    }
    const nTrain = data.train.ids.length;
    const nVal = data.val.ids.length;
    return {
        train: (i, into) => c.get(i, into),
        val: (i, into) => c.get(nTrain + i, into),
        test: (i, into) => c.get(nTrain + nVal + i, into),
        file: files[0] as string,
        fromCache: true,
    };
}
