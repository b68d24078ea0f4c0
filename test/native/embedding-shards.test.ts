// The sharded embedding cache: shards written by separate tasks (contiguous image ranges, one file
// each) read as one cache without copying; a missing or stale shard is an error naming its file.
import { existsSync, rmSync } from "node:fs";
import { float16ToFloat32Array, float32ToFloat16Array } from "@sam-ablate/tensor";
import {
    EmbeddingCache,
    type EmbeddingCacheKey,
    EmbeddingCacheWriter,
    ShardedEmbeddingCache,
    shardFileName,
    shardRange,
} from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("sa-shards-");
const key: EmbeddingCacheKey = { modelHash: "abc", model: "test", preprocessing: { imgSize: 64 } };
const ids = Array.from({ length: 7 }, (_, i) => `p${i >> 1}_${i}`);
const dims: [number, number, number] = [2, 3, 3];
const emb = (i: number) => new Float32Array(18).map((_, k) => Math.cos(i * 31 + k) * 2.5);
const COUNT = 3;
const files = Array.from({ length: COUNT }, (_, k) => shardFileName(dir, "ds", key, k, COUNT));
const ranges = files.map((_, k) => shardRange(ids.length, k, COUNT));

function writeShard(k: number, withKey = key): void {
    const [a, b] = ranges[k] as [number, number];
    const w = new EmbeddingCacheWriter(files[k] as string, withKey, ids.slice(a, b), dims);
    for (let i = a; i < b; i++) w.append(emb(i));
    w.finish();
}

test("shards written in any order read back as one cache", () => {
    for (const k of [2, 0, 1]) writeShard(k);
    const c = ShardedEmbeddingCache.open(files, key, ids, ranges);
    assert.is(c.length, ids.length);
    for (let i = 0; i < ids.length; i++)
        assert.equal(
            Array.from(c.get(i)),
            Array.from(float16ToFloat32Array(float32ToFloat16Array(emb(i)))),
            `image ${i}`,
        );
    assert.throws(() => c.get(ids.length), /out of range/);
});

test("the shards of a cache are found by image id (eval reuses a sharded run cache)", () => {
    const found = EmbeddingCache.findContaining(dir, key, [ids[6] as string, ids[0] as string]);
    assert.ok(found, "not found across shards");
    assert.equal(
        Array.from(found?.getById(ids[6] as string) ?? []),
        Array.from(float16ToFloat32Array(float32ToFloat16Array(emb(6)))),
    );
    assert.is(EmbeddingCache.findContaining(dir, key, ["nope"]), undefined);
});

test("empty shards (more shards than images) are skipped", () => {
    const few = ids.slice(0, 2);
    const n = 4;
    const fs = Array.from({ length: n }, (_, k) => shardFileName(dir, "few", key, k, n));
    const rs = fs.map((_, k) => shardRange(few.length, k, n));
    fs.forEach((f, k) => {
        const [a, b] = rs[k] as [number, number];
        const w = new EmbeddingCacheWriter(f, key, few.slice(a, b), dims);
        for (let i = a; i < b; i++) w.append(emb(i));
        w.finish();
    });
    const c = ShardedEmbeddingCache.open(fs, key, few, rs);
    assert.equal(Array.from(c.get(0)), Array.from(float16ToFloat32Array(float32ToFloat16Array(emb(0)))));
    assert.equal(Array.from(c.get(1)), Array.from(float16ToFloat32Array(float32ToFloat16Array(emb(1)))));
});

/** Opening the shards must fail with ERR_SA_CACHE naming shard 1's file, the message matching `pattern`. */
function expectShardError(pattern: RegExp): void {
    assert.throws(
        () => ShardedEmbeddingCache.open(files, key, ids, ranges),
        (e: Error & { code?: string }) =>
            e.code === "ERR_SA_CACHE" && e.message.includes(files[1] as string) && pattern.test(e.message),
    );
}

test("a missing shard is an error that names the file", () => {
    rmSync(files[1] as string);
    expectShardError(/missing embedding shard 1 of 3/);
});

test("a stale shard (another model) is an error that names the file", () => {
    writeShard(1, { ...key, modelHash: "other" });
    assert.ok(existsSync(files[1] as string));
    expectShardError(/stale embedding shard 1 of 3/);
    // Another image list (a shard cut for another dataset selection) is stale too.
    writeShard(1);
    assert.throws(
        () =>
            ShardedEmbeddingCache.open(
                files,
                key,
                ids.map((x) => `${x}x`),
                ranges,
            ),
        /stale embedding shard 0 of 3/,
    );
});

test.run();
