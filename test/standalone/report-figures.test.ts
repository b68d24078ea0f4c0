// The hand-written SVG figures: well-formed XML, box-plot statistics, Figure 10's arithmetic and
// effort table, mask outlines, sample overlays and loss curves.
import {
    boxPlotFigure,
    boxPlotStats,
    checkSample,
    DEFAULT_EFFORT,
    effortData,
    effortFigure,
    lossFigure,
    maskOutlinePath,
    overlayFigure,
    parseEffortTable,
    ReportError,
} from "@sam-ablate/report";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { discSample, runOf, strategy, syntheticRun, uniform } from "../helpers/report-fixture.js";

/**
 * A small XML well-formedness check: balanced and properly nested elements, quoted and unique
 * attributes, no raw '<' or stray '&' in text or attribute values, a single root. Returns the
 * element names in document order.
 */
function checkXml(xml: string): string[] {
    const names: string[] = [];
    const stack: string[] = [];
    let roots = 0;
    const NAME = /^[A-Za-z_][\w.:-]*/;
    const checkText = (t: string, where: number) => {
        const bad = /&(?!(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);)/.exec(t);
        if (bad) throw new Error(`unescaped & at ${where + bad.index}`);
    };
    let i = 0;
    while (i < xml.length) {
        const lt = xml.indexOf("<", i);
        const textEnd = lt < 0 ? xml.length : lt;
        const t = xml.slice(i, textEnd);
        if (stack.length === 0 && t.trim() !== "") throw new Error(`text outside the root at ${i}`);
        checkText(t, i);
        if (lt < 0) break;
        if (xml.startsWith("<!--", lt)) {
            const end = xml.indexOf("-->", lt);
            if (end < 0) throw new Error("unterminated comment");
            i = end + 3;
            continue;
        }
        if (xml.startsWith("<?", lt)) {
            const end = xml.indexOf("?>", lt);
            if (end < 0) throw new Error("unterminated processing instruction");
            i = end + 2;
            continue;
        }
        const gt = xml.indexOf(">", lt);
        if (gt < 0) throw new Error(`unterminated tag at ${lt}`);
        let tag = xml.slice(lt + 1, gt);
        if (tag.startsWith("/")) {
            const name = tag.slice(1).trim();
            const open = stack.pop();
            if (open !== name) throw new Error(`</${name}> closes <${open}> at ${lt}`);
            i = gt + 1;
            continue;
        }
        const selfClosing = tag.endsWith("/");
        if (selfClosing) tag = tag.slice(0, -1);
        const m = NAME.exec(tag);
        if (!m) throw new Error(`bad tag name at ${lt}`);
        const name = m[0];
        let rest = tag.slice(name.length);
        const seen = new Set<string>();
        while (rest.trim() !== "") {
            const a = /^\s+([A-Za-z_][\w.:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(rest);
            if (!a) throw new Error(`bad attribute in <${name}> at ${lt}: ${rest.slice(0, 40)}`);
            if (seen.has(a[1] as string)) throw new Error(`duplicate attribute ${a[1]} in <${name}>`);
            seen.add(a[1] as string);
            checkText(a[3] ?? a[4] ?? "", lt);
            rest = rest.slice(a[0].length);
        }
        if (stack.length === 0) roots++;
        names.push(name);
        if (!selfClosing) stack.push(name);
        i = gt + 1;
    }
    if (stack.length) throw new Error(`unclosed <${stack.join("><")}>`);
    if (roots !== 1) throw new Error(`${roots} root elements`);
    return names;
}

function checkSvg(svg: string): string[] {
    const names = checkXml(svg);
    assert.is(names[0], "svg");
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<title>[^<]+<\/title>/);
    return names;
}

test("the XML check itself rejects malformed documents", () => {
    assert.not.throws(() => checkXml('<svg a="1"><g><text>a &amp; b</text></g><rect/></svg>'));
    assert.throws(() => checkXml("<svg><g></svg>"), /closes/);
    assert.throws(() => checkXml("<svg><text>a & b</text></svg>"), /unescaped &/);
    assert.throws(() => checkXml('<svg a="1" a="2"/>'), /duplicate/);
    assert.throws(() => checkXml("<svg a=1/>"), /bad attribute/);
    assert.throws(() => checkXml("<svg/><svg/>"), /2 root/);
});

test("box-plot statistics: interpolated quartiles, whiskers at the furthest values within 1.5 IQR, outliers", () => {
    // Sorted 1..9 and 100: q1 = 3.25, q3 = 7.75, IQR 4.5, fences -3.5 and 14.5.
    const st = boxPlotStats([100, 5, 1, 9, 2, 8, 3, 7, 4, 6]);
    assert.equal(
        { n: st.n, median: st.median, q1: st.q1, q3: st.q3, lo: st.whiskerLow, hi: st.whiskerHigh, out: st.outliers },
        { n: 10, median: 5.5, q1: 3.25, q3: 7.75, lo: 1, hi: 9, out: [100] },
    );
    assert.is(st.mean, 14.5);
    const flat = boxPlotStats([4, 4, 4]);
    assert.equal([flat.q1, flat.q3, flat.whiskerLow, flat.whiskerHigh, flat.outliers], [4, 4, 4, 4, []]);
    const low = boxPlotStats([-50, 10, 11, 12, 13]);
    assert.equal([low.whiskerLow, low.outliers], [10, [-50]]);
    assert.is(boxPlotStats([]).n, 0);
});

test("box plot figure: well-formed, one box and one n label per strategy, in the paper's order", () => {
    const run = syntheticRun();
    const d = run.datasets[0];
    assert.ok(d);
    const svg = boxPlotFigure(d);
    const names = checkSvg(svg);
    assert.is(names.filter((n) => n === "rect").length, 1 + d.strategies.length, "background + one box each");
    assert.is((svg.match(/>n=40</g) ?? []).length, d.strategies.length);
    assert.match(svg, "Per-image Dice by prompt strategy: BraTS 2020");
    const order = [
        "3 points",
        "10 points",
        "3 points + box",
        "10 points + box",
        "box",
        "box, 5% jitter",
        "50 pos + 50 neg + box",
        "GT centroid",
    ];
    const positions = order.map((label) => svg.indexOf(`>${label}</text>`));
    assert.ok(
        positions.every((p, i) => p > 0 && (i === 0 || p > (positions[i - 1] as number))),
        positions.join(),
    );
});

test("Figure 10 arithmetic: difference of each mean Dice to the dataset's average in percentage points", () => {
    const constant = (id: string, dice: number) => {
        const s = strategy(id, id, 0, 4, 1);
        s.perImage = s.perImage.map((r) => ({ ...r, dice, iou: dice / (2 - dice) }));
        return s;
    };
    const a = [constant("box", 0.8), constant("points3", 0.6), constant("mystery", 0.7)];
    const b = [constant("box", 0.5), constant("four_sections", 0.3)];
    const run = runOf(
        { name: "A", kind: "radiology", nTrain: 1, nTest: 4, strategies: a },
        { name: "B", kind: "pathology", nTrain: 1, nTest: 4, strategies: b },
    );
    const data = effortData(run);
    const get = (d: string, id: string) => data.points.find((p) => p.dataset === d && p.strategyId === id);
    // A: average of 80, 60, 70 = 70 (the strategy without an effort level still counts in the average).
    assert.ok(Math.abs((get("A", "box")?.difference as number) - 10) < 1e-9);
    assert.ok(Math.abs((get("A", "points3")?.difference as number) + 10) < 1e-9);
    assert.ok(Math.abs((get("A", "box")?.average as number) - 70) < 1e-9);
    assert.ok(Math.abs((get("B", "box")?.difference as number) - 10) < 1e-9);
    assert.ok(Math.abs((get("B", "four_sections")?.difference as number) + 10) < 1e-9);
    assert.is(get("B", "four_sections")?.effort, "high");
    assert.equal(data.unplaced, ["A: mystery"]);
    const svg = effortFigure(data);
    checkSvg(svg);
    assert.match(svg, "Not placed (no effort level): A: mystery");
    const placed = effortData(run, parseEffortTable({ mystery: "low", box: "high" }, "effort.json"));
    assert.equal(placed.unplaced, []);
    assert.is(placed.points.find((p) => p.strategyId === "box")?.effort, "high");
    assert.is(placed.points.find((p) => p.strategyId === "points3")?.effort, DEFAULT_EFFORT.points3);
});

test("effort table from JSON: bad input names the file and the strategy", () => {
    assert.throws(
        () => parseEffortTable([], "e.json"),
        (err: unknown) =>
            err instanceof ReportError && err.code === "ERR_SA_REPORT_EFFORT" && /e\.json/.test(err.message),
    );
    assert.throws(
        () => parseEffortTable({ box: "trivial" }, "e.json"),
        /e\.json: effort of "box" is "trivial"; expected one of low, medium, high/,
    );
    const t = parseEffortTable({}, "e.json");
    assert.not.ok(Object.hasOwn(t, "toString"));
});

/** Polygon area enclosed by an outline path of h/v moves (sum of the loops' signed areas). */
function outlineArea(d: string): number {
    let area = 0;
    for (const loop of d.split("Z").filter(Boolean)) {
        const m = /^M(-?\d+) (-?\d+)/.exec(loop);
        if (!m) throw new Error(`loop without a move: ${loop}`);
        let x = Number(m[1]);
        let y = Number(m[2]);
        for (const [, cmd, v] of loop.slice(m[0].length).matchAll(/([hv])(-?\d+)/g)) {
            if (cmd === "h") {
                area += -y * Number(v); // shoelace term for a horizontal move
                x += Number(v);
            } else y += Number(v);
        }
        assert.ok(Number.isFinite(x));
    }
    return area;
}

test("mask outlines: exact loops for simple shapes, enclosed area = foreground pixels on random masks", () => {
    assert.is(maskOutlinePath(Uint8Array.from([0, 0, 0, 0]), 2, 2), "");
    assert.is(maskOutlinePath(Uint8Array.from([1]), 1, 1), "M0 0h1v1h-1v-1Z");
    assert.is(maskOutlinePath(Uint8Array.from([0, 0, 0, 0, 1, 1, 0, 0, 0]), 3, 3), "M1 1h2v1h-2v-1Z");
    const diagonal = maskOutlinePath(Uint8Array.from([1, 0, 0, 1]), 2, 2);
    assert.is(diagonal.split("Z").filter(Boolean).length, 2, diagonal);
    const ring = Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 1, 1]);
    const ringPath = maskOutlinePath(ring, 3, 3);
    assert.is(ringPath.split("Z").filter(Boolean).length, 2, "outer boundary and hole");
    assert.is(outlineArea(ringPath), 8);
    const next = uniform(7);
    for (let trial = 0; trial < 20; trial++) {
        const w = 5 + Math.floor(next() * 20);
        const h = 5 + Math.floor(next() * 20);
        const mask = Uint8Array.from({ length: w * h }, () => (next() < 0.45 ? 1 : 0));
        const fg = mask.reduce((s, v) => s + v, 0);
        assert.is(outlineArea(maskOutlinePath(mask, w, h)), fg, `trial ${trial} (${w}x${h})`);
    }
});

