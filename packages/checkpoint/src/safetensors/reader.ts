import { type Tensor, tensorFromBytes } from "@sam-ablate/tensor";
import { type ByteSource, withFileSource } from "../byte-source.js";
import { IN_MEMORY } from "../errors.js";
import { headerLength, parseHeader, type SafetensorsHeader } from "./header.js";

/** The contents of a safetensors file. */
export interface SafetensorsContents {
    /** Tensors in data order. */
    tensors: Map<string, Tensor>;
    /** The `__metadata__` strings (empty when absent). */
    metadata: Record<string, string>;
}

/** Parses and validates the header of a safetensors file held in memory. */
export function readSafetensorsHeader(bytes: Uint8Array, file = IN_MEMORY): SafetensorsHeader {
    const n = headerLength(bytes.subarray(0, 8), bytes.byteLength, file);
    return parseHeader(bytes.subarray(8, 8 + n), bytes.byteLength - 8 - n, file);
}

/** Reads a safetensors file held in memory. Tensors are copies (they never alias `bytes`). */
export function readSafetensors(bytes: Uint8Array, file = IN_MEMORY): SafetensorsContents {
    const header = readSafetensorsHeader(bytes, file);
    const tensors = new Map<string, Tensor>();
    for (const e of header.entries) {
        const at = header.dataOffset;
        tensors.set(e.name, tensorFromBytes(e.dtype, e.shape, bytes.subarray(at + e.begin, at + e.end)));
    }
    return { tensors, metadata: header.metadata };
}

/** Reads a safetensors file from a byte source, one tensor at a time. */
export async function readSafetensorsSource(src: ByteSource): Promise<SafetensorsContents> {
    const first8 = await src.read(0, Math.min(8, src.size), "the safetensors header length");
    const n = headerLength(first8, src.size, src.name);
    const json = await src.read(8, n, "the safetensors header");
    const header = parseHeader(json, src.size - 8 - n, src.name);
    const tensors = new Map<string, Tensor>();
    for (const e of header.entries) {
        const bytes = await src.read(8 + n + e.begin, e.end - e.begin, `tensor ${e.name}`);
        tensors.set(e.name, tensorFromBytes(e.dtype, e.shape, bytes, false));
    }
    return { tensors, metadata: header.metadata };
}

/** Reads a safetensors file (files larger than 2 GiB work). */
export function readSafetensorsFile(file: string): Promise<SafetensorsContents> {
    return withFileSource(file, readSafetensorsSource);
}
