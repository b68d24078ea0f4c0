/**
 * The files a plan reads, checked before anything is written: the model checkpoint must be a readable
 * file, every dataset folder a readable folder. Errors name the path (ERR_SA_CHECKPOINT_NOT_FOUND,
 * ERR_SA_DATA).
 */
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { CheckpointError } from "@sam-ablate/checkpoint";
import { DataError } from "@sam-ablate/data";
import type { AblationPlan } from "./ablation-plan.js";

function reason(e: unknown): string {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT"
        ? "no such file or folder"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : (e as Error).message;
}

/** Throws a coded error naming the first missing or unreadable input of `plan`. */
export function checkPlanInputs(plan: AblationPlan): void {
    const ckpt = plan.model.checkpoint;
    if (ckpt) {
        let isFile = false;
        try {
            isFile = statSync(ckpt).isFile();
            accessSync(ckpt, constants.R_OK);
        } catch (e) {
            throw new CheckpointError("ERR_SA_CHECKPOINT_NOT_FOUND", ckpt, reason(e), { cause: e });
        }
        if (!isFile) throw new CheckpointError("ERR_SA_CHECKPOINT_IO", ckpt, "is a folder, not a checkpoint file");
    }
    for (const d of plan.datasets) {
        if (d.source.type === "phantom") continue;
        const dir = d.source.dir;
        try {
            if (!statSync(dir).isDirectory())
                throw new DataError("ERR_SA_DATA", `${dir}: dataset '${d.name}' needs a folder, this is a file`);
            readdirSync(dir);
        } catch (e) {
            if (e instanceof DataError) throw e;
            throw new DataError("ERR_SA_DATA", `${dir}: dataset '${d.name}': cannot read the folder (${reason(e)})`, {
                cause: e,
            });
        }
    }
}
