import { CliError } from "./errors.js";

/** What a command does on SIGINT/SIGTERM: its signal, and the handlers' removal. */
export interface Interrupt {
    /** Aborted, with an ERR_SA_ABORTED CliError as its reason, at the first SIGINT or SIGTERM. */
    signal: AbortSignal;
    /** Removes the handlers (call in a finally). */
    dispose(): void;
}

/**
 * Turns SIGINT/SIGTERM into an aborted signal for a long command: the work stops at its next step,
 * keeping what is done (finished units, an embedding cache's finished embeddings as a partial file),
 * and the command ends with ERR_SA_ABORTED (exit 130) saying `resume`. `say` is told at once; a
 * second signal exits at once.
 */
export function onInterrupt(say: (message: string) => void, resume: string): Interrupt {
    const controller = new AbortController();
    const handler = (sig: NodeJS.Signals) => {
        if (controller.signal.aborted) process.exit(130);
        say(`${sig}: stopping after the current step; ${resume}`);
        controller.abort(new CliError(`interrupted by ${sig}; ${resume}`, "ERR_SA_ABORTED"));
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
    return {
        signal: controller.signal,
        dispose: () => {
            process.off("SIGINT", handler);
            process.off("SIGTERM", handler);
        },
    };
}
