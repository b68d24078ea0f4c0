/**
 * @sam-ablate/run-folder: what a run leaves on disk. Atomic writes (the project's only
 * implementation), owner locks with heartbeats and stale takeover (for a whole folder or one unit),
 * removal of temporary files left by killed processes, and the run folder itself: its layout, the
 * validated config and unit records, provenance (run.json) and the log (run.log).
 */
export {
    type AtomicData,
    type AtomicWriteOptions,
    tempPathFor,
    writeFileAtomic,
    writeFileAtomicSync,
    writeJsonAtomicSync,
} from "./atomic.js";
export { pidAlive, removeStaleTemps, type TempCleanupOptions, tempOwnerPid } from "./cleanup.js";
export { RunFolderError, type RunFolderErrorCode } from "./errors.js";
export {
    defaultStaleAfterMs,
    describeHolder,
    FileLock,
    type LockInfo,
    type LockOptions,
    type LockState,
    lockState,
    readLock,
    slurmInfo,
    staleReason,
} from "./lock.js";
export {
    type PerImageRecord,
    type RecordedPrompt,
    type SelectionRecord,
    type UnitRecord,
    type ValidationRecord,
    validateUnitRecord,
    validateZeroShotRecord,
    type ZeroShotRecord,
} from "./records.js";
export {
    type Invocation,
    LAYOUT,
    type Provenance,
    RunFolder,
    type StoredConfig,
    TrainUnit,
    UnitFolder,
    type UnitId,
    unitKey,
    ZeroShotUnit,
} from "./run-folder.js";
