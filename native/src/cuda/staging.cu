// SPDX-License-Identifier: Apache-2.0
// Pinned staging of host-to-device uploads (see staging.cuh).
#include <cstring>
#include <exception>
#include <thread>

#include "cuda/common.cuh"
#include "cuda/staging.cuh"

namespace sa {
namespace cuda {

HostStaging::~HostStaging() {
    // Destructors never throw: errors here (e.g. a device lost earlier) are dropped.
    for (Slot & s : slots_) {
        if (s.done) cudaEventDestroy(s.done);
        if (s.host) cudaFreeHost(s.host);
    }
    cudaGetLastError();
}

void HostStaging::ensure_slots() {
    if (!slots_.empty()) return;
    std::vector<Slot> slots(2 * kWorkers);
    try {
        for (Slot & s : slots) {
            SA_CUDA_CHECK(cudaHostAlloc(&s.host, kChunkBytes, cudaHostAllocDefault));
            SA_CUDA_CHECK(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
        }
    } catch (...) {
        for (Slot & s : slots) {
            if (s.done) cudaEventDestroy(s.done);
            if (s.host) cudaFreeHost(s.host);
        }
        throw;
    }
    slots_ = std::move(slots);
}

cudaError_t HostStaging::run_worker(int w, int workers, char * dst, const char * src, size_t bytes,
                                    cudaStream_t stream) {
    cudaError_t err = cudaSetDevice(device_);
    const size_t chunks = (bytes + kChunkBytes - 1) / kChunkBytes;
    int use = 0;
    for (size_t c = (size_t) w; c < chunks && err == cudaSuccess; c += (size_t) workers, use ^= 1) {
        Slot & s = slots_[(size_t) (2 * w + use)];
        const size_t off = c * kChunkBytes, len = bytes - off < kChunkBytes ? bytes - off : kChunkBytes;
        err = cudaEventSynchronize(s.done);  // the previous transfer out of this buffer has finished
        if (err != cudaSuccess) break;
        std::memcpy(s.host, src + off, len);
        err = cudaMemcpyAsync(dst + off, s.host, len, cudaMemcpyHostToDevice, stream);
        if (err != cudaSuccess) break;
        err = cudaEventRecord(s.done, stream);
    }
    return err;
}

void HostStaging::upload(void * dst, const void * src, size_t bytes, cudaStream_t stream) {
    std::lock_guard<std::mutex> lock(mu_);
    ensure_slots();
    const size_t chunks = (bytes + kChunkBytes - 1) / kChunkBytes;
    const int workers = (int) (chunks < (size_t) kWorkers ? chunks : (size_t) kWorkers);
    auto * d = static_cast<char *>(dst);
    const auto * s = static_cast<const char *>(src);
    std::vector<cudaError_t> errs((size_t) workers, cudaSuccess);
    std::vector<std::thread> threads;
    std::vector<int> inline_workers;
    for (int w = 1; w < workers; ++w) {
        try {
            threads.emplace_back([this, w, workers, d, s, bytes, stream, &errs] {
                errs[(size_t) w] = run_worker(w, workers, d, s, bytes, stream);
            });
        } catch (const std::exception &) {  // no thread available: do that share here
            inline_workers.push_back(w);
        }
    }
    errs[0] = run_worker(0, workers, d, s, bytes, stream);
    for (int w : inline_workers) errs[(size_t) w] = run_worker(w, workers, d, s, bytes, stream);
    for (std::thread & t : threads) t.join();
    for (cudaError_t e : errs)
        if (e != cudaSuccess) throw_cuda_error(e, "pinned staging upload", __FILE__, __LINE__);
}

}  // namespace cuda
}  // namespace sa
