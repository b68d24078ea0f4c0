// SPDX-License-Identifier: Apache-2.0
// SAM ViT image-encoder throughput on the CUDA backend: random weights with the official shapes of a
// preset (vit_b by default), batches of 1024 x 1024 images, fp32 and bf16 GEMM/attention arithmetic.
//
//   bench-cuda-encoder [--model vit_b|vit_l|vit_h] [--batch 1,8] [--math fp32,bf16] [--iters N] [--profile]
//
// Per (math, batch): images/s through ImageEncoder::encode (host images in, host embeddings out, so
// the transfers are included), GFLOP/s, and the peak device memory of the caching allocator during
// the timed passes. For each non-fp32 mode it also prints the embedding's error against fp32 on the
// same images (max |diff| / max |fp32| and the normalised mean squared error). --profile adds, per math
// mode, the time of each backend op of one forward pass at the largest batch's shapes (each op timed
// over a few calls, times its calls per pass), with the achieved TFLOP/s of the matrix work.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench-common.h"
#include "sa/backend.h"
#include "sa/image-encoder.h"
#include "sa/status.h"
#include "sa/weights.h"

#ifdef SA_USE_CUDA
#include "sa/backend-cuda.h"

namespace {

using sa::bench::Clock;
using sa::bench::split_commas;
using sa::bench::VitPreset;

// Times the backend ops of one ViT forward pass of B images at their real shapes.
void profile_ops(sa::Backend & be, const VitPreset & p, int64_t B) {
    const int64_t E = p.dim, heads = p.heads, hd = E / heads, G = 64, T = G * G, win = 14;
    const int64_t nw = (G + win - 1) / win, Tw = nw * nw * win * win, M4 = 4 * E;
    const int64_t n_global = (int64_t) p.global.size(), n_win = p.depth - n_global;
    const int64_t big = std::max<int64_t>({B * Tw * 3 * E, B * T * M4, B * 3 * 1024 * 1024});
    std::vector<float> host = sa::bench::randn((size_t) big, 3, 0.5f);  // also the download target
    auto buf = [&](int64_t n) { return sa::bench::upload_copy(be, host, n); };
    float *x = buf(big), *y = buf(big), *w = buf(M4 * E), *bias = buf(M4), *rel = buf(127 * hd);
    float *gamma = buf(M4), *beta = buf(M4);
    struct Row {
        std::string name;
        double ms, tflops;
    };
    std::vector<Row> rows;
    auto time = [&](const std::string & name, int64_t calls, double flop_per_call, const std::function<void()> & fn) {
        if (calls == 0) return;
        fn();
        be.synchronize();
        constexpr int kReps = 5;
        const auto t0 = Clock::now();
        for (int i = 0; i < kReps; ++i) fn();
        be.synchronize();
        const double per_call = sa::bench::seconds_since(t0) / kReps;
        rows.push_back({name, calls * per_call * 1e3, flop_per_call > 0 ? flop_per_call / per_call / 1e12 : 0.0});
    };
    const double tw = (double) (B * Tw), tg = (double) (B * T);
    time("patch embed conv 16x16/16", 1, 2.0 * tg * E * 768, [&] {
        be.conv2d({x, w, bias, y, B, 3, 1024, 1024, E, 16, 16, 16, 0, 1});
    });
    time("linear qkv (windowed)", n_win, 2.0 * tw * E * 3 * E, [&] { be.linear(x, w, bias, y, B * Tw, E, 3 * E); });
    time("linear qkv (global)", n_global, 2.0 * tg * E * 3 * E, [&] { be.linear(x, w, bias, y, B * T, E, 3 * E); });
    time("linear proj", p.depth, 2.0 * tg * E * E, [&] { be.linear(x, w, bias, y, B * T, E, E); });
    time("linear mlp lin1", p.depth, 2.0 * tg * E * M4, [&] { be.linear(x, w, bias, y, B * T, E, M4); });
    time("linear mlp lin2", p.depth, 2.0 * tg * M4 * E, [&] { be.linear(x, w, bias, y, B * T, M4, E); });
    time("attention 14x14 windows", n_win, 4.0 * B * nw * nw * heads * (double) (win * win) * (win * win) * hd, [&] {
        be.attention_vit({x, y, B * nw * nw, win, win, heads, hd, rel, 27, rel, 27});
    });
    time("attention 64x64 global", n_global, 4.0 * B * heads * (double) T * T * hd, [&] {
        be.attention_vit({x, y, B, G, G, heads, hd, rel, 127, rel, 127});
    });
    time("gelu", p.depth, 0, [&] { be.gelu(x, y, B * T * M4); });
    time("layernorm", 2 * p.depth, 0, [&] { be.layernorm({x, gamma, beta, y, nullptr, nullptr, B * T, E, 1e-6f}); });
    time("add (residual)", 2 * p.depth, 0, [&] { be.add(x, y, y, B * T * E); });
    time("window partition+unpartition", n_win, 0, [&] {
        be.window_partition({x, y, B, G, G, E, win});
        be.window_unpartition({y, x, B, G, G, E, win});
    });
    time("neck conv 1x1 + 3x3", 1, 2.0 * tg * 256 * (E + 256 * 9), [&] {
        be.conv2d({x, w, nullptr, y, B, E, G, G, 256, 1, 1, 1, 0, 1});
        be.conv2d({x, w, nullptr, y, B, 256, G, G, 256, 3, 3, 1, 1, 1});
    });
    time("upload images (staged)", 1, 0, [&] { be.upload(x, host.data(), (size_t) (B * 3 * 1024 * 1024)); });
    time("download embedding", 1, 0, [&] { be.download(host.data(), y, (size_t) (B * 256 * T)); });
    for (float * q : {x, y, w, bias, rel, gamma, beta}) be.free(q);
    double total = 0;
    for (auto & r : rows) total += r.ms;
    std::sort(rows.begin(), rows.end(), [](const Row & a, const Row & b) { return a.ms > b.ms; });
    std::printf("  profile (%s, batch %lld, ms per batch):\n", sa::cuda_math_name(sa::cuda_get_math(be)),
                (long long) B);
    for (auto & r : rows) {
        if (r.tflops > 0)
            std::printf("    %-30s %8.2f ms %5.1f%%  %6.1f TFLOP/s\n", r.name.c_str(), r.ms, 100 * r.ms / total,
                        r.tflops);
        else std::printf("    %-30s %8.2f ms %5.1f%%\n", r.name.c_str(), r.ms, 100 * r.ms / total);
    }
    std::printf("    %-30s %8.2f ms\n", "sum", total);
}

int run(int argc, char ** argv) {
    std::string model = "vit_b", batches = "1,8", maths = "fp32,bf16";
    int iters = 5;
    bool profile = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model" && i + 1 < argc) model = argv[++i];
        else if (a == "--batch" && i + 1 < argc) batches = argv[++i];
        else if (a == "--math" && i + 1 < argc) maths = argv[++i];
        else if (a == "--iters" && i + 1 < argc) iters = std::max(1, std::atoi(argv[++i]));
        else if (a == "--profile") profile = true;
        else {
            std::printf(
                "usage: bench-cuda-encoder [--model vit_b|vit_l|vit_h] [--batch 1,8] [--math fp32,tf32,bf16] [--iters "
                "N] [--profile]\n");
            return a == "-h" || a == "--help" ? 0 : 2;
        }
    }
    const VitPreset * preset = sa::bench::find_vit_preset(model);
    if (!preset) {
        std::fprintf(stderr, "bench-cuda-encoder: unknown model %s\n", model.c_str());
        return 2;
    }
    sa::CudaDeviceInfo info;
    if (!sa::bench::cuda_device_or_skip(&info)) return 0;
    std::printf("device: %s (cc %s, %.1f GiB), model %s\n", info.name.c_str(), info.compute_capability.c_str(),
                info.memory_bytes / 1073741824.0, model.c_str());

