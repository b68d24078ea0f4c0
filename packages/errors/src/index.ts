export { errorText, SamAblateError, type SamAblateErrorOptions } from "./error.js";
export { DEFAULT_MAX_DECODE_BYTES, maxDecodeBytes, megabytes } from "./limits.js";
export { quoted } from "./quote.js";
