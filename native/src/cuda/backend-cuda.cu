// SPDX-License-Identifier: Apache-2.0
// CUDA backend lifetime, device probing, options and the error helpers of common.cuh.
#include <cstdio>
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"

namespace sa {

namespace cuda {

void throw_cuda_error(cudaError_t err, const char * stmt, const char * file, int line) {
    // Clear a non-sticky error so the next call does not report it again.
    cudaGetLastError();
    char where[64];
    std::snprintf(where, sizeof where, "%d", line);
    sa::fail(SA_ERR_CUDA, std::string("CUDA error ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) +
                              ") in `" + stmt + "` at " + file + ":" + where);
}

void throw_cublas_error(int status, const char * stmt, const char * file, int line) {
    char where[64];
    std::snprintf(where, sizeof where, "%d", line);
    sa::fail(SA_ERR_CUDA, std::string("cuBLAS error ") + cublasGetStatusName((cublasStatus_t) status) + " (" +
                              cublasGetStatusString((cublasStatus_t) status) + ") in `" + stmt + "` at " + file + ":" +
                              where);
}

}  // namespace cuda

const char * cuda_math_name(CudaMath m) {
    switch (m) {
        case CudaMath::FP32:
            return "fp32";
        case CudaMath::TF32:
            return "tf32";
        case CudaMath::BF16:
            return "bf16";
    }
    return "fp32";
}

CudaBackend::CudaBackend(int device, const CudaBackendOptions & options)
    : device_(device), alloc_(device), math_(options.math), zero_alloc_(options.zero_alloc) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        cudaGetLastError();
        sa::fail(SA_ERR_CUDA,
                 std::string("cuda backend: no usable CUDA driver or device (") + cudaGetErrorString(e) + ")");
    }
    SA_CHECK(
        device >= 0 && device < count, SA_ERR_INVALID_ARG,
        "cuda backend: device " + std::to_string(device) + " does not exist (" + std::to_string(count) + " device(s))");
    SA_CHECK_ARG(options.workspace_bytes >= (size_t(1) << 20), "cuda backend: workspace must be at least 1 MiB");
    try {
        SA_CUDA_CHECK(cudaSetDevice(device));
        SA_CUDA_CHECK(cudaGetDeviceProperties(&props_, device));
        SA_CHECK(props_.major >= 7, SA_ERR_UNSUPPORTED,
                 std::string("cuda backend: ") + props_.name + " has compute capability " +
                     std::to_string(props_.major) + "." + std::to_string(props_.minor) + "; 7.0 or newer is required");
        SA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
        SA_CUBLAS_CHECK(cublasCreate(&cublas_));
        SA_CUBLAS_CHECK(cublasLtCreate(&lt_));
        workspace_bytes_ = options.workspace_bytes;
        SA_CUDA_CHECK(cudaMalloc(&workspace_, workspace_bytes_));
        // cublasSetStream resets the workspace to cuBLAS's own pool: set the stream first.
        SA_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
        SA_CUBLAS_CHECK(cublasSetWorkspace(cublas_, workspace_, workspace_bytes_));
        SA_CUBLAS_CHECK(cublasSetPointerMode(cublas_, CUBLAS_POINTER_MODE_HOST));
    } catch (...) {
        if (lt_) cublasLtDestroy(lt_);
        if (cublas_) cublasDestroy(cublas_);
        if (workspace_) cudaFree(workspace_);
        if (stream_) cudaStreamDestroy(stream_);
        cudaGetLastError();
        throw;
    }
}

CudaBackend::~CudaBackend() {
    // Destructors never throw: errors here (e.g. a device lost earlier) are dropped.
    cudaSetDevice(device_);
    cudaStreamSynchronize(stream_);
    staging_.reset();
    if (lt_) cublasLtDestroy(lt_);
    if (cublas_) cublasDestroy(cublas_);
    if (workspace_) cudaFree(workspace_);
    if (stream_) cudaStreamDestroy(stream_);
    cudaGetLastError();
}

