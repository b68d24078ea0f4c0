import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { crc32, deflateSync } from "node:zlib";
import {
    decodeImage,
    decodeLabelImage,
    encodePng,
    readImage,
    readLabelImage,
    resizeImage,
    svgToPng,
    writePng,
} from "@sam-ablate/image-io";
import sharp from "sharp";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectRejectsCode } from "../helpers/expect-code.js";
import { scratchDir } from "../helpers/scratch.js";

const dir = scratchDir("sa-image-io-");

const W = 5;
const H = 3;
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 17) % 256);
const grey = Uint8Array.from({ length: W * H }, (_, i) => i * 16);

const expectImageError = (p: Promise<unknown>, pattern: RegExp) => expectRejectsCode(p, "ERR_SA_IMAGE", pattern);

/** A minimal 16-bit greyscale PNG (sharp cannot write one from 8-bit input in a single step). */
function png16(width: number, height: number, values: number[]): Uint8Array {
    const chunk = (type: string, data: Buffer) => {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(data.length);
        const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
        const crc = Buffer.alloc(4);
        crc.writeUInt32BE(crc32(body));
        return Buffer.concat([len, body, crc]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr[8] = 16;
    const raw = Buffer.alloc(height * (1 + 2 * width));
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++)
            raw.writeUInt16BE(values[y * width + x] as number, y * (1 + 2 * width) + 1 + 2 * x);
    }
    const sig = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
    return Buffer.concat([sig, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

test("PNG round trips: RGB, grey, RGBA (alpha dropped on decode)", async () => {
    const back = await decodeImage(await encodePng({ width: W, height: H, channels: 3, data: rgb }));
    assert.equal({ ...back, data: Array.from(back.data) }, { width: W, height: H, channels: 3, data: Array.from(rgb) });
    const g = await decodeImage(await encodePng({ width: W, height: H, channels: 1, data: grey }));
    assert.is(g.channels, 1);
    assert.equal(Array.from(g.data), Array.from(grey));
    const rgba = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++)
        rgba.set([rgb[3 * i] as number, rgb[3 * i + 1] as number, rgb[3 * i + 2] as number, 255], 4 * i);
    const a = await decodeImage(await encodePng({ width: W, height: H, channels: 4, data: rgba }));
    assert.is(a.channels, 3);
    assert.equal(Array.from(a.data), Array.from(rgb));
});

test("channel conversion: grey to RGB replicates, RGB to grey is one channel", async () => {
    const png = await encodePng({ width: W, height: H, channels: 1, data: grey });
    const asRgb = await decodeImage(png, { channels: 3 });
    assert.is(asRgb.channels, 3);
    for (let i = 0; i < W * H; i++)
        assert.equal(Array.from(asRgb.data.subarray(3 * i, 3 * i + 3)), [grey[i], grey[i], grey[i]]);
    const asGrey = await decodeImage(await encodePng({ width: W, height: H, channels: 3, data: rgb }), { channels: 1 });
    assert.is(asGrey.channels, 1);
    assert.is(asGrey.data.length, W * H);
});

test("TIFF and JPEG decode; JPEG is rejected as a label", async () => {
    const tif = await sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } })
        .tiff({ compression: "lzw" })
        .toBuffer();
    assert.equal(Array.from((await decodeImage(tif)).data), Array.from(rgb));
    const flat = new Uint8Array(16 * 16 * 3).fill(120);
    const jpg = await sharp(Buffer.from(flat), { raw: { width: 16, height: 16, channels: 3 } })
        .jpeg({ quality: 95 })
        .toBuffer();
    const j = await decodeImage(jpg, { source: "x.jpg" });
    assert.is(j.width, 16);
    assert.ok(j.data.every((v) => Math.abs(v - 120) <= 2));
    await expectImageError(decodeLabelImage(jpg, "label.jpg"), /label\.jpg: label images must be lossless/);
});

