import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import {
    CheckpointError,
    readCheckpoint,
    readPth,
    writePth,
    writePthFile,
    writeSafetensorsFile,
    writeZip,
} from "@sam-ablate/checkpoint";
import { tensor } from "@sam-ablate/tensor";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { hex, rejectsWithCode, SAM_TINY, tempDir, values } from "../helpers/checkpoint-fixtures.js";
import { PickleBytes } from "../helpers/pickle-bytes.js";

const { dir, cleanup } = tempDir("bad-checkpoints");
const enc = new TextEncoder();

/** Writes `bytes` to a file in the temp folder and returns its path. */
function put(name: string, bytes: Uint8Array): string {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    return file;
}

/** A torch-style zip around a given data.pkl (plus optional storage records). */
function pthWithPickle(pkl: Uint8Array, storages: Record<string, Uint8Array> = {}): Uint8Array {
    return writeZip([
        { name: "archive/data.pkl", data: pkl },
        ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
        { name: "archive/version", data: enc.encode("3\n") },
    ]);
}

/** readCheckpoint(file) must fail with `code`, a CheckpointError naming the file. */
async function expectFailure(file: string, code: string, parts: string[] = []): Promise<void> {
    const e = await rejectsWithCode(() => readCheckpoint(file), code, parts);
    assert.instance(e, CheckpointError);
    assert.is(e.file, file);
    assert.ok(e.message.includes(path.basename(file)), `message names the file: ${e.message}`);
}

test("a missing file is ERR_SA_CHECKPOINT_NOT_FOUND; a folder is ERR_SA_CHECKPOINT_IO", async () => {
    await expectFailure(path.join(dir, "does-not-exist.pth"), "ERR_SA_CHECKPOINT_NOT_FOUND", ["no such file"]);
    const sub = path.join(dir, "folder.pth");
    mkdirSync(sub);
    await expectFailure(sub, "ERR_SA_CHECKPOINT_IO", ["directory"]);
});

test("files that are not checkpoints are ERR_SA_CHECKPOINT_FORMAT", async () => {
    await expectFailure(put("empty.pth", new Uint8Array(0)), "ERR_SA_CHECKPOINT_FORMAT", ["empty"]);
    const png = hex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489");
    await expectFailure(put("image.pth", png), "ERR_SA_CHECKPOINT_FORMAT", ["PNG"]);
    const random = new Uint8Array(4096);
    let s = 12345;
    for (let i = 0; i < random.length; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        random[i] = s >>> 24;
    }
    random[0] = 0x13; // not a magic byte of any supported format
    await expectFailure(put("random.bin", random), "ERR_SA_CHECKPOINT_FORMAT", ["not a checkpoint"]);
    await expectFailure(put("tiny.bin", enc.encode("hi")), "ERR_SA_CHECKPOINT_FORMAT");
    const legacy = hex("80028a0a6cfc9c46f9206aa85019");
    await expectFailure(put("legacy.pth", legacy), "ERR_SA_CHECKPOINT_FORMAT", ["PyTorch < 1.6"]);
    const noPickle = writeZip([{ name: "readme.txt", data: enc.encode("hello") }]);
    await expectFailure(put("plain.zip", noPickle), "ERR_SA_CHECKPOINT_FORMAT", ["data.pkl"]);
});

test("truncated checkpoints are ERR_SA_CHECKPOINT_TRUNCATED", async () => {
    const full = readFileSync(SAM_TINY.pth);
    await expectFailure(put("half.pth", full.subarray(0, full.length >> 1)), "ERR_SA_CHECKPOINT_TRUNCATED", [
        "truncated",
    ]);
    await expectFailure(put("cut-directory.pth", full.subarray(0, full.length - 30)), "ERR_SA_CHECKPOINT_TRUNCATED");
    const st = readFileSync(SAM_TINY.safetensors);
    await expectFailure(put("half.safetensors", st.subarray(0, st.length - 1000)), "ERR_SA_CHECKPOINT_TRUNCATED");
    await expectFailure(put("header-only.safetensors", st.subarray(0, 100)), "ERR_SA_CHECKPOINT_TRUNCATED");
});

