import { errorText } from "@sam-ablate/errors";
import sharp from "sharp";
import { validateImage } from "./encode.js";
import { ImageIoError } from "./errors.js";
import type { RawImage } from "./types.js";

/** Interpolation for resizeImage: "nearest" for class codes, the others for intensities. */
export type ResizeKernel = "nearest" | "linear" | "cubic" | "lanczos3";

/** Resizes 8-bit grey or RGB pixels to exactly width x height (aspect ratio not kept). */
export async function resizeImage(
    image: RawImage,
    width: number,
    height: number,
    kernel: ResizeKernel = "linear",
): Promise<RawImage> {
    validateImage(image, "resizeImage");
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
        throw new ImageIoError("resizeImage", `target size must be positive integers, got ${width}x${height}`);
    }
    const { channels } = image;
    try {
        const out = await sharp(image.data, { raw: { width: image.width, height: image.height, channels } })
            .resize(width, height, { fit: "fill", kernel })
            .toColourspace(channels === 1 ? "b-w" : "srgb")
            .raw({ depth: "uchar" })
            .toBuffer({ resolveWithObject: true });
        if (out.info.channels !== channels || out.data.length !== width * height * channels) {
            throw new Error(`unexpected output ${out.info.width}x${out.info.height}x${out.info.channels}`);
        }
        return { width, height, channels, data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.length) };
    } catch (err) {
        throw new ImageIoError("resizeImage", `resize failed (${errorText(err)})`, { cause: err });
    }
}
