/** Atomic writes for image files: run-folder's writer (temporary sibling, flush, rename; the folder is created). */
export { writeFileAtomic } from "@sam-ablate/run-folder";
