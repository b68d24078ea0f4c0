// SPDX-License-Identifier: Apache-2.0
// The GEMM micro-kernel's ceiling on this machine (sa::gemm_kernel_peak_gflops): every thread runs the
// level's register micro-kernel on one packed A sliver and one packed B sliver that stay in L1, so no
// packing and no memory traffic is timed, only the multiply-adds and the tile's stores. It is the rate
// the products of a real pass approach from below; `bench` prints the encoders' GFLOP/s against it.
// With bf16 it times the level's bf16 products kernel instead (VDPBF16PS at avx512bf16, AMX tiles at
// amx), the ceiling of the bf16 encoders and training products: the ratio of the two peaks bounds how
// much faster a bf16 pass can be than an fp32 one.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "cpu/gemm-kernel.h"
#include "sa/gemm.h"
#include "sa/isa.h"
#include "sa/status.h"
#include "sa/threadpool.h"

namespace sa {

double gemm_kernel_peak_gflops(ThreadPool & pool, double seconds, bool bf16) {
    SA_CHECK_ARG(std::isfinite(seconds) && seconds > 0.0 && seconds <= 10.0,
                 "gemm_kernel_peak_gflops: seconds must be in (0, 10]");
    const cpu::GemmKernel * k16 = bf16 ? cpu::gemm_kernel_bf16_training() : nullptr;
    SA_CHECK(!bf16 || k16, SA_ERR_UNSUPPORTED,
             std::string("gemm_kernel_peak_gflops: no bf16 products at CPU level ") + isa_name(cpu_isa()) +
                 " (needs avx512bf16 or amx)");
    const cpu::GemmKernel & g = bf16 ? *k16 : cpu::gemm_kernel_fp32();
    // kc = 128: the A and B slivers take (mr + nr) * 128 floats (11 KiB at avx2, 23 KiB at avx512) or,
    // as bf16 pairs, half of that. Every value is 1/1024 (as pairs: 0 and about 1e-3).
    constexpr int64_t kc = 128, kBatch = 64;
    const int nt = pool.size();
    std::vector<double> secs((size_t) nt, 0.0), flops((size_t) nt, 0.0);
    pool.run_on_all([&](int t) {
        // 64-byte aligned slivers of small values (no overflow, no denormals); C is overwritten (beta 0).
        std::vector<float> buf((size_t) ((g.mr + g.nr) * kc + g.mr * g.nr + 64), 1.0f / 1024.0f);
        float * base = buf.data();
        while (reinterpret_cast<uintptr_t>(base) % 64 != 0) ++base;
        float * Ap = base;
        float * Bp = Ap + g.mr * kc;
        float * C = Bp + g.nr * kc;
        using clock = std::chrono::steady_clock;
        if (g.begin) g.begin();
        const auto t0 = clock::now();
        int64_t calls = 0;
        double elapsed = 0.0;
        do {
            for (int64_t i = 0; i < kBatch; ++i) g.kernel(kc, Ap, Bp, C, g.nr, 1.0f, 0.0f, nullptr);
            calls += kBatch;
            elapsed = std::chrono::duration<double>(clock::now() - t0).count();
        } while (elapsed < seconds);
        if (g.end) g.end();
        flops[(size_t) t] = 2.0 * (double) calls * (double) (g.mr * g.nr * kc);
        secs[(size_t) t] = elapsed;
    });
    double total = 0.0;
    for (double f : flops) total += f;
    return total / *std::max_element(secs.begin(), secs.end()) / 1e9;
}

}  // namespace sa
