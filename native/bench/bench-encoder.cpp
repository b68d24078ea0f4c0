// SPDX-License-Identifier: Apache-2.0
// SAM ViT image-encoder throughput on the CPU backend: random weights with the official shapes of a
// preset (vit_b by default), one S x S image per pass, N threads.
//
//   bench-encoder [threads] [passes] [--model vit_b|vit_l|vit_h] [--profile]
//
// Prints seconds per image and GFLOP/s (2 x the analytic multiply-add count of the forward pass,
// ImageEncoder::flops_per_image). --profile adds the time each backend op takes per image.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/image-encoder.h"
#include "sa/status.h"
#include "sa/threadpool.h"
#include "sa/weights.h"

namespace {

using Clock = std::chrono::steady_clock;

// CPU seconds used by the whole process (all threads); with wall time it shows how much of a pass
// the machine's other load took.
double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

// Times each backend op of one ViT forward pass at its real shapes (one call each, scaled by the
// number of calls per image), to show where an image's time goes.
void profile_ops(sa::Backend & be, int64_t E, int64_t depth, int64_t heads, int64_t n_global) {
    const int64_t G = 64, T = G * G, win = 14, nw = (G + win - 1) / win, Tw = nw * nw * win * win, hd = E / heads;
    const int64_t M = 4 * E, n_win = depth - n_global;
    const int64_t big = std::max<int64_t>({Tw * 3 * E, T * M, 3 * 1024 * 1024, T * 256 * 9});
    std::vector<float> host((size_t) big);
    std::mt19937 rng(3);
    std::normal_distribution<float> d(0.0f, 0.5f);
    for (auto & v : host) v = d(rng);
    auto buf = [&](int64_t n) {
        float * p = be.alloc((size_t) n);
        be.upload(p, host.data(), (size_t) n);
        return p;
    };
    float *x = buf(big), *y = buf(big), *w = buf(std::max<int64_t>(M * E, 256 * 256 * 9)), *bias = buf(M);
    float *rel = buf(127 * hd), *gamma = buf(std::max(E, M)), *beta = buf(std::max(E, M));
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
        rows.push_back({name, calls * std::chrono::duration<double>(Clock::now() - t0).count(),
                        calls * (process_cpu_seconds() - c0)});
    };
    time("patch embed conv 16x16/16", 1, [&] { be.conv2d(x, w, bias, y, 1, 3, 1024, 1024, E, 16, 16, 16, 0, 1); });
    time("linear qkv (windowed)", n_win, [&] { be.linear(x, w, bias, y, Tw, E, 3 * E); });
    time("linear qkv (global)", n_global, [&] { be.linear(x, w, bias, y, T, E, 3 * E); });
    time("linear proj (windowed)", n_win, [&] { be.linear(x, w, bias, y, Tw, E, E); });
    time("linear proj (global)", n_global, [&] { be.linear(x, w, bias, y, T, E, E); });
    time("linear mlp lin1", depth, [&] { be.linear(x, w, bias, y, T, E, M); });
    time("linear mlp lin2", depth, [&] { be.linear(x, w, bias, y, T, M, E); });
    time("attention 14x14 windows", n_win,
         [&] { be.attention_vit(x, y, nw * nw, win, win, heads, hd, rel, 27, rel, 27); });
    time("attention 64x64 global", n_global, [&] { be.attention_vit(x, y, 1, G, G, heads, hd, rel, 127, rel, 127); });
    time("gelu", depth, [&] { be.gelu(x, y, T * M); });
    time("layernorm", 2 * depth, [&] { be.layernorm(x, gamma, beta, y, nullptr, nullptr, T, E, 1e-6f); });
    time("add (residual)", 2 * depth, [&] { be.add(x, y, y, T * E); });
    time("window partition+unpartition", n_win, [&] {
        be.window_partition(x, y, 1, G, G, E, win);
        be.window_unpartition(y, x, 1, G, G, E, win);
    });
    time("transpose_last2", 2, [&] { be.transpose_last2(x, y, 1, E, T); });
    time("neck conv 1x1", 1, [&] { be.conv2d(x, w, nullptr, y, 1, E, G, G, 256, 1, 1, 1, 0, 1); });
    time("neck conv 3x3", 1, [&] { be.conv2d(x, w, nullptr, y, 1, 256, G, G, 256, 3, 3, 1, 1, 1); });
    time("layernorm2d", 2, [&] { be.layernorm2d(x, gamma, beta, y, nullptr, nullptr, 1, 256, T, 1e-6f); });
    for (float * p : {x, y, w, bias, rel, gamma, beta}) be.free(p);
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

struct Preset {
    int64_t dim, depth, heads;
    std::vector<int64_t> global;
};

// Host weights with the official shapes of a SAM ViT preset, values drawn like a trained model's
// scale (small random projections, unit norms), so no denormals or overflow distort the timing.
struct RandomWeights {
    std::vector<std::vector<float>> storage;
    sa::WeightMap map;

    void add(const std::string & name, std::vector<int64_t> shape, std::mt19937 & rng, float stddev, float mean = 0) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        std::vector<float> v((size_t) n);
        std::normal_distribution<float> dist(mean, stddev);
        for (auto & x : v) x = dist(rng);
        storage.push_back(std::move(v));
        map.add("image_encoder." + name, sa::WeightView{std::move(shape), storage.back().data()});
    }

