/**
 * sam-ablate: the command line. `runCli(argv)` runs it programmatically (tests, scripts).
 */
export { runCli } from "./cli.js";
export { EXIT, CliError } from "./errors.js";
