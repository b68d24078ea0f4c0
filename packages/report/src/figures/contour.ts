/**
 * Outlines of a binary mask as SVG path data: closed loops along the pixel edges between
 * foreground and background, clockwise around foreground (holes run the other way), so the path
 * fills exactly the foreground pixels and strokes exactly their boundary.
 */

/** Edge directions in image coordinates (y down): right, down, left, up. */
const DX = [1, 0, -1, 0] as const;
const DY = [0, 1, 0, -1] as const;
const LETTER = ["h", "v", "h", "v"] as const;
const SIGN = [1, 1, -1, -1] as const;

/**
 * SVG path data ("M x y h .. v .. Z" per loop) outlining the pixels where mask != 0.
 * Diagonally touching pixels get separate loops (4-connectivity). Empty string for an empty mask.
 */
export function maskOutlinePath(mask: ArrayLike<number>, width: number, height: number): string {
    const vw = width + 1;
    const nv = vw * (height + 1);
    // Up to two outgoing boundary edges per vertex (two at a saddle); -1 = none.
    const out = new Int8Array(nv * 2).fill(-1);
    const fg = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
    let edges = 0;
    const addEdge = (x: number, y: number, dir: number) => {
        const v = y * vw + x;
        edges++;
        if (out[2 * v] === -1) out[2 * v] = dir;
        else out[2 * v + 1] = dir;
    };
    for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
            if (!fg(x, y)) continue;
            if (!fg(x, y - 1)) addEdge(x, y, 0);
            if (!fg(x + 1, y)) addEdge(x + 1, y, 1);
            if (!fg(x, y + 1)) addEdge(x + 1, y + 1, 2);
            if (!fg(x - 1, y)) addEdge(x, y + 1, 3);
        }
    }
    if (edges === 0) return "";
    const parts: string[] = [];
    for (let start = 0; start < nv; start++) {
        while (out[2 * start] !== -1 || out[2 * start + 1] !== -1) {
            const slot = out[2 * start] !== -1 ? 0 : 1;
            let dir = out[2 * start + slot] as number;
            out[2 * start + slot] = -1;
            let x = start % vw;
            let y = (start - x) / vw;
            let d = `M${x} ${y}`;
            let run = 0;
            let runDir = dir;
            for (;;) {
                x += DX[dir] as number;
                y += DY[dir] as number;
                if (dir === runDir) run++;
                else {
                    d += `${LETTER[runDir]}${(SIGN[runDir] as number) * run}`;
                    runDir = dir;
                    run = 1;
                }
                const v = y * vw + x;
                const a = out[2 * v] as number;
                const b = out[2 * v + 1] as number;
                if (a === -1 && b === -1) break;
                // At a saddle prefer the right turn, which keeps diagonal neighbours apart.
                const right = (dir + 1) % 4;
                const k = a !== -1 && b !== -1 ? (b === right ? 1 : 0) : a !== -1 ? 0 : 1;
                dir = out[2 * v + k] as number;
                out[2 * v + k] = -1;
            }
            d += `${LETTER[runDir]}${(SIGN[runDir] as number) * run}Z`;
            parts.push(d);
        }
    }
    return parts.join("");
}
