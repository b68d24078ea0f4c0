// SPDX-License-Identifier: Apache-2.0
// CPU backend memory: 64-byte aligned host buffers; transfers are plain copies.
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu/backend-cpu.h"

namespace sa {

namespace {
constexpr size_t kAlign = 64;
}

float * CpuBackend::alloc(size_t n_floats) {
    SA_CHECK_ARG(n_floats <= (SIZE_MAX - kAlign) / sizeof(float), "alloc: size overflow");
    size_t bytes = (n_floats == 0 ? 1 : n_floats) * sizeof(float);
    bytes = (bytes + kAlign - 1) / kAlign * kAlign;
    void * p = std::aligned_alloc(kAlign, bytes);
    SA_CHECK(p != nullptr, SA_ERR_OOM,
             "cpu alloc: out of memory allocating " + std::to_string(n_floats) + " floats (" +
                 std::to_string(bytes >> 20) + " MiB)");
    return static_cast<float *>(p);
}

void CpuBackend::free(float * p) {
    std::free(p);
}

void CpuBackend::upload(float * dst, const float * host_src, size_t n) {
    if (n == 0) return;
    SA_CHECK_ARG(dst && host_src, "upload: null pointer");
    std::memcpy(dst, host_src, n * sizeof(float));
}

void CpuBackend::download(float * host_dst, const float * src, size_t n) {
    if (n == 0) return;
    SA_CHECK_ARG(host_dst && src, "download: null pointer");
    std::memcpy(host_dst, src, n * sizeof(float));
}

void CpuBackend::copy(float * dst, const float * src, size_t n) {
    if (n == 0 || dst == src) return;
    SA_CHECK_ARG(dst && src, "copy: null pointer");
    std::memmove(dst, src, n * sizeof(float));
}

void CpuBackend::fill(float * dst, float value, size_t n) {
    if (n == 0) return;
    SA_CHECK_ARG(dst, "fill: null pointer");
    for (size_t i = 0; i < n; ++i) dst[i] = value;
}

void CpuBackend::synchronize() {}

}  // namespace sa
