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

/**
 * Arithmetic of the image encoder's products. fp32: exact fp32. bf16: bf16 operands, fp32
 * accumulation (CPU: needs AVX512_BF16 or AMX, see SystemInfo.isa; CUDA: tensor cores). tf32: CUDA only.
 */
export type Precision = "fp32" | "bf16" | "tf32";

export interface SystemInfo {
    threads: number;
    hardwareConcurrency: number;
    /** SIMD baseline the core was compiled for ("avx2+fma" for the default x86-64-v3 build). */
    simd: string;
    /** CPU kernel level in use (SA_ISA forces one), or null when SA_ISA names an unknown or unavailable level (see isaError). */
    isa: "avx2" | "avx512" | "avx512bf16" | "amx" | null;
    isaError?: string;
    /** Highest level this CPU (with OS support) and this build can run; isaLevels lists all of them, lowest first. */
    isaAvailable: string;
    isaLevels: string[];
    /** Levels this build has kernels for, comma-separated. */
    isaCompiled: string;
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

/** Backend ops without a kernel (they throw ERR_SA_UNSUPPORTED): the native `Backend::supports(op)`. */
export interface BackendOps {
    unsupported: string[];
}

export interface BackendsInfo {
    cpu: BackendOps;
    cuda: { built: boolean; available: boolean; device?: CudaDevice; reason?: string; unsupported?: string[] };
}

export interface ImageEncoderInfo {
    arch: "vit" | "tinyvit";
    imgSize: number;
    embedDim: number;
    embedSize: number;
    description: string;
    flopsPerImage: number;
    backend: BackendName;
    precision: Precision;
}

export interface ImageEncoderOptions {
    arch?: "vit" | "tinyvit";
    prefix?: string;
    backend?: BackendName;
    /** Default fp32. A precision the backend cannot run is an error with code ERR_SA_UNSUPPORTED. */
    precision?: Precision;
}

export interface EncodeResult {
    /** [B, embedDim, embedSize, embedSize] */
    embedding: Float32Array;
    /** Named intermediates (ViT: patch_embed, block0, ...) as [B, H, W, C], when asked for. */
    taps?: Record<string, Float32Array>;
}

/**
 * A wrapped native object that holds native memory: reported to V8 (`nativeBytes`), freed by
 * `dispose()` (or `using`) at once instead of at garbage collection. Work already in flight finishes
 * first; any later call throws ERR_SA_STATE. Disposing twice is harmless.
 */
export interface NativeDisposable {
    dispose(): void;
    [Symbol.dispose](): void;
    /** Native bytes reported to V8 (0 once disposed). */
    readonly nativeBytes: number;
}

export interface NativeImageEncoder extends NativeDisposable {
    readonly info: ImageEncoderInfo;
    /** images: [B, 3, S, S] normalised with SAM's mean/std and zero-padded. */
    encode(images: Float32Array, batch: number, options?: { taps?: boolean }): Promise<EncodeResult>;
}

/**
 * A batch of prompts for the decoder, in the model input frame (after ResizeLongestSide), pixels.
 * SAM's +0.5 pixel-centre shift and its padding point are applied natively.
 */
export interface NativePrompts {
    batch: number;
    nPoints: number;
    /** [batch, nPoints, 2] x, y */
    points?: Float32Array;
    /** [batch, nPoints]: 1 positive, 0 negative, -1 not a point (padding) */
    labels?: Float32Array;
    /** [batch, 4] x0, y0, x1, y1 */
    boxes?: Float32Array;
    /** [batch, 1, 4E, 4E] low-res mask logits */
    maskInput?: Float32Array;
}

export interface SamDecoderOptions {
    /** Model input side (1024 for SAM). */
    imgSize?: number;
    /** Embedding grid side (imgSize / 16). */
    embedSize?: number;
    backend?: BackendName;
    /**
     * Arithmetic of the decoder's products, training and prediction (default fp32). bf16: operands
     * rounded to bf16, fp32 accumulation, weights, gradients and optimizer state in fp32; CPU with
     * AVX512_BF16 (VDPBF16PS) or AMX only, else an error with code ERR_SA_UNSUPPORTED.
     */
    precision?: DecoderPrecision;
}

/** Arithmetic of the mask decoder's products (SamDecoderOptions.precision). */
export type DecoderPrecision = "fp32" | "bf16";

export interface NativeSamDecoder extends NativeDisposable {
    readonly info: { imgSize: number; embedSize: number; backend: BackendName; precision: DecoderPrecision };
    /** Dense positional encoding [256, E, E]. */
    densePe(): Float32Array;
    encodePrompts(prompts: NativePrompts): { sparse: Float32Array; nSparse: number; dense: Float32Array };
    /**
     * Runs the mask decoder for every prompt against one embedding [256, E, E] (or one per prompt
     * with perPromptEmbeddings). Returns all 4 mask tokens: lowRes [B, 4, 4E, 4E], iou [B, 4]; with
     * firstMask / maskCount only tokens [firstMask, firstMask + maskCount) in lowRes [B, maskCount, 4E,
     * 4E] (the same values; the other tokens' mask work is skipped: firstMask 0, maskCount 1 is SAM's
     * single-mask output), iou still [B, 4].
     */
    predictAll(
        embedding: Float32Array,
        prompts: NativePrompts,
        options?: { perPromptEmbeddings?: boolean; firstMask?: number; maskCount?: number },
    ): Promise<{ lowRes: Float32Array; iou: Float32Array }>;
    /** Official key names ("mask_decoder.transformer.layers.0...") of the trainable parameters. */
    paramNames(): string[];
    paramShape(name: string): number[];
    getParam(name: string): Float32Array;
    setParam(name: string, data: Float32Array): void;
}

export type LossName = "dicece" | "medsam" | "sam";
export type OptimizerName = "adam" | "adamw";

export interface TrainerOptions {
    loss?: LossName;
    optimizer?: OptimizerName;
    lr?: number;
    beta1?: number;
    beta2?: number;
    eps?: number;
    weightDecay?: number;
    /** Global gradient-norm clip (0 = off). */
    gradClipNorm?: number;
    multimask?: boolean;
    trainPromptEncoder?: boolean;
    /** Also compute the gradient of the image embeddings (needed by TrainableEncoder.trainStep). */
    embeddingGrad?: boolean;
}

export interface NativeDecoderTrainer extends NativeDisposable {
    /** Forward, loss, backward and optimiser update; resolves with the loss. */
    step(
        embeddings: Float32Array,
        prompts: NativePrompts,
        targets: Float32Array,
        options?: { lr?: number },
    ): Promise<number>;
    /** Forward, loss and backward without updating (gradients readable through getGrad). */
    lossAndGrad(embeddings: Float32Array, prompts: NativePrompts, targets: Float32Array): Promise<number>;
    /** Gradient of the last lossAndGrad (a step clears the gradients once it has used them). */
    getGrad(name: string): Float32Array;
    /** Names of the parameters the optimiser updates. */
    trainedParams(): string[];
    getState(name: string): { m: Float32Array; v: Float32Array };
    setState(name: string, m: Float32Array, v: Float32Array): void;
    stepCount: number;
}

/** Encoder modules LoRA can adapt: q, k, v (slices of attn.qkv), qkv, proj, lin1, lin2, mlp (lin1 + lin2). */
/** lin1/lin2 are the ViT's MLP layers, fc1/fc2 TinyViT's (each encoder accepts both names). */
export type LoraTarget = "q" | "k" | "v" | "qkv" | "proj" | "lin1" | "lin2" | "fc1" | "fc2" | "mlp";

export interface LoraOptions {
    /** Adapter rank r (1..1024). */
    rank: number;
    /** Scale s = alpha / rank (default alpha = rank). */
    alpha?: number;
    /** Default ["q", "v"]. */
    targets?: LoraTarget[];
    /** Seed of the A factors' initialisation (B starts at zero). */
    seed?: number;
}

export interface TrainableEncoderOptions {
    arch?: "vit" | "tinyvit";
    prefix?: string;
    /** CPU only for now: "cuda" is refused with ERR_SA_UNSUPPORTED. */
    backend?: BackendName;
    lora: LoraOptions;
}

export interface TrainableEncoderInfo {
    arch: "vit" | "tinyvit";
    imgSize: number;
    embedDim: number;
    embedSize: number;
    description: string;
    backend: BackendName;
    rank: number;
    alpha: number;
    targets: LoraTarget[];
    /** alpha / rank */
    loraScale: number;
}

/**
 * An image encoder with LoRA adapters and a backward pass (the encoder's own weights stay frozen).
 * Adapter names are PEFT's under the encoder ("blocks.0.attn.qkv.lora_A.weight").
 */
export interface NativeTrainableEncoder extends NativeDisposable {
    readonly info: TrainableEncoderInfo;
    /** Embeddings [B, embedDim, E, E] of the adapted encoder. */
    encode(images: Float32Array, batch: number): Promise<{ embedding: Float32Array }>;
    /**
     * One training step with the encoder in the loop: encode `images` [B, 3, S, S], decoder loss and
     * backward through `trainer` (made with embeddingGrad), encoder backward, Adam on the decoder and
     * the adapters (the trainer's settings; `lr` overrides its rate for both). Resolves with the loss;
     * a non-finite loss or gradient rejects with ERR_SA_NUMERIC and changes nothing.
     */
    trainStep(
        trainer: NativeDecoderTrainer,
        images: Float32Array,
        prompts: NativePrompts,
        targets: Float32Array,
        options?: { lr?: number },
    ): Promise<number>;
    loraNames(): string[];
    paramShape(name: string): number[];
    /** An adapter's or an encoder weight's value. */
    getParam(name: string): Float32Array;
    setParam(name: string, data: Float32Array): void;
    /** W + s B A for an adapted layer's weight ("blocks.0.attn.qkv.weight"), W otherwise. */
    mergedWeight(name: string): Float32Array;
    /** The adapters' Adam moments and step count (checkpoints, resume). */
    getState(name: string): { m: Float32Array; v: Float32Array };
    setState(name: string, m: Float32Array, v: Float32Array): void;
    stepCount: number;
}

/** The shape of a prompt-free head (see HeadTrainer). */
export interface HeadOptions {
    /** Conv blocks (3x3 conv, LayerNorm2d, ReLU), 0..16; 0 is the linear head (1x1 conv to one channel). */
    depth: number;
    /** Channels of the blocks (default 256). */
    hidden?: number;
    /** The embedding's channels (default 256). */
    inChannels?: number;
    /** The embedding grid side E; the low-res output is 4E x 4E. */
    embedSize: number;
    backend?: BackendName;
}

/**
 * A prompt-free prediction head on the frozen image embedding, with its own optimiser: the blocks,
 * a 1x1 conv to one logit channel and a bilinear upsampling to the decoder's low-res grid. Parameters
 * start at zero (set them: `initHeadParams` in @sam-ablate/train).
 */
export interface NativeHeadTrainer extends NativeDisposable {
    readonly info: { depth: number; hidden: number; inChannels: number; embedSize: number; backend: BackendName };
    /** Low-res logits [B, 1, 4E, 4E] of embeddings [B, C, E, E]. */
    predict(embeddings: Float32Array): Promise<Float32Array>;
    /** Forward, loss, backward and optimiser update on embeddings [B, C, E, E] and targets [B, 1, 4E, 4E]; resolves with the loss. */
    step(embeddings: Float32Array, targets: Float32Array, options?: { lr?: number }): Promise<number>;
    lossAndGrad(embeddings: Float32Array, targets: Float32Array): Promise<number>;
    getGrad(name: string): Float32Array;
    /** PyTorch-style names: blocks.<i>.conv.weight, blocks.<i>.conv.bias, blocks.<i>.norm.weight, blocks.<i>.norm.bias, out.weight, out.bias. */
    paramNames(): string[];
    /** Every parameter is trained (the same list as paramNames). */
    trainedParams(): string[];
    paramShape(name: string): number[];
    getParam(name: string): Float32Array;
    setParam(name: string, data: Float32Array): void;
    getState(name: string): { m: Float32Array; v: Float32Array };
    setState(name: string, m: Float32Array, v: Float32Array): void;
    stepCount: number;
}

export interface BindingModule {
    systemInfo(): SystemInfo;
    /** Sets the CPU thread count (0 = all cores); returns the count in effect. */
    setThreads(n: number): number;
    /**
     * The CPU GEMM micro-kernel's ceiling on this machine: every thread of the CPU backend runs the
     * level's register micro-kernel on operands kept in L1 for about `seconds` (default 0.5, at most
     * 10); GFLOP/s of all threads together. Products and encoders approach it from below. "bf16": the
     * bf16 products kernel (VDPBF16PS or AMX tiles), rejected below CPU level avx512bf16; the ratio of
     * the two peaks bounds how much faster a bf16 pass can run than an fp32 one.
     */
    gemmPeak(seconds?: number, precision?: "fp32" | "bf16"): Promise<{ gflops: number; threads: number; isa: string }>;
    backends(): BackendsInfo;
    /**
     * Copy-on-write memory mapping of a file region (writes never reach the file); released when the
     * ArrayBuffer is garbage-collected.
     */
    mapFile(path: string, offset?: number, length?: number): ArrayBuffer;
    /** Widens binary16 values to float32 (exact; F16C-vectorised). */
    halfToFloat(src: Uint16Array, dst?: Float32Array): Float32Array;
    /** Narrows float32 values to binary16 bits, round to nearest even (F16C-vectorised). */
    floatToHalf(src: Float32Array, dst?: Uint16Array): Uint16Array;
    /**
     * SAM's preprocessing of an RGB image (height x width x 3 bytes) into the model input `out`
     * [3, size, size] (ResizeLongestSide with Pillow's bilinear filter, mean/std, zero padding), off the
     * JS thread; the same bits as `preprocessImage` of @sam-ablate/model. Resolves with the resized
     * [height, width]; rgb and out must not be touched before it settles.
     */
    preprocessImage(
        rgb: Uint8Array,
        height: number,
        width: number,
        size: number,
        out: Float32Array,
    ): Promise<[number, number]>;
    ImageEncoder: new (weights: NativeWeights, options?: ImageEncoderOptions) => NativeImageEncoder;
    SamDecoder: new (weights: NativeWeights, options?: SamDecoderOptions) => NativeSamDecoder;
    DecoderTrainer: new (decoder: NativeSamDecoder, options?: TrainerOptions) => NativeDecoderTrainer;
    TrainableEncoder: new (weights: NativeWeights, options: TrainableEncoderOptions) => NativeTrainableEncoder;
    /** Training options as the DecoderTrainer's (multimask and trainPromptEncoder do not apply; loss dicece or medsam). */
    HeadTrainer: new (
        head: HeadOptions,
        options?: TrainerOptions,
    ) => NativeHeadTrainer;
}
