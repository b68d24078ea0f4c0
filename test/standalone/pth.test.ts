import { readFileSync } from "node:fs";
import path from "node:path";
import {
    bytesSource,
    openZip,
    readCheckpoint,
    readPth,
    readPthFile,
    readSafetensorsFile,
    stateDictToFloat32Record,
    unpickle,
    writePth,
    writePthFile,
    writeZip,
} from "@sam-ablate/checkpoint";
import { f16ToF32, f32ToF16, type Tensor, tensor } from "@sam-ablate/tensor";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hex, SAM_TINY, tempDir, values } from "../helpers/checkpoint-fixtures.js";
import { deflatedZip } from "../helpers/deflate-zip.js";
import { PickleBytes } from "../helpers/pickle-bytes.js";
import { scanPickle } from "../helpers/pickle-scan.js";

function sameTensor(a: Tensor | undefined, b: Tensor | undefined, name: string): void {
    assert.ok(a !== undefined && b !== undefined, `${name} missing`);
    assert.is(a.dtype, b.dtype, `${name} dtype`);
    assert.equal(a.shape, b.shape, `${name} shape`);
    const ab = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    const bb = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
    assert.ok(Buffer.compare(ab, bb) === 0, `${name} data differ`);
}

test("sam_tiny.pth, the nested fp16 .pth and the safetensors hold the same weights", async () => {
    const pth = await readPthFile(SAM_TINY.pth);
    const nested = await readPthFile(SAM_TINY.nestedFp16);
    const st = await readSafetensorsFile(SAM_TINY.safetensors);
    assert.is(pth.recordPrefix, "sam_tiny/");
    assert.equal(pth.stateDictPath, []);
    assert.equal(pth.extras, {});
    assert.is(nested.recordPrefix, "archive/");
    assert.equal(nested.stateDictPath, ["model"]);
    assert.equal(nested.extras.epoch, 3);
    assert.is(typeof nested.extras.note, "string");

    const keys = [...st.tensors.keys()].sort();
    assert.ok(keys.length > 100);
    assert.equal([...pth.tensors.keys()].sort(), keys);
    assert.equal([...nested.tensors.keys()].sort(), keys);
    assert.ok(pth.tensors.has("image_encoder.blocks.0.attn.qkv.weight"));
    assert.ok(pth.tensors.has("mask_decoder.transformer.layers.0.self_attn.q_proj.weight"));
    assert.ok(pth.tensors.has("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"));

    for (const k of keys) {
        const f = pth.tensors.get(k) as Tensor;
        sameTensor(f, st.tensors.get(k), k);
        const h = nested.tensors.get(k) as Tensor;
        assert.is(h.dtype, "float16", k);
        assert.equal(h.shape, f.shape, k);
        const fd = f.data as Float32Array;
        const hd = h.data as Uint16Array;
        for (let i = 0; i < fd.length; i++) {
            if (hd[i] !== f32ToF16(fd[i] as number)) assert.unreachable(`${k}[${i}]: fp16 ${hd[i]} != round(${fd[i]})`);
        }
    }
    assert.equal(pth.tensors.get("image_encoder.pos_embed")?.shape, [1, 16, 16, 64]);
});

test("readCheckpoint detects both .pth layouts", async () => {
    const a = await readCheckpoint(SAM_TINY.pth);
    assert.is(a.format, "pth");
    assert.is(a.file, SAM_TINY.pth);
    const b = await readCheckpoint(SAM_TINY.nestedFp16);
    assert.is(b.format, "pth");
    assert.equal(b.extras.epoch, 3);
    assert.is(b.tensors.size, a.tensors.size);
});

const allDTypes = (): Map<string, Tensor> =>
    new Map<string, Tensor>([
        ["w.f32", tensor("float32", [2, 3], new Float32Array([1, -2, 3.5, 0, -0, 1e-30]))],
        ["w.f16", tensor("float16", [3], new Uint16Array([0x3c00, 0x7c00, 0x0001]))],
        ["w.bf16", tensor("bfloat16", [2], new Uint16Array([0x3f80, 0xc000]))],
        ["w.f64", tensor("float64", [2], new Float64Array([Math.PI, -1e300]))],
        ["b.i64", tensor("int64", [2], new BigInt64Array([-(2n ** 62n), 5n]))],
        ["b.i32", tensor("int32", [1], new Int32Array([-7]))],
        ["b.i16", tensor("int16", [1], new Int16Array([-300]))],
        ["b.i8", tensor("int8", [2], new Int8Array([-128, 127]))],
        ["b.u8", tensor("uint8", [2], new Uint8Array([0, 255]))],
        ["b.bool", tensor("bool", [3], new Uint8Array([1, 0, 1]))],
        ["scalar", tensor("float32", [], new Float32Array([42]))],
        ["empty", tensor("float32", [0, 4])],
        [
            "big",
            tensor(
                "float32",
                [2, 3, 4, 5],
                Float32Array.from({ length: 120 }, (_, i) => i * 0.5),
            ),
        ],
    ]);

