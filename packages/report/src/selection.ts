/**
 * Model selection on the validation split: per strategy, the test Dice of the weights of the best
 * validation ("best-val") beside the last weights' ("last"), the epoch chosen, early stopping and the
 * cost of validating; as text cells and CSV (percent).
 */
import { sortByStrategy } from "./strategies.js";
import { csvTable, fmt3, fmtSigned, type TextTable } from "./text-table.js";
import type { DatasetResults, RunResults, StrategyResult } from "./types.js";

type Selected = StrategyResult & { selection: NonNullable<StrategyResult["selection"]> };

function withSelection(d: DatasetResults): Selected[] {
    return sortByStrategy(d.strategies).filter((s): s is Selected => s.selection !== undefined);
}

/** An epoch as shown: whole epochs plainly, fractions (validation every N steps) with 2 decimals. */
function epochText(e: number | null): string {
    if (e === null) return "-";
    return Number.isInteger(e) ? String(e) : e.toFixed(2);
}

function secondsText(s: number | undefined): string {
    if (s === undefined || !Number.isFinite(s)) return "-";
    return s >= 120 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`;
}

/** One dataset's selection table, or undefined when none of its strategies was validated. */
export function selectionTextTable(d: DatasetResults): TextTable | undefined {
    const rows = withSelection(d);
    if (rows.length === 0) return undefined;
    const headers = [
        "Strategy",
        "Id",
        "Selection",
        "Test Dice best-val",
        "Test Dice last",
        "best-val - last",
        "Epoch chosen",
        "Val Dice (best)",
        "Stopped at epoch",
        "Validation time",
        "Validation / training",
    ];
    return {
        headers,
        align: headers.map((_, c) => (c < 3 ? "left" : "right")),
        rows: rows.map((s) => {
            const v = s.selection;
            const stopped = v.stoppedAtEpoch.filter((e) => e !== null);
            return [
                s.label,
                s.id,
                v.mode,
                fmt3(v.bestValDice * 100),
                fmt3(v.lastDice * 100),
                fmtSigned((v.bestValDice - v.lastDice) * 100),
                v.epochs.map(epochText).join(", "),
                v.valDice.map((x) => (x === null ? "-" : fmt3(x * 100))).join(", "),
                stopped.length ? v.stoppedAtEpoch.map(epochText).join(", ") : "-",
                secondsText(v.valSeconds),
                s.trainSeconds ? `${((100 * v.valSeconds) / s.trainSeconds).toFixed(1)}%` : "-",
            ];
        }),
    };
}

/** Every validated strategy of the run as CSV: test Dice/IoU of both candidates in percent, epochs, seconds. */
export function selectionCsv(results: RunResults): string {
    const headers = [
        "dataset",
        "strategy_id",
        "label",
        "selection",
        "test_dice_best_val_pct",
        "test_dice_last_pct",
        "test_iou_best_val_pct",
        "test_iou_last_pct",
        "selected_epochs",
        "val_dice_best_pct",
        "stopped_at_epochs",
        "val_patients",
        "val_images",
        "validation_seconds",
        "train_seconds",
    ];
    const rows = results.datasets.flatMap((d) =>
        withSelection(d).map((s) => {
            const v = s.selection;
            return [
                d.name,
                s.id,
                s.label,
                v.mode,
                v.bestValDice * 100,
                v.lastDice * 100,
                v.bestValIou * 100,
                v.lastIou * 100,
                v.epochs.map(epochText).join(";"),
                v.valDice.map((x) => (x === null ? "" : String(x * 100))).join(";"),
                v.stoppedAtEpoch.map((e) => (e === null ? "" : String(e))).join(";"),
                v.valPatients,
                v.valImages,
                v.valSeconds,
                s.trainSeconds ?? "",
            ];
        }),
    );
    return csvTable(headers, rows);
}
