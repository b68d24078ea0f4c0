import {
    type AblationPlan,
    STAGES,
    type Stage,
    totalCost,
    type Unit,
    type UnitState,
    unitStates,
} from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { planFor } from "./ablate-command.js";

export interface UnitsArgs {
    plan?: string;
    out?: string;
    all: boolean;
    json: boolean;
}

/** 42s, 17m, 3.2h */
export function duration(s: number): string {
    if (s < 60) return `${s.toFixed(0)}s`;
    if (s < 3600) return `${(s / 60).toFixed(0)}m`;
    return `${(s / 3600).toFixed(1)}h`;
}

/** Units of a plan with their state in a run folder (all pending without one). */
export function unitTable(
    plan: AblationPlan,
    out: string | undefined,
): { unit: Unit; state: UnitState; holder?: string }[] {
    if (!out)
        return unitStates(plan, "/nonexistent-run-folder").map((s) => ({ unit: s.unit, state: "pending" as const }));
    return unitStates(plan, out).map((s) => ({
        unit: s.unit,
        state: s.state,
        ...(s.lock && !s.lock.stale ? { holder: `${s.lock.info.host}:${s.lock.info.pid}` } : {}),
    }));
}

export function stageSummary(rows: { unit: Unit; state: UnitState }[]): {
    stage: Stage;
    units: number;
    cpuHours: number;
    gpuHours: number;
    done: number;
    running: number;
    failed: number;
    pending: number;
}[] {
    return STAGES.map((stage) => {
        const r = rows.filter((x) => x.unit.stage === stage);
        const c = totalCost(r.map((x) => x.unit));
        const n = (s: UnitState) => r.filter((x) => x.state === s).length;
        return {
            stage,
            units: r.length,
            cpuHours: c.cpuSeconds / 3600,
            gpuHours: c.gpuSeconds / 3600,
            done: n("done"),
            running: n("running"),
            failed: n("failed"),
            pending: n("pending"),
        };
    });
}

export const unitsCommand: CommandModule<object, UnitsArgs> = {
    command: "units",
    describe: "List a plan's work units (ids, dependencies, estimated cost, state in a run folder)",
    builder: (y) =>
        y
            .option("plan", { type: "string", describe: "a preset or a plan file (default: the --out folder's plan)" })
            .option("out", { type: "string", describe: "run folder (for the units' state)" })
            .option("all", {
                type: "boolean",
                default: true,
                describe: "list every unit (--no-all: the per-stage summary only)",
            })
            .example(
                "$0 units --plan paper --out runs/paper",
                "what a paper-size run is made of and what is done",
            ) as never,
    handler: (argv) => {
        const plan = planFor(argv.plan, argv.out);
        const rows = unitTable(plan, argv.out);
        const summary = stageSummary(rows);
        if (argv.json) {
            process.stdout.write(
                `${JSON.stringify({
                    ok: true,
                    plan: plan.name,
                    model: plan.model.name,
                    stages: summary,
                    units: rows.map((r) => ({
                        id: r.unit.id,
                        stage: r.unit.stage,
                        deps: r.unit.deps,
                        images: r.unit.images,
                        cpuSeconds: r.unit.cost.cpuSeconds,
                        gpuSeconds: r.unit.cost.gpuSeconds,
                        state: r.state,
                        ...(r.holder ? { holder: r.holder } : {}),
                    })),
                })}\n`,
            );
            return;
        }
        const lines: string[] = [];
        if (argv.all) {
            const w = Math.max(4, ...rows.map((r) => r.unit.id.length));
            lines.push(`${"unit".padEnd(w)}  state    images     CPU     GPU  deps`);
            for (const r of rows) {
                const deps =
                    r.unit.deps.length === 0
                        ? "-"
                        : r.unit.deps.length <= 2
                          ? r.unit.deps.join(" ")
                          : `${r.unit.deps.length} ${r.unit.deps[0]?.split("/")[0]} units`;
                lines.push(
                    `${r.unit.id.padEnd(w)}  ${r.state.padEnd(7)}  ${String(r.unit.images).padStart(6)}  ${duration(r.unit.cost.cpuSeconds).padStart(6)}  ${duration(r.unit.cost.gpuSeconds).padStart(6)}  ${deps}${r.holder ? `  (${r.holder})` : ""}`,
                );
            }
            lines.push("");
        }
        lines.push(
            `plan ${plan.name}, model ${plan.model.name}: ${rows.length} units (estimated hours per task: CPU node / GPU)`,
        );
        lines.push("stage     units    CPU h     GPU h   done  running  failed  pending");
        for (const s of summary) {
            lines.push(
                `${s.stage.padEnd(8)}  ${String(s.units).padStart(5)}  ${s.cpuHours.toFixed(1).padStart(7)}  ${s.gpuHours.toFixed(2).padStart(8)}  ${String(s.done).padStart(5)}  ${String(s.running).padStart(7)}  ${String(s.failed).padStart(6)}  ${String(s.pending).padStart(7)}`,
            );
        }
        const t = totalCost(rows.map((r) => r.unit));
        lines.push(
            `${"total".padEnd(8)}  ${String(rows.length).padStart(5)}  ${(t.cpuSeconds / 3600).toFixed(1).padStart(7)}  ${(t.gpuSeconds / 3600).toFixed(2).padStart(8)}`,
        );
        process.stdout.write(`${lines.join("\n")}\n`);
    },
};
