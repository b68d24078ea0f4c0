// SPDX-License-Identifier: Apache-2.0
// Caching device allocator (see allocator.cuh).
#include <algorithm>
#include <string>

#include "cuda/allocator.cuh"
#include "cuda/common.cuh"

namespace sa {
namespace cuda {

namespace {
constexpr size_t kSmall = size_t(1) << 20;
constexpr size_t kSmallGranule = 512;
constexpr size_t kLargeGranule = size_t(2) << 20;

// Largest cached block accepted for a request of `bytes` (no splitting, so bound the waste).
size_t max_fit(size_t bytes) {
    return bytes <= kSmall ? 2 * bytes : bytes + bytes / 8;
}

std::string mib(size_t b) {
    return std::to_string((b + (size_t(1) << 19)) >> 20) + " MiB";
}
}  // namespace

size_t round_allocation(size_t bytes) {
    if (bytes == 0) bytes = 1;
    const size_t g = bytes <= kSmall ? kSmallGranule : kLargeGranule;
    return (bytes + g - 1) / g * g;
}

CachingAllocator::~CachingAllocator() {
    // Best effort: the process may be shutting down with the driver already gone.
    for (auto & kv : blocks_) cudaFree(kv.first);
    cudaGetLastError();
}

void * CachingAllocator::take_cached(int pool, size_t bytes) {
    auto fit = free_.find(pool);
    if (fit == free_.end()) return nullptr;
    auto it = fit->second.lower_bound(bytes);
    if (it == fit->second.end() || it->first > max_fit(bytes)) return nullptr;
    void * p = it->second;
    fit->second.erase(it);
    return p;
}

void * CachingAllocator::allocate(size_t bytes, cudaStream_t stream) {
    SA_CHECK_ARG(bytes <= (size_t(1) << 46), "cuda alloc: implausible size " + std::to_string(bytes) + " bytes");
    const size_t size = round_allocation(bytes);
    std::lock_guard<std::mutex> lk(mu_);
    const int pool = active_;
    void * p = take_cached(pool, size);
    if (!p && pool != 0) p = take_cached(0, size);  // a cached general block moves into the private pool
    if (p) {
        Block & b = blocks_.at(p);
        b.in_use = true;
        b.pool = pool;
        st_.in_use += b.size;
        st_.peak_in_use = std::max(st_.peak_in_use, st_.in_use);
        return p;
    }
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
        cudaGetLastError();  // clear the (non-sticky) error
        cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
        cudaStreamIsCapturing(stream, &cap);
        if (cap == cudaStreamCaptureStatusNone) {
            // Give the cached blocks back to the driver and try once more.
            SA_CUDA_CHECK(cudaStreamSynchronize(stream));
            for (auto & kv : free_)
                if (kv.first == 0 || !pools_.count(kv.first)) free_cached_locked(kv.first);
            err = cudaMalloc(&p, size);
            if (err == cudaErrorMemoryAllocation) cudaGetLastError();
        }
    }
    if (err == cudaErrorMemoryAllocation) {
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        cudaGetLastError();
        sa::fail(SA_ERR_OOM, "cuda alloc: out of device memory allocating " + mib(size) + " (in use " +
                                 mib(st_.in_use) + ", reserved " + mib(st_.reserved) + ", device free " + mib(free_b) +
                                 " of " + mib(total_b) + ")");
    }
    SA_CUDA_CHECK(err);
    blocks_.emplace(p, Block{size, pool, true});
    st_.reserved += size;
    st_.in_use += size;
    st_.peak_reserved = std::max(st_.peak_reserved, st_.reserved);
    st_.peak_in_use = std::max(st_.peak_in_use, st_.in_use);
    return p;
}

void CachingAllocator::release(void * p) {
    if (!p) return;
    std::lock_guard<std::mutex> lk(mu_);
    auto it = blocks_.find(p);
    SA_CHECK_ARG(it != blocks_.end() && it->second.in_use,
                 "cuda free: pointer was not allocated by this backend or was already freed");
    Block & b = it->second;
    b.in_use = false;
    st_.in_use -= b.size;
    // During a capture every freed block joins the capturing pool (the graph may still touch it).
    if (active_ != 0) b.pool = active_;
    else if (b.pool != 0 && !pools_.count(b.pool)) b.pool = 0;
    free_[b.pool].emplace(b.size, p);
}

void CachingAllocator::free_cached_locked(int pool) {
    auto fit = free_.find(pool);
    if (fit == free_.end()) return;
    for (auto & kv : fit->second) {
        cudaFree(kv.second);
        st_.reserved -= kv.first;
        blocks_.erase(kv.second);
    }
    fit->second.clear();
}

void CachingAllocator::empty_cache(cudaStream_t stream) {
    SA_CUDA_CHECK(cudaStreamSynchronize(stream));
    std::lock_guard<std::mutex> lk(mu_);
    free_cached_locked(0);
    SA_CUDA_CHECK(cudaGetLastError());
}

int CachingAllocator::create_pool() {
    std::lock_guard<std::mutex> lk(mu_);
    const int id = next_pool_++;
    pools_[id] = true;
    return id;
}

void CachingAllocator::set_active_pool(int pool) {
    std::lock_guard<std::mutex> lk(mu_);
    SA_CHECK_ARG(pool == 0 || pools_.count(pool), "cuda allocator: unknown memory pool");
    active_ = pool;
}

int CachingAllocator::active_pool() const {
    std::lock_guard<std::mutex> lk(mu_);
    return active_;
}

void CachingAllocator::destroy_pool(int pool) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!pools_.erase(pool)) return;
    if (active_ == pool) active_ = 0;
    auto fit = free_.find(pool);
    if (fit != free_.end()) {
        auto & general = free_[0];
        for (auto & kv : fit->second) {
            blocks_.at(kv.second).pool = 0;
            general.emplace(kv.first, kv.second);
        }
        free_.erase(pool);
    }
    // Blocks of the pool still in use return to the general cache when they are freed.
}

AllocatorStats CachingAllocator::stats() const {
    std::lock_guard<std::mutex> lk(mu_);
    return st_;
}

void CachingAllocator::reset_peak() {
    std::lock_guard<std::mutex> lk(mu_);
    st_.peak_in_use = st_.in_use;
    st_.peak_reserved = st_.reserved;
}

}  // namespace cuda
}  // namespace sa
