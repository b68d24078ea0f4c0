// SPDX-License-Identifier: Apache-2.0
// A caching device allocator on top of cudaMalloc for the CUDA backend (no managed memory).
//
// All work of a backend runs on one stream, so a freed block can be handed out again at once: any
// kernel that still uses it was enqueued earlier on the same stream and finishes before the new
// owner's work starts. Blocks are never split; a request is served by the smallest cached block
// that is not much larger than the request.
//
// Private pools serve CUDA-graph capture: while a pool is active, allocations come from it and every
// block freed goes into it, so the memory a captured graph touches is never handed to anyone else while
// the graph lives. Destroying the pool returns its cached blocks to the general cache.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>

namespace sa {
namespace cuda {

struct AllocatorStats {
    size_t in_use = 0, reserved = 0, peak_in_use = 0, peak_reserved = 0;
};

class CachingAllocator {
  public:
    explicit CachingAllocator(int device) : device_(device) {}
    ~CachingAllocator();
    CachingAllocator(const CachingAllocator &) = delete;
    CachingAllocator & operator=(const CachingAllocator &) = delete;

    // Throws sa::Error(SA_ERR_OOM) when the device is out of memory even after the cache was emptied.
    void * allocate(size_t bytes, cudaStream_t stream);
    // Throws sa::Error(SA_ERR_INVALID_ARG) for a pointer this allocator did not hand out.
    void release(void * p);
    // Frees every cached (unused) block of the general cache; synchronises `stream` first.
    void empty_cache(cudaStream_t stream);

    int create_pool();
    void set_active_pool(int pool);  // 0: the general cache
    int active_pool() const;
    void destroy_pool(int pool);

    AllocatorStats stats() const;
    void reset_peak();

  private:
    struct Block {
        size_t size;
        int pool;
        bool in_use;
    };
    void * take_cached(int pool, size_t bytes);
    void free_cached_locked(int pool);

    int device_;
    mutable std::mutex mu_;
    std::unordered_map<void *, Block> blocks_;
    std::map<int, std::multimap<size_t, void *>> free_;  // pool -> (size -> block)
    std::map<int, bool> pools_;                          // live private pools
    int next_pool_ = 1;
    int active_ = 0;
    AllocatorStats st_;
};

// Bytes a request is rounded up to (512 B granules up to 1 MiB, then 2 MiB granules).
size_t round_allocation(size_t bytes);

}  // namespace cuda
}  // namespace sa
