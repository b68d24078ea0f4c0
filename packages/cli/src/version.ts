import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The CLI package version. */
export const VERSION: string = (() => {
    try {
        return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string })
            .version;
    } catch {
        return "0.0.0";
    }
})();

let commit: string | undefined | null = null;

/** The commit of the checkout the CLI runs from (with "-dirty" when it has changes); undefined outside git. */
export function toolCommit(): string | undefined {
    if (commit === null) commit = findCommit();
    return commit;
}

function findCommit(): string | undefined {
    if (process.env.SA_COMMIT) return process.env.SA_COMMIT;
    try {
        const cwd = fileURLToPath(new URL(".", import.meta.url));
        const opts = {
            cwd,
            encoding: "utf8" as const,
            stdio: ["ignore", "pipe", "ignore"] as ["ignore", "pipe", "ignore"],
            timeout: 5000,
        };
        const head = execFileSync("git", ["rev-parse", "HEAD"], opts).trim();
        const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], opts).trim() !== "";
        return dirty ? `${head}-dirty` : head;
    } catch {
        return undefined;
    }
}
