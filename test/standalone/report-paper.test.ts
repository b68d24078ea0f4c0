// The paper's Tables 3-5 as data: spot checks against values read from the paper, the printed
// improvement columns against their definition, and (where the seed text is present) every entry
// against the tables in the paper's text.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { relativeImprovement } from "@sam-ablate/metrics";
import { PAPER_RESULTS, PAPER_TABLE3_IMPROVEMENT, type PaperEntry, paperEntryForStrategy } from "@sam-ablate/report";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { FIXTURES as FIXTURES_DIR } from "../helpers/fixtures.js";

const PAPER_TEXT = path.resolve(FIXTURES_DIR, "../seed/sam-ablations-paper.txt");

function entry(id: string, dataset: "BCSS" | "BraTS 2020"): PaperEntry {
    const e = paperEntryForStrategy(id, dataset);
    assert.ok(e, `no paper entry for ${id} on ${dataset}`);
    return e as PaperEntry;
}

test("spot checks: one value of each table", () => {
    assert.equal([entry("points3", "BCSS").iou, entry("points3", "BCSS").dice], [34.093, 39.056]);
    assert.equal(
        [entry("points100_box", "BraTS 2020").iou, entry("points100_box", "BraTS 2020").dice],
        [73.051, 83.029],
    );
    assert.equal([entry("box", "BCSS").iou, entry("box", "BCSS").dice], [68.673, 74.524]);
    assert.equal([entry("box_jitter5", "BCSS").iou, entry("box_jitter5", "BCSS").dice], [40.498, 46.005]);
    assert.equal(
        [entry("pos50_neg50_box", "BraTS 2020").iou, entry("pos50_neg50_box", "BraTS 2020").dice],
        [74.6944, 84.492],
    );
    assert.equal([entry("centroid", "BraTS 2020").iou, entry("centroid", "BraTS 2020").dice], [50.788, 63.384]);
});

test("'-' entries are null: centroid and four sections were not run on BCSS", () => {
    for (const id of ["centroid", "four_sections"]) {
        const e = entry(id, "BCSS");
        assert.is(e.iou, null);
        assert.is(e.dice, null);
    }
});

test("the grid is complete: 16 + 8 + 8 entries, both datasets, no duplicate (id, dataset)", () => {
    const count = (t: number) => PAPER_RESULTS.filter((e) => e.table === t).length;
    assert.equal([count(3), count(4), count(5)], [16, 8, 8]);
    const keys = PAPER_RESULTS.map((e) => `${e.strategyId}|${e.dataset}`);
    assert.is(new Set(keys).size, keys.length);
    assert.is(PAPER_TABLE3_IMPROVEMENT.length, 8);
});

test("the negative-point row: with box on BraTS, without on BCSS (the paper's best points configuration)", () => {
    assert.is(entry("pos50_neg50_box", "BraTS 2020").experiment, "50 Positive + 50 Negative Points");
    assert.is(entry("pos50_neg50", "BCSS").experiment, "50 Positive + 50 Negative Points");
    assert.is(paperEntryForStrategy("pos50_neg50", "BraTS 2020"), undefined);
});

test("printed improvements agree with (with - without) / without x 100 of the printed means", () => {
    for (const imp of PAPER_TABLE3_IMPROVEMENT) {
        const without = entry(`points${imp.positives}`, imp.dataset);
        const withBox = entry(`points${imp.positives}_box`, imp.dataset);
        const iou = relativeImprovement(withBox.iou as number, without.iou as number);
        const dice = relativeImprovement(withBox.dice as number, without.dice as number);
        // Printed to 3 decimals (one entry, +99.21, to 2 and truncated).
        assert.ok(Math.abs(iou - imp.iou) < 0.0015, `IoU ${imp.positives} ${imp.dataset}: ${iou} vs ${imp.iou}`);
        assert.ok(Math.abs(dice - imp.dice) < 0.01, `Dice ${imp.positives} ${imp.dataset}: ${dice} vs ${imp.dice}`);
    }
});

/** The numeric rows of the paper's tables: "[experiment\t]dataset\tv1\tv2[...]" lines. */
function textRows(text: string): { experiment: string; dataset: string; values: (number | null)[] }[] {
    const rows: { experiment: string; dataset: string; values: (number | null)[] }[] = [];
    let experiment = "";
    for (const line of text.split("\n")) {
        const cells = line.split("\t").map((c) => c.trim());
        const di = cells.findIndex((c) => c === "BCSS" || c === "BraTS 2020");
        if (di < 0 || di > 1) continue;
        const values = cells
            .slice(di + 1)
            .filter((c) => c !== "")
            .map((c) => (c === "-" ? null : Number(c)));
        if (values.length < 2 || values.some((v) => v !== null && Number.isNaN(v))) continue;
        if (di === 1 && cells[0]) experiment = cells[0];
        rows.push({ experiment, dataset: cells[di] as string, values });
    }
    return rows;
}

const hasText = existsSync(PAPER_TEXT);
(hasText ? test : test.skip)(`every entry equals the paper's text (${PAPER_TEXT})`, () => {
    const rows = textRows(readFileSync(PAPER_TEXT, "utf8"));
    assert.is(rows.length, 8 + 8 + 8, "table rows found in the paper text");
    for (const r of rows) {
        const mine = PAPER_RESULTS.filter((e) => e.experiment === r.experiment && e.dataset === r.dataset);
        if (r.values.length === 6) {
            // Table 3: without box, with box, improvement.
            const without = mine.find((e) => !e.strategyId.endsWith("_box"));
            const withBox = mine.find((e) => e.strategyId.endsWith("_box"));
            assert.equal(
                [without?.iou, without?.dice, withBox?.iou, withBox?.dice],
                r.values.slice(0, 4),
                `${r.experiment} ${r.dataset}`,
            );
            const positives = Number(r.experiment.split(" ")[0]);
            const imp = PAPER_TABLE3_IMPROVEMENT.find((i) => i.positives === positives && i.dataset === r.dataset);
            assert.equal([imp?.iou, imp?.dice], r.values.slice(4), `${r.experiment} ${r.dataset} improvement`);
        } else {
            assert.is(mine.length, 1, `${r.experiment} ${r.dataset}`);
            assert.equal([mine[0]?.iou, mine[0]?.dice], r.values, `${r.experiment} ${r.dataset}`);
        }
    }
});
if (!hasText)
    console.log(`report-paper: ${PAPER_TEXT} not found; the full comparison with the paper's text is skipped`);

test.run();
