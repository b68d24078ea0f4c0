/**
 * The hand-written type of the native module (build/Release/sam_ablate.node). Every other file
 * imports these types; the addon's C++ side (native/addon/) is the single source of the values.
 */

/** A named host tensor handed to native constructors (weights are copied at construction). */
export interface NativeWeight {
    shape: number[];
    data: Float32Array;
}
export type NativeWeights = Record<string, NativeWeight>;

export type BackendName = "cpu" | "cuda";

export interface SystemInfo {
    threads: number;
    hardwareConcurrency: number;
    simd: string;
    cuda: boolean;
    napiVersion: number;
}

export interface CudaDevice {
    name: string;
    computeCapability: string;
    memoryBytes: number;
    driverVersion: number;
    runtimeVersion: number;
}

export interface BackendsInfo {
    cpu: true;
    cuda: { built: boolean; available: boolean; device?: CudaDevice; reason?: string };
}

export interface ImageEncoderInfo {
    arch: "vit" | "tinyvit";
    imgSize: number;
    embedDim: number;
    embedSize: number;
    description: string;
    flopsPerImage: number;
    backend: BackendName;
}

export interface ImageEncoderOptions {
    arch?: "vit" | "tinyvit";
    prefix?: string;
    backend?: BackendName;
}

export interface EncodeResult {
    /** [B, embedDim, embedSize, embedSize] */
    embedding: Float32Array;
    /** Named intermediates (ViT: patch_embed, block0, ...) as [B, H, W, C], when asked for. */
    taps?: Record<string, Float32Array>;
}

export interface NativeImageEncoder {
    readonly info: ImageEncoderInfo;
    /** images: [B, 3, S, S] normalised with SAM's mean/std and zero-padded. */
    encode(images: Float32Array, batch: number, options?: { taps?: boolean }): Promise<EncodeResult>;
}

export interface BindingModule {
    systemInfo(): SystemInfo;
    /** Sets the CPU thread count (0 = all cores); returns the count in effect. */
    setThreads(n: number): number;
    backends(): BackendsInfo;
    /**
     * Copy-on-write memory mapping of a file region (writes never reach the file); released when the
     * ArrayBuffer is garbage-collected.
     */
    mapFile(path: string, offset?: number, length?: number): ArrayBuffer;
    ImageEncoder: new (weights: NativeWeights, options?: ImageEncoderOptions) => NativeImageEncoder;
}
