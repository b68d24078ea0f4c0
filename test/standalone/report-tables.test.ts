// Tables 3-5 beside the paper's numbers (Markdown, CSV), the paired statistics and the terminal
// summary, checked against means computed here from the per-image values.
import {
    buildComparisonTable,
    comparisonsCsv,
    comparisonTableCsv,
    comparisonTableMarkdown,
    holmAdjust,
    pairedComparisons,
    ReportError,
    type RunResults,
    type StrategyResult,
    summaryText,
    validateRunResults,
} from "@sam-ablate/report";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runOf, strategy, syntheticRun } from "../helpers/report-fixture.js";

/** The data rows of the first Markdown table in a document, as cell arrays. */
function parseMarkdownTable(md: string): { headers: string[]; rows: string[][] } {
    const lines = md.split("\n").filter((l) => l.startsWith("|"));
    const split = (l: string) =>
        l
            .slice(1, -1)
            .split(/(?<!\\)\|/)
            .map((c) => c.trim().replace(/\\\|/g, "|"));
    const [head, rule, ...body] = lines;
    assert.ok(head && rule && /^\|[\s:|-]+\|$/.test(rule), "header and rule lines");
    return { headers: split(head as string), rows: body.map(split) };
}

/** RFC 4180 CSV (quoted fields with "" escapes). */
function parseCsv(csv: string): string[][] {
    const rows: string[][] = [];
    let row: string[] = [];
    let cell = "";
    let quoted = false;
    const endCell = () => {
        row.push(cell);
        cell = "";
    };
    for (let i = 0; i < csv.length; i++) {
        const c = csv[i] as string;
        if (quoted) {
            if (c === '"' && csv[i + 1] === '"') {
                cell += '"';
                i++;
            } else if (c === '"') quoted = false;
            else cell += c;
        } else if (c === '"') quoted = true;
        else if (c === ",") endCell();
        else if (c === "\n") {
            endCell();
            rows.push(row);
            row = [];
        } else cell += c;
    }
    if (cell !== "" || row.length) {
        endCell();
        rows.push(row);
    }
    return rows;
}

function meanPct(s: StrategyResult, metric: "dice" | "iou"): number {
    const v = s.perImage.map((r) => r[metric]).filter((x): x is number => x !== null);
    return (v.reduce((a, b) => a + b, 0) / v.length) * 100;
}

function find(run: RunResults, dataset: string, id: string): StrategyResult {
    const s = run.datasets.find((d) => d.name === dataset)?.strategies.find((x) => x.id === id);
    assert.ok(s, `${dataset}/${id}`);
    return s as StrategyResult;
}

test("Table 3 Markdown: our means and improvement beside the paper's, rows in order", () => {
    const run = syntheticRun();
    const md = comparisonTableMarkdown(buildComparisonTable("table3", run));
    const { headers, rows } = parseMarkdownTable(md);
    assert.is(
        headers.slice(0, 9).join(" | "),
        "Experiment | Dataset | Source | IoU | Dice | IoU (BB) | Dice (BB) | Improvement IoU (%) | Improvement Dice (%)",
    );
    assert.equal(
        rows.map((r) => r.slice(0, 3).join(" / ")),
        [
            "3 Positive Points / BraTS 2020 / ours",
            "3 Positive Points / BraTS 2020 / paper",
            "3 Positive Points / phantom pathology / ours",
            "3 Positive Points / BCSS / paper",
            "10 Positive Points / BraTS 2020 / ours",
            "10 Positive Points / BraTS 2020 / paper",
            "10 Positive Points / phantom pathology / ours",
            "10 Positive Points / BCSS / paper",
        ],
    );
    const ours = rows[0] as string[];
    const p3 = find(run, "BraTS 2020", "points3");
    const p3b = find(run, "BraTS 2020", "points3_box");
    assert.is(ours[3], meanPct(p3, "iou").toFixed(3));
    assert.is(ours[4], meanPct(p3, "dice").toFixed(3));
    assert.is(ours[5], meanPct(p3b, "iou").toFixed(3));
    assert.is(ours[6], meanPct(p3b, "dice").toFixed(3));
    const impDice = ((meanPct(p3b, "dice") - meanPct(p3, "dice")) / meanPct(p3, "dice")) * 100;
    const impIou = ((meanPct(p3b, "iou") - meanPct(p3, "iou")) / meanPct(p3, "iou")) * 100;
    assert.is(ours[7], `${impIou >= 0 ? "+" : ""}${impIou.toFixed(3)}`);
    assert.is(ours[8], `${impDice >= 0 ? "+" : ""}${impDice.toFixed(3)}`);
    assert.equal(ours.slice(9), ["40", "2"]);
    assert.equal((rows[1] as string[]).slice(3, 9), ["61.879", "74.217", "66.498", "77.988", "+7.465", "+5.081"]);
    assert.equal((rows[3] as string[]).slice(3, 9), ["34.093", "39.056", "72.311", "77.807", "+112.099", "+99.210"]);
});

