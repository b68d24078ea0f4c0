/**
 * The embedding cache: one file per (dataset, model), fp16, memory-mapped, keyed by the weights' hash
 * and the preprocessing settings. A cache is written to a temporary file and renamed only when
 * complete, so an interrupted run never leaves a file that is trusted; a stale or foreign cache (other
 * key, other image ids, wrong size, bad header) is detected and rebuilt. A writer stopped on purpose
 * (an interrupt) keeps its embeddings in a partial file that the next writer of the same cache goes on
 * from (EmbeddingCacheWriter.suspend and its `resume` argument).
 *
 * Layout: "SAEMB001" | u64 LE header length | JSON header | zero padding to 4096 | N x (C*E*E) fp16.
 */

import { createHash } from "node:crypto";
import {
    closeSync,
    existsSync,
    fstatSync,
    fsyncSync,
    ftruncateSync,
    mkdirSync,
    openSync,
    readdirSync,
    readSync,
    renameSync,
    rmSync,
    statSync,
    writeSync,
} from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import { SamAblateError } from "@sam-ablate/errors";
import { loadAddon } from "@sam-ablate/native";

const MAGIC = "SAEMB001";
const ALIGN = 4096;

/** What identifies a cache: change any field and the cache is rebuilt. */
export interface EmbeddingCacheKey {
    /** sha256 of the model's weights (hex). */
    modelHash: string;
    /** Model architecture / name, for humans. */
    model: string;
    /** Encoder precision (fp32, bf16, tf32). */
    precision?: string;
    /** Preprocessing settings (input size, resize filter, mean/std, padding). */
    preprocessing: Record<string, unknown>;
    /** The encoder's weights were adapted at load (merged LoRA adapters): the adaptation's tag. */
    encoderTag?: string;
}

interface Header {
    version: 1;
    key: EmbeddingCacheKey;
    keyHash: string;
    dims: [number, number, number];
    dtype: "float16";
    ids: string[];
}

/** Error with a code, naming the cache file. */
export class EmbeddingCacheError extends SamAblateError<"ERR_SA_CACHE"> {
    declare readonly file: string;
    constructor(file: string, message: string) {
        super("ERR_SA_CACHE", `${file}: ${message}`, { file });
    }
}

/** Stable hash of a cache key (sha256 of its canonical JSON). */
export function hashKey(key: EmbeddingCacheKey): string {
    return createHash("sha256").update(canonicalJson(key)).digest("hex");
}

