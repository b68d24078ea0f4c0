import { planUnits, STAGES, type Stage, totalCost, type Unit } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { CliError } from "../errors.js";
import { loadPlan } from "./AblateCommand.js";

export interface UnitsArgs {
    plan: string;
    "embed-shards"?: number;
    all: boolean;
    json: boolean;
}

/** 42s, 17m, 3.2h */
export function duration(s: number): string {
    if (s < 60) return `${s.toFixed(0)}s`;
    if (s < 3600) return `${(s / 60).toFixed(0)}m`;
    return `${(s / 3600).toFixed(1)}h`;
}

export function stageSummary(
    units: readonly Unit[],
): { stage: Stage; units: number; cpuHours: number; gpuHours: number }[] {
    return STAGES.map((stage) => {
        const c = totalCost(units.filter((u) => u.stage === stage));
        return {
            stage,
            units: units.filter((u) => u.stage === stage).length,
            cpuHours: c.cpuSeconds / 3600,
            gpuHours: c.gpuSeconds / 3600,
        };
    });
}

export const unitsCommand: CommandModule<object, UnitsArgs> = {
    command: "units",
    describe: "A plan as work units: ids, dependencies, images and estimated CPU/GPU time of each",
    builder: (y) =>
        y
            .option("plan", { type: "string", default: "quick", describe: "a preset or a plan file" })
            .option("embed-shards", {
                type: "number",
                describe: "embedding shards per dataset (default: about an hour each by the cost model)",
            })
            .option("all", {
                type: "boolean",
                default: true,
                describe: "list every unit (--no-all: the per-stage summary only)",
            })
            .example("$0 units --plan paper.yaml --no-all", "what a paper-size study costs, stage by stage") as never,
    handler: (argv) => {
        const plan = loadPlan(argv.plan);
        const shards = argv["embed-shards"];
        if (shards !== undefined && (!Number.isInteger(shards) || shards < 1))
            throw new CliError(`--embed-shards ${shards}: expected a positive integer`, "ERR_SA_USAGE");
        const units = planUnits(plan, shards ? { embedShards: shards } : {});
        const summary = stageSummary(units);
        if (argv.json) {
            process.stdout.write(
                `${JSON.stringify({
                    ok: true,
                    plan: plan.name,
                    model: plan.model.name,
                    stages: summary,
                    units: units.map((u) => ({
                        id: u.id,
                        stage: u.stage,
                        deps: u.deps,
                        images: u.images,
                        cpuSeconds: u.cost.cpuSeconds,
                        gpuSeconds: u.cost.gpuSeconds,
                    })),
                })}\n`,
            );
            return;
        }
        const lines: string[] = [];
        if (argv.all) {
            const w = Math.max(4, ...units.map((u) => u.id.length));
            lines.push(`${"unit".padEnd(w)}  images     CPU     GPU  deps`);
            for (const u of units) {
                const deps =
                    u.deps.length === 0
                        ? "-"
                        : u.deps.length <= 2
                          ? u.deps.join(" ")
                          : `${u.deps.length} ${u.deps[0]?.split("/")[0]} units`;
                lines.push(
                    `${u.id.padEnd(w)}  ${String(u.images).padStart(6)}  ${duration(u.cost.cpuSeconds).padStart(6)}  ${duration(u.cost.gpuSeconds).padStart(6)}  ${deps}`,
                );
            }
            lines.push("");
        }
        lines.push(
            `plan ${plan.name}, model ${plan.model.name}: ${units.length} units (estimated hours of one task: CPU node / GPU)`,
        );
        lines.push("stage     units    CPU h     GPU h");
        for (const s of summary)
            lines.push(
                `${s.stage.padEnd(8)}  ${String(s.units).padStart(5)}  ${s.cpuHours.toFixed(1).padStart(7)}  ${s.gpuHours.toFixed(2).padStart(8)}`,
            );
        const t = totalCost(units);
        lines.push(
            `${"total".padEnd(8)}  ${String(units.length).padStart(5)}  ${(t.cpuSeconds / 3600).toFixed(1).padStart(7)}  ${(t.gpuSeconds / 3600).toFixed(2).padStart(8)}`,
        );
        process.stdout.write(`${lines.join("\n")}\n`);
    },
};
