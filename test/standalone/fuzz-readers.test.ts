// Seeded mutation fuzzing of every reader of untrusted files: .pth (zip + pickle), safetensors,
// NIfTI (plain, gzip, streamed from a file), PNG through sharp, ONNX, and plan YAML/JSON. Each target
// mutates a few small valid inputs a few thousand times (bounded by a time budget) and requires
// that every input is read or refused with an ERR_SA_* error: no other exception, no crash.
// The figures are printed (inputs tried, read, coded errors, crashes) so a run can be quoted.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { crc32, gzipSync } from "node:zlib";
import {
    bytesSource,
    onnxToFloat32,
    openZip,
    readOnnx,
    readPth,
    readSafetensors,
    readZipEntry,
    writePth,
    writeSafetensors,
    writeZip,
} from "@sam-ablate/checkpoint";
import { encodeNifti, parseNifti, readNifti } from "@sam-ablate/data";
import { decodeImage, decodeLabelImage, encodePng } from "@sam-ablate/image-io";
import { type Tensor, tensor } from "@sam-ablate/tensor";
import { loadPlan } from "sam-ablate";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { type FuzzReport, type FuzzRng, fuzz, mutate } from "../helpers/fuzz.js";
import { PickleBytes } from "../helpers/pickle-bytes.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("sa-fuzz-");

/** Inputs per reader and the time each may take (the whole file stays well under two minutes). */
const COUNT = Number(process.env.SA_FUZZ_COUNT ?? 3000);
const BUDGET_MS = Number(process.env.SA_FUZZ_BUDGET_S ?? 18) * 1000;
const SEED = Number(process.env.SA_FUZZ_SEED ?? 20261201);
const opts = (k: number, budgetScale = 1) => ({ seed: SEED + k, count: COUNT, budgetMs: BUDGET_MS * budgetScale });

function check(r: FuzzReport): void {
    assert.ok(r.tried >= Math.min(COUNT, 500), `${r.name}: only ${r.tried} inputs in the budget`);
    assert.is(r.crashes.length, 0, `${r.name}: ${r.crashes.length} crashes, first: ${r.crashes[0]?.error}`);
}

const enc = new TextEncoder();

// --- .pth: zip container and pickle stream -------------------------------------------------
const stateDict = new Map<string, Tensor>([
    ["a.weight", tensor("float32", [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6]))],
    ["a.bias", tensor("float16", [3], new Uint16Array([0x3c00, 0x4000, 0x4200]))],
    ["n", tensor("int64", [2], new BigInt64Array([1n, -2n]))],
]);
const plainPth = writePth(stateDict);
/** {"model": {"w": tensor}, "epoch": 3, "hist": [x, x] (memo), "opt": {"lr": 0.1}} */
function nestedPickle(): Uint8Array {
    const p = new PickleBytes().proto(2).emptyDict().str("model").emptyDict().str("w");
    p.tensor("FloatStorage", "0", 6, 0, [2, 3], [3, 1]).setitem().setitem();
    p.str("epoch").int(3).setitem();
    p.str("hist").raw(0x5d, 0x71, 1, 0x68, 1, 0x61).setitem();
    p.str("opt").emptyDict().str("lr").int(1).setitem().setitem();
    return p.stop().bytes();
}
const storage0 = new Uint8Array(Float32Array.from([1, 2, 3, 4, 5, 6]).buffer);
const pickles: Uint8Array[] = [nestedPickle()];
const records = (pkl: Uint8Array) => [
    { name: "archive/data.pkl", data: pkl },
    { name: "archive/byteorder", data: enc.encode("little") },
    { name: "archive/data/0", data: storage0 },
    { name: "archive/version", data: enc.encode("3\n") },
];
const nestedPth = writeZip(records(pickles[0] as Uint8Array));

