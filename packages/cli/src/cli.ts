/**
 * The sam-ablate command line (yargs): one CommandModule per file under commands/.
 */
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { ablateCommand } from "./commands/ablate-command.js";
import { benchCommand } from "./commands/bench-command.js";
import { demoCommand } from "./commands/demo-command.js";
import { doctorCommand } from "./commands/doctor-command.js";
import { embedCommand } from "./commands/embed-command.js";
import { evalCommand } from "./commands/eval-command.js";
import { exportCommand } from "./commands/export-command.js";
import { predictCommand } from "./commands/predict-command.js";
import { prepareCommand } from "./commands/prepare-command.js";
import { reportCommand } from "./commands/report-command.js";
import { slurmCommand } from "./commands/slurm-command.js";
import { statusCommand } from "./commands/status-command.js";
import { trainCommand } from "./commands/train-command.js";
import { unitsCommand } from "./commands/units-command.js";
import { CliError, reportError } from "./errors.js";
import { applyThreads, requireWholeNumbers } from "./options.js";
import { VERSION } from "./version.js";

/** Runs the CLI on argv (without node and script); resolves with the exit code. */
export async function runCli(argv: string[]): Promise<number> {
    const wantsJson = argv.includes("--json");
    let exitCode = 0;
    try {
        await yargs(argv)
            .scriptName("sam-ablate")
            .usage(
                "$0 <command> [options]\n\nWhich prompt strategy should you fine-tune SAM with? Runs the prompt ablations of SAM on medical images.",
            )
            .command(demoCommand)
            .command(ablateCommand)
            .command(prepareCommand)
            .command(embedCommand)
            .command(trainCommand)
            .command(evalCommand)
            .command(predictCommand)
            .command(exportCommand)
            .command(reportCommand)
            .command(unitsCommand)
            .command(slurmCommand)
            .command(statusCommand)
            .command(benchCommand)
            .command(doctorCommand)
            .option("json", { type: "boolean", default: false, describe: "machine-readable output on stdout" })
            .option("threads", { type: "number", describe: "CPU threads for every command (0 or absent: all cores)" })
            .middleware((args) => {
                applyThreads(argv, args.threads);
            })
            .check((args) => {
                // whole-number options of any command; absent ones are skipped
                requireWholeNumbers(argv, args, { repeats: 1, batch: 1, epochs: 1, steps: 1, "keep-checkpoints": 0 });
                return true;
            })
            .recommendCommands()
            .demandCommand(1, "choose a command (see --help)")
            .strict()
            .strictCommands()
            .help("h")
            .alias("h", "help")
            .version(VERSION)
            .wrap(Math.min(110, process.stdout.columns ?? 110))
            .fail((msg, err) => {
                if (err) throw err;
                throw new CliError(msg, "ERR_SA_USAGE", "see `sam-ablate --help`");
            })
            .exitProcess(false)
            .parseAsync();
    } catch (e) {
        exitCode = reportError(e, wantsJson);
    }
    return exitCode;
}

/**
 * Output to a pipe that closed (`| head`, a log reader gone) is dropped and the command goes on to its
 * end: its results (a cache, a run folder) are the point, and a write error thrown from the stream
 * would end the process on the spot, leaving temporary files behind.
 */
function dropOutputToClosedPipes(): void {
    for (const stream of [process.stdout, process.stderr]) {
        stream.on("error", (e: NodeJS.ErrnoException) => {
            if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
        });
    }
}

/** Entry for bin.ts. */
export async function main(): Promise<void> {
    dropOutputToClosedPipes();
    const code = await runCli(hideBin(process.argv));
    process.exitCode = code;
}
