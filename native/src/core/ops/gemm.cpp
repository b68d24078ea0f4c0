// SPDX-License-Identifier: Apache-2.0
// Backend::gemm / gemm_batched: the argument checks of both, then the backend's kernel.
#include <string>

#include "sa/backend.h"

namespace sa {

namespace {

// false: an empty product (nothing to do).
bool check_gemm(const char * op, const GemmArgs & a) {
    const int64_t M = a.M, N = a.N, K = a.K;
    SA_CHECK_ARG(M >= 0 && N >= 0 && K >= 0, std::string(op) + ": negative size");
    SA_CHECK_ARG(a.A.ld >= (a.trans_a ? M : K) && a.A.ld >= 1, std::string(op) + ": lda too small");
    SA_CHECK_ARG(a.B.ld >= (a.trans_b ? K : N) && a.B.ld >= 1, std::string(op) + ": ldb too small");
    SA_CHECK_ARG(a.C.ld >= N && a.C.ld >= 1, std::string(op) + ": ldc too small");
    if (M == 0 || N == 0) return false;
    SA_CHECK_ARG(a.C.data != nullptr, std::string(op) + ": null C");
    SA_CHECK_ARG(K == 0 || (a.A.data && a.B.data), std::string(op) + ": null A or B");
    return true;
}

}  // namespace

void Backend::gemm(const GemmArgs & a) {
    if (check_gemm("gemm", a)) gemm_impl(a);
}

void Backend::gemm_batched(const GemmArgs & a) {
    const bool work = check_gemm("gemm_batched", a);
    SA_CHECK_ARG(a.batch >= 0, "gemm_batched: negative batch");
    if (work && a.batch > 0) gemm_batched_impl(a);
}

}  // namespace sa