test("write -> read gives identical tensors for every dtype, scalars and empty tensors", async () => {
    const src = allDTypes();
    const bytes = writePth(src);
    const back = await readPth(bytes, { file: "roundtrip.pth" });
    assert.equal([...back.tensors.keys()], [...src.keys()], "order is kept");
    for (const [k, t] of src) sameTensor(back.tensors.get(k), t, k);
    assert.is(back.recordPrefix, "archive/");
});

test("writePthFile writes atomically and the sam_tiny weights round-trip through it", async () => {
    const { dir, cleanup } = tempDir("pth-write");
    try {
        const original = await readPthFile(SAM_TINY.pth);
        const file = path.join(dir, "decoder.pth");
        await writePthFile(file, original.tensors, { recordPrefix: "decoder" });
        const back = await readCheckpoint(file);
        assert.is(back.tensors.size, original.tensors.size);
        for (const [k, t] of original.tensors) sameTensor(back.tensors.get(k), t, k);
        const zip = await openZip(bytesSource(readFileSync(file), file));
        assert.ok(zip.entries.every((e) => e.name.startsWith("decoder/")));
    } finally {
        cleanup();
    }
});

test("the written .pth is what torch.save writes: records, alignment, pickle opcodes and globals", async () => {
    const bytes = writePth(
        new Map<string, Tensor>([
            ["a.weight", tensor("float32", [2, 2, 2, 2], new Float32Array(16).fill(1))],
            ["a.bias", tensor("float32", [3], new Float32Array([1, 2, 3]))],
        ]),
    );
    const zip = await openZip(bytesSource(bytes, "w.pth"));
    assert.equal(
        zip.entries.map((e) => e.name),
        ["archive/data.pkl", "archive/byteorder", "archive/data/0", "archive/data/1", "archive/version"],
    );
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const dec = new TextDecoder();
    const recordData = (name: string): Uint8Array => {
        const e = zip.byName.get(name);
        assert.ok(e, name);
        assert.is(e.method, 0, `${name} is stored`);
        const at = e.localHeaderOffset;
        assert.is(view.getUint32(at, true), 0x04034b50);
        const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
        assert.is(start % 64, 0, `${name} data start at a 64-byte boundary`);
        return bytes.subarray(start, start + e.size);
    };
    assert.is(dec.decode(recordData("archive/version")), "3\n");
    assert.is(dec.decode(recordData("archive/byteorder")), "little");
    assert.equal(Array.from(new Float32Array(recordData("archive/data/1").slice().buffer)), [1, 2, 3]);

    const { ops, globals } = scanPickle(recordData("archive/data.pkl"));
    assert.is(ops[0], 0x80, "starts with PROTO");
    assert.is(recordData("archive/data.pkl")[1], 2, "protocol 2");
    assert.equal([...new Set(globals)].sort(), [
        "collections.OrderedDict",
        "torch.FloatStorage",
        "torch._utils._rebuild_tensor_v2",
    ]);
    assert.ok(ops.includes(0x51), "storages are persistent ids (BINPERSID)");
    // Only opcodes that torch's weights-only unpickler implements.
    const weightsOnly = new Set([
        0x80, 0x63, 0x71, 0x72, 0x68, 0x6a, 0x29, 0x52, 0x28, 0x58, 0x4b, 0x4d, 0x4a, 0x8a, 0x74, 0x85, 0x86, 0x87,
        0x51, 0x89, 0x88, 0x73, 0x75, 0x2e,
    ]);
    for (const op of ops)
        assert.ok(weightsOnly.has(op), `opcode 0x${op.toString(16)} is outside torch's weights-only set`);
});

