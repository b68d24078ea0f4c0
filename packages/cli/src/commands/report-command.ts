import path from "node:path";
import { summaryText } from "@sam-ablate/report";
import { RunFolder } from "@sam-ablate/run-folder";
import { finishedRecords, loadPreparedForReport, revalidatePlan } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { CliError } from "../errors.js";
import { writeRunReport } from "../report-input.js";
import { loadEffort } from "../run-plan.js";

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
            .option("effort", {
                type: "string",
                describe: "Figure 10 effort levels: JSON {strategy id: low|medium|high} over the defaults",
            }) as never,
    handler: async (argv) => {
        const folder = new RunFolder(argv.run);
        const effort = loadEffort(argv.effort);
        // the stored plan goes through the same validation as a plan file
        const { plan } = folder.readConfig(revalidatePlan);
        // every finished unit, with cross-validation those of every fold on disk
        const records = finishedRecords(plan, folder.dir);
        if (records.length === 0) throw new CliError(`${folder.dir}: no finished strategy yet`, "ERR_SA_RUN_FOLDER");
        const data = await loadPreparedForReport(plan, folder.dir, records);
        const results = await writeRunReport(folder, plan, records, data, effort);
        const html = path.join(folder.reportDir, "report.html");
        if (argv.json)
            process.stdout.write(`${JSON.stringify({ ok: true, report: html, strategies: records.length })}\n`);
        else process.stdout.write(`${summaryText(results)}\n\nreport: ${html}\n`);
    },
};