    sa::bench::RandomWeights weights;
    sa::bench::add_vit_encoder_weights(weights, *preset);
    auto be = sa::make_cuda_backend(0);
    sa::WeightMap wm = weights.map("image_encoder.");
    auto enc = sa::make_vit_encoder(*be, wm);
    const int64_t S = enc->img_size(), E = enc->embed_size(), D = enc->embed_dim();
    const double gflop = enc->flops_per_image() / 1e9;
    std::printf("%s\n%.1f GFLOP per image\n", enc->describe().c_str(), gflop);

    int max_b = 1;
    for (const auto & b : split_commas(batches)) max_b = std::max(max_b, std::atoi(b.c_str()));
    const std::vector<float> images = sa::bench::randn((size_t) (max_b * 3 * S * S), 7, 1.0f);

    std::map<int, std::vector<float>> fp32_out;  // batch -> fp32 embedding, for the accuracy lines
    std::printf("%-6s %5s %10s %10s %12s %14s\n", "math", "batch", "ms/batch", "img/s", "GFLOP/s", "peak MiB");
    for (const auto & mname : split_commas(maths)) {
        sa::CudaMath m = sa::CudaMath::FP32;
        if (mname == "tf32") m = sa::CudaMath::TF32;
        else if (mname == "bf16") m = sa::CudaMath::BF16;
        else if (mname != "fp32") {
            std::fprintf(stderr, "bench-cuda-encoder: unknown math %s\n", mname.c_str());
            return 2;
        }
        sa::cuda_set_math(*be, m);
        for (const auto & bs : split_commas(batches)) {
            const int B = std::max(1, std::atoi(bs.c_str()));
            std::vector<float> out((size_t) (B * D * E * E));
            enc->encode(images.data(), B, out.data());  // warm-up: allocations, cuBLAS plans
            be->synchronize();
            sa::cuda_reset_peak_memory(*be);
            std::vector<double> times;
            for (int i = 0; i < iters; ++i) {
                const auto t0 = Clock::now();
                enc->encode(images.data(), B, out.data());  // returns after the embedding is on the host
                times.push_back(sa::bench::seconds_since(t0));
            }
            const double med = sa::bench::median(times);
            const sa::CudaMemoryStats ms = sa::cuda_memory_stats(*be);
            std::printf("%-6s %5d %10.2f %10.1f %12.0f %8.0f (res %.0f)\n", mname.c_str(), B, med * 1e3, B / med,
                        gflop * B / med, ms.peak_in_use / 1048576.0, ms.peak_reserved / 1048576.0);
            if (m == sa::CudaMath::FP32) {
                fp32_out[B] = out;
            } else if (fp32_out.count(B)) {
                const std::vector<float> & ref = fp32_out[B];
                double max_abs = 0, ref_max = 0, se = 0, ss = 0;
                for (size_t i = 0; i < ref.size(); ++i) {
                    const double e = std::fabs((double) out[i] - ref[i]);
                    max_abs = std::max(max_abs, std::isnan(e) ? INFINITY : e);
                    ref_max = std::max(ref_max, (double) std::fabs(ref[i]));
                    se += e * e;
                    ss += (double) ref[i] * ref[i];
                }
                const double rel = max_abs / ref_max;
                std::printf("       %s vs fp32 embedding (batch %d): rel %.3g, nmse %.3g (%s 2e-2)\n", mname.c_str(), B,
                            rel, se / ss, rel <= 2e-2 ? "within" : "NOT within");
            }
        }
        if (profile) profile_ops(*be, *preset, max_b);
    }
    return 0;
}

}  // namespace

#endif  // SA_USE_CUDA

SA_CUDA_BENCH_MAIN("bench-cuda-encoder")
