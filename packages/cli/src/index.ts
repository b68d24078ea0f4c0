/**
 * sam-ablate: the command line. `runCli(argv)` runs it programmatically (tests, scripts).
 */
export { runCli } from "./cli.js";
export { loadPlan, MAX_PLAN_BYTES } from "./commands/ablate-command.js";
export { CliError, EXIT } from "./errors.js";