test("storage views: offsets, strides (non-contiguous), shared storages, _rebuild_parameter", async () => {
    // One storage of 12 floats 0..11 shared by: a [3,4] view, its transpose (stride [1,4]), a
    // [2,2] window at offset 5 with stride [4,1], and a Parameter wrapping a 1-D slice.
    const storage = new Float32Array(Array.from({ length: 12 }, (_, i) => i));
    const p = new PickleBytes().proto(2).global("collections", "OrderedDict").emptyTuple().reduce().mark();
    p.str("full").tensor("FloatStorage", "0", 12, 0, [3, 4], [4, 1]);
    p.str("transposed").tensor("FloatStorage", "0", 12, 0, [4, 3], [1, 4]);
    p.str("window").tensor("FloatStorage", "0", 12, 5, [2, 2], [4, 1]);
    p.str("param").global("torch._utils", "_rebuild_parameter");
    p.mark()
        .tensor("FloatStorage", "0", 12, 2, [3], [1])
        .newfalse()
        .global("collections", "OrderedDict")
        .emptyTuple()
        .reduce()
        .tuple()
        .reduce();
    p.setitems().stop();
    const zip = writeZip([
        { name: "archive/data.pkl", data: p.bytes() },
        { name: "archive/data/0", data: new Uint8Array(storage.buffer) },
        { name: "archive/version", data: new TextEncoder().encode("3\n") },
    ]);
    const { tensors } = await readPth(zip);
    assert.equal(values(tensors.get("full")), Array.from(storage));
    assert.equal(tensors.get("transposed")?.shape, [4, 3]);
    assert.equal(values(tensors.get("transposed")), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    assert.equal(values(tensors.get("window")), [5, 6, 9, 10]);
    assert.equal(values(tensors.get("param")), [2, 3, 4]);
    const full = tensors.get("full") as Tensor;
    (full.data as Float32Array)[0] = 99;
    assert.is((tensors.get("transposed") as Tensor).data[0], 0, "tensors sharing a storage do not alias each other");
});

test("nested state dicts, module. prefixes, explicit stateDictPath, big-endian archives", async () => {
    const data = new Float32Array([1.5, -2.5]);
    const build = (outerKey: string) => {
        const p = new PickleBytes().proto(2).emptyDict().mark();
        p.str(outerKey).global("collections", "OrderedDict").emptyTuple().reduce().mark();
        p.str("module.layer.weight").tensor("FloatStorage", "0", 2, 0, [2], [1]);
        p.str("module.layer.bias").tensor("FloatStorage", "0", 2, 1, [1], [1]);
        p.setitems();
        p.str("epoch").int(7).str("best").mark().int(1).int(2).tuple();
        return p.setitems().stop().bytes();
    };
    for (const key of ["state_dict", "model", "ema_weights"]) {
        const zip = writeZip([
            { name: "ckpt/data.pkl", data: build(key) },
            { name: "ckpt/data/0", data: new Uint8Array(data.buffer) },
        ]);
        const r = await readPth(zip, { stripPrefix: "module." });
        assert.equal(r.stateDictPath, [key]);
        assert.equal([...r.tensors.keys()], ["layer.weight", "layer.bias"]);
        assert.equal(values(r.tensors.get("layer.bias")), [-2.5]);
        assert.equal(r.extras, { epoch: 7, best: [1, 2] });
        const explicit = await readPth(zip, { stateDictPath: [key] });
        assert.ok(explicit.tensors.has("module.layer.weight"), "keys kept without stripPrefix");
    }
    // A big-endian archive (byteorder record "big") is byte-swapped on load.
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.5, false);
    new DataView(be.buffer).setFloat32(4, -2.5, false);
    const zip = writeZip([
        { name: "archive/data.pkl", data: build("model") },
        { name: "archive/byteorder", data: new TextEncoder().encode("big") },
        { name: "archive/data/0", data: be },
    ]);
    const r = await readPth(zip);
    assert.equal(values(r.tensors.get("module.layer.weight")), [1.5, -2.5]);
});

test("deflate-compressed archives with data descriptors, and zip64 records, are read", async () => {
    const src = allDTypes();
    const stored = writePth(src);
    const zip = await openZip(bytesSource(stored, "s.pth"));
    const records: { name: string; data: Uint8Array }[] = [];
    for (const e of zip.entries) {
        const at = e.localHeaderOffset;
        const v = new DataView(stored.buffer, stored.byteOffset);
        const start = at + 30 + v.getUint16(at + 26, true) + v.getUint16(at + 28, true);
        records.push({ name: e.name.replace("archive/", "my_model/"), data: stored.slice(start, start + e.size) });
    }
    const deflated = await readPth(deflatedZip(records));
    assert.is(deflated.recordPrefix, "my_model/");
    for (const [k, t] of src) sameTensor(deflated.tensors.get(k), t, k);

    const zip64 = writeZip(records, { forceZip64: true });
    const z = await openZip(bytesSource(zip64, "z64.pth"));
    assert.is(z.entries.length, records.length);
    const r64 = await readPth(zip64);
    for (const [k, t] of src) sameTensor(r64.tensors.get(k), t, k);
});

