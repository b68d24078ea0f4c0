// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the bench-*.cpp executables: timing, medians, comma lists, the SAM ViT presets
// with random weights of their official shapes, and the main() wrapper that reports sa::Error.
// Header-only, because every bench is one executable built from a single source file.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <sys/resource.h>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sa/backend.h"
#include "sa/status.h"
#include "sa/weights.h"

#ifdef SA_USE_CUDA
#include "sa/backend-cuda.h"
#endif

namespace sa::bench {

using Clock = std::chrono::steady_clock;

// Wall seconds since t0.
inline double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds used by the whole process (all threads); with wall time it shows how much of a pass
// the machine's other load took.
inline double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

// The process's peak resident memory so far (getrusage), MiB.
inline double peak_rss_mib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_maxrss / 1024.0;
}

// The upper median (the middle element after sorting; v must not be empty).
inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// "1,8,16" -> {"1", "8", "16"}: the list arguments of the benches.
inline std::vector<std::string> split_commas(const std::string & s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(item);
    return out;
}

// n values of Normal(0, stddev) from a mt19937 seeded with `seed`: fixed random inputs.
inline std::vector<float> randn(size_t n, uint32_t seed, float stddev) {
    std::vector<float> v(n);
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, stddev);
    for (auto & x : v) x = dist(rng);
    return v;
}

// A device buffer of n floats holding a copy of host[0, n).
inline float * upload_copy(sa::Backend & be, const std::vector<float> & host, int64_t n) {
    float * p = be.alloc((size_t) n);
    be.upload(p, host.data(), (size_t) n);
    return p;
}

// A SAM ViT image-encoder preset: embedding width, depth, heads and the global-attention blocks.
struct VitPreset {
    int64_t dim, depth, heads;
    std::vector<int64_t> global;
};

// The official presets by name (vit_b, vit_l, vit_h); nullptr for an unknown name.
inline const VitPreset * find_vit_preset(const std::string & model) {
    static const std::map<std::string, VitPreset> presets = {{"vit_b", {768, 12, 12, {2, 5, 8, 11}}},
                                                             {"vit_l", {1024, 24, 16, {5, 11, 17, 23}}},
                                                             {"vit_h", {1280, 32, 16, {7, 15, 23, 31}}}};
    auto it = presets.find(model);
    return it == presets.end() ? nullptr : &it->second;
}

// Host tensors of random values under their checkpoint names, for building a model without a
// checkpoint. Values are drawn in the order add() is called, so a fixed seed and call sequence give
// the same weights in every bench.
class RandomWeights {
  public:
    // Normal(mean, stddev) values of the given shape.
    void add(const std::string & name, std::vector<int64_t> shape, std::mt19937 & rng, float stddev, float mean = 0) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        std::vector<float> v((size_t) n);
        std::normal_distribution<float> dist(mean, stddev);
        for (auto & x : v) x = dist(rng);
        tensors_[name] = {std::move(shape), std::move(v)};
    }
    // A fresh map over the stored values, keys prefixed (a WeightMap records lookups, so one per model).
    sa::WeightMap map(const std::string & prefix = "") const {
        sa::WeightMap m;
        for (const auto & kv : tensors_)
            m.add(prefix + kv.first, sa::WeightView{kv.second.first, kv.second.second.data()});
        return m;
    }
    // Frees the host values (once a model has copied them to its backend).
    void clear() { tensors_.clear(); }

  private:
    std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors_;
};

