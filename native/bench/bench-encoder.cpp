// SPDX-License-Identifier: Apache-2.0
// SAM ViT image-encoder throughput on the CPU backend: random weights with the official shapes of a
// preset (vit_b by default), one S x S image per pass, N threads.
//
//   bench-encoder [threads] [passes] [--model vit_b|vit_l|vit_h] [--precision fp32|bf16] [--profile]
//
// Prints seconds per image and GFLOP/s (2 x the analytic multiply-add count of the forward pass,
// ImageEncoder::flops_per_image). --profile adds the time each backend op takes per image, the linear
// layers through prepared weights as in the encoder (on a bf16 backend: bf16 products, the attention
// on AMX tiles at level amx; the convolutions stay fp32).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench-common.h"
#include "sa/backend.h"
#include "sa/image-encoder.h"
#include "sa/isa.h"
#include "sa/status.h"
#include "sa/threadpool.h"
#include "sa/weights.h"

namespace {

using sa::bench::Clock;
using sa::bench::process_cpu_seconds;

// Times each backend op of one ViT forward pass at its real shapes (one call each, scaled by the
// number of calls per image), to show where an image's time goes.
void profile_ops(sa::Backend & be, int64_t E, int64_t depth, int64_t heads, int64_t n_global) {
    const int64_t G = 64, T = G * G, win = 14, nw = (G + win - 1) / win, Tw = nw * nw * win * win, hd = E / heads;
    const int64_t M = 4 * E, n_win = depth - n_global;
    const int64_t big = std::max<int64_t>({Tw * 3 * E, T * M, 3 * 1024 * 1024, T * 256 * 9});
    const std::vector<float> host = sa::bench::randn((size_t) big, 3, 0.5f);
    auto buf = [&](int64_t n) { return sa::bench::upload_copy(be, host, n); };
    float *x = buf(big), *y = buf(big), *w = buf(std::max<int64_t>(M * E, 256 * 256 * 9)), *bias = buf(M);
    float *rel = buf(127 * hd), *gamma = buf(std::max(E, M)), *beta = buf(std::max(E, M));
    // the encoder's linear layers run on weights prepared once (bf16 on a bf16 backend)
    auto prepared = [&](int64_t N, int64_t K) {
        float * p = be.alloc(be.prepared_linear_size(N, K));
        be.prepare_linear(w, p, N, K);
        return p;
    };
    float *w_qkv = prepared(3 * E, E), *w_proj = prepared(E, E), *w_lin1 = prepared(M, E), *w_lin2 = prepared(E, M);
    struct Row {
        std::string name;
        double seconds, cpu_seconds;
    };
    std::vector<Row> rows;
    auto time = [&](const std::string & name, int64_t calls, const std::function<void()> & fn) {
        if (calls == 0) return;
        fn();  // warm up (first-touch, packing buffers)
        const auto t0 = Clock::now();
        const double c0 = process_cpu_seconds();
        fn();
        be.synchronize();
        rows.push_back({name, calls * sa::bench::seconds_since(t0), calls * (process_cpu_seconds() - c0)});
    };
    time("patch embed conv 16x16/16", 1, [&] { be.conv2d({x, w, bias, y, 1, 3, 1024, 1024, E, 16, 16, 16, 0, 1}); });
    time("linear qkv (windowed)", n_win, [&] { be.linear_prepared(x, w_qkv, bias, y, Tw, E, 3 * E); });
    time("linear qkv (global)", n_global, [&] { be.linear_prepared(x, w_qkv, bias, y, T, E, 3 * E); });
    time("linear proj (windowed)", n_win, [&] { be.linear_prepared(x, w_proj, bias, y, Tw, E, E); });
    time("linear proj (global)", n_global, [&] { be.linear_prepared(x, w_proj, bias, y, T, E, E); });
    time("linear mlp lin1", depth, [&] { be.linear_prepared(x, w_lin1, bias, y, T, E, M); });
    time("linear mlp lin2", depth, [&] { be.linear_prepared(x, w_lin2, bias, y, T, M, E); });
    time("attention 14x14 windows", n_win, [&] {
        be.attention_vit({x, y, nw * nw, win, win, heads, hd, rel, 27, rel, 27});
    });
    time("attention 64x64 global", n_global, [&] { be.attention_vit({x, y, 1, G, G, heads, hd, rel, 127, rel, 127}); });
    time("gelu", depth, [&] { be.gelu(x, y, T * M); });
    time("layernorm", 2 * depth, [&] { be.layernorm({x, gamma, beta, y, nullptr, nullptr, T, E, 1e-6f}); });
    time("add (residual)", 2 * depth, [&] { be.add(x, y, y, T * E); });
    time("window partition+unpartition", n_win, [&] {
        be.window_partition({x, y, 1, G, G, E, win});
        be.window_unpartition({y, x, 1, G, G, E, win});
    });
    time("transpose_last2", 2, [&] { be.transpose_last2(x, y, 1, E, T); });
    time("neck conv 1x1", 1, [&] { be.conv2d({x, w, nullptr, y, 1, E, G, G, 256, 1, 1, 1, 0, 1}); });
    time("neck conv 3x3", 1, [&] { be.conv2d({x, w, nullptr, y, 1, 256, G, G, 256, 3, 3, 1, 1, 1}); });
    time("layernorm2d", 2, [&] { be.layernorm2d({x, gamma, beta, y, nullptr, nullptr, 1, 256, T, 1e-6f}); });
    for (float * p : {x, y, w, bias, rel, gamma, beta, w_qkv, w_proj, w_lin1, w_lin2}) be.free(p);
    double total = 0, total_cpu = 0;
    for (auto & r : rows) {
        total += r.seconds;
        total_cpu += r.cpu_seconds;
    }
    std::sort(rows.begin(), rows.end(), [](const Row & a, const Row & b) { return a.seconds > b.seconds; });
    std::printf("per image, by op (each op timed once at its shape, times its calls per image):\n");
    std::printf("  %-32s %9s %9s %7s\n", "op", "wall s", "CPU s", "share");
    for (auto & r : rows)
        std::printf("  %-32s %9.3f %9.3f %6.1f%%\n", r.name.c_str(), r.seconds, r.cpu_seconds, 100 * r.seconds / total);
    std::printf("  %-32s %9.3f %9.3f\n", "sum", total, total_cpu);
}

int run(int argc, char ** argv) {
    int threads = 0, passes = 2;
    bool profile = false;
    std::string model = "vit_b";
    sa::Precision precision = sa::Precision::fp32;
    int positional = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--profile") {
            profile = true;
        } else if (a == "--model" && i + 1 < argc) {
            model = argv[++i];
        } else if (a == "--precision" && i + 1 < argc) {
            const std::string p = argv[++i];
            if (p != "fp32" && p != "bf16") {
                std::fprintf(stderr, "bench-encoder: precision %s (fp32, bf16)\n", p.c_str());
                return 2;
            }
            precision = p == "bf16" ? sa::Precision::bf16 : sa::Precision::fp32;
        } else if (a == "-h" || a == "--help") {
            std::printf(
                "usage: bench-encoder [threads] [passes] [--model vit_b|vit_l|vit_h] [--precision fp32|bf16] "
                "[--profile]\n");
            return 0;
        } else if (positional == 0) {
            threads = std::atoi(a.c_str());
            ++positional;
        } else if (positional == 1) {
            passes = std::max(1, std::atoi(a.c_str()));
            ++positional;
        } else {
            std::fprintf(stderr, "bench-encoder: unexpected argument %s\n", a.c_str());
            return 2;
        }
    }
    const sa::bench::VitPreset * preset = sa::bench::find_vit_preset(model);
    if (!preset) {
        std::fprintf(stderr, "bench-encoder: unknown model %s (vit_b, vit_l, vit_h)\n", model.c_str());
        return 2;
    }
    sa::bench::RandomWeights weights;
    sa::bench::add_vit_encoder_weights(weights, *preset);
    auto cpu = sa::make_cpu_backend(precision, threads);
    sa::Backend & be = *cpu;
    sa::WeightMap wm = weights.map("image_encoder.");
    auto enc = sa::make_vit_encoder(be, wm);
    weights.clear();  // the encoder holds its own (prepacked) copy

    const int64_t S = enc->img_size(), E = enc->embed_size();
    const std::vector<float> image = sa::bench::randn((size_t) (3 * S * S), 7, 1.0f);
    std::vector<float> out((size_t) (enc->embed_dim() * E * E));

    const double gflop = enc->flops_per_image() / 1e9;
    std::printf("%s\n", enc->describe().c_str());
    std::printf("cpu level %s, threads %d, precision %s, %.1f GFLOP per image (2 x multiply-adds)\n",
                sa::isa_name(sa::cpu_isa()), be.threads(), sa::precision_name(precision), gflop);
    double best = 1e300;
    for (int p = 0; p < passes; ++p) {
        const auto t0 = Clock::now();
        const double c0 = process_cpu_seconds();
        enc->encode(image.data(), 1, out.data());
        const double dt = sa::bench::seconds_since(t0);
        const double cpu_s = process_cpu_seconds() - c0;
        best = std::min(best, dt);
        std::printf("pass %d: %.3f s/img, %.1f GFLOP/s (CPU time %.3f s over %d threads)%s\n", p, dt, gflop / dt, cpu_s,
                    be.threads(), p == 0 ? " (cold: allocates)" : "");
    }
    std::printf("best: %.3f s/img, %.1f GFLOP/s\n", best, gflop / best);
    if (profile) {
        enc.reset();
        profile_ops(be, preset->dim, preset->depth, preset->heads, (int64_t) preset->global.size());
    }
    return 0;
}

}  // namespace

int main(int argc, char ** argv) {
    return sa::bench::bench_main("bench-encoder", argc, argv, run);
}
