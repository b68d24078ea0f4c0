import { readFileSync } from "node:fs";
import path from "node:path";
import {
    readCheckpoint,
    readSafetensors,
    readSafetensorsFile,
    readSafetensorsHeader,
    writeSafetensors,
    writeSafetensorsFile,
} from "@sam-ablate/checkpoint";
import { itemSize, type Tensor, tensor } from "@sam-ablate/tensor";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { rejectsWithCode, SAM_TINY, tempDir, values } from "../helpers/checkpoint-fixtures.js";

/** A safetensors file from a header object and a data section, built by hand. */
function build(header: Record<string, unknown>, data: Uint8Array, pad = 0): Uint8Array {
    const json = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(pad));
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
}

function same(a: Tensor | undefined, b: Tensor, name: string): void {
    assert.ok(a, name);
    assert.is(a.dtype, b.dtype, name);
    assert.equal(a.shape, b.shape, name);
    const ab = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    const bb = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    assert.ok(ab.equals(bb), `${name}: data differ`);
}

test("the sam_tiny safetensors reads the same from bytes, from the file and through readCheckpoint", async () => {
    const bytes = readFileSync(SAM_TINY.safetensors);
    const mem = readSafetensors(bytes, SAM_TINY.safetensors);
    const file = await readSafetensorsFile(SAM_TINY.safetensors);
    const ck = await readCheckpoint(SAM_TINY.safetensors);
    assert.is(ck.format, "safetensors");
    assert.equal(ck.extras, mem.metadata);
    assert.is(mem.tensors.size, file.tensors.size);
    for (const [k, t] of mem.tensors) {
        same(file.tensors.get(k), t, k);
        same(ck.tensors.get(k), t, k);
        assert.is(t.dtype, "float32");
    }
    const qkv = mem.tensors.get("image_encoder.blocks.0.attn.qkv.weight");
    assert.equal(qkv?.shape, [192, 64]);
    assert.ok(qkv && qkv.data.buffer !== bytes.buffer, "tensors read from bytes do not alias the input");
});

test("write -> read round-trips every dtype and the metadata; layout follows the reference writer", async () => {
    const src = new Map<string, Tensor>([
        ["z.f16", tensor("float16", [2], new Uint16Array([0x3c00, 0xfc00]))],
        ["a.u8", tensor("uint8", [3], new Uint8Array([1, 2, 3]))],
        ["m.f32", tensor("float32", [2, 2], new Float32Array([1, 2, 3, -4]))],
        ["b.i64", tensor("int64", [1], new BigInt64Array([-5n]))],
        ["c.f64", tensor("float64", [1], new Float64Array([0.1]))],
        ["d.bf16", tensor("bfloat16", [1], new Uint16Array([0x3f80]))],
        ["e.bool", tensor("bool", [2], new Uint8Array([0, 1]))],
        ["f.i8", tensor("int8", [1], new Int8Array([-1]))],
        ["g.i16", tensor("int16", [1], new Int16Array([-2]))],
        ["h.i32", tensor("int32", [1], new Int32Array([-3]))],
        ["scalar", tensor("float32", [], new Float32Array([7]))],
        ["empty", tensor("float32", [0])],
    ]);
    const bytes = writeSafetensors(src, { format: "pt", note: "decoder" });
    const header = readSafetensorsHeader(bytes);
    assert.is(header.dataOffset % 8, 0, "data start 8-aligned");
    // Decreasing element size, then name: every tensor is aligned to its element size.
    assert.equal(
        header.entries.map((e) => e.name),
        ["b.i64", "c.f64", "empty", "h.i32", "m.f32", "scalar", "d.bf16", "g.i16", "z.f16", "a.u8", "e.bool", "f.i8"],
    );
    for (const e of header.entries)
        assert.is((header.dataOffset + e.begin) % itemSize(e.dtype), 0, `${e.name} aligned`);
    const back = readSafetensors(bytes);
    assert.equal(back.metadata, { format: "pt", note: "decoder" });
    for (const [k, t] of src) same(back.tensors.get(k), t, k);
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, header.dataOffset)));
    assert.equal(json["m.f32"], { dtype: "F32", shape: [2, 2], data_offsets: json["m.f32"].data_offsets });
    assert.is(json["e.bool"].dtype, "BOOL");
    assert.is(json["d.bf16"].dtype, "BF16");
});

test("writeSafetensorsFile is atomic and readable back", async () => {
    const { dir, cleanup } = tempDir("st-write");
    try {
        const file = path.join(dir, "w.safetensors");
        const t = tensor("float32", [3], new Float32Array([1, 2, 3]));
        await writeSafetensorsFile(file, { w: t });
        await writeSafetensorsFile(file, { w: t, v: t });
        const back = await readSafetensorsFile(file);
        assert.equal([...back.tensors.keys()].sort(), ["v", "w"]);
    } finally {
        cleanup();
    }
});

test("hand-built files with padded headers and no metadata are read", () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4, 5]).buffer);
    const bytes = build(
        {
            b: { dtype: "F32", shape: [3], data_offsets: [8, 20] },
            a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        },
        data,
        5,
    );
    const r = readSafetensors(bytes);
    assert.equal(values(r.tensors.get("a")), [1, 2]);
    assert.equal(values(r.tensors.get("b")), [3, 4, 5]);
    assert.equal(r.metadata, {});
});

test("invalid headers and data sections are rejected with ERR_SA_SAFETENSORS or _TRUNCATED", async () => {
    const f32 = (n: number) => new Uint8Array(4 * n);
    const cases: [string, Uint8Array, string, string][] = [
        ["not JSON", build({}, new Uint8Array(0)).fill(0x7b, 8), "ERR_SA_SAFETENSORS", "JSON"],
        [
            "unknown dtype",
            build({ a: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
            "ERR_SA_SAFETENSORS",
            "F8_E4M3",
        ],
        [
            "size mismatch",
            build({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32(2)),
            "ERR_SA_SAFETENSORS",
            "needs 12 bytes",
        ],
        [
            "overlap",
            build(
                {
                    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
                    b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
                },
                f32(3),
            ),
            "ERR_SA_SAFETENSORS",
            "overlaps",
        ],
        ["gap", build({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, f32(2)), "ERR_SA_SAFETENSORS", "gap"],
        [
            "trailing bytes",
            build({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32(2)),
            "ERR_SA_SAFETENSORS",
            "belong to no tensor",
        ],
        [
            "negative shape",
            build({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }, f32(0)),
            "ERR_SA_SAFETENSORS",
            "shape",
        ],
        [
            "bad offsets",
            build({ a: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }, f32(1)),
            "ERR_SA_SAFETENSORS",
            "data_offsets",
        ],
        ["bad metadata", build({ __metadata__: { a: 1 } }, f32(0)), "ERR_SA_SAFETENSORS", "__metadata__"],
        [
            "data truncated",
            build({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, f32(3)),
            "ERR_SA_CHECKPOINT_TRUNCATED",
            "truncated",
        ],
        [
            "header truncated",
            build({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32(1)).subarray(0, 20),
            "ERR_SA_CHECKPOINT_TRUNCATED",
            "header",
        ],
        [
            "huge header length",
            (() => {
                const b = build({}, f32(0));
                new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true);
                return b;
            })(),
            "ERR_SA_SAFETENSORS",
            "limit",
        ],
    ];
    for (const [label, bytes, code, part] of cases) {
        const e = await rejectsWithCode(() => readSafetensors(bytes, `${label}.safetensors`), code, [part]);
        assert.ok(e.message.startsWith(`${label}.safetensors: `), `${label}: message names the file`);
    }
});

test.run();
