// SPDX-License-Identifier: Apache-2.0
#include "sa/threadpool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace sa {

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    for (int i = 1; i < n_threads_; ++i) {
        workers_.emplace_back([this, i] { worker_loop(i); });
    }
}

namespace {

thread_local uintptr_t t_job_context = 0;

// How long a waiting thread polls before it blocks on a condition variable.
constexpr auto kSpin = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#else
    std::this_thread::yield();
#endif
}

// Polls done() for up to kSpin; true when it became true.
template <class F>
bool spin_until(F && done) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (int i = 1;; ++i) {
        if (done()) return true;
        cpu_relax();
        if ((i & 63) == 0 && std::chrono::steady_clock::now() > deadline) return done();
    }
}

}  // namespace

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_.store(true);
    }
    cv_start_.notify_all();
    for (auto & t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
        auto ready = [&] {
            return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
        };
        if (!spin_until(ready)) {
            std::unique_lock<std::mutex> lk(mu_);
            cv_start_.wait(lk, ready);
        }
        if (stop_.load(std::memory_order_acquire)) return;
        seen = generation_.load(std::memory_order_acquire);
        const std::function<void(int)> * job = job_.load(std::memory_order_acquire);
        t_job_context = job_context_;
        (*job)(index);
        t_job_context = 0;
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            // Under the mutex, so a caller that found pending_ != 0 under it is already waiting.
            std::lock_guard<std::mutex> lk(mu_);
            cv_done_.notify_one();
        }
    }
}

void ThreadPool::run_on_all(const std::function<void(int)> & fn) {
    if (n_threads_ == 1) {
        fn(0);
        return;
    }
    std::lock_guard<std::mutex> run_lk(run_mu_);
    std::exception_ptr first_error;
    std::mutex err_mu;
    std::function<void(int)> wrapped = [&](int i) {
        try {
            fn(i);
        } catch (...) {
            std::lock_guard<std::mutex> lk(err_mu);
            if (!first_error) first_error = std::current_exception();
        }
    };
    job_context_ = t_job_context;  // published to the workers by the generation bump below
    job_.store(&wrapped, std::memory_order_release);
    pending_.store(n_threads_ - 1, std::memory_order_release);
    {
        // The bump is made under the mutex so that a worker about to block cannot miss it.
        std::lock_guard<std::mutex> lk(mu_);
        generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    cv_start_.notify_all();
    wrapped(0);
    auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done)) {
        std::unique_lock<std::mutex> lk(mu_);
        cv_done_.wait(lk, done);
    }
    job_.store(nullptr, std::memory_order_release);
    if (first_error) std::rethrow_exception(first_error);
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)> & fn, int64_t grain) {
    if (n <= 0) return;
    if (n_threads_ == 1) {
        fn(0, n);
        return;
    }
    parallel_chunks(n, chunk_for(n, grain), fn);
}

void ThreadPool::parallel_chunks(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t)> & fn) {
    if (n <= 0) return;
    chunk = std::max<int64_t>(1, chunk);
    const int64_t chunks = (n + chunk - 1) / chunk;
    auto run = [&](int64_t c) { fn(c * chunk, std::min(n, (c + 1) * chunk)); };
    if (n_threads_ == 1 || chunks == 1) {
        for (int64_t c = 0; c < chunks; ++c) run(c);
        return;
    }
    std::atomic<int64_t> next{0};
    run_on_all([&](int) {
        for (int64_t c = next.fetch_add(1, std::memory_order_relaxed); c < chunks;
             c = next.fetch_add(1, std::memory_order_relaxed))
            run(c);
    });
}

int64_t ThreadPool::chunk_for(int64_t n, int64_t grain) const {
    grain = std::max<int64_t>(1, grain);
    const int64_t parts = (int64_t) n_threads_ * kChunksPerThread, per = (n + parts - 1) / parts;
    return std::max<int64_t>(1, (per + grain - 1) / grain) * grain;
}

uintptr_t job_context() {
    return t_job_context;
}

void set_job_context(uintptr_t value) {
    t_job_context = value;
}

int default_thread_count() {
    if (const char * s = std::getenv("SA_NUM_THREADS")) {
        int v = std::atoi(s);
        if (v > 0) return v;
    }
    unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : (int) hc;
}

}  // namespace sa