test("flipped bytes in a record fail the CRC check: ERR_SA_CHECKPOINT_CORRUPT", async () => {
    const bytes = writePth({ w: tensor("float32", [4], new Float32Array([1, 2, 3, 4])) });
    const corrupt = bytes.slice();
    // Flip a byte of the tensor data (the last 4-float block before the version record).
    const at = Buffer.from(corrupt).indexOf(Buffer.from(new Float32Array([1, 2, 3, 4]).buffer));
    assert.ok(at > 0);
    corrupt[at + 1] = (corrupt[at + 1] as number) ^ 0xff;
    await expectFailure(put("flipped.pth", corrupt), "ERR_SA_CHECKPOINT_CORRUPT", ["archive/data/0", "CRC"]);
    const r = await readPth(corrupt, { verifyCrc: false });
    assert.is(r.tensors.size, 1, "verifyCrc: false reads it anyway");
});

test("corrupt pickle bytes are ERR_SA_PICKLE with the byte offset", async () => {
    const truncated = new PickleBytes().proto(2).emptyDict().mark().str("a").bytes();
    await expectFailure(put("no-stop.pth", pthWithPickle(truncated)), "ERR_SA_PICKLE", ["STOP"]);
    const badOp = new PickleBytes().proto(2).emptyDict().raw(0xff).stop().bytes();
    await expectFailure(put("bad-opcode.pth", pthWithPickle(badOp)), "ERR_SA_PICKLE", [
        "unsupported opcode 0xff",
        "at byte 3",
    ]);
    const underflow = new PickleBytes().proto(2).setitem().stop().bytes();
    await expectFailure(put("underflow.pth", pthWithPickle(underflow)), "ERR_SA_PICKLE", ["stack underflow"]);
    const badMemo = new PickleBytes().proto(2).raw(0x68, 9).stop().bytes();
    await expectFailure(put("memo.pth", pthWithPickle(badMemo)), "ERR_SA_PICKLE", ["memo key 9"]);
    const cut = new PickleBytes().proto(2).raw(0x58, 0xff, 0xff, 0, 0, 0x61).bytes();
    await expectFailure(put("cut-string.pth", pthWithPickle(cut)), "ERR_SA_PICKLE", ["truncated"]);
    const badArgs = new PickleBytes()
        .proto(2)
        .global("torch._utils", "_rebuild_tensor_v2")
        .int(1)
        .raw(0x85)
        .reduce()
        .stop()
        .bytes();
    await expectFailure(put("bad-args.pth", pthWithPickle(badArgs)), "ERR_SA_PICKLE", ["storage"]);
    // Garbage where the pickle should be.
    await expectFailure(put("garbage.pth", pthWithPickle(enc.encode("this is not a pickle"))), "ERR_SA_PICKLE");
});

test("globals outside the allow-list are ERR_SA_PICKLE_GLOBAL naming the global; nothing runs", async () => {
    // cos\nsystem\n ('echo hi',) REDUCE, protocol 2, hand-written.
    const osSystem = new PickleBytes().proto(2).global("os", "system").str("echo hi").raw(0x85).reduce().stop().bytes();
    await expectFailure(put("os-system.pth", pthWithPickle(osSystem)), "ERR_SA_PICKLE_GLOBAL", [
        "os.system",
        "not allowed",
    ]);
    // CPython: pickle.dumps(obj whose __reduce__ is (os.system, ("echo hi",)), protocol=4) -> STACK_GLOBAL posix.system.
    const posix = hex("80049522000000000000008c05706f736978948c0673797374656d9493948c076563686f20686994859452942e");
    await expectFailure(put("posix.pth", pthWithPickle(posix)), "ERR_SA_PICKLE_GLOBAL", ["posix.system"]);
    // A whole pickled model (torch.save(model)) needs its class: refused.
    const model = hex(
        "8002637365676d656e745f616e797468696e672e6d6f64656c696e672e73616d0a53616d0a7100298171017d710258010000007871034b0173622e",
    );
    await expectFailure(put("model.pth", pthWithPickle(model)), "ERR_SA_PICKLE_GLOBAL", [
        "segment_anything.modeling.sam.Sam",
    ]);
    const evalGlobal = new PickleBytes()
        .proto(2)
        .global("builtins", "eval")
        .str("1+1")
        .raw(0x85)
        .reduce()
        .stop()
        .bytes();
    await expectFailure(put("eval.pth", pthWithPickle(evalGlobal)), "ERR_SA_PICKLE_GLOBAL", ["builtins.eval"]);
});

