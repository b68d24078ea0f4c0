// SPDX-License-Identifier: Apache-2.0
// The CPU GEMM kernels behind Backend::gemm / gemm_batched (checked in src/core/ops/gemm.cpp), over
// sa::sgemm (src/cpu/gemm.cpp).
#include "cpu/backend-cpu.h"
#include "sa/gemm.h"
#include "sa/threadpool.h"

namespace sa {

void CpuBackend::gemm_impl(const GemmArgs & a) {
    const cpu::ProductsScope scope = products();
    sgemm(a.trans_a, a.trans_b, a.M, a.N, a.K, a.alpha, a.A.data, a.A.ld, a.B.data, a.B.ld, a.beta, a.C.data, a.C.ld,
          *pool());
}

void CpuBackend::gemm_batched_impl(const GemmArgs & a) {
    const cpu::ProductsScope scope = products();
    const std::shared_ptr<ThreadPool> held = pool();
    ThreadPool & pool = *held;
    auto item = [&](int64_t b, ThreadPool * on) {
        const float * A = a.A.data + b * a.A.stride;
        const float * B = a.B.data + b * a.B.stride;
        float * C = a.C.data + b * a.C.stride;
        if (on) {
            sgemm(a.trans_a, a.trans_b, a.M, a.N, a.K, a.alpha, A, a.A.ld, B, a.B.ld, a.beta, C, a.C.ld, *on);
        } else {
            sgemm_serial(a.trans_a, a.trans_b, a.M, a.N, a.K, a.alpha, A, a.A.ld, B, a.B.ld, a.beta, C, a.C.ld);
        }
    };
    // Many small products: one whole product per task. Few large ones: thread each product.
    const double work = (double) a.M * (double) a.N * (double) (a.K > 0 ? a.K : 1);
    if (a.batch >= pool.size() && work < 4.0e6) {
        pool.parallel_chunks(a.batch, 1, [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) item(b, nullptr);
        });
    } else {
        for (int64_t b = 0; b < a.batch; ++b) item(b, &pool);
    }
}

}  // namespace sa
