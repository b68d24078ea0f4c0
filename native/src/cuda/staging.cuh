// SPDX-License-Identifier: Apache-2.0
// Host-to-device uploads through pinned staging buffers for the CUDA backend. A copy from pageable
// memory is staged by the driver one buffer at a time; here a few threads copy chunks of the source
// into their own pinned buffers (two each, reused once the DMA out of them has finished) and enqueue
// the DMA of each chunk on the backend's stream, so the host copies of later chunks overlap the
// transfers of earlier ones.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>
#include <vector>

namespace sa {
namespace cuda {

class HostStaging {
  public:
    // Smaller uploads are left to cudaMemcpyAsync from pageable memory.
    static constexpr size_t kMinBytes = size_t(4) << 20;

    explicit HostStaging(int device) : device_(device) {}
    // Frees the pinned buffers and events; the owner synchronises the stream before.
    ~HostStaging();
    HostStaging(const HostStaging &) = delete;
    HostStaging & operator=(const HostStaging &) = delete;

    // Enqueues the copy of `bytes` bytes from host `src` to device `dst` on `stream` and returns once
    // `src` has been read completely (the caller may reuse it; the transfer itself is stream-ordered).
    // The pinned buffers are allocated on first use. Throws sa::Error(SA_ERR_CUDA) on a CUDA failure.
    void upload(void * dst, const void * src, size_t bytes, cudaStream_t stream);

  private:
    static constexpr size_t kChunkBytes = size_t(4) << 20;
    static constexpr int kWorkers = 4;  // host threads copying into pinned memory (the caller is one)

    struct Slot {
        void * host = nullptr;
        cudaEvent_t done = nullptr;  // recorded after the DMA out of `host` was enqueued
    };
    void ensure_slots();
    // Worker w's share of an upload: chunks w, w + workers, ... through slots 2w and 2w + 1.
    cudaError_t run_worker(int w, int workers, char * dst, const char * src, size_t bytes, cudaStream_t stream);

    int device_;
    std::mutex mu_;
    std::vector<Slot> slots_;
};

}  // namespace cuda
}  // namespace sa
