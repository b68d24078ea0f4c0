// SPDX-License-Identifier: Apache-2.0
// encoder_decoder_step (LoRA in the image encoder trained with the mask decoder) on the sam-tiny fixture:
//   * it is the composition of encoder forward, decoder step, embedding gradient, encoder backward and
//     the adapters' Adam step (bit for bit);
//   * saving and restoring the adapters' and the decoder's state resumes to the same bits;
//   * a non-finite loss leaves every parameter and optimiser state unchanged (SA_ERR_NUMERIC);
//   * make_trainable_encoder refuses unknown architectures and encoders without adapters.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/decoder-trainer.h"
#include "sa/encoder-decoder-step.h"
#include "sa/sam-decoder.h"
#include "sa/status.h"
#include "sa/trainable-encoder.h"
#include "testing.h"

namespace {

using Vec = std::vector<float>;
using satest::golden;

using Sample = satest::TrainCase;

using satest::numel;

// Encoder with rank-4 q/v adapters, decoder and trainer on one CPU backend.
struct Setup {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap w = satest::weight_map(satest::sam_tiny_weights());
    sa::WeightMap wd = satest::weight_map(satest::sam_tiny_weights(), "image_encoder.");
    std::unique_ptr<sa::TrainableEncoder> enc;
    std::unique_ptr<sa::SamDecoder> dec;
    std::unique_ptr<sa::DecoderTrainer> tr;
    Setup() {
        sa::TrainableEncoderOptions opt;
        opt.lora.rank = 4;
        opt.lora.seed = 3;
        opt.base_grads = false;
        enc = sa::make_trainable_encoder(*be, w, "vit", "image_encoder.", opt);
        dec = std::make_unique<sa::SamDecoder>(*be, wd, 256, 16);
        sa::TrainConfig cfg;
        cfg.embedding_grad = true;
        cfg.lr = 1e-3f;
        tr = std::make_unique<sa::DecoderTrainer>(*be, *dec, cfg);
    }
    // Every adapter and decoder parameter, and the adapters' moments, concatenated.
    Vec state() const {
        Vec out, t;
        for (const auto & n : enc->lora_names()) {
            const size_t k = (size_t) numel(enc->param_shape(n));
            t.resize(k);
            enc->get_param(n, t.data());
            out.insert(out.end(), t.begin(), t.end());
            Vec m(k), v(k);
            enc->get_lora_state(n, m.data(), v.data());
            out.insert(out.end(), m.begin(), m.end());
            out.insert(out.end(), v.begin(), v.end());
        }
        for (const auto & n : dec->param_names()) {
            t.resize((size_t) numel(dec->param_shape(n)));
            dec->get_param(n, t.data());
            out.insert(out.end(), t.begin(), t.end());
        }
        return out;
    }
};

SA_TEST(step_is_the_composition_of_its_parts) {
    Sample smp;
    Setup a, b;
    Vec emb((size_t) (256 * 16 * 16)), demb(emb.size());
    for (int step = 0; step < 2; ++step) {
        const float la = sa::encoder_decoder_step(*a.enc, *a.tr, smp.image(), smp.p, smp.target());
        b.enc->forward(smp.image(), 1, emb.data());
        const float lb = b.tr->step(emb.data(), smp.p, smp.target());
        b.tr->embedding_grad(demb.data());
        b.enc->backward(demb.data());
        b.enc->lora_adam_step(1e-3f, 0.9f, 0.999f, 1e-8f, 1e-4f, false);
        satest::expect(la == lb, "same loss at step " + std::to_string(step));
    }
    satest::expect(a.state() == b.state(), "same adapters, moments and decoder");
    satest::expect(a.enc->lora_step_count() == 2 && a.tr->step_count() == 2, "two steps counted");
}

SA_TEST(restored_state_resumes_to_the_same_bits) {
    Sample smp;
    Setup a;
    for (int step = 0; step < 3; ++step) sa::encoder_decoder_step(*a.enc, *a.tr, smp.image(), smp.p, smp.target());
    Setup b;
    for (int step = 0; step < 2; ++step) sa::encoder_decoder_step(*b.enc, *b.tr, smp.image(), smp.p, smp.target());
    Setup c;  // fresh objects that take b's state
    for (const auto & n : b.enc->lora_names()) {
        const size_t k = (size_t) numel(b.enc->param_shape(n));
        Vec p(k), m(k), v(k);
        b.enc->get_param(n, p.data());
        b.enc->get_lora_state(n, m.data(), v.data());
        c.enc->set_param(n, p.data());
        c.enc->set_lora_state(n, m.data(), v.data());
    }
    c.enc->set_lora_step_count(b.enc->lora_step_count());
    for (const auto & n : b.dec->param_names()) {
        Vec p((size_t) numel(b.dec->param_shape(n)));
        b.dec->get_param(n, p.data());
        c.dec->set_param(n, p.data());
    }
    for (const auto & n : b.tr->trained_params()) {
        const size_t k = (size_t) numel(b.dec->param_shape(n));
        Vec m(k), v(k);
        b.tr->get_state(n, m.data(), v.data());
        c.tr->set_state(n, m.data(), v.data());
    }
    c.tr->set_step_count(b.tr->step_count());
    sa::encoder_decoder_step(*c.enc, *c.tr, smp.image(), smp.p, smp.target());
    satest::expect(a.state() == c.state(), "two steps, restore, one step == three steps");
}

SA_TEST(non_finite_loss_changes_nothing) {
    Sample smp;
    Setup a;
    sa::encoder_decoder_step(*a.enc, *a.tr, smp.image(), smp.p, smp.target());
    const Vec before = a.state();
    Vec image(smp.image(), smp.image() + 3 * 64 * 64);
    image[5] = NAN;
    bool thrown = false;
    try {
        sa::encoder_decoder_step(*a.enc, *a.tr, image.data(), smp.p, smp.target());
    } catch (const sa::Error & e) {
        thrown = e.status() == SA_ERR_NUMERIC;
    }
    satest::expect(thrown, "SA_ERR_NUMERIC");
    satest::expect(a.state() == before, "parameters and moments unchanged");
    satest::expect(a.enc->lora_step_count() == 1 && a.tr->step_count() == 1, "step counts unchanged");
    // and the next good step runs as if the failed one never happened
    Setup b;
    for (int step = 0; step < 2; ++step) sa::encoder_decoder_step(*b.enc, *b.tr, smp.image(), smp.p, smp.target());
    sa::encoder_decoder_step(*a.enc, *a.tr, smp.image(), smp.p, smp.target());
    satest::expect(a.state() == b.state(), "a failed step leaves no trace");
}

SA_TEST(refusals) {
    auto status_of = [](auto && f) {
        try {
            f();
        } catch (const sa::Error & e) {
            return (int) e.status();
        }
        return 0;
    };
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap w = satest::weight_map(satest::sam_tiny_weights());
    satest::expect(status_of([&] { sa::make_trainable_encoder(*be, w, "resnet"); }) == SA_ERR_INVALID_ARG,
                   "unknown architecture");
    Setup s;
    sa::WeightMap w2 = satest::weight_map(satest::sam_tiny_weights());
    auto plain = sa::make_trainable_encoder(*be, w2, "vit", "image_encoder.", {});
    Sample smp;
    satest::expect(status_of([&] { sa::encoder_decoder_step(*plain, *s.tr, smp.image(), smp.p, smp.target()); }) ==
                       SA_ERR_INVALID_ARG,
                   "an encoder without adapters");
    sa::DecoderTrainer no_grad(*s.be, *s.dec, sa::TrainConfig{});
    satest::expect(status_of([&] { sa::encoder_decoder_step(*s.enc, no_grad, smp.image(), smp.p, smp.target()); }) ==
                       SA_ERR_INVALID_ARG,
                   "a trainer without embedding_grad");
    satest::expect(status_of([&] { s.tr->apply_step(); }) == SA_ERR_INVALID_ARG, "apply_step without loss_and_grad");
}

}  // namespace

SA_TEST_MAIN()