    explicit RandomWeights(const Preset & p) {
        std::mt19937 rng(1234);
        const int64_t E = p.dim, hd = E / p.heads;
        storage.reserve((size_t) (p.depth * 14 + 16));
        add("patch_embed.proj.weight", {E, 3, 16, 16}, rng, 0.02f);
        add("patch_embed.proj.bias", {E}, rng, 0.02f);
        add("pos_embed", {1, 64, 64, E}, rng, 0.02f);
        for (int64_t i = 0; i < p.depth; ++i) {
            const std::string b = "blocks." + std::to_string(i) + ".";
            const bool g = std::find(p.global.begin(), p.global.end(), i) != p.global.end();
            const int64_t L = g ? 127 : 27;
            add(b + "norm1.weight", {E}, rng, 0.1f, 1.0f);
            add(b + "norm1.bias", {E}, rng, 0.02f);
            add(b + "attn.qkv.weight", {3 * E, E}, rng, 0.02f);
            add(b + "attn.qkv.bias", {3 * E}, rng, 0.02f);
            add(b + "attn.proj.weight", {E, E}, rng, 0.02f);
            add(b + "attn.proj.bias", {E}, rng, 0.02f);
            add(b + "attn.rel_pos_h", {L, hd}, rng, 0.02f);
            add(b + "attn.rel_pos_w", {L, hd}, rng, 0.02f);
            add(b + "norm2.weight", {E}, rng, 0.1f, 1.0f);
            add(b + "norm2.bias", {E}, rng, 0.02f);
            add(b + "mlp.lin1.weight", {4 * E, E}, rng, 0.02f);
            add(b + "mlp.lin1.bias", {4 * E}, rng, 0.02f);
            add(b + "mlp.lin2.weight", {E, 4 * E}, rng, 0.02f);
            add(b + "mlp.lin2.bias", {E}, rng, 0.02f);
        }
        add("neck.0.weight", {256, E, 1, 1}, rng, 0.02f);
        add("neck.1.weight", {256}, rng, 0.1f, 1.0f);
        add("neck.1.bias", {256}, rng, 0.02f);
        add("neck.2.weight", {256, 256, 3, 3}, rng, 0.02f);
        add("neck.3.weight", {256}, rng, 0.1f, 1.0f);
        add("neck.3.bias", {256}, rng, 0.02f);
    }
};

int run(int argc, char ** argv) {
    int threads = 0, passes = 2;
    bool profile = false;
    std::string model = "vit_b";
    int positional = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--profile") {
            profile = true;
        } else if (a == "--model" && i + 1 < argc) {
            model = argv[++i];
        } else if (a == "-h" || a == "--help") {
            std::printf("usage: bench-encoder [threads] [passes] [--model vit_b|vit_l|vit_h] [--profile]\n");
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
    const std::map<std::string, Preset> presets = {{"vit_b", {768, 12, 12, {2, 5, 8, 11}}},
                                                   {"vit_l", {1024, 24, 16, {5, 11, 17, 23}}},
                                                   {"vit_h", {1280, 32, 16, {7, 15, 23, 31}}}};
    auto it = presets.find(model);
    if (it == presets.end()) {
        std::fprintf(stderr, "bench-encoder: unknown model %s (vit_b, vit_l, vit_h)\n", model.c_str());
        return 2;
    }
    sa::set_default_threads(threads);
    RandomWeights weights(it->second);
    auto cpu = sa::make_cpu_backend();
    sa::Backend & be = *cpu;
    auto enc = sa::make_vit_encoder(be, weights.map);
    weights.storage.clear();

    const int64_t S = enc->img_size(), E = enc->embed_size();
    std::vector<float> image((size_t) (3 * S * S)), out((size_t) (enc->embed_dim() * E * E));
    std::mt19937 rng(7);
    std::normal_distribution<float> px(0.0f, 1.0f);
    for (auto & v : image) v = px(rng);

    const double gflop = enc->flops_per_image() / 1e9;
    std::printf("%s\n", enc->describe().c_str());
    std::printf("threads %d, %.1f GFLOP per image (2 x multiply-adds)\n", sa::default_threads(), gflop);
    double best = 1e300;
    for (int p = 0; p < passes; ++p) {
        const auto t0 = Clock::now();
        const double c0 = process_cpu_seconds();
        enc->encode(image.data(), 1, out.data());
        const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        const double cpu_s = process_cpu_seconds() - c0;
        best = std::min(best, dt);
        std::printf("pass %d: %.3f s/img, %.1f GFLOP/s (CPU time %.3f s over %d threads)%s\n", p, dt, gflop / dt,
                    cpu_s, sa::default_threads(), p == 0 ? " (cold: allocates)" : "");
    }
    std::printf("best: %.3f s/img, %.1f GFLOP/s\n", best, gflop / best);
    if (profile) {
        enc.reset();
        const Preset & p = it->second;
        profile_ops(be, p.dim, p.depth, p.heads, (int64_t) p.global.size());
    }
    return 0;
}

}  // namespace

int main(int argc, char ** argv) {
    try {
        return run(argc, argv);
    } catch (const sa::Error & e) {
        std::fprintf(stderr, "bench-encoder: %s (%s)\n", e.what(), sa_status_code_name(e.status()));
        return 1;
    }
}