test("Table 3: a side that was not run says so, its improvement is empty; unrun point counts are omitted", () => {
    const run = syntheticRun();
    const { rows } = parseMarkdownTable(comparisonTableMarkdown(buildComparisonTable("table3", run)));
    const phantom = rows[2] as string[];
    assert.equal(phantom.slice(5, 9), ["not run", "not run", "-", "-"]);
    assert.not.ok(rows.some((r) => r[0] === "50 Positive Points" || r[0] === "100 Positive Points"));
});

test("Table 3: negative improvement gets a minus sign", () => {
    const strategies = [
        strategy("points50", "50 points", 0.8, 10, 1),
        strategy("points50_box", "50 points + box", 0.5, 10, 2),
    ];
    const run = runOf({ name: "BCSS", kind: "pathology", paperName: "BCSS", nTrain: 1, nTest: 10, strategies });
    const t = buildComparisonTable("table3", run);
    const ours = t.rows[0];
    const expected =
        ((meanPct(find(run, "BCSS", "points50_box"), "dice") - meanPct(find(run, "BCSS", "points50"), "dice")) /
            meanPct(find(run, "BCSS", "points50"), "dice")) *
        100;
    assert.ok(Math.abs((ours?.improvement?.dice as number) - expected) < 1e-9);
    assert.ok(expected < 0);
    const { rows } = parseMarkdownTable(comparisonTableMarkdown(t));
    assert.is(rows[0]?.[8], expected.toFixed(3));
    assert.is(rows[1]?.[8], "-0.111", "paper's printed -0.111 on BCSS 50 points");
});

test("Tables 4 and 5: strategy column, unrun rows omitted, '-' for the paper's missing BCSS entries", () => {
    const run = syntheticRun();
    const t4 = parseMarkdownTable(comparisonTableMarkdown(buildComparisonTable("table4", run)));
    assert.equal(t4.headers, ["Experiment", "Dataset", "Source", "Strategy", "IoU", "Dice", "n", "Excluded"]);
    assert.equal([...new Set(t4.rows.map((r) => r[0]))], ["Normal Bounding Box", "Bounding Box with 5% Jitter"]);
    const jitterRows = t4.rows.filter((r) => r[0] === "Bounding Box with 5% Jitter");
    assert.equal(
        jitterRows.map((r) => r[1]),
        ["BraTS 2020", "BraTS 2020"],
        "phantom ran no jitter: no row, not even the paper's",
    );
    const t5 = parseMarkdownTable(comparisonTableMarkdown(buildComparisonTable("table5", run)));
    assert.not.ok(t5.rows.some((r) => r[0] === "Center of Curated Bounding Box"));
    const sections = t5.rows.filter((r) => r[0] === "Dividing Ground Truth into 4 Sections");
    assert.equal(
        sections.map((r) => [r[1], r[2], r[4], r[5]]),
        [
            [
                "phantom pathology",
                "ours",
                find(run, "phantom pathology", "four_sections") &&
                    meanPct(find(run, "phantom pathology", "four_sections"), "iou").toFixed(3),
                meanPct(find(run, "phantom pathology", "four_sections"), "dice").toFixed(3),
            ],
            ["BCSS", "paper", "-", "-"],
        ],
    );
});

test("Table 5: a negative-point configuration other than the paper's is flagged in the notes", () => {
    const run = syntheticRun();
    const brats = run.datasets[0];
    assert.ok(brats);
    const s = brats.strategies.find((x) => x.id === "pos50_neg50_box") as StrategyResult;
    s.id = "pos50_neg50";
    const t = buildComparisonTable("table5", run);
    const rows = t.rows.filter(
        (r) => r.experiment === "50 Positive + 50 Negative Points" && r.paperDataset === "BraTS 2020",
    );
    assert.equal(
        rows.map((r) => [r.source, r.main?.strategyId]),
        [
            ["ours", "pos50_neg50"],
            ["paper", "pos50_neg50_box"],
        ],
    );
    assert.ok(
        t.notes.some((n) => n.includes("ours is pos50_neg50") && n.includes("the paper ran pos50_neg50_box")),
        t.notes.join("\n"),
    );
});

