import { errorText } from "@sam-ablate/errors";
import sharp from "sharp";
import { ImageIoError } from "./errors.js";

/**
 * Renders an SVG document to PNG bytes. `scale` multiplies the SVG's own size (1 = its width and
 * height in CSS pixels at 72 dpi; 2 for a sharper figure).
 */
export async function svgToPng(svg: string, scale = 1): Promise<Uint8Array> {
    if (typeof svg !== "string" || !svg.includes("<svg")) {
        throw new ImageIoError("svgToPng", "input is not an SVG document (no <svg> element)");
    }
    if (!Number.isFinite(scale) || scale <= 0 || scale > 64) {
        throw new ImageIoError("svgToPng", `scale must be a number in (0, 64], got ${scale}`);
    }
    try {
        const out = await sharp(Buffer.from(svg, "utf8"), { density: 72 * scale, failOn: "error" })
            .png({ compressionLevel: 6, adaptiveFiltering: false })
            .toBuffer();
        return new Uint8Array(out.buffer, out.byteOffset, out.length);
    } catch (err) {
        throw new ImageIoError("svgToPng", `SVG could not be rendered (${errorText(err)})`, { cause: err });
    }
}