// The prompt encoder and mask decoder at the official shapes (dim 256, depth 2, 8 heads, MLP 2048, 4
// mask tokens), official key names, Normal values scaled by 1/sqrt(fan-in).
class RandomDecoderWeights {
  public:
    explicit RandomDecoderWeights(uint32_t seed) : rng_(seed) {
        const int64_t C = 256, Ci = 128, M = 2048, T = 4;
        add("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", {2, C / 2}, 1.0f);
        for (int i = 0; i < 4; ++i)
            add("prompt_encoder.point_embeddings." + std::to_string(i) + ".weight", {1, C}, 1.0f);
        add("prompt_encoder.not_a_point_embed.weight", {1, C}, 1.0f);
        add("prompt_encoder.no_mask_embed.weight", {1, C}, 1.0f);
        conv("prompt_encoder.mask_downscaling.0", {4, 1, 2, 2});
        norm("prompt_encoder.mask_downscaling.1", 4);
        conv("prompt_encoder.mask_downscaling.3", {16, 4, 2, 2});
        norm("prompt_encoder.mask_downscaling.4", 16);
        conv("prompt_encoder.mask_downscaling.6", {C, 16, 1, 1});
        const std::string md = "mask_decoder.";
        add(md + "iou_token.weight", {1, C}, 1.0f);
        add(md + "mask_tokens.weight", {T, C}, 1.0f);
        for (int l = 0; l < 2; ++l) {
            const std::string p = md + "transformer.layers." + std::to_string(l) + ".";
            attn(p + "self_attn", C, C);
            attn(p + "cross_attn_token_to_image", C, Ci);
            attn(p + "cross_attn_image_to_token", C, Ci);
            linear(p + "mlp.lin1", M, C);
            linear(p + "mlp.lin2", C, M);
            for (int n = 1; n <= 4; ++n) norm(p + "norm" + std::to_string(n), C);
        }
        attn(md + "transformer.final_attn_token_to_image", C, Ci);
        norm(md + "transformer.norm_final_attn", C);
        conv(md + "output_upscaling.0", {C, C / 4, 2, 2}, true);
        norm(md + "output_upscaling.1", C / 4);
        conv(md + "output_upscaling.3", {C / 4, C / 8, 2, 2}, true);
        for (int t = 0; t < T; ++t) mlp(md + "output_hypernetworks_mlps." + std::to_string(t), {C, C, C, C / 8});
        mlp(md + "iou_prediction_head", {C, 256, 256, T});
    }
    sa::WeightMap map() const {
        sa::WeightMap w;
        for (size_t i = 0; i < names_.size(); ++i) w.add(names_[i], sa::WeightView{shapes_[i], data_[i].data()});
        return w;
    }

  private:
    void add(const std::string & name, std::vector<int64_t> shape, float scale) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        std::normal_distribution<float> dist(0.0f, scale);
        std::vector<float> v((size_t) n);
        for (auto & x : v) x = dist(rng_);
        names_.push_back(name);
        shapes_.push_back(std::move(shape));
        data_.push_back(std::move(v));
    }
    void linear(const std::string & n, int64_t out, int64_t in) {
        add(n + ".weight", {out, in}, 1.0f / std::sqrt((float) in));
        add(n + ".bias", {out}, 0.02f);
    }
    void attn(const std::string & n, int64_t C, int64_t I) {
        linear(n + ".q_proj", I, C);
        linear(n + ".k_proj", I, C);
        linear(n + ".v_proj", I, C);
        linear(n + ".out_proj", C, I);
    }
    void norm(const std::string & n, int64_t C) {
        add(n + ".weight", {C}, 0.1f);
        for (auto & x : data_.back()) x += 1.0f;
        add(n + ".bias", {C}, 0.1f);
    }
    // Conv weights [O, I, k, k]; transposed-conv weights [I, O, k, k] (transposed = true).
    void conv(const std::string & n, std::vector<int64_t> shape, bool transposed = false) {
        const int64_t fan = shape[1] * shape[2] * shape[3];
        const int64_t out = transposed ? shape[1] : shape[0];
        add(n + ".weight", std::move(shape), 1.0f / std::sqrt((float) fan));
        add(n + ".bias", {out}, 0.02f);
    }
    void mlp(const std::string & n, const std::vector<int64_t> & dims) {
        for (size_t i = 0; i + 1 < dims.size(); ++i) linear(n + ".layers." + std::to_string(i), dims[i + 1], dims[i]);
    }

    std::mt19937 rng_;
    std::vector<std::string> names_;
    std::vector<std::vector<int64_t>> shapes_;
    std::vector<std::vector<float>> data_;
};