test("a run without any table strategy: the table has no rows and says so", () => {
    const centroid = strategy("centroid", "centroid", 0.6, 3, 1);
    const run = runOf({ name: "x", kind: "radiology", nTrain: 1, nTest: 3, strategies: [centroid] });
    const t = buildComparisonTable("table3", run);
    assert.is(t.rows.length, 0);
    assert.match(comparisonTableMarkdown(t), "No strategy of this table was run");
});

test("spread options: ± std and [95% CI] beside our means only", () => {
    const run = syntheticRun();
    const t = buildComparisonTable("table4", run);
    const std = parseMarkdownTable(comparisonTableMarkdown(t, "std")).rows;
    assert.match(std[0]?.[5] as string, /^\d+\.\d{3} ± \d+\.\d{3}$/);
    assert.is(std[1]?.[5], "76.139", "paper cells stay plain");
    const ci = parseMarkdownTable(comparisonTableMarkdown(t, "ci95")).rows;
    const m = /^(\d+\.\d{3}) \[(\d+\.\d{3}), (\d+\.\d{3})\]$/.exec(ci[0]?.[5] as string);
    assert.ok(m, ci[0]?.[5]);
    const [mean, lo, hi] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])];
    assert.ok(lo < mean && mean < hi, `${lo} < ${mean} < ${hi}`);
});

test("Table 3 CSV: one line per configuration we ran, ours and the paper's in separate columns, percent in _pct columns", () => {
    const run = syntheticRun();
    const t = buildComparisonTable("table3", run);
    const csv = parseCsv(comparisonTableCsv(t));
    const [header, ...lines] = csv;
    assert.ok(header);
    for (const col of [
        "experiment",
        "dataset",
        "paper_dataset",
        "strategy_id",
        "ours_iou_pct",
        "ours_dice_pct",
        "ours_n",
        "ours_excluded",
        "box_strategy_id",
        "ours_box_iou_pct",
        "ours_box_dice_pct",
        "paper_strategy_id",
        "paper_iou_pct",
        "paper_dice_pct",
        "paper_box_dice_pct",
        "ours_improvement_dice_pct",
        "paper_improvement_dice_pct",
    ]) {
        assert.ok(header.includes(col), `column ${col}`);
    }
    assert.not.ok(header.includes("source"), "no mixed ours/paper rows");
    for (const h of header) {
        if (/(iou|dice)(?!.*_(pct|id)$)/.test(h) && !h.endsWith("_n") && !h.endsWith("_excluded"))
            assert.unreachable(`column ${h} names a metric without its unit`);
    }
    assert.is(lines.length, t.rows.filter((r) => r.source === "ours").length);
    for (const l of lines) assert.is(l.length, header.length);
    const col = (name: string) => header.indexOf(name);
    const first = lines[0] as string[];
    assert.ok(
        Math.abs(Number(first[col("ours_dice_pct")]) - meanPct(find(run, "BraTS 2020", "points3"), "dice")) < 1e-6,
    );
    assert.is(first[col("box_strategy_id")], "points3_box");
    assert.equal(
        [first[col("paper_strategy_id")], first[col("paper_iou_pct")], first[col("paper_improvement_dice_pct")]],
        ["points3", "61.879", "5.081"],
    );
    const phantom = lines[1] as string[];
    assert.equal([phantom[col("dataset")], phantom[col("paper_dataset")]], ["phantom pathology", "BCSS"]);
    assert.equal([phantom[col("ours_box_iou_pct")], phantom[col("ours_improvement_dice_pct")]], ["", ""]);
    assert.equal(
        [phantom[col("paper_iou_pct")], phantom[col("paper_improvement_dice_pct")]],
        ["34.093", "99.21"],
        "the compared paper dataset's numbers beside ours",
    );
});