test("labels are read exactly: 8-bit, 16-bit, grey-valued RGB; colour rejected", async () => {
    const codes = Uint8Array.from({ length: W * H }, (_, i) => i % 6);
    const l8 = await decodeLabelImage(await encodePng({ width: W, height: H, channels: 1, data: codes }));
    assert.equal(Array.from(l8.data), Array.from(codes));
    const l16 = await decodeLabelImage(png16(3, 2, [0, 1, 2, 3, 4, 255]));
    assert.equal(Array.from(l16.data), [0, 1, 2, 3, 4, 255]);
    await expectImageError(
        decodeLabelImage(png16(3, 2, [0, 1, 2, 3, 4, 256]), "wide.png"),
        /wide\.png: 16-bit label value 256 at pixel \(2, 1\) exceeds 255/,
    );
    const greyRgb = new Uint8Array(W * H * 3);
    for (const [i, c] of codes.entries()) greyRgb.fill(c, 3 * i, 3 * i + 3);
    const lr = await decodeLabelImage(await encodePng({ width: W, height: H, channels: 3, data: greyRgb }));
    assert.equal(Array.from(lr.data), Array.from(codes));
    await expectImageError(
        decodeLabelImage(await encodePng({ width: W, height: H, channels: 3, data: rgb }), "colour.png"),
        /colour\.png: colour label image/,
    );
});

test("corrupt, truncated, unsupported and missing files name the file", async () => {
    const bad = path.join(dir, "bad.png");
    writeFileSync(bad, "not an image");
    await expectImageError(readImage(bad), /bad\.png: not a readable image/);
    const big = await encodePng({
        width: 64,
        height: 64,
        channels: 3,
        data: Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7) % 251),
    });
    const cut = path.join(dir, "cut.png");
    writeFileSync(cut, big.subarray(0, big.length - 60));
    await expectImageError(readImage(cut), /cut\.png: /);
    await expectImageError(readLabelImage(cut), /cut\.png: /);
    const gif = await sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } })
        .gif()
        .toBuffer();
    await expectImageError(decodeImage(gif, { source: "a.gif" }), /a\.gif: unsupported image format 'gif'/);
    await expectImageError(readImage(path.join(dir, "missing.png")), /missing\.png: file not found/);
});

test("encoding validates its input and is deterministic", async () => {
    await expectImageError(
        encodePng({ width: W, height: H, channels: 3, data: new Uint8Array(5) }),
        /pixel data must be a Uint8Array of 45 bytes/,
    );
    await expectImageError(
        encodePng({ width: 0, height: H, channels: 3, data: new Uint8Array(0) }),
        /positive integers/,
    );
    const a = await encodePng({ width: W, height: H, channels: 3, data: rgb });
    const b = await encodePng({ width: W, height: H, channels: 3, data: rgb });
    assert.equal(Buffer.from(a), Buffer.from(b));
    const file = path.join(dir, "out.png");
    await writePng(file, { width: W, height: H, channels: 1, data: grey });
    assert.equal(Array.from((await readImage(file)).data), Array.from(grey));
    assert.equal(readFileSync(file).subarray(1, 4).toString("ascii"), "PNG");
});

test("nearest resize keeps class codes; linear resize changes size", async () => {
    const codes = Uint8Array.from({ length: 4 * 4 }, (_, i) => (i < 8 ? 1 : 3));
    const up = await resizeImage({ width: 4, height: 4, channels: 1, data: codes }, 8, 8, "nearest");
    assert.ok(up.data.every((v) => v === 1 || v === 3));
    assert.is(up.data[0], 1);
    assert.is(up.data[63], 3);
    const small = await resizeImage({ width: W, height: H, channels: 3, data: rgb }, 2, 2);
    assert.equal([small.width, small.height, small.channels, small.data.length], [2, 2, 3, 12]);
});

test("SVG renders to PNG at a scale", async () => {
    const svg =
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#ff0000"/></svg>';
    const one = await decodeImage(await svgToPng(svg));
    assert.equal([one.width, one.height], [40, 20]);
    const two = await decodeImage(await svgToPng(svg, 2));
    assert.equal([two.width, two.height], [80, 40]);
    assert.equal(Array.from(two.data.subarray(0, 3)), [255, 0, 0]);
    await expectImageError(svgToPng("hello"), /not an SVG document/);
    await expectImageError(svgToPng(svg, 0), /scale must be/);
    await expectImageError(
        svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect'),
        /SVG could not be rendered/,
    );
});

test.run();
