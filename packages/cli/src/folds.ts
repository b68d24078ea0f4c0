import { parseFolds } from "@sam-ablate/train";
import { CliError } from "./errors.js";

/** A `--fold` value ("all", k or k,l,...; each below `k` when known); a bad one is ERR_SA_USAGE. */
export function usageFolds(v: unknown, k?: number): "all" | number[] {
    try {
        return parseFolds(v, "--fold", k);
    } catch (e) {
        throw new CliError((e as Error).message.replace(/^plan: /, ""), "ERR_SA_USAGE");
    }
}
