import { readFile } from "node:fs/promises";
import { errorText } from "@sam-ablate/errors";
import sharp from "sharp";
import { ImageIoError } from "./errors.js";
import { inspectInput } from "./sharp-input.js";
import type { LabelImage, RawImage } from "./types.js";

/** Options for decoding an image. */
export interface DecodeOptions {
    /**
     * Output channels: 1 converts to grey, 3 converts to RGB (grey is replicated), undefined keeps the
     * stored colour model (grey stays 1 channel, everything else becomes RGB). Alpha is always dropped.
     */
    channels?: 1 | 3;
    /** Name used in error messages (defaults to "<buffer>"). */
    source?: string;
    /**
     * Resize while decoding (exactly width x height, aspect ratio not kept): the full-size pixels are
     * never handed back, so a large image is held once, at its output size.
     */
    resize?: { width: number; height: number; kernel: "nearest" | "linear" | "cubic" | "lanczos3" };
}

/**
 * Decodes a PNG, TIFF or JPEG held in memory into 8-bit pixels (16-bit samples are scaled to 8 bits,
 * CMYK and palettes are converted to RGB). Corrupt or truncated data throws ImageIoError.
 */
export async function decodeImage(input: Uint8Array, options: DecodeOptions = {}): Promise<RawImage> {
    const source = options.source ?? "<buffer>";
    const info = await inspectInput(input, source);
    const channels = options.channels ?? (info.colourChannels === 1 ? 1 : 3);
    const size = options.resize;
    if (size && !(Number.isInteger(size.width) && Number.isInteger(size.height) && size.width > 0 && size.height > 0)) {
        throw new ImageIoError(source, `resize target must be positive integers, got ${size.width}x${size.height}`);
    }
    let data: Buffer;
    try {
        let pipeline = sharp(input, { failOn: "error" }).removeAlpha();
        if (size) pipeline = pipeline.resize(size.width, size.height, { fit: "fill", kernel: size.kernel });
        data = await pipeline
            .toColourspace(channels === 1 ? "b-w" : "srgb")
            .raw({ depth: "uchar" })
            .toBuffer();
    } catch (err) {
        throw new ImageIoError(source, `corrupt or truncated ${info.format} data (${errorText(err)})`, { cause: err });
    }
    const width = size?.width ?? info.width;
    const height = size?.height ?? info.height;
    const expected = width * height * channels;
    if (data.length !== expected) {
        throw new ImageIoError(
            source,
            `decoded ${data.length} bytes, expected ${expected} (${width}x${height}x${channels})`,
        );
    }
    return {
        width,
        height,
        channels,
        data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
}

/** Reads and decodes an image file; see decodeImage. Errors name the file. */
export async function readImage(file: string, options: Omit<DecodeOptions, "source"> = {}): Promise<RawImage> {
    return decodeImage(await readInput(file), { ...options, source: file });
}

/** Width and height of an image file from its header (sharp reads the file; nothing is decoded). */
export async function imageSize(file: string): Promise<{ width: number; height: number }> {
    let meta: { width?: number; height?: number };
    try {
        meta = await sharp(file).metadata();
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new ImageIoError(
            file,
            code === "ENOENT" ? "file not found" : `not a readable image (${errorText(err)})`,
            { cause: err },
        );
    }
    if (!meta.width || !meta.height) throw new ImageIoError(file, "image header has no size");
    return { width: meta.width, height: meta.height };
}

/**
 * Decodes a class-code image exactly: 8- or 16-bit grey (16-bit codes must be <= 255), or a colour
 * image whose channels are all equal. Lossy JPEG and true colour labels are rejected with ImageIoError.
 */
export async function decodeLabelImage(input: Uint8Array, source = "<buffer>"): Promise<LabelImage> {
    const info = await inspectInput(input, source);
    if (info.format === "jpeg") {
        throw new ImageIoError(source, "label images must be lossless (PNG or TIFF); JPEG changes class codes");
    }
    const { width, height } = info;
    const n = width * height;
    const out = new Uint8Array(n);
    try {
        if (info.colourChannels === 1 && info.sixteenBit) {
            const raw = await rawPixels(input, source, "grey16", n * 2);
            for (let i = 0; i < n; i++) {
                const v = raw.readUInt16LE(i * 2);
                if (v > 255) {
                    throw new ImageIoError(
                        source,
                        `16-bit label value ${v} at pixel (${i % width}, ${Math.floor(i / width)}) exceeds 255`,
                    );
                }
                out[i] = v;
            }
        } else if (info.colourChannels === 1) {
            const raw = await rawPixels(input, source, "b-w", n);
            out.set(raw);
        } else {
            const raw = await rawPixels(input, source, "srgb", n * 3);
            for (let i = 0; i < n; i++) {
                const r = raw[3 * i] as number;
                if (raw[3 * i + 1] !== r || raw[3 * i + 2] !== r) {
                    throw new ImageIoError(
                        source,
                        `colour label image (pixel (${i % width}, ${Math.floor(i / width)}) is ${r},${raw[3 * i + 1]},${raw[3 * i + 2]}); expected single-channel class codes`,
                    );
                }
                out[i] = r;
            }
        }
    } catch (err) {
        if (err instanceof ImageIoError) throw err;
        throw new ImageIoError(source, `corrupt or truncated ${info.format} data (${errorText(err)})`, { cause: err });
    }
    return { width, height, data: out };
}

/** Reads a class-code image file; see decodeLabelImage. */
export async function readLabelImage(file: string): Promise<LabelImage> {
    return decodeLabelImage(await readInput(file), file);
}

async function readInput(file: string): Promise<Uint8Array> {
    try {
        return await readFile(file);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === "ENOENT" ? "file not found" : `cannot read (${errorText(err)})`;
        throw new ImageIoError(file, why, { cause: err });
    }
}

/** The pixels of an image without alpha in one colour space (grey16: 16-bit samples), checked to be `bytes` long. */
async function rawPixels(
    input: Uint8Array,
    source: string,
    space: "grey16" | "b-w" | "srgb",
    bytes: number,
): Promise<Buffer> {
    const raw = await sharp(input, { failOn: "error" })
        .removeAlpha()
        .toColourspace(space)
        .raw({ depth: space === "grey16" ? "ushort" : "uchar" })
        .toBuffer();
    if (raw.length !== bytes) throw new ImageIoError(source, `decoded ${raw.length} bytes, expected ${bytes}`);
    return raw;
}
