import { errorText } from "@sam-ablate/errors";
import sharp, { type Metadata } from "sharp";
import { ImageIoError } from "./errors.js";

/** Formats accepted as inputs (sharp's metadata().format names). */
export const READABLE_FORMATS = ["png", "jpeg", "tiff"] as const;

/** What decoding needs to know about an input before reading its pixels. */
export interface InputInfo {
    format: string;
    width: number;
    height: number;
    /** Colour channels without alpha, as stored (1 = grey; palettes count as colour). */
    colourChannels: number;
    /** True for 16-bit samples. */
    sixteenBit: boolean;
}

/** Reads an input's header through sharp; unreadable or unsupported inputs throw ImageIoError. */
export async function inspectInput(input: Uint8Array, source: string): Promise<InputInfo> {
    let meta: Metadata;
    try {
        meta = await sharp(input, { failOn: "error" }).metadata();
    } catch (err) {
        throw new ImageIoError(source, `not a readable image (${errorText(err)})`, { cause: err });
    }
    const format = meta.format ?? "unknown";
    if (!(READABLE_FORMATS as readonly string[]).includes(format)) {
        throw new ImageIoError(source, `unsupported image format '${format}' (expected PNG, TIFF or JPEG)`);
    }
    const { width, height, channels } = meta;
    if (!width || !height || !channels) {
        throw new ImageIoError(source, "image header has no size or channel count");
    }
    const colourChannels = channels - (meta.hasAlpha ? 1 : 0);
    const sixteenBit = meta.depth === "ushort" || meta.depth === "short";
    if (meta.depth !== undefined && meta.depth !== "uchar" && meta.depth !== "char" && !sixteenBit) {
        throw new ImageIoError(source, `unsupported sample depth '${meta.depth}' (expected 8 or 16 bits)`);
    }
    return { format, width, height, colourChannels, sixteenBit };
}
