/**
 * @sam-ablate/native: loads the native addon and declares its typed interface.
 */
export type * from "./binding.js";
export { isNativeError, nativeError } from "./errors.js";
export { AddonLoadError, addonAvailable, addonCandidates, loadAddon, workspaceRoot } from "./load-addon.js";