bool cuda_supports(Op op) {
    switch (op) {
        // Image-encoder training and the prediction heads have CPU kernels only (the base versions
        // throw SA_ERR_UNSUPPORTED).
        case Op::conv2d_backward:
        case Op::depthwise_conv2d_backward:
        case Op::attention_vit_backward:
        case Op::attention_tinyvit_backward:
        case Op::upsample_bilinear:
        case Op::upsample_bilinear_backward:
            return false;
        default:
            return true;
    }
}

std::string CudaBackend::name() const {
    return std::string("cuda:") + std::to_string(device_) + " (" + props_.name + ", " + cuda_math_name(math_) + ")";
}

void CudaBackend::activate() const {
    int cur = -1;
    SA_CUDA_CHECK(cudaGetDevice(&cur));
    if (cur != device_) SA_CUDA_CHECK(cudaSetDevice(device_));
}

CudaBackend & as_cuda(Backend & be, const char * what) {
    auto * c = dynamic_cast<CudaBackend *>(&be);
    SA_CHECK_ARG(c != nullptr, std::string(what) + ": backend '" + be.name() + "' is not a CUDA backend");
    return *c;
}

bool cuda_probe(CudaDeviceInfo * info, std::string * reason) {
    try {
        int count = 0;
        cudaError_t e = cudaGetDeviceCount(&count);
        if (e != cudaSuccess) {
            cudaGetLastError();
            if (reason) *reason = std::string("no usable CUDA driver or device: ") + cudaGetErrorString(e);
            return false;
        }
        if (count == 0) {
            if (reason) *reason = "no CUDA device found";
            return false;
        }
        cudaDeviceProp p{};
        e = cudaGetDeviceProperties(&p, 0);
        if (e != cudaSuccess) {
            cudaGetLastError();
            if (reason) *reason = std::string("cannot query CUDA device 0: ") + cudaGetErrorString(e);
            return false;
        }
        if (p.major < 7) {
            if (reason)
                *reason = std::string(p.name) + " has compute capability " + std::to_string(p.major) + "." +
                          std::to_string(p.minor) + "; 7.0 or newer is required";
            return false;
        }
        if (info) {
            info->name = p.name;
            info->compute_capability = std::to_string(p.major) + "." + std::to_string(p.minor);
            info->memory_bytes = p.totalGlobalMem;
            cudaDriverGetVersion(&info->driver_version);
            cudaRuntimeGetVersion(&info->runtime_version);
            cudaGetLastError();
        }
        return true;
    } catch (const std::exception & ex) {
        if (reason) *reason = ex.what();
        return false;
    } catch (...) {
        if (reason) *reason = "unknown error while probing CUDA";
        return false;
    }
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
    return make_cuda_backend(device, CudaBackendOptions{});
}

std::unique_ptr<Backend> make_cuda_backend(int device, const CudaBackendOptions & options) {
    return std::make_unique<CudaBackend>(device, options);
}

CudaMath cuda_set_math(Backend & be, CudaMath math) {
    CudaBackend & c = as_cuda(be, "cuda_set_math");
    SA_CHECK_ARG(math == CudaMath::FP32 || math == CudaMath::TF32 || math == CudaMath::BF16,
                 "cuda_set_math: unknown math mode");
    const CudaMath prev = c.math();
    c.set_math(math);
    return prev;
}

CudaMath cuda_get_math(Backend & be) {
    return as_cuda(be, "cuda_get_math").math();
}

CudaMemoryStats cuda_memory_stats(Backend & be) {
    CudaBackend & c = as_cuda(be, "cuda_memory_stats");
    const cuda::AllocatorStats s = c.allocator().stats();
    CudaMemoryStats r;
    r.in_use = s.in_use;
    r.reserved = s.reserved;
    r.peak_in_use = s.peak_in_use;
    r.peak_reserved = s.peak_reserved;
    r.device_total = c.props().totalGlobalMem;
    return r;
}

void cuda_reset_peak_memory(Backend & be) {
    as_cuda(be, "cuda_reset_peak_memory").allocator().reset_peak();
}

void cuda_release_cached_memory(Backend & be) {
    CudaBackend & c = as_cuda(be, "cuda_release_cached_memory");
    c.activate();
    c.allocator().empty_cache(c.stream());
}

}  // namespace sa
