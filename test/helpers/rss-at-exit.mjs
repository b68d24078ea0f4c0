// Preloaded (--import) into a child process: writes its peak resident set size in bytes
// (process.resourceUsage().maxRSS is in KiB) to the file named by SA_RSS_FILE when it exits.
import { writeFileSync } from "node:fs";

const out = process.env.SA_RSS_FILE;
if (out) process.on("exit", () => writeFileSync(out, String(process.resourceUsage().maxRSS * 1024)));
