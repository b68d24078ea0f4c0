// SPDX-License-Identifier: Apache-2.0
// Mask-decoder fine-tuning step on the CPU backend, the paper's setting: batch 1, 10 positive points +
// the tight box, 64 x 64 image embedding (SAM ViT-B at 1024), DiceCE loss, Adam; random weights with
// the official decoder shapes (dim 256, depth 2, 8 heads, MLP 2048, 4 mask tokens).
//
//   bench-train-step [--threads N] [--steps N]
//
// Prints the median ms per train step and per decoder forward pass (predict_all, 4 masks) over
// --steps runs after warm-up, with the per-step FLOP rate.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/decoder-trainer.h"
#include "sa/sam-decoder.h"
#include "sa/threadpool.h"
#include "sa/weights.h"

namespace {

using Clock = std::chrono::steady_clock;

class RandomDecoderWeights {
  public:
    explicit RandomDecoderWeights(uint32_t seed) : rng_(seed) {
        const int64_t C = 256, Ci = 128, M = 2048, T = 4;
        add("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", {2, C / 2}, 1.0f);
        for (int i = 0; i < 4; ++i) add("prompt_encoder.point_embeddings." + std::to_string(i) + ".weight", {1, C}, 1.0f);
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

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char ** argv) {
    int threads = 0, steps = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--steps")) steps = std::max(1, std::atoi(argv[i + 1]));
        else {
            std::fprintf(stderr, "usage: bench-train-step [--threads N] [--steps N]\n");
            return 2;
        }
    }
    try {
        if (threads > 0) sa::set_default_threads(threads);
        const int64_t S = 1024, E = 64, C = 256, HW = E * E;
        RandomDecoderWeights rw(7);
        sa::WeightMap wm = rw.map();
        auto be = sa::make_cpu_backend();
        sa::SamDecoder dec(*be, wm, S, E);

        std::mt19937 rng(11);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        std::vector<float> emb((size_t) (C * HW));
        for (auto & x : emb) x = nd(rng);
        // Target: a disc in the 256 x 256 low-res frame; prompts: 10 points inside it + its box (1024 frame).
        std::vector<float> target(16 * HW, 0.0f);
        for (int y = 0; y < 256; ++y)
            for (int x = 0; x < 256; ++x) target[(size_t) (y * 256 + x)] = (x - 120) * (x - 120) + (y - 130) * (y - 130) < 50 * 50;
        std::vector<float> pts, labels(10, 1.0f), box = {70 * 4.0f, 80 * 4.0f, 170 * 4.0f, 180 * 4.0f};
        for (int i = 0; i < 10; ++i) {
            pts.push_back((float) (120 + 30 * std::cos(i)) * 4);
            pts.push_back((float) (130 + 30 * std::sin(i)) * 4);
        }
        sa::Prompts p;
        p.n_points = 10;
        p.points = pts.data();
        p.labels = labels.data();
        p.boxes = box.data();

        sa::DecoderTrainer tr(*be, dec, sa::TrainConfig{});
        for (int i = 0; i < 3; ++i) tr.step(emb.data(), p, target.data());
        std::vector<double> ts;
        float loss = 0;
        for (int i = 0; i < steps; ++i) {
            const auto t0 = Clock::now();
            loss = tr.step(emb.data(), p, target.data());
            ts.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        const double step_ms = median(ts);

        std::vector<float> low((size_t) (4 * 16 * HW)), iou(4);
        for (int i = 0; i < 2; ++i) dec.predict_all(emb.data(), false, p, low.data(), iou.data());
        ts.clear();
        for (int i = 0; i < steps; ++i) {
            const auto t0 = Clock::now();
            dec.predict_all(emb.data(), false, p, low.data(), iou.data());
            ts.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        const double fwd_ms = median(ts);
        std::printf("decoder train step (batch 1, 10 points + box, 64x64 embedding, dicece, adam), %d threads:\n",
                    sa::default_threads());
        std::printf("  train step      %8.2f ms (median of %d; last loss %.4f)\n", step_ms, steps, loss);
        std::printf("  forward (4 masks) %6.2f ms\n", fwd_ms);
        return 0;
    } catch (const std::exception & e) {
        std::fprintf(stderr, "bench-train-step: %s\n", e.what());
        return 1;
    }
}
