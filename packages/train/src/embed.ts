/**
 * Encodes a dataset's patches once with the frozen image encoder and keeps the embeddings in the
 * fp16 cache (one file per dataset and model, keyed by the weights' hash and the preprocessing).
 */
import { preprocessImage, type SamModel } from "@sam-ablate/model";
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
    train: (i: number) => Float32Array;
    /** Validation patches (an empty split under `validation: none`). */
    val: (i: number) => Float32Array;
    test: (i: number) => Float32Array;
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
            test: (i) => found.getById(ids[i] as string),
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
    return { train: noTrain, val: noTrain, test: (i) => cache.get(i), file, fromCache };
}

/**
 * Encodes `ids` into a new cache file (or opens a valid one). A pipeline of depth two: while the
 * encoder works on one batch (off the JS thread), the previous batch's embeddings are written and the
 * next batch is read and preprocessed into the other of two input buffers (the encoder reads its input
 * until its promise settles, so a buffer is refilled only after that). The cache holds the same bytes
 * as encoding one image after another.
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
    const buffers = [new Float32Array(batch * plane), new Float32Array(total > batch ? batch * plane : 0)];
    // Batch `start` read and preprocessed into buffers[slot]; resolves with the encoder's input.
    const prepare = async (start: number, slot: number): Promise<Float32Array> => {
        const n = Math.min(batch, total - start);
        const buf = buffers[slot] as Float32Array;
        for (let b = 0; b < n; b++)
            preprocessImage(await image(start + b), height, width, S, buf.subarray(b * plane, (b + 1) * plane));
        return n === batch ? buf : buf.subarray(0, n * plane);
    };
    // A promise that is awaited later must not count as unhandled if it fails before that.
    const held = <T>(p: Promise<T>): Promise<T> => {
        p.catch(() => {});
        return p;
    };
    const writer = new EmbeddingCacheWriter(file, key, ids, [C, E, E]);
    try {
        let next: Promise<Float32Array> | undefined = total > 0 ? held(prepare(0, 0)) : undefined;
        let done: { embedding: Float32Array; n: number } | undefined;
        for (let start = 0, slot = 0; start < total; start += batch, slot ^= 1) {
            if (signal?.aborted) throw signal.reason ?? new Error("aborted");
            const input = await (next as Promise<Float32Array>);
            const n = input.length / plane;
            const encoding = held(model.encoder.encode(input, n));
            // While the encoder runs: write the previous batch, read and preprocess the next one.
            if (done) {
                for (let b = 0; b < done.n; b++) writer.append(done.embedding.subarray(b * per, (b + 1) * per));
                onProgress?.(start, total);
            }
            next = start + batch < total ? held(prepare(start + batch, slot ^ 1)) : undefined;
            done = { embedding: (await encoding).embedding, n };
        }
        if (done) {
            for (let b = 0; b < done.n; b++) writer.append(done.embedding.subarray(b * per, (b + 1) * per));
            onProgress?.(total, total);
        }
        writer.finish();
    } catch (e) {
        writer.abort();
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
            train: (i) => cache.getById(data.train.ids[i] as string),
            val: (i) => cache.getById(data.val.ids[i] as string),
            test: (i) => cache.getById(data.test.ids[i] as string),
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
        train: (i) => c.get(i),
        val: (i) => c.get(nTrain + i),
        test: (i) => c.get(nTrain + nVal + i),
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
        const get = (id: string | undefined) => c.get(at.get(id as string) as number);
        return {
            train: (i) => get(data.train.ids[i]),
            val: (i) => get(data.val.ids[i]),
            test: (i) => get(data.test.ids[i]),
            file: files[0] as string,
            fromCache: true,
        };
    }
    const nTrain = data.train.ids.length;
    const nVal = data.val.ids.length;
    return {
        train: (i) => c.get(i),
        val: (i) => c.get(nTrain + i),
        test: (i) => c.get(nTrain + nVal + i),
        file: files[0] as string,
        fromCache: true,
    };
}