test("fuzz: .pth (zip records and pickle streams)", async () => {
    const zip = await openZip(bytesSource(plainPth, "plain.pth"));
    const entry = zip.entries.find((e) => e.name.endsWith("data.pkl"));
    pickles.push(await readZipEntry(zip, entry as NonNullable<typeof entry>));
    const r = await fuzz(
        "pth (zip + pickle)",
        opts(1),
        (rng: FuzzRng, i) => {
            // One in three mutates the archive bytes; the rest a pickle, re-zipped with valid CRCs.
            if (i % 3 === 0) return mutate(rng.int(2) ? plainPth : nestedPth, rng);
            const pkl = mutate(rng.pick(pickles), rng);
            return rng.int(2)
                ? writeZip(records(pkl))
                : writeZip([{ name: "archive/data.pkl", data: pkl }, ...records(pkl).slice(2)]);
        },
        (input) => readPth(input, { file: "fuzz.pth" }),
    );
    check(r);
});

// --- safetensors -----------------------------------------------------------------------------
const st = writeSafetensors(
    new Map<string, Tensor>([
        ["x", tensor("float32", [2, 2], Float32Array.from([1, 2, 3, 4]))],
        ["y", tensor("bfloat16", [3], new Uint16Array([1, 2, 3]))],
        ["z", tensor("uint8", [0], new Uint8Array(0))],
    ]),
    { format: "pt", "sam_ablate.model": "vit_b" },
);
const NUMBERS = [
    "0",
    "-1",
    "1e309",
    "18446744073709551616",
    "9007199254740993",
    "2147483648",
    "4.5",
    "null",
    '"8"',
    "[]",
    "{}",
];

function mutateSafetensorsHeader(rng: FuzzRng): Uint8Array {
    const n = Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true));
    let json = new TextDecoder().decode(st.subarray(8, 8 + n));
    const k = 1 + rng.int(3);
    for (let i = 0; i < k; i++) {
        const numbers = [...json.matchAll(/-?\d+(\.\d+)?/g)];
        const m = numbers[rng.int(numbers.length)];
        if (m?.index === undefined) break;
        json = json.slice(0, m.index) + rng.pick(NUMBERS) + json.slice(m.index + m[0].length);
    }
    const header = enc.encode(json);
    const out = new Uint8Array(8 + header.length + (st.length - 8 - n));
    new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
    out.set(header, 8);
    out.set(st.subarray(8 + n), 8 + header.length);
    return out;
}

test("fuzz: safetensors", async () => {
    const r = await fuzz(
        "safetensors",
        opts(2),
        (rng) => (rng.int(2) ? mutate(st, rng) : mutateSafetensorsHeader(rng)),
        (input) => readSafetensors(input, "fuzz.safetensors"),
    );
    check(r);
});

// --- NIfTI -----------------------------------------------------------------------------------
const niftis = [
    encodeNifti({ dims: [4, 3, 2], data: Array.from({ length: 24 }, (_, i) => i - 5), datatype: "int16" }),
    encodeNifti(
        { dims: [3, 3, 1], data: Array.from({ length: 9 }, (_, i) => i * 0.5), datatype: "float32" },
        { littleEndian: false },
    ),
    encodeNifti({
        dims: [2, 2, 2],
        data: [0, 1, 2, 3, 250, 251, 252, 255],
        datatype: "uint8",
        sclSlope: 2,
        sclInter: -1,
    }),
];

test("fuzz: NIfTI (.nii, .nii.gz in memory and streamed from files)", async () => {
    const file = path.join(dir, "fuzz.nii.gz");
    const r = await fuzz(
        "nifti",
        opts(3),
        (rng, i) => {
            const base = rng.pick(niftis);
            // Mostly header mutations (the volumes are small), half of them gzipped afterwards;
            // some mutate the gzip stream itself.
            if (i % 5 === 4) return mutate(gzipSync(base), rng);
            const m = mutate(base, rng);
            return i % 2 ? gzipSync(m) : m;
        },
        async (input, i) => {
            parseNifti(input, "fuzz.nii");
            if (i % 4 === 0) {
                writeFileSync(file, input);
                await readNifti(file);
            }
        },
    );
    check(r);
});

