// SPDX-License-Identifier: Apache-2.0
// Mask-decoder fine-tuning step on the CUDA backend (the paper's setting: batch 1, 10 positive points
// + the tight box, 64 x 64 image embedding, DiceCE loss, Adam), random weights with the official
// shapes.
//
//   bench-cuda-decoder [--steps N]
//
// Three ways to run the same step:
//   trainer  DecoderTrainer::step: host inputs uploaded, loss and gradient norm read back every step;
//   eager    the device part only (forward, loss, backward, Adam) issued op by op, no host sync;
//   graph    forward + loss + backward captured once as a CUDA graph and replayed, Adam (one launch per
//            parameter range, its step number changes) issued after each replay.
// Prints the median ms/step of each over N steps (after warm-up).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench-common.h"
#include "sa/backend.h"
#include "sa/decoder-trainer.h"
#include "sa/losses.h"
#include "sa/sam-decoder.h"
#include "sa/status.h"
#include "sa/weights.h"

#ifdef SA_USE_CUDA
#include "cuda/graph.h"
#include "model/decoder-impl.h"
#include "sa/backend-cuda.h"

namespace {

using sa::bench::Clock;
using sa::bench::median;

// Prompt encoder + mask decoder weights with the official key names and shapes (SAM: transformer dim
// 256, depth 2, 8 heads, MLP 2048, 4 mask tokens, IoU head depth 3).
void add_decoder_weights(sa::bench::RandomWeights & w) {
    std::mt19937 rng(99);
    const int64_t C = 256, Ci = 128;
    w.add("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", {2, C / 2}, rng, 1.0f);
    for (int i = 0; i < 4; ++i)
        w.add("prompt_encoder.point_embeddings." + std::to_string(i) + ".weight", {1, C}, rng, 1.0f);
    w.add("prompt_encoder.not_a_point_embed.weight", {1, C}, rng, 1.0f);
    w.add("prompt_encoder.no_mask_embed.weight", {1, C}, rng, 1.0f);
    w.add("prompt_encoder.mask_downscaling.0.weight", {4, 1, 2, 2}, rng, 0.3f);
    w.add("prompt_encoder.mask_downscaling.0.bias", {4}, rng, 0.02f);
    w.add("prompt_encoder.mask_downscaling.1.weight", {4}, rng, 0.1f, 1.0f);
    w.add("prompt_encoder.mask_downscaling.1.bias", {4}, rng, 0.02f);
    w.add("prompt_encoder.mask_downscaling.3.weight", {16, 4, 2, 2}, rng, 0.2f);
    w.add("prompt_encoder.mask_downscaling.3.bias", {16}, rng, 0.02f);
    w.add("prompt_encoder.mask_downscaling.4.weight", {16}, rng, 0.1f, 1.0f);
    w.add("prompt_encoder.mask_downscaling.4.bias", {16}, rng, 0.02f);
    w.add("prompt_encoder.mask_downscaling.6.weight", {C, 16, 1, 1}, rng, 0.2f);
    w.add("prompt_encoder.mask_downscaling.6.bias", {C}, rng, 0.02f);
    const std::string md = "mask_decoder.";
    auto attn = [&](const std::string & p, int64_t internal) {
        for (const char * n : {"q_proj", "k_proj", "v_proj"}) {
            w.add(p + n + ".weight", {internal, C}, rng, 0.05f);
            w.add(p + n + ".bias", {internal}, rng, 0.02f);
        }
        w.add(p + "out_proj.weight", {C, internal}, rng, 0.05f);
        w.add(p + "out_proj.bias", {C}, rng, 0.02f);
    };
    auto norm = [&](const std::string & p) {
        w.add(p + ".weight", {C}, rng, 0.1f, 1.0f);
        w.add(p + ".bias", {C}, rng, 0.02f);
    };
    for (int l = 0; l < 2; ++l) {
        const std::string b = md + "transformer.layers." + std::to_string(l) + ".";
        attn(b + "self_attn.", C);
        attn(b + "cross_attn_token_to_image.", Ci);
        attn(b + "cross_attn_image_to_token.", Ci);
        for (const char * n : {"norm1", "norm2", "norm3", "norm4"}) norm(b + n);
        w.add(b + "mlp.lin1.weight", {2048, C}, rng, 0.03f);
        w.add(b + "mlp.lin1.bias", {2048}, rng, 0.02f);
        w.add(b + "mlp.lin2.weight", {C, 2048}, rng, 0.02f);
        w.add(b + "mlp.lin2.bias", {C}, rng, 0.02f);
    }
    attn(md + "transformer.final_attn_token_to_image.", Ci);
    norm(md + "transformer.norm_final_attn");
    w.add(md + "iou_token.weight", {1, C}, rng, 1.0f);
    w.add(md + "mask_tokens.weight", {4, C}, rng, 1.0f);
    w.add(md + "output_upscaling.0.weight", {C, 64, 2, 2}, rng, 0.05f);
    w.add(md + "output_upscaling.0.bias", {64}, rng, 0.02f);
    w.add(md + "output_upscaling.1.weight", {64}, rng, 0.1f, 1.0f);
    w.add(md + "output_upscaling.1.bias", {64}, rng, 0.02f);
    w.add(md + "output_upscaling.3.weight", {64, 32, 2, 2}, rng, 0.1f);
    w.add(md + "output_upscaling.3.bias", {32}, rng, 0.02f);
    for (int t = 0; t < 4; ++t) {
        const std::string h = md + "output_hypernetworks_mlps." + std::to_string(t) + ".layers.";
        const int64_t outs[3] = {C, C, 32};
        for (int i = 0; i < 3; ++i) {
            w.add(h + std::to_string(i) + ".weight", {outs[i], C}, rng, 0.05f);
            w.add(h + std::to_string(i) + ".bias", {outs[i]}, rng, 0.02f);
        }
    }
    const int64_t iou_outs[3] = {C, C, 4};
    for (int i = 0; i < 3; ++i) {
        w.add(md + "iou_prediction_head.layers." + std::to_string(i) + ".weight", {iou_outs[i], C}, rng, 0.05f);
        w.add(md + "iou_prediction_head.layers." + std::to_string(i) + ".bias", {iou_outs[i]}, rng, 0.02f);
    }
}

int run(int argc, char ** argv) {
    int steps = 200;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--steps" && i + 1 < argc) {
            steps = std::max(10, std::atoi(argv[++i]));
        } else {
            std::printf("usage: bench-cuda-decoder [--steps N]\n");
            return a == "-h" || a == "--help" ? 0 : 2;
        }
    }
    sa::CudaDeviceInfo info;
    if (!sa::bench::cuda_device_or_skip(&info)) return 0;
    std::printf("device: %s (cc %s)\n", info.name.c_str(), info.compute_capability.c_str());
    auto bep = sa::make_cuda_backend(0);
    sa::Backend & be = *bep;
    sa::bench::RandomWeights weights;
    add_decoder_weights(weights);
    sa::WeightMap wm = weights.map();
    const int64_t S = 1024, E = 64, C = 256;
    sa::SamDecoder dec(be, wm, S, E);
    std::printf("%s\n", dec.describe().c_str());

    // The paper's training sample: one 64x64 embedding, 10 positive points + the tight box, 256x256 target.
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::uniform_real_distribution<float> ud(300.0f, 700.0f);
    std::vector<float> emb((size_t) (C * E * E)), target((size_t) (16 * E * E), 0.0f);
    for (auto & v : emb) v = nd(rng);
    for (int64_t y = 80; y < 180; ++y)
        for (int64_t x = 70; x < 190; ++x) target[(size_t) (y * 4 * E + x)] = 1.0f;
    std::vector<float> points(20), labels(10, 1.0f), box = {280.0f, 320.0f, 760.0f, 720.0f};
    for (auto & p : points) p = ud(rng);
    sa::Prompts p;
    p.B = 1;
    p.n_points = 10;
    p.points = points.data();
    p.labels = labels.data();
    p.boxes = box.data();

    sa::TrainConfig cfg;  // the paper's: DiceCE, Adam, lr 1e-4, weight decay 1e-4
    std::printf("%-8s %10s %s\n", "mode", "ms/step", "notes");

    {  // 1. the public trainer API (host round trip every step)
        sa::DecoderTrainer trainer(be, dec, cfg);
        for (int i = 0; i < 10; ++i) trainer.step(emb.data(), p, target.data());
        std::vector<double> t;
        float loss = 0.0f;
        for (int i = 0; i < steps; ++i) {
            const auto t0 = Clock::now();
            loss = trainer.step(emb.data(), p, target.data());
            t.push_back(sa::bench::seconds_since(t0));
        }
        std::printf("%-8s %10.3f loss %.4f after %d steps (uploads + 1 host sync per step)\n", "trainer",
                    median(t) * 1e3, loss, steps + 10);
    }

    // 2./3. the device part of the same step on fixed device inputs.
    sa::SamDecoderImpl & d = dec.impl();
    sa::decoder::DecoderGraph g(be, d.L, d.E, d.key_pe);
    d.load_inputs(g, emb.data(), true, p, true);
    const int64_t total = d.L.total, H16 = 16 * E * E;
    float * tgt = be.alloc((size_t) H16);
    be.upload(tgt, target.data(), (size_t) H16);
    float * grads = be.alloc((size_t) total);
    float * m = be.alloc((size_t) total);
    float * v = be.alloc((size_t) total);
    float * scalars = be.alloc(2);
    const int64_t pb = d.L.decoder_begin, pn = d.L.decoder_end - d.L.decoder_begin;
    auto fwd_bwd = [&] {
        g.forward(d.params, 0, 1);
        be.mask_loss({(int) sa::LossKind::DiceCE, g.masks(), tgt, scalars, g.dmasks_buffer(), 1, 1, H16, nullptr, d.L.T,
                      nullptr});
        be.fill(grads, 0.0f, (size_t) total);
        g.backward(d.params, grads, g.dmasks_buffer(), nullptr, false);
        be.sum_squares(grads, scalars + 1, total);
    };
    int64_t t_adam = 0;
    auto adam = [&] {
        ++t_adam;
        be.adam_step({d.params + pb, grads + pb, m + pb, v + pb, pn, cfg.lr, cfg.beta1, cfg.beta2, cfg.eps,
                      cfg.weight_decay, false, t_adam});
    };
    auto time_steps = [&](const std::function<void()> & step) {
        for (int i = 0; i < 10; ++i) step();
        be.synchronize();
        // Batches of 10 steps between syncs: per-step time without a host round trip per step.
        std::vector<double> t;
        for (int r = 0; r < std::max(1, steps / 10); ++r) {
            const auto t0 = Clock::now();
            for (int i = 0; i < 10; ++i) step();
            be.synchronize();
            t.push_back(sa::bench::seconds_since(t0) / 10.0);
        }
        return median(t);
    };
    const double eager = time_steps([&] {
        fwd_bwd();
        adam();
    });
    std::printf("%-8s %10.3f op by op, no host sync per step\n", "eager", eager * 1e3);

    sa::CudaGraph graph(be);
    graph.capture(fwd_bwd);
    const double graphed = time_steps([&] {
        graph.replay();
        adam();
    });
    float host[2];
    be.download(host, scalars, 2);
    std::printf("%-8s %10.3f %zu graph nodes + 1 Adam launch per step; loss %.4f, |grad|^2 %.4g\n", "graph",
                graphed * 1e3, graph.node_count(), host[0], host[1]);
    for (float * ptr : {tgt, grads, m, v, scalars}) be.free(ptr);
    return 0;
}

}  // namespace

#endif  // SA_USE_CUDA

SA_CUDA_BENCH_MAIN("bench-cuda-decoder")
