export { byteSwap, HOST_LITTLE_ENDIAN, tensorBytes, tensorFromBytes, typedArrayFromBytes } from "./bytes.js";
export { castFloat, type FloatDType, toFloat32, toFloat32Array } from "./convert.js";
export {
    allocate,
    DTYPES,
    type DType,
    type DTypeArrayMap,
    dataMatchesDType,
    isDType,
    isFloatDType,
    itemSize,
    type TensorData,
    type TypedArrayOf,
    viewOf,
} from "./dtype.js";
export { TensorError } from "./errors.js";
export {
    bf16ToF32,
    bfloat16ToFloat32Array,
    f16ToF32,
    f32ToBf16,
    f32ToF16,
    float16ToFloat32Array,
    float32ToBfloat16Array,
    float32ToFloat16Array,
} from "./half.js";
export {
    assertDType,
    assertShape,
    checkShape,
    float32,
    formatShape,
    numel,
    reshape,
    type ShapePattern,
    shapeMatches,
    shapesEqual,
    type Tensor,
    tensor,
    zeros,
} from "./tensor.js";