// --- PNG through sharp -----------------------------------------------------------------------
/** Rewrites every chunk's CRC so that mutations reach the decoder instead of the CRC check. */
function fixPngCrcs(png: Uint8Array): Uint8Array {
    const out = Uint8Array.from(png);
    const view = new DataView(out.buffer);
    let p = 8;
    while (p + 12 <= out.length) {
        const len = view.getUint32(p);
        if (p + 12 + len > out.length) break;
        view.setUint32(p + 8 + len, crc32(out.subarray(p + 4, p + 8 + len)));
        p += 12 + len;
    }
    return out;
}

test("fuzz: PNG (sharp)", async () => {
    const grey = new Uint8Array(64).map((_, i) => (i * 37) & 0xff);
    const rgb = new Uint8Array(16 * 12 * 3).map((_, i) => (i * 11) & 0xff);
    const pngs = [
        await encodePng({ width: 8, height: 8, channels: 1, data: grey }),
        await encodePng({ width: 16, height: 12, channels: 3, data: rgb }),
        await encodePng({ width: 8, height: 8, channels: 1, data: grey.map((v) => v % 3) }, { compressionLevel: 0 }),
    ];
    const r = await fuzz(
        "png (sharp)",
        opts(4),
        (rng) => {
            const m = mutate(rng.pick(pngs), rng, 4);
            return rng.int(2) ? fixPngCrcs(m) : m;
        },
        async (input, i) => {
            if (i % 3 === 0) await decodeLabelImage(input, "fuzz.png");
            else await decodeImage(input, { source: "fuzz.png" });
        },
    );
    check(r);
});

// --- ONNX (protobuf) ---------------------------------------------------------------------------
function varint(v: number): number[] {
    const out: number[] = [];
    let x = v;
    do {
        let byte = x & 0x7f;
        x = Math.floor(x / 128);
        if (x !== 0) byte |= 0x80;
        out.push(byte);
    } while (x !== 0);
    return out;
}
const field = (n: number, wire: number) => varint(n * 8 + wire);
const fVarint = (n: number, v: number) => [...field(n, 0), ...varint(v)];
const fBytes = (n: number, bytes: number[]) => [...field(n, 2), ...varint(bytes.length), ...bytes];
const fString = (n: number, text: string) => fBytes(n, [...enc.encode(text)]);
const floats = (vals: number[]) => [...new Uint8Array(Float32Array.from(vals).buffer)];
/** ModelProto { ir_version, opset_import, graph { initializers w (raw), b (float_data), node MatMul } }. */
function onnxModel(): Uint8Array {
    const w = [...fBytes(1, [2, 3]), ...fVarint(2, 1), ...fString(8, "w"), ...fBytes(9, floats([1, 2, 3, 4, 5, 6]))];
    const b = [...fBytes(1, [3]), ...fVarint(2, 1), ...fString(8, "b"), ...fBytes(4, floats([7, 8, 9]))];
    const h = [...fBytes(1, [2]), ...fVarint(2, 10), ...fString(8, "h"), ...fBytes(9, [0x00, 0x3c, 0x00, 0xc0])];
    const node = [...fString(1, "x"), ...fString(1, "w"), ...fString(2, "y"), ...fString(4, "MatMul")];
    const graph = [...fBytes(1, node), ...fString(2, "g"), ...fBytes(5, w), ...fBytes(5, b), ...fBytes(5, h)];
    return Uint8Array.from([...fVarint(1, 8), ...fBytes(8, fVarint(2, 17)), ...fBytes(7, graph)]);
}

test("fuzz: ONNX", async () => {
    const base = onnxModel();
    readOnnx(base, "base.onnx");
    const r = await fuzz(
        "onnx",
        opts(6),
        (rng) => mutate(base, rng),
        (input) => {
            const model = readOnnx(input, "fuzz.onnx");
            for (const t of model.initializers.values()) onnxToFloat32(t);
        },
    );
    check(r);
});

