export { writeFileAtomic } from "./atomic-write.js";
export { type ByteSource, bytesSource, openFileSource } from "./byte-source.js";
export { CheckpointError, type CheckpointErrorCode } from "./errors.js";
export {
    assertFiniteWeights,
    countNonFinite,
    type Float32Record,
    type Float32RecordOptions,
    stateDictToFloat32Record,
} from "./float32-record.js";
export * from "./onnx/index.js";
export { type UnpickleOptions, unpickle } from "./pickle/unpickler.js";
export { PyGlobal, type PyValue, StorageRef, TensorRef } from "./pickle/values.js";
export { type PthCheckpoint, type PthReadOptions, readPth, readPthFile, readPthSource } from "./pth/reader.js";
export { STATE_DICT_KEYS } from "./pth/state-dict.js";
export {
    type PthWriteOptions,
    pickleStateDict,
    pthChunks,
    type StateDict,
    writePth,
    writePthFile,
} from "./pth/writer.js";
export {
    type Checkpoint,
    type CheckpointFormat,
    type CheckpointReadOptions,
    detectCheckpointFormat,
    readCheckpoint,
} from "./read-checkpoint.js";
export { SAFETENSORS_DTYPES, type SafetensorsEntry, type SafetensorsHeader } from "./safetensors/header.js";
export {
    readSafetensors,
    readSafetensorsFile,
    readSafetensorsHeader,
    readSafetensorsSource,
    type SafetensorsContents,
} from "./safetensors/reader.js";
export { safetensorsChunks, writeSafetensors, writeSafetensorsFile } from "./safetensors/writer.js";
export { openZip, readZipEntry, type ZipArchive, type ZipEntry, type ZipReadOptions } from "./zip/reader.js";
export { concatChunks, writeZip, type ZipRecord, type ZipWriteOptions, zipChunks } from "./zip/writer.js";
