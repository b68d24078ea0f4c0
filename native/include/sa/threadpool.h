// SPDX-License-Identifier: Apache-2.0
// A small fork-join thread pool. parallel_for splits work statically by thread count, so a given thread
// count always produces the same partition (bit-reproducible CPU results for a seed and thread count).
// parallel_chunks hands fixed chunks out on demand instead, for work whose results do not depend on
// which thread runs a chunk: a thread slowed by other load on its core (a shared node, a hybrid CPU's
// efficiency cores) then takes fewer chunks instead of holding up the others at the join.
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

    // Splits [0, n) into size() contiguous chunks (chunk boundaries multiples of `grain`) and calls
    // fn(begin, end) for each non-empty chunk in parallel. Deterministic partition.
    void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)> & fn, int64_t grain = 1);

    // Cuts [0, n) into chunks of `chunk` (the last one shorter), whatever the thread count, and calls
    // fn(begin, end) once per chunk on whichever thread claims it next (serially, in order, on a pool
    // of one). Only for work where each chunk writes its own outputs with arithmetic fixed by the chunk
    // alone, so the results are the same bits however the chunks are shared out.
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
