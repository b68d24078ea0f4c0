// SPDX-License-Identifier: Apache-2.0
// Row softmax and its backward pass (see sa::Backend::softmax_rows). Rows are independent; they are
// split over the default pool in fixed-size chunks. Short rows (n < cpu::kShortRow) go eight at a time
// through the column kernels of softmax-row.h, in groups fixed by the row index (the last rows % 8 one
// by one), so the bits do not depend on the thread count.
#include <algorithm>

#include "cpu/backend-cpu.h"
#include "cpu/softmax-row.h"
#include "sa/threadpool.h"

namespace sa {

namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per task

#ifdef __AVX2__
// Rows [0, rows) of length n < cpu::kShortRow: group(r0) for each whole group of 8 rows at r0, one(r)
// for each of the last rows % 8.
template <class Group, class One>
void short_row_groups(ThreadPool & pool, int64_t rows, int64_t n, Group && group, One && one) {
    pool.parallel_for((rows + 7) / 8,
                      [&](int64_t g0, int64_t g1) {
                          for (int64_t g = g0; g < g1; ++g) {
                              const int64_t r0 = g * 8;
                              if (r0 + 8 <= rows) {
                                  group(r0);
                              } else {
                                  for (int64_t r = r0; r < rows; ++r) one(r);
                              }
                          }
                      },
                      std::max<int64_t>(1, kGrain / (8 * n)));
}
#endif

}  // namespace

void CpuBackend::softmax_rows(const float * x, float * y, int64_t rows, int64_t n) {
    SA_CHECK_ARG(rows >= 0 && n > 0, "softmax_rows: bad size");
    if (rows == 0) return;
    SA_CHECK_ARG(x && y && x != y, "softmax_rows: null or aliased pointers");
#ifdef __AVX2__
    if (n < cpu::kShortRow)
        return short_row_groups(
            *pool(), rows, n, [&](int64_t r0) { cpu::softmax_rows8_short(x + r0 * n, y + r0 * n, n); },
            [&](int64_t r) { cpu::softmax_row(x + r * n, y + r * n, n); });
#endif
    pool()->parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) cpu::softmax_row(x + r * n, y + r * n, n);
        },
        std::max<int64_t>(1, kGrain / n));
}

void CpuBackend::softmax_rows_backward(const float * y, const float * dy, float * dx, int64_t rows, int64_t n) {
    SA_CHECK_ARG(rows >= 0 && n > 0, "softmax_rows_backward: bad size");
    if (rows == 0) return;
    SA_CHECK_ARG(y && dy && dx && dx != dy, "softmax_rows_backward: null or aliased pointers");
#ifdef __AVX2__
    if (n < cpu::kShortRow)
        return short_row_groups(
            *pool(), rows, n,
            [&](int64_t r0) { cpu::softmax_backward_rows8_short(y + r0 * n, dy + r0 * n, dx + r0 * n, n, 1.0f); },
            [&](int64_t r) { cpu::softmax_backward_row(y + r * n, dy + r * n, dx + r * n, n, 1.0f); });
#endif
    pool()->parallel_for(
        rows,
        [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; ++r) cpu::softmax_backward_row(y + r * n, dy + r * n, dx + r * n, n, 1.0f);
        },
        std::max<int64_t>(1, kGrain / n));
}

}  // namespace sa
