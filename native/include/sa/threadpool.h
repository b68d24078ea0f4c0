// SPDX-License-Identifier: Apache-2.0
// A small fork-join thread pool. Work is cut into chunks that threads claim as they get free, so a
// thread slowed by other load on its core (a shared node, a hybrid CPU's efficiency cores) takes fewer
// chunks instead of holding up the others at the join. The chunks depend only on the sizes and the
// thread count; which thread runs which chunk, and in what order, changes from call to call, so every
// caller computes a chunk's outputs from the chunk alone (thread-local scratch is only scratch). That
// keeps CPU results bit-reproducible for a seed and thread count (most ops also across thread counts).
// Waiting threads spin briefly before they block: a training step is hundreds of short parallel ops
// in a row, and a condition-variable wake-up costs more than many of them.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sa {

class ThreadPool {
  public:
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool & operator=(const ThreadPool &) = delete;

    int size() const { return n_threads_; }

    // Calls fn(thread_index) once on each of the pool's threads (the caller is thread 0) and waits. The
    // workers run fn with the caller's job context (below).
    void run_on_all(const std::function<void(int)> & fn);

    // Calls fn(begin, end) over [0, n) in chunks of chunk_for(n, grain) (boundaries multiples of
    // `grain`), each on whichever thread claims it next; a pool of one makes one call.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)> & fn, int64_t grain = 1);

    // The same with a chunk size the caller gives (the last chunk shorter), for work cut at boundaries
    // of its own (the products' tiles, attention heads); on a pool of one, chunk by chunk in order.
    void parallel_chunks(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t)> & fn);

    // A chunk size for parallel_chunks over n items: about kChunksPerThread chunks per thread, a
    // multiple of `grain`.
    int64_t chunk_for(int64_t n, int64_t grain = 1) const;
    static constexpr int kChunksPerThread = 4;

  private:
    void worker_loop(int index);

    int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex mu_;
    std::condition_variable cv_start_;
    std::condition_variable cv_done_;
    std::atomic<const std::function<void(int)> *> job_{nullptr};
    uintptr_t job_context_ = 0;            // the caller's job_context() for the current job
    std::atomic<uint64_t> generation_{0};  // bumped (under mu_) for every job
    std::atomic<int> pending_{0};          // workers still running the current job
    std::atomic<bool> stop_{false};
    std::mutex run_mu_;  // one job at a time per pool
};

// One word of per-thread state that a pool job carries from the calling thread to every worker that
// runs it, so a setting made around a call reaches all of the call's threads (the CPU backend's
// training products, cpu/gemm-kernel.h). 0 by default; set and restored by the setting's owner.
uintptr_t job_context();
void set_job_context(uintptr_t value);

// The thread count a backend starts with when none is given: SA_NUM_THREADS, else hardware concurrency.
// (There is no process-wide pool: each CPU backend owns one, see CpuBackend::set_threads.)
int default_thread_count();

}  // namespace sa