// The image encoder of a ViT preset (keys without the "image_encoder." prefix), values at a trained
// model's scale (small random projections, unit norms), so no denormals or overflow distort timings.
inline void add_vit_encoder_weights(RandomWeights & w, const VitPreset & p) {
    std::mt19937 rng(1234);
    const int64_t E = p.dim, hd = E / p.heads;
    w.add("patch_embed.proj.weight", {E, 3, 16, 16}, rng, 0.02f);
    w.add("patch_embed.proj.bias", {E}, rng, 0.02f);
    w.add("pos_embed", {1, 64, 64, E}, rng, 0.02f);
    for (int64_t i = 0; i < p.depth; ++i) {
        const std::string b = "blocks." + std::to_string(i) + ".";
        const bool global = std::find(p.global.begin(), p.global.end(), i) != p.global.end();
        const int64_t L = global ? 127 : 27;
        w.add(b + "norm1.weight", {E}, rng, 0.1f, 1.0f);
        w.add(b + "norm1.bias", {E}, rng, 0.02f);
        w.add(b + "attn.qkv.weight", {3 * E, E}, rng, 0.02f);
        w.add(b + "attn.qkv.bias", {3 * E}, rng, 0.02f);
        w.add(b + "attn.proj.weight", {E, E}, rng, 0.02f);
        w.add(b + "attn.proj.bias", {E}, rng, 0.02f);
        w.add(b + "attn.rel_pos_h", {L, hd}, rng, 0.02f);
        w.add(b + "attn.rel_pos_w", {L, hd}, rng, 0.02f);
        w.add(b + "norm2.weight", {E}, rng, 0.1f, 1.0f);
        w.add(b + "norm2.bias", {E}, rng, 0.02f);
        w.add(b + "mlp.lin1.weight", {4 * E, E}, rng, 0.02f);
        w.add(b + "mlp.lin1.bias", {4 * E}, rng, 0.02f);
        w.add(b + "mlp.lin2.weight", {E, 4 * E}, rng, 0.02f);
        w.add(b + "mlp.lin2.bias", {E}, rng, 0.02f);
    }
    w.add("neck.0.weight", {256, E, 1, 1}, rng, 0.02f);
    w.add("neck.1.weight", {256}, rng, 0.1f, 1.0f);
    w.add("neck.1.bias", {256}, rng, 0.02f);
    w.add("neck.2.weight", {256, 256, 3, 3}, rng, 0.02f);
    w.add("neck.3.weight", {256}, rng, 0.1f, 1.0f);
    w.add("neck.3.bias", {256}, rng, 0.02f);
}

// A TinyViT image encoder of configuration `c` (MobileSAM's: mobile_sam_tinyvit_config(); keys
// without a prefix): Normal values scaled by 1/sqrt(fan-in) so activations stay in a realistic
// range, LayerNorm weights near 1. `shapes` is tinyvit_weight_shapes(c, "") (model/tinyvit.h).
inline void add_tinyvit_encoder_weights(RandomWeights & w,
                                        const std::vector<std::pair<std::string, std::vector<int64_t>>> & shapes,
                                        uint32_t seed = 1) {
    std::mt19937 rng(seed);
    for (const auto & [name, shape] : shapes) {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        const int64_t fan_in = shape.size() > 1 ? n / shape[0] : 1;
        const bool norm_weight = shape.size() == 1 && name.find("norm") != std::string::npos &&
                                 name.compare(name.size() - 7, 7, ".weight") == 0;
        if (norm_weight) w.add(name, shape, rng, 0.1f, 1.0f);
        else w.add(name, shape, rng, 1.0f / std::sqrt((float) fan_in));
    }
}

// main() of a bench: runs `run`, turning an sa::Error into a message on stderr and exit status 1.
template <class Run>
int bench_main(const char * name, int argc, char ** argv, Run && run) {
    try {
        return run(argc, argv);
    } catch (const sa::Error & e) {
        std::fprintf(stderr, "%s: %s (%s)\n", name, e.what(), sa_status_code_name(e.status()));
        return 1;
    }
}

#ifdef SA_USE_CUDA
// Fills `info` and returns true when a CUDA device is usable; otherwise prints why the bench is
// skipped (a machine without a GPU is not an error) and returns false.
inline bool cuda_device_or_skip(sa::CudaDeviceInfo * info) {
    std::string reason;
    if (sa::cuda_probe(info, &reason)) return true;
    std::printf("skipped: no CUDA device (%s)\n", reason.c_str());
    return false;
}
#endif

// main() of a CUDA bench in a build without the CUDA backend.
inline int skipped_without_cuda() {
    std::printf("skipped: no CUDA device (this build has no CUDA backend)\n");
    return 0;
}

}  // namespace sa::bench

// main() of a CUDA bench: its run(argc, argv), which exists only in builds with the CUDA backend
// (the others say the bench is skipped).
#ifdef SA_USE_CUDA
#define SA_CUDA_BENCH_MAIN(name)                             \
    int main(int argc, char ** argv) {                       \
        return sa::bench::bench_main(name, argc, argv, run); \
    }
#else
#define SA_CUDA_BENCH_MAIN(name)                  \
    int main() {                                  \
        return sa::bench::skipped_without_cuda(); \
    }
#endif
