// SPDX-License-Identifier: Apache-2.0
#include "sa/threadpool.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <memory>

namespace sa {

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    for (int i = 1; i < n_threads_; ++i) {
        workers_.emplace_back([this, i] { worker_loop(i); });
    }
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    cv_start_.notify_all();
    for (auto & t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
        const std::function<void(int)> * job = nullptr;
        {
            std::unique_lock<std::mutex> lk(mu_);
            cv_start_.wait(lk, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            job = job_;
        }
        (*job)(index);
        {
            std::lock_guard<std::mutex> lk(mu_);
            if (--pending_ == 0) cv_done_.notify_one();
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
    {
        std::lock_guard<std::mutex> lk(mu_);
        job_ = &wrapped;
        pending_ = n_threads_ - 1;
        ++generation_;
    }
    cv_start_.notify_all();
    wrapped(0);
    {
        std::unique_lock<std::mutex> lk(mu_);
        cv_done_.wait(lk, [&] { return pending_ == 0; });
        job_ = nullptr;
    }
    if (first_error) std::rethrow_exception(first_error);
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)> & fn, int64_t grain) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t blocks = (n + grain - 1) / grain;
    const int nt = (int) std::min<int64_t>(n_threads_, blocks);
    if (nt <= 1) {
        fn(0, n);
        return;
    }
    run_on_all([&](int t) {
        if (t >= nt) return;
        const int64_t b0 = blocks * t / nt;
        const int64_t b1 = blocks * (t + 1) / nt;
        const int64_t begin = b0 * grain;
        const int64_t end = std::min(n, b1 * grain);
        if (begin < end) fn(begin, end);
    });
}

static std::unique_ptr<ThreadPool> g_pool;
static std::mutex g_pool_mu;

static int env_threads() {
    if (const char * s = std::getenv("SA_NUM_THREADS")) {
        int v = std::atoi(s);
        if (v > 0) return v;
    }
    unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : (int) hc;
}

ThreadPool & default_pool() {
    std::lock_guard<std::mutex> lk(g_pool_mu);
    if (!g_pool) g_pool = std::make_unique<ThreadPool>(env_threads());
    return *g_pool;
}

void set_default_threads(int n) {
    std::lock_guard<std::mutex> lk(g_pool_mu);
    int want = n > 0 ? n : env_threads();
    if (g_pool && g_pool->size() == want) return;
    g_pool = std::make_unique<ThreadPool>(want);
}

int default_threads() { return default_pool().size(); }

}  // namespace sa
