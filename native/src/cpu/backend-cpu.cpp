// SPDX-License-Identifier: Apache-2.0
#include "cpu/backend-cpu.h"

#include "cpu/kernels-avx512.h"
#include "sa/isa.h"

namespace sa {

bool cpu::use_avx512() {
#if defined(SA_HAVE_AVX512)
    static const bool on = cpu_isa() >= Isa::avx512;
    return on;
#else
    return false;
#endif
}

const char * precision_name(Precision p) {
    switch (p) {
        case Precision::fp32:
            return "fp32";
        case Precision::tf32:
            return "tf32";
        case Precision::bf16:
            return "bf16";
    }
    return "fp32";
}

bool cpu_supports(Op) {
    return true;
}  // every op has a CPU kernel

CpuBackend::CpuBackend(bool bf16, int threads, const cpu::GemmKernel * products)
    : bf16_(bf16),
      products_(products),
      pool_(std::make_shared<ThreadPool>(threads > 0 ? threads : default_thread_count())) {}

int CpuBackend::threads() const {
    return pool()->size();
}

void CpuBackend::set_threads(int n) {
    const int want = n > 0 ? n : default_thread_count();
    if (pool()->size() == want) return;
    // The new pool's threads start outside the lock; ops already running keep the old pool alive.
    auto fresh = std::make_shared<ThreadPool>(want);
    std::shared_ptr<ThreadPool> old;
    {
        std::lock_guard<std::mutex> lk(pool_mu_);
        old = std::move(pool_);
        pool_ = std::move(fresh);
    }
    // `old` is released here, outside the lock (joins its threads unless an op still holds it).
}

std::shared_ptr<ThreadPool> CpuBackend::pool() const {
    std::lock_guard<std::mutex> lk(pool_mu_);
    return pool_;
}

std::unique_ptr<Backend> make_cpu_backend() {
    return make_cpu_backend(Precision::fp32);
}

std::unique_ptr<Backend> make_cpu_backend(Precision precision, int threads, Precision products) {
    const Isa isa = cpu_isa();  // an unknown or unavailable SA_ISA fails here, before any kernel runs
    SA_CHECK(precision != Precision::tf32, SA_ERR_UNSUPPORTED, "precision tf32 exists on the CUDA backend only");
    SA_CHECK(precision != Precision::bf16 || isa >= Isa::avx512bf16, SA_ERR_UNSUPPORTED,
             std::string("precision bf16 on the CPU needs AVX512_BF16 or AMX; the CPU level in use is ") +
                 isa_name(isa) + " (available here: " + isa_name(cpu_isa_available()) + ")");
    SA_CHECK(products != Precision::tf32, SA_ERR_UNSUPPORTED, "precision tf32 exists on the CUDA backend only");
    const cpu::GemmKernel * kernel = nullptr;
    if (products == Precision::bf16) {
        kernel = cpu::gemm_kernel_bf16_training();
        SA_CHECK(kernel != nullptr, SA_ERR_UNSUPPORTED,
                 std::string("bf16 decoder products on the CPU need AVX512_BF16 or AMX; the CPU level in use is ") +
                     isa_name(isa) + " (available here: " + isa_name(cpu_isa_available()) + ")");
    }
    return std::make_unique<CpuBackend>(precision == Precision::bf16, threads, kernel);
}

}  // namespace sa
