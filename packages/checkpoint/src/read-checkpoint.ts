// One entry point for every supported checkpoint format, chosen by the file's magic bytes.
import { isDType, type Tensor, tensor } from "@sam-ablate/tensor";
import { type ByteSource, withFileSource } from "./byte-source.js";
import { CheckpointError, quoted } from "./errors.js";
import { type PthReadOptions, readPthSource } from "./pth/reader.js";
import { MAX_HEADER_BYTES } from "./safetensors/header.js";
import { readSafetensorsSource } from "./safetensors/reader.js";

/** Checkpoint file formats {@link readCheckpoint} understands. */
export type CheckpointFormat = "pth" | "safetensors" | "onnx";

/** Options for {@link readCheckpoint}. `stateDictPath` and `verifyCrc` apply to `.pth` files only. */
export type CheckpointReadOptions = PthReadOptions;

/** A checkpoint read by {@link readCheckpoint}. */
export interface Checkpoint {
    /** Weights by name. */
    tensors: Map<string, Tensor>;
    format: CheckpointFormat;
    /**
     * Everything else the file holds. pth: the top-level entries besides the state dict (e.g.
     * `epoch`); safetensors: the `__metadata__` strings; onnx: `model` (the decoded graph),
     * `irVersion`, `opset`, `producerName`, `producerVersion`, and `skipped`, the initializers whose
     * element type has no tensor dtype here.
     */
    extras: Record<string, unknown>;
    /** The path that was read. */
    file: string;
}

const LEGACY_TORCH_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

function startsWith(head: Uint8Array, sig: readonly number[]): boolean {
    return head.length >= sig.length && sig.every((b, i) => head[i] === b);
}

function looksLikeOnnx(head: Uint8Array): boolean {
    // ModelProto starts with ir_version (field 1, varint: key 0x08, a small value), then another
    // top-level field: producer_name/version, domain, model_version, doc_string, graph, opset_import
    // or metadata_props.
    const next = head[2];
    return (
        head[0] === 0x08 &&
        (head[1] ?? 0) >= 1 &&
        (head[1] ?? 0) <= 20 &&
        next !== undefined &&
        [0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42, 0x72].includes(next)
    );
}

function notACheckpoint(head: Uint8Array, file: string): CheckpointError {
    let hint = "";
    if (startsWith(head, [0x89, 0x50, 0x4e, 0x47])) hint = " (it is a PNG image)";
    else if (startsWith(head, [0xff, 0xd8, 0xff])) hint = " (it is a JPEG image)";
    else if (startsWith(head, [0x1f, 0x8b])) hint = " (it is gzip-compressed: decompress it first)";
    return new CheckpointError(
        "ERR_SA_CHECKPOINT_FORMAT",
        file,
        `not a checkpoint${hint}: expected a PyTorch .pth/.pt (zip), a safetensors or an ONNX file`,
    );
}

function detect(head: Uint8Array, size: number, file: string): CheckpointFormat {
    if (size === 0) throw new CheckpointError("ERR_SA_CHECKPOINT_FORMAT", file, "the file is empty, not a checkpoint");
    if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) return "pth";
    if (startsWith(head, LEGACY_TORCH_MAGIC)) {
        throw new CheckpointError(
            "ERR_SA_CHECKPOINT_FORMAT",
            file,
            "this is the legacy torch.save format of PyTorch < 1.6, which is not supported: load it in PyTorch and save it again",
        );
    }
    if (head.length >= 9 && head[8] === 0x7b) {
        const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
        if (n > 0n && n <= BigInt(MAX_HEADER_BYTES)) return "safetensors";
    }
    if (looksLikeOnnx(head)) return "onnx";
    throw notACheckpoint(head, file);
}

/** The format of a checkpoint file, from its first bytes; throws when it is none of them. */
export async function detectCheckpointFormat(file: string): Promise<CheckpointFormat> {
    return withFileSource(file, async (src) =>
        detect(await src.read(0, Math.min(16, src.size), "the file header"), src.size, file),
    );
}

function stripKeys(tensors: Map<string, Tensor>, prefix: string | undefined, file: string): Map<string, Tensor> {
    if (prefix === undefined || prefix === "") return tensors;
    const out = new Map<string, Tensor>();
    for (const [key, t] of tensors) {
        const name = key.startsWith(prefix) ? key.slice(prefix.length) : key;
        if (out.has(name)) {
            throw new CheckpointError(
                "ERR_SA_CHECKPOINT_FORMAT",
                file,
                `stripping ${quoted(prefix)} makes two tensors named ${quoted(name)}`,
            );
        }
        out.set(name, t);
    }
    return out;
}

async function readOnnxCheckpoint(file: string, options: CheckpointReadOptions): Promise<Checkpoint> {
    const { readOnnxFile } = await import("./onnx/index.js");
    const model = await readOnnxFile(file);
    const tensors = new Map<string, Tensor>();
    const skipped: string[] = [];
    for (const [name, init] of model.initializers) {
        if (isDType(init.dtype) && !Array.isArray(init.data)) {
            tensors.set(name, tensor(init.dtype, init.dims, init.data as never));
        } else skipped.push(name);
    }
    return {
        tensors: stripKeys(tensors, options.stripPrefix, file),
        format: "onnx",
        extras: {
            model,
            irVersion: model.irVersion,
            opset: model.opset,
            producerName: model.producerName,
            producerVersion: model.producerVersion,
            skipped,
        },
        file,
    };
}

async function readFrom(src: ByteSource, options: CheckpointReadOptions): Promise<Checkpoint | "onnx"> {
    const format = detect(await src.read(0, Math.min(16, src.size), "the file header"), src.size, src.name);
    if (format === "pth") {
        const pth = await readPthSource(src, options);
        return { tensors: pth.tensors, format, extras: pth.extras, file: src.name };
    }
    if (format === "safetensors") {
        const st = await readSafetensorsSource(src);
        return {
            tensors: stripKeys(st.tensors, options.stripPrefix, src.name),
            format,
            extras: { ...st.metadata },
            file: src.name,
        };
    }
    return "onnx";
}

/**
 * Reads a checkpoint, whatever its format: PyTorch `.pth`/`.pt` (zip; the state dict is found at
 * the top level or under "model", "state_dict", ...), safetensors, or ONNX (its initializers).
 * Problems raise {@link CheckpointError} naming the file (`ERR_SA_CHECKPOINT_NOT_FOUND`,
 * `..._TRUNCATED`, `..._CORRUPT`, `..._FORMAT`, `ERR_SA_PICKLE`, `ERR_SA_PICKLE_GLOBAL`,
 * `ERR_SA_SAFETENSORS`); a malformed ONNX file raises the ONNX reader's `OnnxError` (`ERR_SA_ONNX`).
 */
export async function readCheckpoint(file: string, options: CheckpointReadOptions = {}): Promise<Checkpoint> {
    const result = await withFileSource(file, (src) => readFrom(src, options));
    if (result === "onnx") return readOnnxCheckpoint(file, options);
    return result;
}
