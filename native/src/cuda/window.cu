// SPDX-License-Identifier: Apache-2.0
// SAM window partitioning: x[B, H, W, C] -> windows[B * nWh * nWw, win, win, C] with the grid
// zero-padded at the bottom/right to multiples of `win`, and the inverse that drops the padding.
// One thread per output element; consecutive threads walk C, so both sides are coalesced.
#include <string>

#include "cuda/backend-cuda.cuh"
#include "cuda/common.cuh"
#include "cuda/window.cuh"

namespace sa {

namespace cuda {

static __global__ void window_partition_kernel(const float * __restrict__ x, float * __restrict__ y, int64_t H,
                                               int64_t W, int64_t C, int64_t win, int64_t nh, int64_t nw, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        int64_t t = i / C;
        const int64_t c = i - t * C;
        const int64_t iw = t % win;
        t /= win;
        const int64_t ih = t % win;
        t /= win;
        const int64_t ww = t % nw;
        t /= nw;
        const int64_t wh = t % nh;
        const int64_t b = t / nh;
        const int64_t h = wh * win + ih, w = ww * win + iw;
        y[i] = (h < H && w < W) ? x[((b * H + h) * W + w) * C + c] : 0.0f;
    }
}

static __global__ void window_unpartition_kernel(const float * __restrict__ x, float * __restrict__ y, int64_t H,
                                                 int64_t W, int64_t C, int64_t win, int64_t nh, int64_t nw, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t) blockDim.x + threadIdx.x; i < n; i += (int64_t) gridDim.x * blockDim.x) {
        int64_t t = i / C;
        const int64_t c = i - t * C;
        const int64_t w = t % W;
        t /= W;
        const int64_t h = t % H;
        const int64_t b = t / H;
        const int64_t wh = h / win, ih = h - wh * win, ww = w / win, iw = w - ww * win;
        y[i] = x[((((b * nh + wh) * nw + ww) * win + ih) * win + iw) * C + c];
    }
}

void launch_window_partition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t win,
                             cudaStream_t stream) {
    const int64_t nh = (H + win - 1) / win, nw = (W + win - 1) / win;
    const int64_t n = B * nh * nw * win * win * C;
    if (n <= 0) return;
    window_partition_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, y, H, W, C, win, nh, nw, n);
    SA_CUDA_LAUNCH_CHECK();
}

void launch_window_unpartition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C, int64_t win,
                               cudaStream_t stream) {
    const int64_t nh = (H + win - 1) / win, nw = (W + win - 1) / win;
    const int64_t n = B * H * W * C;
    if (n <= 0) return;
    window_unpartition_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, y, H, W, C, win, nh, nw, n);
    SA_CUDA_LAUNCH_CHECK();
}

}  // namespace cuda

namespace {
void check_window_args(const char * op, const float * x, const float * y, int64_t B, int64_t H, int64_t W, int64_t C,
                       int64_t win) {
    SA_CHECK_ARG(B >= 0 && H >= 0 && W >= 0 && C >= 0, std::string(op) + ": negative size");
    SA_CHECK_ARG(win > 0, std::string(op) + ": window size must be positive");
    SA_CHECK_ARG(x != y, std::string(op) + ": in-place is not supported");
}
}  // namespace

void CudaBackend::window_partition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C,
                                   int64_t win) {
    check_window_args("window_partition", x, y, B, H, W, C, win);
    if (B == 0 || H == 0 || W == 0 || C == 0) return;
    SA_CHECK_ARG(x && y, "window_partition: null pointer");
    activate();
    cuda::launch_window_partition(x, y, B, H, W, C, win, stream_);
}

void CudaBackend::window_unpartition(const float * x, float * y, int64_t B, int64_t H, int64_t W, int64_t C,
                                     int64_t win) {
    check_window_args("window_unpartition", x, y, B, H, W, C, win);
    if (B == 0 || H == 0 || W == 0 || C == 0) return;
    SA_CHECK_ARG(x && y, "window_unpartition: null pointer");
    activate();
    cuda::launch_window_unpartition(x, y, B, H, W, C, win, stream_);
}

}  // namespace sa
