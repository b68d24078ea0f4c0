import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { CommandModule } from "yargs";
import { renderReport, summaryText } from "@sam-ablate/report";
import { type AblationPlan, buildRunResults, loadPreparedForReport, readStrategyRecord, strategiesFor, writeRunPerImage } from "@sam-ablate/train";
import { CliError } from "../errors.js";
import { loadEffort } from "../runPlan.js";
import { VERSION } from "../version.js";

export interface ReportArgs {
    run: string;
    effort?: string;
    json: boolean;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
    command: "report <run>",
    describe: "Re-render the tables, figures and HTML report of a run folder",
    builder: (y) =>
        y
            .positional("run", { type: "string", demandOption: true, describe: "run folder of `ablate`/`demo`" })
            .option("effort", { type: "string", describe: "Figure 10 effort levels: JSON {strategy id: low|medium|high} over the defaults" }) as never,
    handler: async (argv) => {
        const cfg = path.join(argv.run, "config.json");
        if (!existsSync(cfg)) throw new CliError(`${argv.run}: not a run folder (no config.json)`, "ERR_SA_RUN_FOLDER");
        const { plan } = JSON.parse(readFileSync(cfg, "utf8")) as { plan: AblationPlan };
        const records = [];
        for (const d of plan.datasets) {
            for (const s of strategiesFor(plan, d)) {
                for (const seed of plan.training.seeds) {
                    const r = readStrategyRecord(argv.run, d.name, s.id, seed);
                    if (r) records.push(r);
                }
            }
        }
        if (records.length === 0) throw new CliError(`${argv.run}: no finished strategy yet`, "ERR_SA_RUN_FOLDER");
        const data = await loadPreparedForReport(plan, argv.run);
        const results = await buildRunResults(plan, records, data, argv.run, `sam-ablate ${VERSION}`);
        writeRunPerImage(plan, records, argv.run);
        const reportDir = path.join(argv.run, "report");
        const effort = loadEffort(argv.effort);
        await renderReport(results, reportDir, effort ? { effort } : {});
        if (argv.json) process.stdout.write(`${JSON.stringify({ ok: true, report: path.resolve(reportDir, "report.html"), strategies: records.length })}\n`);
        else process.stdout.write(`${summaryText(results)}\n\nreport: ${path.resolve(reportDir, "report.html")}\n`);
    },
};
