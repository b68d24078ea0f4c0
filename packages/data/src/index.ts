/**
 * Data preparation for the SAM prompt ablations: a NIfTI-1 reader and writer, BraTS and BCSS
 * patch preparation with patient-level splits and reproducible manifests, a loader for prepared
 * datasets, and deterministic synthetic radiology and pathology phantoms.
 */

export { DEFAULT_MAX_DECODE_BYTES, maxDecodeBytes } from "@sam-ablate/errors";
export { BCSS_ORIENTATION, type BcssLayout, type BcssOptions, prepareBcss } from "./bcss.js";
export {
    BRATS_ORIENTATION,
    type BratsOptions,
    type PaddingMode,
    prepareBrats,
} from "./brats.js";
export { type LoadDatasetOptions, loadDataset, type PatchPixels, PreparedDataset } from "./dataset.js";
export { DataError, type DataErrorCode } from "./errors.js";
export { assignFolds, type FoldRecord, foldEntries, patientSizes, validateFolds, writeFolds } from "./folds.js";
export {
    DEFAULT_MR_INTENSITY,
    type IntensityProfile,
    type IntensityReference,
    type IntensityWindow,
    intensityProfile,
    type MrIntensityOptions,
    type NormalisedVolume,
    normaliseMr,
    normaliseWindow,
} from "./intensity.js";
export {
    type DatasetFormat,
    type DatasetManifest,
    type JsonValue,
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    type PatchEntry,
    type PatchPosition,
    type SourceEntry,
    type SplitRecord,
    serialiseManifest,
    validateManifest,
} from "./manifest.js";
export { type NiftiDatatype, SUPPORTED_DATATYPES } from "./nifti/datatypes.js";
export {
    type Affine,
    type AffineSource,
    axisCodes,
    CANONICAL_AXES,
    canonicalReorientation,
    checkSameGrid,
    headerAffine,
    type Reorientation,
    reorientVolume,
    restoreVolume,
} from "./nifti/geometry.js";
export { isGzip, type NiftiReadOptions, parseNifti, readNifti } from "./nifti/read.js";
export type { NiftiHeader, NiftiVolume } from "./nifti/types.js";
export { encodeNifti, type NiftiWriteInput, type NiftiWriteOptions, writeNifti } from "./nifti/write.js";
export { percentileOfSorted, percentiles } from "./order-statistics.js";
export { patchDigest } from "./patch-writer.js";
export {
    generatePhantoms,
    type PathologyPhantomLayout,
    type PathologyPhantomOptions,
    PHANTOM_DESCRIPTOR,
    type PhantomOptions,
    type PhantomResult,
    RADIOLOGY_PHANTOM_LAYOUTS,
    type RadiologyPhantomLayout,
    type RadiologyPhantomOptions,
} from "./phantom/generate.js";
export { BCSS_CODES, generatePathologyRegion, type PathologyRegion } from "./phantom/pathology.js";
export {
    generateRadiologyCase,
    PHANTOM_MODALITIES,
    type PhantomModality,
    type RadiologyCase,
} from "./phantom/radiology.js";
export type { PrepareCommonOptions, PrepareProgress, PrepareResult } from "./prepare-common.js";
export {
    type ChannelSource,
    type CustomPatterns,
    canonicalModality,
    type DetectedLayout,
    detectRadiologyLayout,
    type LabelConvention,
    type RadiologyCase as RadiologyCaseFiles,
    type RadiologyLayout,
    REGION_LABELS,
    type TumourRegion,
} from "./radiology-layouts.js";
export {
    applyFixedSplit,
    type PatientSplit,
    parseSplit,
    readSplitFile,
    type SplitOptions,
    splitPatients,
} from "./split.js";
