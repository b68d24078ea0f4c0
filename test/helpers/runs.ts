// Compares two run folders of the same plan bit for bit: per-strategy result.json, per-image.csv and
// decoder weights, the zero-shot results, the run-level per-image.csv and the report tables (CSV tables without their *_seconds timing columns).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import * as assert from "uvu/assert";

export const STRATEGIES = ["points3", "box", "points3_box"];

function bytes(f: string): Buffer {
    assert.ok(existsSync(f), `missing ${f}`);
    return readFileSync(f);
}

/** A CSV table without its timing columns (`*_seconds`: summary.csv, selection.csv). */
function untimed(csv: string): string {
    const rows = csv.split("\n").map((l) => l.split(","));
    const timed = new Set((rows[0] ?? []).flatMap((h, i) => (/_seconds$/.test(h) ? [i] : [])));
    return rows.map((r) => r.filter((_, i) => !timed.has(i)).join(",")).join("\n");
}

export function assertSameRun(a: string, b: string, datasets: string[]): void {
    for (const d of datasets) {
        const strategies = readdirSync(path.join(a, "results", d));
        assert.ok(strategies.length > 0, `${a}: no results for ${d}`);
        for (const s of strategies) {
            const files = [
                "seed0/result.json",
                "seed0/per-image.csv",
                "seed0/decoder.safetensors",
                "zeroshot/result.json",
                "zeroshot/per-image.csv",
            ];
            for (const f of files) {
                const x = bytes(path.join(a, "results", d, s, f));
                const y = bytes(path.join(b, "results", d, s, f));
                assert.ok(x.equals(y), `${d}/${s}/${f} differs between ${a} and ${b}`);
            }
        }
    }
    assert.ok(
        bytes(path.join(a, "per-image.csv")).equals(bytes(path.join(b, "per-image.csv"))),
        "run-level per-image.csv differs",
    );
    const tables = path.join(a, "report", "tables");
    for (const f of readdirSync(tables)) {
        const x = bytes(path.join(tables, f)).toString("utf8");
        const y = bytes(path.join(b, "report", "tables", f)).toString("utf8");
        if (f.endsWith(".csv")) assert.is(untimed(y), untimed(x), `report table ${f} differs`);
        else assert.is(y, x, `report table ${f} differs`);
    }
}
