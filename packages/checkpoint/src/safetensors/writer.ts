import { itemSize, type Tensor, tensor, tensorBytes } from "@sam-ablate/tensor";
import { writeFileAtomic } from "../atomic-write.js";
import type { StateDict } from "../pth/writer.js";
import { concatChunks } from "../zip/writer.js";
import { SAFETENSORS_CODES } from "./header.js";

/**
 * The safetensors file as chunks to write in order (tensor data are not copied). Tensors are laid
 * out by decreasing element size, then by name, as the reference writer does, so every tensor's
 * data are aligned to its element size; the header is padded with spaces to a multiple of 8.
 */
export function safetensorsChunks(tensors: StateDict, metadata?: Readonly<Record<string, string>>): Uint8Array[] {
    const entries = (tensors instanceof Map ? [...tensors] : Object.entries(tensors as Record<string, Tensor>)).map(
        ([name, t]) => {
            if (name === "__metadata__") throw new RangeError(`"__metadata__" cannot be a tensor name`);
            return [name, tensor(t.dtype, t.shape, t.data)] as [string, Tensor];
        },
    );
    entries.sort(([an, a], [bn, b]) => itemSize(b.dtype) - itemSize(a.dtype) || (an < bn ? -1 : an > bn ? 1 : 0));
    const header: Record<string, unknown> = {};
    if (metadata !== undefined && Object.keys(metadata).length > 0) {
        for (const [k, v] of Object.entries(metadata)) {
            if (typeof v !== "string") throw new TypeError(`safetensors metadata ${k} must be a string`);
        }
        header.__metadata__ = metadata;
    }
    let offset = 0;
    const data: Uint8Array[] = [];
    for (const [name, t] of entries) {
        const bytes = tensorBytes(t);
        Object.defineProperty(header, name, {
            value: {
                dtype: SAFETENSORS_CODES[t.dtype],
                shape: t.shape,
                data_offsets: [offset, offset + bytes.byteLength],
            },
            enumerable: true,
            writable: true,
            configurable: true,
        });
        offset += bytes.byteLength;
        data.push(bytes);
    }
    const json = new TextEncoder().encode(JSON.stringify(header));
    const padded = Math.ceil(json.length / 8) * 8;
    const head = new Uint8Array(8 + padded).fill(0x20, 8);
    new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
    head.set(json, 8);
    return [head, ...data];
}

/** A safetensors file as one array. */
export function writeSafetensors(tensors: StateDict, metadata?: Readonly<Record<string, string>>): Uint8Array {
    return concatChunks(safetensorsChunks(tensors, metadata));
}

/** Writes a safetensors file atomically (temporary file + rename). */
export async function writeSafetensorsFile(
    file: string,
    tensors: StateDict,
    metadata?: Readonly<Record<string, string>>,
): Promise<void> {
    await writeFileAtomic(file, safetensorsChunks(tensors, metadata));
}