/** JSON with sorted object keys, so equal objects give equal strings. */
export function canonicalJson(v: unknown): string {
    if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
    if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        return `{${Object.keys(o)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(v);
}

/** The cache file for a dataset under a cache folder. */
export function cacheFileName(dir: string, dataset: string, key: EmbeddingCacheKey): string {
    const safe = dataset.replace(/[^A-Za-z0-9._-]+/g, "_");
    return path.join(dir, `${safe}-${hashKey(key).slice(0, 16)}.saemb`);
}

/** The file of shard `index` of `count` of a dataset's cache (see ShardedEmbeddingCache). */
export function shardFileName(
    dir: string,
    dataset: string,
    key: EmbeddingCacheKey,
    index: number,
    count: number,
): string {
    const safe = dataset.replace(/[^A-Za-z0-9._-]+/g, "_");
    return path.join(dir, `${safe}-${hashKey(key).slice(0, 16)}.${index}-of-${count}.saemb`);
}

function readHeader(file: string): { header: Header; dataOffset: number; size: number } {
    const fd = openSync(file, "r");
    try {
        const size = statSync(file).size;
        const head = Buffer.alloc(16);
        if (readSync(fd, head, 0, 16, 0) !== 16) throw new EmbeddingCacheError(file, "truncated header");
        if (head.toString("latin1", 0, 8) !== MAGIC)
            throw new EmbeddingCacheError(file, "not an embedding cache (bad magic)");
        const len = Number(head.readBigUInt64LE(8));
        if (len <= 0 || 16 + len > size) throw new EmbeddingCacheError(file, "header length past the end of the file");
        const json = Buffer.alloc(len);
        readSync(fd, json, 0, len, 16);
        let header: Header;
        try {
            header = JSON.parse(json.toString("utf8")) as Header;
        } catch {
            throw new EmbeddingCacheError(file, "corrupt header JSON");
        }
        const dataOffset = Math.ceil((16 + len) / ALIGN) * ALIGN;
        return { header, dataOffset, size };
    } finally {
        closeSync(fd);
    }
}

/** Embeddings looked up by image id (one cache file, or the shards of one). */
export interface EmbeddingLookup {
    readonly file: string;
    /** See EmbeddingCache.getById (`into`: written and returned). */
    getById(id: string, into?: Float32Array): Float32Array;
}

/** A read-only view of a complete cache file (memory-mapped). */
export class EmbeddingCache {
    private readonly index = new Map<string, number>();
    private constructor(
        readonly file: string,
        readonly dims: [number, number, number],
        readonly ids: readonly string[],
        private readonly data: Uint16Array,
    ) {
        ids.forEach((id, i) => {
            this.index.set(id, i);
        });
    }

    /**
     * Opens `file` when it exists, is complete and matches `key` and `ids` (same order); returns
     * undefined otherwise (the caller rebuilds). Throws only for I/O errors other than absence.
     */
    static openIfValid(file: string, key: EmbeddingCacheKey, ids: readonly string[]): EmbeddingCache | undefined {
        if (!existsSync(file)) return undefined;
        let parsed: ReturnType<typeof readHeader>;
        try {
            parsed = readHeader(file);
        } catch (e) {
            if (e instanceof EmbeddingCacheError) return undefined;
            throw e;
        }
        const { header, dataOffset, size } = parsed;
        if (header.version !== 1 || header.dtype !== "float16" || header.keyHash !== hashKey(key)) return undefined;
        if (header.ids.length !== ids.length || header.ids.some((id, i) => id !== ids[i])) return undefined;
        const per = header.dims[0] * header.dims[1] * header.dims[2];
        if (size !== dataOffset + ids.length * per * 2) return undefined;
        const buf = loadAddon().mapFile(file, dataOffset, ids.length * per * 2);
        return new EmbeddingCache(file, header.dims, header.ids, new Uint16Array(buf));
    }

    /**
     * Finds a complete cache in `dir` with `key` that holds every one of `ids` (in any order, among
     * others): e.g. the cache `ablate` wrote for a dataset's train and test patches, reused to
     * evaluate the test split. Returns undefined when none does.
     */
    static findContaining(dir: string, key: EmbeddingCacheKey, ids: readonly string[]): EmbeddingLookup | undefined {
        if (!existsSync(dir)) return undefined;
        const keyHash = hashKey(key);
        const tag = keyHash.slice(0, 16);
        const whole = `-${tag}.saemb`;
        // Shard files of one cache: <dataset>-<key>.<k>-of-<n>.saemb, used together when all n are there.
        const shardRe = new RegExp(`^(.*-${tag})\\.(\\d+)-of-(\\d+)\\.saemb$`);
        const groups = new Map<string, EmbeddingCache[]>();
        for (const name of readdirSync(dir).sort()) {
            const m = shardRe.exec(name);
            if (!name.endsWith(whole) && !m) continue;
            const file = path.join(dir, name);
            let header: Header;
            try {
                header = readHeader(file).header;
            } catch (e) {
                if (e instanceof EmbeddingCacheError) continue;
                throw e;
            }
            if (header.keyHash !== keyHash || !Array.isArray(header.ids)) continue;
            const cache = EmbeddingCache.openIfValid(file, key, header.ids);
            if (!cache) continue;
            if (m) {
                const g = `${m[1]}/${m[3]}`;
                groups.set(g, [...(groups.get(g) ?? []), cache]);
                continue;
            }
            const have = new Set(header.ids);
            if (ids.every((id) => have.has(id))) return cache;
        }
        for (const [g, caches] of groups) {
            if (caches.length !== Number(g.split("/").pop())) continue;
            const where = new Map<string, EmbeddingCache>();
            for (const c of caches) for (const id of c.ids) where.set(id, c);
            if (!ids.every((id) => where.has(id))) continue;
            return {
                file: caches[0]?.file as string,
                getById: (id: string, into?: Float32Array) => (where.get(id) as EmbeddingCache).getById(id, into),
            };
        }
        return undefined;
    }

    /** Number of embeddings. */
    get length(): number {
        return this.ids.length;
    }

    /**
     * Embedding i as float32 [C, E, E]: into `into` when given (C * E * E floats; a training loop reuses
     * one buffer instead of allocating 4 MB per step), else a new array.
     */
    get(i: number, into?: Float32Array): Float32Array {
        if (!Number.isInteger(i) || i < 0 || i >= this.ids.length) {
            throw new EmbeddingCacheError(this.file, `index ${i} out of range [0, ${this.ids.length})`);
        }
        const per = this.dims[0] * this.dims[1] * this.dims[2];
        return loadAddon().halfToFloat(this.data.subarray(i * per, (i + 1) * per), into);
    }

    /** Embedding of an image id as float32 [C, E, E] (into `into` when given). */
    getById(id: string, into?: Float32Array): Float32Array {
        const i = this.index.get(id);
        if (i === undefined) throw new EmbeddingCacheError(this.file, `no embedding for image '${id}'`);
        return this.get(i, into);
    }
}

/**
 * Writes a cache: call `append` once per image in `ids` order, then `finish()` (fsync + rename).
 * `abort()` removes the temporary file. Nothing is visible under the final name before `finish()`.
 */
export class EmbeddingCacheWriter {
    private readonly tmp: string;
    private fd: number;
    private written = 0;
    private offset: number;
    /** The fp16 bits of the embedding being written (reused from one append to the next). */
    private half?: Uint16Array;

    /**
     * A new cache file for `ids`, or (`resume`) the longest partial one an interrupted writer left for
     * the same file, key, ids and dims (see suspend), continued after its last whole embedding.
     */
    constructor(
        readonly file: string,
        key: EmbeddingCacheKey,
        private readonly ids: readonly string[],
        private readonly dims: [number, number, number],
        resume = false,
    ) {
        mkdirSync(path.dirname(file), { recursive: true });
        this.tmp = `${file}.tmp-${process.pid}`;
        const header: Header = { version: 1, key, keyHash: hashKey(key), dims, dtype: "float16", ids: [...ids] };
        const json = Buffer.from(JSON.stringify(header), "utf8");
        this.offset = Math.ceil((16 + json.length) / ALIGN) * ALIGN;
        const claimed = resume ? this.claimPartial(json) : undefined;
        try {
            this.fd = openSync(this.tmp, claimed === undefined ? "w" : "r+");
        } catch (e) {
            throw new EmbeddingCacheError(file, `cannot write the cache: ${(e as Error).message}`);
        }
        if (claimed !== undefined) {
            // Whatever follows the last whole embedding (a write cut short) is dropped.
            this.written = claimed;
            this.offset += claimed * this.bytesPer();
            ftruncateSync(this.fd, this.offset);
            return;
        }
        const head = Buffer.alloc(16);
        head.write(MAGIC, 0, "latin1");
        head.writeBigUInt64LE(BigInt(json.length), 8);
        writeSync(this.fd, head, 0, 16, 0);
        writeSync(this.fd, json, 0, json.length, 16);
        const pad = this.offset - 16 - json.length;
        if (pad > 0) writeSync(this.fd, Buffer.alloc(pad), 0, pad, 16 + json.length);
    }

    /** Number of embeddings appended so far (those of a resumed file included). */
    get count(): number {
        return this.written;
    }

    private bytesPer(): number {
        return this.dims[0] * this.dims[1] * this.dims[2] * 2;
    }

    /**
     * Takes the partial file with the most whole embeddings whose header is `json` byte for byte, by
     * renaming it to this writer's temporary file (a rename either succeeds or finds the file gone, so
     * two writers never share one); returns how many embeddings it holds, or undefined. Partials of
     * this file with another header (other images or key) are removed.
     */
    private claimPartial(json: Buffer): number | undefined {
        const dir = path.dirname(this.file);
        const prefix = `${path.basename(this.file)}${PARTIAL}`;
        const found: { file: string; n: number }[] = [];
        for (const name of readdirSync(dir)) {
            if (!name.startsWith(prefix)) continue;
            const file = path.join(dir, name);
            let ok = false;
            let size = 0;
            try {
                const fd = openSync(file, "r");
                try {
                    size = fstatSync(fd).size;
                    const head = Buffer.alloc(16 + json.length);
                    ok =
                        readSync(fd, head, 0, head.length, 0) === head.length &&
                        head.toString("latin1", 0, 8) === MAGIC &&
                        Number(head.readBigUInt64LE(8)) === json.length &&
                        head.subarray(16).equals(json);
                } finally {
                    closeSync(fd);
                }
            } catch {
                continue; // taken by another writer meanwhile, or unreadable: left alone
            }
            if (!ok) {
                rmSync(file, { force: true });
                continue;
            }
            const n = Math.min(this.ids.length, Math.floor(Math.max(0, size - this.offset) / this.bytesPer()));
            found.push({ file, n });
        }
        found.sort((a, b) => b.n - a.n);
        for (const { file, n } of found) {
            try {
                renameSync(file, this.tmp);
            } catch {
                continue; // another writer took it first
            }
            for (const other of found) if (other.file !== file) rmSync(other.file, { force: true });
            return n;
        }
        return undefined;
    }

    /** Appends the next embedding ([C, E, E] float32). */
    append(embedding: Float32Array): void {
        const per = this.dims[0] * this.dims[1] * this.dims[2];
        if (embedding.length !== per) {
            throw new EmbeddingCacheError(this.file, `embedding has ${embedding.length} values, expected ${per}`);
        }
        if (this.written >= this.ids.length) throw new EmbeddingCacheError(this.file, "more embeddings than image ids");
        for (let i = 0; i < per; i++) {
            if (!Number.isFinite(embedding[i] as number)) {
                throw new EmbeddingCacheError(
                    this.file,
                    `non-finite value in the embedding of '${this.ids[this.written]}'`,
                );
            }
        }
        this.half ??= new Uint16Array(per);
        const half = loadAddon().floatToHalf(embedding, this.half);
        const bytes = new Uint8Array(half.buffer, half.byteOffset, half.byteLength);
        writeSync(this.fd, bytes, 0, bytes.length, this.offset);
        this.offset += bytes.length;
        this.written++;
    }

    /** Completes the file and moves it into place. */
    finish(): void {
        if (this.written !== this.ids.length) {
            throw new EmbeddingCacheError(this.file, `only ${this.written} of ${this.ids.length} embeddings written`);
        }
        fsyncSync(this.fd);
        closeSync(this.fd);
        renameSync(this.tmp, this.file);
    }

    /** Drops the temporary file. */
    abort(): void {
        try {
            closeSync(this.fd);
        } catch {
            /* already closed */
        }
        rmSync(this.tmp, { force: true });
    }

    /**
     * Keeps what was written for a later writer of the same cache to go on from (an interrupted run):
     * the file is synced and renamed `<file>.partial-<host>-<pid>`, which no reader takes for a cache.
     * With nothing written it is dropped instead. Returns the partial file's path, if one is kept.
     */
    suspend(): string | undefined {
        if (this.written === 0) {
            this.abort();
            return undefined;
        }
        const partial = `${this.file}${PARTIAL}${hostname()}-${process.pid}`;
        try {
            fsyncSync(this.fd);
            closeSync(this.fd);
            renameSync(this.tmp, partial);
            return partial;
        } catch {
            this.abort();
            return undefined;
        }
    }
}

/** Infix of a suspended writer's file name (after the cache file's own name). */
const PARTIAL = ".partial-";

/**
 * A dataset's cache split into shard files, each written by its own task (a contiguous range of the
 * images, `shardRange`), read as one cache without copying: image i is looked up in the shard that
 * holds it. Opening checks every shard; a missing or stale one (other model, preprocessing or images)
 * is an error that names the file.
 */
export class ShardedEmbeddingCache {
    private constructor(
        readonly files: readonly string[],
        private readonly shards: readonly EmbeddingCache[],
        private readonly starts: readonly number[],
        readonly length: number,
    ) {}

    /** Opens the `ranges.length` shards of `ids` (ranges: [start, end) per shard, covering ids in order). */
    static open(
        files: readonly string[],
        key: EmbeddingCacheKey,
        ids: readonly string[],
        ranges: readonly [number, number][],
    ): ShardedEmbeddingCache {
        const shards: EmbeddingCache[] = [];
        files.forEach((file, k) => {
            const [a, b] = ranges[k] as [number, number];
            if (!existsSync(file))
                throw new EmbeddingCacheError(
                    file,
                    `missing embedding shard ${k} of ${files.length} (images ${a}-${b - 1}); run its embed unit`,
                );
            const c = EmbeddingCache.openIfValid(file, key, ids.slice(a, b));
            if (!c)
                throw new EmbeddingCacheError(
                    file,
                    `stale embedding shard ${k} of ${files.length}: another model, preprocessing or image list; delete it and rerun its embed unit`,
                );
            shards.push(c);
        });
        return new ShardedEmbeddingCache(
            files,
            shards,
            ranges.map((r) => r[0]),
            ids.length,
        );
    }

    /** Embedding i (over all shards) as float32 [C, E, E] (into `into` when given). */
    get(i: number, into?: Float32Array): Float32Array {
        if (!Number.isInteger(i) || i < 0 || i >= this.length)
            throw new EmbeddingCacheError(this.files[0] ?? "", `index ${i} out of range [0, ${this.length})`);
        let k = this.shards.length - 1;
        while (k > 0 && ((this.starts[k] as number) > i || (this.shards[k] as EmbeddingCache).length === 0)) k--;
        return (this.shards[k] as EmbeddingCache).get(i - (this.starts[k] as number), into);
    }
}
