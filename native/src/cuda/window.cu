// SPDX-License-Identifier: Apache-2.0
// SAM window partitioning: x[B, H, W, C] -> windows[B * nWh * nWw, win, win, C] with the grid
// zero-padded at the bottom/right to multiples of `win`, and the inverse that drops the padding.
// One thread per output element; consecutive threads walk C, so both sides are coalesced. The
// geometry is core/window-grid.h.
#include <string>

#include "core/window-grid.h"
#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/window.cuh"

namespace sa {

namespace cuda {

static __global__ void window_partition_kernel(const float * __restrict__ x, float * __restrict__ y, WindowGrid g,
                                               int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        int64_t t = i / g.C;
        const int64_t c = i - t * g.C;
        const int64_t iw = t % g.win;
        t /= g.win;
        const int64_t ih = t % g.win;
        t /= g.win;
        const int64_t ww = t % g.nw;
        t /= g.nw;
        const int64_t wh = t % g.nh;
        const int64_t b = t / g.nh;
        const int64_t h = wh * g.win + ih, w = ww * g.win + iw;
        y[i] = (h < g.H && w < g.W) ? x[g.grid_offset(b, h, w) + c] : 0.0f;
    }
}

static __global__ void window_unpartition_kernel(const float * __restrict__ x, float * __restrict__ y, WindowGrid g,
                                                 int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        int64_t t = i / g.C;
        const int64_t c = i - t * g.C;
        const int64_t w = t % g.W;
        t /= g.W;
        const int64_t h = t % g.H;
        const int64_t b = t / g.H;
        const int64_t wh = h / g.win, ww = w / g.win;
        y[i] = x[g.window_offset(b, wh, ww, h - wh * g.win, w - ww * g.win) + c];
    }
}

void launch_window_partition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t win,
                             cudaStream_t stream) {
    const WindowGrid g(H, W, C, win);
    const int64_t n = B * g.nh * g.nw * win * win * C;
    if (n <= 0) return;
    window_partition_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, y, g, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_window_unpartition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t win,
                               cudaStream_t stream) {
    const WindowGrid g(H, W, C, win);
    const int64_t n = B * H * W * C;
    if (n <= 0) return;
    window_unpartition_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, y, g, n);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

void CudaBackend::window_partition_impl(const WindowArgs & a) {
    const auto & [x, y, B, H, W, C, win] = a;
    activate();
    cuda::launch_window_partition(x, y, B, H, W, C, win, stream_);
}

void CudaBackend::window_unpartition_impl(const WindowArgs & a) {
    const auto & [x, y, B, H, W, C, win] = a;
    activate();
    cuda::launch_window_unpartition(x, y, B, H, W, C, win, stream_);
}

}  // namespace sa