test("paired comparisons: box pairs, jitter vs box, vs best; pairing by image id; Holm >= raw p", () => {
    const run = syntheticRun();
    const rows = pairedComparisons(run);
    const brats = rows.filter((r) => r.dataset === "BraTS 2020");
    const key = (r: { kind: string; a: string; b: string }) => `${r.kind}:${r.a}>${r.b}`;
    const keys = brats.map(key);
    assert.ok(keys.includes("box effect:points3_box>points3"));
    assert.ok(keys.includes("box effect:points10_box>points10"));
    assert.ok(keys.includes("jitter vs tight box:box_jitter5>box"));
    assert.ok(keys.includes("vs best:pos50_neg50_box>centroid"));
    assert.is(new Set(brats.map((r) => [r.a, r.b].sort().join())).size, brats.length, "no pair twice");
    for (const r of rows) {
        assert.is(r.nPairs, r.dataset === "BraTS 2020" ? 40 : 30, "excluded images are not paired");
        assert.ok(r.pValue !== null && r.pHolm !== null && r.pHolm >= r.pValue - 1e-15 && r.pHolm <= 1);
    }
    const csv = parseCsv(comparisonsCsv(rows));
    assert.is(csv.length, rows.length + 1);
});

test("paired comparisons: only shared images, seeds averaged per image, identical strategies give p = null", () => {
    const a = strategy("points3", "3 points", 0.6, 10, 1);
    const b = strategy("points3_box", "3 points + box", 0.7, 10, 2);
    b.perImage = b.perImage.slice(4); // images 4..9 only
    const twice = strategy("box", "box", 0.7, 10, 2);
    twice.perImage = [...b.perImage, ...b.perImage]; // two seeds, the values of points3_box
    const run = runOf({ name: "d", kind: "radiology", nTrain: 1, nTest: 10, strategies: [a, b, twice] });
    const rows = pairedComparisons(run);
    const boxEffect = rows.find((r) => r.kind === "box effect");
    assert.is(boxEffect?.nPairs, 6);
    const same = rows.find((r) => r.kind === "vs best" && [r.a, r.b].sort().join() === "box,points3_box");
    assert.ok(same, rows.map((r) => `${r.kind}: ${r.a}/${r.b}`).join());
    assert.is(same?.nPairs, 6);
    assert.is(same?.pValue, null);
    assert.is(same?.meanDiff, 0);
});

test("holmAdjust: step-down, monotone, capped at 1", () => {
    assert.equal(holmAdjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06]);
    assert.equal(holmAdjust([0.5, 0.6]), [1, 1]);
    assert.equal(holmAdjust([]), []);
});

test("summaryText: one block per dataset with every strategy, the paper's Dice and the best", () => {
    const run = syntheticRun();
    const text = summaryText(run);
    assert.match(text, "BraTS 2020 (radiology; 200 train / 42 test patches)");
    const line = text.split("\n").find((l) => l.startsWith("3 points + box")) as string;
    assert.ok(line, text);
    assert.match(line, meanPct(find(run, "BraTS 2020", "points3_box"), "dice").toFixed(3));
    assert.match(line, /77\.988$/);
    assert.match(text, "* best: 50 pos + 50 neg + box");
    assert.match(text, "* best: 10 points");
});

/** validateRunResults(run) must throw a ReportError ERR_SA_REPORT_INPUT whose message matches `pattern`. */
function expectInputError(run: RunResults, pattern: string | RegExp): void {
    try {
        validateRunResults(run);
    } catch (err) {
        assert.instance(err, ReportError);
        assert.is((err as ReportError).code, "ERR_SA_REPORT_INPUT");
        assert.match((err as Error).message, pattern);
        return;
    }
    assert.unreachable("should throw");
}

test("validation names the dataset, strategy and image of a bad value", () => {
    const run = syntheticRun();
    const s = run.datasets[1]?.strategies[0] as StrategyResult;
    (s.perImage[3] as { dice: number | null }).dice = 1.5;
    expectInputError(run, 'dataset "phantom pathology", strategy "points3", image "img003" dice');
    const dup = syntheticRun();
    dup.datasets[0]?.strategies.push(strategy("box", "box again", 0.5, 3, 9));
    assert.throws(() => validateRunResults(dup), /strategy "box" appears twice/);
});

/** The synthetic run with a zero-shot baseline on the BraTS strategies: fine-tuned Dice minus `gain` (fraction) per image. */
function runWithZeroShot(gain: number): RunResults {
    const run = syntheticRun();
    const brats = run.datasets[0] as RunResults["datasets"][number];
    for (const s of brats.strategies) {
        s.zeroShot = {
            excluded: s.excluded,
            perImage: s.perImage.map((p, k) => {
                if (p.dice === null) return { ...p };
                const dice = Math.max(0, p.dice - gain - (k % 3) * 0.01);
                return { ...p, dice, iou: dice / (2 - dice) };
            }),
        };
    }
    return run;
}