test("inconsistent archives: missing storage record, storage too small, no state dict", async () => {
    const onePair = (numel: number, size: number[]) =>
        new PickleBytes()
            .proto(2)
            .emptyDict()
            .str("w")
            .tensor("FloatStorage", "0", numel, 0, size, [1])
            .setitem()
            .stop()
            .bytes();
    await expectFailure(put("missing-record.pth", pthWithPickle(onePair(2, [2]))), "ERR_SA_CHECKPOINT_FORMAT", [
        "archive/data/0",
    ]);
    await expectFailure(
        put("small-record.pth", pthWithPickle(onePair(4, [4]), { "0": new Uint8Array(8) })),
        "ERR_SA_CHECKPOINT_FORMAT",
        ["needs 16"],
    );
    await expectFailure(
        put("out-of-range.pth", pthWithPickle(onePair(2, [3]), { "0": new Uint8Array(8) })),
        "ERR_SA_CHECKPOINT_FORMAT",
        ["reaches element 2"],
    );
    const noTensors = new PickleBytes().proto(2).emptyDict().str("epoch").int(3).setitem().stop().bytes();
    await expectFailure(put("no-state-dict.pth", pthWithPickle(noTensors)), "ERR_SA_CHECKPOINT_FORMAT", [
        "no state dict",
        '"epoch"',
    ]);
});

test("an ONNX model is detected and its initializers become tensors", async () => {
    const raw = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    // TensorProto {dims: [2], data_type: FLOAT, name: "w", raw_data}
    const init = [0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 0x77, 0x4a, 0x08, ...raw];
    // GraphProto {name: "g", initializer: [init]}
    const graph = [0x12, 0x01, 0x67, 0x2a, init.length, ...init];
    // ModelProto {ir_version: 8, producer_name: "t", graph, opset_import: [{version: 17}]}
    const model = Uint8Array.from([0x08, 0x08, 0x12, 0x01, 0x74, 0x3a, graph.length, ...graph, 0x42, 0x02, 0x10, 0x11]);
    const ck = await readCheckpoint(put("tiny.onnx", model));
    assert.is(ck.format, "onnx");
    assert.equal([...ck.tensors.keys()], ["w"]);
    assert.equal(ck.tensors.get("w")?.shape, [2]);
    assert.equal(values(ck.tensors.get("w")), [1.5, -2]);
    assert.is(ck.extras.opset, 17);
    assert.is(ck.extras.producerName, "t");
});

test("writing into a missing folder is ERR_SA_CHECKPOINT_IO naming the file; nothing is left behind", async () => {
    const t = { w: tensor("float32", [1], new Float32Array([1])) };
    const target = path.join(dir, "no-such-folder", "out.pth");
    const e = await rejectsWithCode(() => writePthFile(target, t), "ERR_SA_CHECKPOINT_IO", [
        target,
        "folder does not exist",
    ]);
    assert.instance(e, CheckpointError);
    // A rename onto a folder fails after the data are written: the temporary file must be removed.
    const folder = path.join(dir, "occupied.safetensors");
    mkdirSync(folder);
    await rejectsWithCode(() => writeSafetensorsFile(folder, t), "ERR_SA_CHECKPOINT_IO", [folder, "in the way"]);
    assert.equal(
        readdirSync(dir).filter((n) => n.endsWith(".tmp")),
        [],
        "no temporary file left",
    );
});

test("in-memory reads name the caller's label", async () => {
    await rejectsWithCode(
        () => readPth(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]), { file: "upload.pth" }),
        "ERR_SA_CHECKPOINT_TRUNCATED",
        ["upload.pth: "],
    );
});

test.after(cleanup);
test.run();