// --- plan YAML / JSON ------------------------------------------------------------------------
const PLANS = [
    `extends: quick
name: fuzz
datasets:
  - { name: mri, kind: radiology, source: &src { type: phantom, patients: 3, slicesPerPatient: 4 }, maxTrain: 4, maxTest: 2 }
  - { name: he, kind: pathology, source: *src, strategies: [box, points3_box] }
strategies: [points3, box_jitter10, pos5_neg5_box, centroid_interior, four_sections]
training: { epochs: 1, stepsPerEpoch: 2, batch: 1, lr: 1e-4, seeds: [0, 1], schedule: { type: cosine } }
evaluation: { seed: 7, ignoreEmpty: true }
validation: { fraction: 0.2, everySteps: 5, maxImages: 4, selection: best-val, patience: 2 }
`,
    `extends: demo
model: { name: vit_b, checkpoint: sam.pth }
backend: cpu
threads: 2
report: { samplesPerStrategy: 2 }
`,
];
const TOKENS = [
    "&a ",
    "*a",
    "<<: *a",
    "[",
    "]",
    "{",
    "}",
    "null",
    "~",
    "-1",
    "1e309",
    ".nan",
    "!!binary AAAA",
    "!!js/function x",
    "'",
    '"',
    "\n  - ",
    ": ",
    "points99999",
    "neg3-ring0",
    "__proto__: 1",
    "? ",
    "|\n  x",
    "\t",
    "%YAML 1.1\n---\n",
];

const HOSTILE_VALUES: unknown[] = [
    null,
    [],
    {},
    "",
    -1,
    0,
    1e300,
    "x".repeat(5000),
    [[[[1]]]],
    true,
    "points100000",
    "pos5_neg999999999_box",
    "box_jitter1e9",
    { type: null },
    ["box", null],
    [""],
    2 ** 53,
];

/** A plan object with one to three values (at random paths) replaced by hostile ones. */
function mutatePlanObject(rng: FuzzRng, base: unknown): unknown {
    const plan = structuredClone(base) as Record<string, unknown>;
    for (let k = 1 + rng.int(3); k > 0; k--) {
        let node: unknown = plan;
        for (let depth = 0; depth < 4; depth++) {
            const keys = node !== null && typeof node === "object" ? Object.keys(node as object) : [];
            if (keys.length === 0) break;
            const key = rng.pick(keys);
            const child = (node as Record<string, unknown>)[key];
            if (depth > 0 && (rng.int(3) === 0 || child === null || typeof child !== "object")) {
                (node as Record<string, unknown>)[key] = structuredClone(rng.pick(HOSTILE_VALUES));
                break;
            }
            node = child;
        }
    }
    return plan;
}

test("fuzz: plan YAML and JSON", async () => {
    const file = path.join(dir, "plan.yaml");
    const json = path.join(dir, "plan.json");
    const objects = PLANS.map((p) => parseYaml(p) as unknown);
    PLANS.forEach((p, i) => {
        writeFileSync(file, p);
        assert.is(loadPlan(file).name, i === 0 ? "fuzz" : "demo", "the seed plans are valid");
    });
    const bases = [
        ...PLANS.map((p) => enc.encode(p)),
        enc.encode(JSON.stringify({ extends: "quick", strategies: ["box"], training: { seeds: [1] } })),
    ];
    const r = await fuzz(
        "plan (yaml + json)",
        opts(5, 5 / 3), // YAML parsing is the slowest reader: a longer budget for the same count
        (rng) => {
            if (rng.int(3) === 0) {
                const obj = mutatePlanObject(rng, rng.pick(objects));
                return enc.encode(rng.int(2) ? stringifyYaml(obj) : JSON.stringify(obj));
            }
            const base = rng.pick(bases);
            if (rng.int(2)) return mutate(base, rng, 3);
            let text = new TextDecoder().decode(base);
            for (let k = 1 + rng.int(3); k > 0; k--) {
                const at = rng.int(text.length + 1);
                text = text.slice(0, at) + rng.pick(TOKENS) + text.slice(at + rng.int(4));
            }
            return enc.encode(text);
        },
        (input, i) => {
            const target = i % 4 === 3 ? json : file;
            writeFileSync(target, input);
            return loadPlan(target);
        },
    );
    check(r);
});

test.run();