test("zero-shot: a column in Tables 3-5 and the summary, the paired gain with its Wilcoxon p, a family of its own", () => {
    const run = runWithZeroShot(0.1);
    const p3 = find(run, "BraTS 2020", "points3");
    const zsMean =
        (p3.zeroShot?.perImage ?? []).filter((p) => p.dice !== null).reduce((a, p) => a + (p.dice as number) * 100, 0) /
        40;
    const t3 = buildComparisonTable("table3", run);
    const md = parseMarkdownTable(comparisonTableMarkdown(t3));
    const c = md.headers.indexOf("Dice zero-shot");
    assert.ok(c > 0 && md.headers.includes("Dice zero-shot (BB)"));
    assert.is(md.rows[0]?.[c], zsMean.toFixed(3));
    assert.is(md.rows[1]?.[c], "", "paper rows have no zero-shot number");
    const phantomRow = md.rows.find((r) => r[1] === "phantom pathology" && r[2] === "ours");
    assert.is(phantomRow?.[c], "-", "a dataset without a baseline shows '-'");
    const t4 = parseMarkdownTable(comparisonTableMarkdown(buildComparisonTable("table4", run)));
    const t5 = parseMarkdownTable(comparisonTableMarkdown(buildComparisonTable("table5", run)));
    assert.ok(t4.headers.includes("Dice zero-shot") && t5.headers.includes("Dice zero-shot"));
    const csv = parseCsv(comparisonTableCsv(t3));
    const zc = (csv[0] as string[]).indexOf("ours_zeroshot_dice_pct");
    assert.ok(Math.abs(Number(csv[1]?.[zc]) - zsMean) < 1e-6);

    const rows = pairedComparisons(run).filter((r) => r.kind === "fine-tuned vs zero-shot");
    assert.is(rows.length, 8, "one test per BraTS strategy, none for the phantom without a baseline");
    const r3 = rows.find((r) => r.a === "points3");
    assert.ok(r3);
    assert.is(r3.b, "points3 zero-shot");
    assert.is(r3.nPairs, 40);
    assert.ok(Math.abs(r3.meanDiff - (meanPct(p3, "dice") - zsMean)) < 1e-9);
    assert.ok(r3.meanDiff > 9 && r3.pValue !== null && r3.pValue < 1e-6);
    const raw = rows.map((r) => r.pValue as number);
    const holm = holmAdjust(raw);
    for (const [i, r] of rows.entries()) {
        assert.ok(Math.abs((r.pHolm as number) - (holm[i] as number)) < 1e-15, "Holm within this family");
    }

    const text = summaryText(run);
    assert.ok(text.includes("Zero-shot Dice %"));
    const line = text.split("\n").find((l) => l.startsWith("3 points ") || l.startsWith("3 points  "));
    assert.ok(line?.includes(zsMean.toFixed(3)), line);
    assert.ok(line?.includes(`+${r3.meanDiff.toFixed(3)}`), line);
});

test("zero-shot: no baseline, no column; identical decoders give no test", () => {
    const plain = syntheticRun();
    assert.not.ok(
        parseMarkdownTable(comparisonTableMarkdown(buildComparisonTable("table3", plain))).headers.includes(
            "Dice zero-shot",
        ),
    );
    assert.not.ok(summaryText(plain).includes("Zero-shot"));
    const same = runWithZeroShot(0);
    for (const s of same.datasets[0]?.strategies ?? [])
        if (s.zeroShot) s.zeroShot.perImage = s.perImage.map((p) => ({ ...p }));
    const rows = pairedComparisons(same).filter((r) => r.kind === "fine-tuned vs zero-shot");
    assert.ok(rows.every((r) => r.pValue === null && r.meanDiff === 0 && r.method === "none"));
});

test("zero-shot: inconsistent baselines are rejected with ERR_SA_REPORT_INPUT naming the strategy", () => {
    const run = runWithZeroShot(0.1);
    const s = run.datasets[0]?.strategies[0] as StrategyResult;
    (s.zeroShot?.perImage[0] as { dice: number | null }).dice = 1.5;
    expectInputError(run, /points3.*zero-shot/);
});

test.run();