test("the pickle VM reads CPython protocol 2, 4 and 5 streams", () => {
    // pickle.dumps({"a": [1, -2**70, 3.5, True, False, None, "é✓", b"xy", (1,2,3,4), (), (7,), {1,2},
    //   frozenset([3]) (protocols 4, 5 only), bytearray(b"q"), 2**31, -1, 65535, 65536, -2**31],
    //   "nested": {"k": (1.0, "s")}}, protocol=p)
    const p2 = hex(
        "80027d71002858010000006171015d7102284b018a090000000000000000c047400c00000000000088894e5805000000c3a9e29c937103635f636f646563730a656e636f64650a710458020000007879710558060000006c6174696e317106867107527108284b014b024b034b04747109294b0785710a635f5f6275696c74696e5f5f0a7365740a710b5d710c284b014b026585710d52710e635f5f6275696c74696e5f5f0a6279746561727261790a710f6804580100000071711068068671115271128571135271148a0500000080004affffffff4dffff4a000001004a000000806558060000006e657374656471157d711658010000006b7117473ff0000000000000580100000073711886711973752e",
    );
    const p4 = hex(
        "800495a9000000000000007d94288c0161945d94284b018a090000000000000000c047400c00000000000088894e8c05c3a9e29c93944302787994284b014b024b034b047494294b0785948f94284b014b0290284b0391948c086275696c74696e73948c0962797465617272617994939443017194859452948a0500000080004affffffff4dffff4a000001004a00000080658c066e6573746564947d948c016b94473ff00000000000008c017394869473752e",
    );
    const p5 = hex(
        "80059593000000000000007d94288c0161945d94284b018a090000000000000000c047400c00000000000088894e8c05c3a9e29c93944302787994284b014b024b034b047494294b0785948f94284b014b0290284b03919496010000000000000071948a0500000080004affffffff4dffff4a000001004a00000080658c066e6573746564947d948c016b94473ff00000000000008c017394869473752e",
    );
    for (const [label, bytes, hasFrozen] of [
        ["protocol 2", p2, false],
        ["protocol 4", p4, true],
        ["protocol 5", p5, true],
    ] as const) {
        const v = unpickle(bytes);
        assert.ok(v instanceof Map, label);
        const a = v.get("a") as unknown[];
        assert.is(a[0], 1);
        assert.is(a[1], -(2n ** 70n), `${label}: LONG1`);
        assert.is(a[2], 3.5);
        assert.is(a[3], true);
        assert.is(a[4], false);
        assert.is(a[5], null);
        assert.is(a[6], "é✓");
        assert.equal(Array.from(a[7] as Uint8Array), [0x78, 0x79], `${label}: bytes`);
        assert.equal(a[8], [1, 2, 3, 4]);
        assert.ok(Object.isFrozen(a[8]), "tuples are frozen arrays");
        assert.equal(a[9], []);
        assert.equal(a[10], [7]);
        assert.equal([...(a[11] as Set<number>)], [1, 2]);
        const rest = hasFrozen ? a.slice(13) : a.slice(12);
        if (hasFrozen) assert.equal([...(a[12] as Set<number>)], [3]);
        assert.equal(Array.from(rest[0] as Uint8Array), [0x71], `${label}: bytearray`);
        assert.equal(rest.slice(1), [2 ** 31, -1, 65535, 65536, -(2 ** 31)]);
        const nested = v.get("nested") as Map<string, unknown>;
        assert.equal(nested.get("k"), [1, "s"]);
    }
});

test("stateDictToFloat32Record selects by prefix, strips it, and widens fp16 exactly", async () => {
    const f32 = await readPthFile(SAM_TINY.pth);
    const f16 = await readPthFile(SAM_TINY.nestedFp16);
    const all = stateDictToFloat32Record(f32.tensors);
    assert.is(Object.keys(all).length, f32.tensors.size);
    const qkv = f32.tensors.get("image_encoder.blocks.0.attn.qkv.weight") as Tensor;
    assert.ok(all["image_encoder.blocks.0.attn.qkv.weight"]?.data === qkv.data, "float32 data are shared");
    const dec = stateDictToFloat32Record(f16.tensors, { prefix: "mask_decoder.", stripPrefix: true });
    const names = Object.keys(dec);
    assert.ok(names.length > 0 && names.every((n) => !n.startsWith("mask_decoder.")));
    assert.ok(names.includes("transformer.layers.0.self_attn.q_proj.weight"));
    for (const n of names) {
        const h = f16.tensors.get(`mask_decoder.${n}`) as Tensor<"float16">;
        const r = dec[n] as { shape: number[]; data: Float32Array };
        assert.equal(r.shape, h.shape);
        assert.ok(r.data instanceof Float32Array);
        for (let i = 0; i < r.data.length; i++) {
            if (r.data[i] !== f16ToF32(h.data[i] as number)) assert.unreachable(`${n}[${i}]`);
        }
    }
    const kept = stateDictToFloat32Record(f16.tensors, { prefix: "prompt_encoder." });
    assert.ok(Object.keys(kept).every((n) => n.startsWith("prompt_encoder.")));
});

test.run();