test("overlay: well-formed, embeds the PNG, marks points by label, draws the box at pixel centres", () => {
    const sample = discSample("img7");
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
    const svg = overlayFigure(sample, png, { title: "3 points + box | img7" });
    const names = checkSvg(svg);
    assert.ok(names.includes("image"));
    const uri = /href="data:image\/png;base64,([^"]+)"/.exec(svg);
    assert.ok(uri);
    assert.equal(Array.from(Buffer.from(uri?.[1] as string, "base64")), Array.from(png));
    const positives = (svg.match(/<circle[^>]*fill="#00C853"/g) ?? []).length;
    assert.is(positives, 2 + 1, "two positive points and the legend symbol");
    assert.is((svg.match(/<path[^>]*fill="#FF1744"/g) ?? []).length, 1 + 1, "one negative point and the legend symbol");
    assert.match(svg, /<rect x="11\.5" y="9\.5" width="18" height="18" fill="none" stroke="#FFD600"/);
    assert.match(svg, `d="${maskOutlinePath(sample.gt, sample.width, sample.height)}"`);
});

test("overlay input checks name the sample and the problem", () => {
    const s = discSample("bad");
    s.gt = new Uint8Array(10);
    assert.throws(() => checkSample(s, "ds/points3"), /ds\/points3: sample bad: gt has 10 values, expected 1920/);
    const t = discSample("bad2");
    t.labels = [1];
    assert.throws(() => overlayFigure(t, new Uint8Array(1), { title: "x" }), /3 points but 1 labels/);
});

test("loss figure: one path per strategy with a curve, legend labels escaped; none without curves", () => {
    const run = syntheticRun();
    const d = run.datasets[0];
    assert.ok(d);
    (d.strategies[0] as { label: string }).label = "3 points <&>";
    const svg = lossFigure(d) as string;
    assert.ok(svg);
    checkSvg(svg);
    assert.is((svg.match(/<path d="M/g) ?? []).length, d.strategies.length);
    assert.match(svg, "3 points &lt;&amp;&gt;");
    assert.is(lossFigure(run.datasets[1] as (typeof run.datasets)[number]), undefined);
});

test.run();
