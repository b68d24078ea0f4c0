// SPDX-License-Identifier: Apache-2.0
// The mask decoder's CPU ops one at a time, at the shapes of the paper's train step and forward pass
// (64 x 64 embedding, dim 256, 8 heads, 17 tokens), with the GEMM micro-kernel's peak measured in the
// same run as the anchor:
//
//   bench-decoder-ops [--threads N] [--repeats N] [--filter TEXT] [--products fp32|bf16]
//
// --products bf16: the backend's decoder products in bf16 (AMX, make_cpu_backend's `products`).
// Prints, per op and shape, the median wall time of --repeats calls (after two warm-up calls) on
// operands that stay in the caches between calls, and for the products their GFLOP/s and share of the
// peak. The train step's profile (bench-train-step --profile) shows the same ops with cold operands;
// this bench isolates the kernels, so that two builds can be compared op by op.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench-common.h"
#include "core/ops/compositions.h"
#include "sa/backend.h"
#include "sa/gemm.h"
#include "sa/isa.h"
#include "sa/losses.h"
#include "sa/threadpool.h"

namespace {

using sa::bench::Clock;

struct Row {
    std::string name;
    double flop;  // 0: not a product
    std::function<void()> run;
};

}  // namespace

int main(int argc, char ** argv) {
    int threads = 0, repeats = 21;
    std::string filter;
    sa::Precision products = sa::Precision::fp32;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
        } else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) {
            repeats = std::max(1, std::atoi(argv[++i]));
        } else if (!std::strcmp(argv[i], "--filter") && i + 1 < argc) {
            filter = argv[++i];
        } else if (!std::strcmp(argv[i], "--products") && i + 1 < argc &&
                   (!std::strcmp(argv[i + 1], "fp32") || !std::strcmp(argv[i + 1], "bf16"))) {
            products = !std::strcmp(argv[++i], "bf16") ? sa::Precision::bf16 : sa::Precision::fp32;
        } else {
            std::fprintf(stderr,
                         "usage: bench-decoder-ops [--threads N] [--repeats N] [--filter TEXT] [--products "
                         "fp32|bf16]\n");
            return 2;
        }
    }
    try {
        auto be = sa::make_cpu_backend(sa::Precision::fp32, threads, products);
        sa::ThreadPool pool(be->threads());
        const double peak = sa::gemm_kernel_peak_gflops(pool, 0.5);
        const int64_t HW = 4096, C = 256, Nt = 17, nh = 8, F = nh * Nt, U1 = 64, U2 = 32;
        using sa::bench::randn;
        // Image-sized operands and scratch, shared by the rows below.
        std::vector<float> img = randn((size_t) (HW * C), 1, 1.0f), img2 = randn((size_t) (HW * C), 2, 1.0f);
        std::vector<float> dimg((size_t) (HW * C)), scr((size_t) (2 * HW * C));
        std::vector<float> q = randn((size_t) (F * C), 3, 0.05f), dq((size_t) (F * C)), o((size_t) (F * C));
        std::vector<float> dout = randn((size_t) (F * C), 4, 1.0f), probs((size_t) (F * HW));
        std::vector<float> logits = randn((size_t) (HW * F), 5, 3.0f), p((size_t) (HW * F)), dp = logits;
        std::vector<float> dlog((size_t) (HW * F));
        std::vector<float> y2 = randn((size_t) (16 * HW * 4 * U2), 6, 1.0f), dy2(y2.size());
        std::vector<float> hyper = randn((size_t) (4 * U2), 7, 0.2f), dhyper(hyper.size());
        std::vector<float> masks((size_t) (4 * 16 * HW)), target((size_t) (16 * HW)), dmasks(masks.size());
        for (size_t i = 0; i < target.size(); ++i) target[i] = (i / 97) % 3 == 0 ? 1.0f : 0.0f;
        const int64_t nparam = 4064816;
        std::vector<float> w = randn((size_t) nparam, 8, 0.02f), g = randn((size_t) nparam, 9, 0.01f);
        std::vector<float> m((size_t) nparam), v((size_t) nparam), ss(1);
        std::vector<float> x1 = randn((size_t) C, 10, 1.0f), W1 = randn((size_t) (C * C), 11, 0.05f), b1((size_t) C),
                           y1((size_t) C);
        std::vector<float> u = randn((size_t) (4 * HW * U1), 12, 1.0f), du((size_t) (4 * HW * U1));
        std::vector<float> Wu = randn((size_t) (4 * U2 * U1), 13, 0.05f), dWu(Wu.size()), dbu((size_t) (4 * U2));
        std::vector<float> dyu = randn((size_t) (4 * HW * 4 * U2), 14, 1.0f);

        std::vector<Row> rows;
        for (int64_t nq : {F, (int64_t) 40, (int64_t) 16}) {
            char shape[48];
            std::snprintf(shape, sizeof shape, " %lldx%lldx%lld", (long long) nq, (long long) HW, (long long) C);
            const std::string s = shape;
            const double f = 2.0 * (double) nq * (double) HW * (double) C;
            rows.push_back(
                {std::string("attention") + s, 2 * f, [&, nq] {
                     be->attention({q.data(), img.data(), img2.data(), o.data(), probs.data(), 1, nq, HW, 1, C});
                 }});
            rows.push_back({std::string("attention_backward (dq)") + s, 2 * f, [&, nq] {
                                be->attention_backward({q.data(), img.data(), img2.data(), probs.data(), dout.data(),
                                                        dq.data(), nullptr, nullptr, 1, nq, HW, 1, C});
                            }});
            rows.push_back({std::string("attention_backward_kv_acc") + s, 4 * f, [&, nq] {
                                be->attention_backward_kv_acc({q.data(), img.data(), img2.data(), probs.data(),
                                                               dout.data(), dq.data(), dimg.data(), scr.data(), 1, nq,
                                                               HW, 1, C});
                            }});
        }
        rows.push_back({"softmax_rows 32768x17", 0, [&] { be->softmax_rows(logits.data(), p.data(), HW * nh, Nt); }});
        rows.push_back({"softmax_rows_backward 32768x17", 0,
                        [&] { be->softmax_rows_backward(p.data(), dp.data(), dlog.data(), HW * nh, Nt); }});
        rows.push_back({"linear 1x256x256", 2.0 * C * C,
                        [&] { be->linear(x1.data(), W1.data(), b1.data(), y1.data(), 1, C, C); }});
        rows.push_back({"linear_backward 16384x64x128", 4.0 * 4 * HW * U1 * 4 * U2, [&] {
                            be->linear_backward({u.data(), Wu.data(), dyu.data(), du.data(), dWu.data(), dbu.data(),
                                                 4 * HW, U1, 4 * U2});
                        }});
        // The token MLP (17 tokens, 256 -> 2048 -> 256): products with few rows and a large weight.
        const int64_t Hm = 2048;
        std::vector<float> xt = randn((size_t) (Nt * C), 16, 1.0f), ht((size_t) (Nt * Hm)), dht = ht;
        std::vector<float> Wm = randn((size_t) (Hm * C), 17, 0.05f), dWm(Wm.size()), bm((size_t) Hm), dbm = bm;
        std::vector<float> dxt((size_t) (Nt * C));
        // x W^T with W as [2048, 256] (first layer) and as [256, 2048] (second layer).
        rows.push_back({"linear 17x256x2048", 2.0 * Nt * Hm * C,
                        [&] { be->linear(xt.data(), Wm.data(), bm.data(), ht.data(), Nt, C, Hm); }});
        rows.push_back({"linear 17x2048x256", 2.0 * Nt * Hm * C,
                        [&] { be->linear(ht.data(), Wm.data(), bm.data(), dxt.data(), Nt, Hm, C); }});
        rows.push_back(
            {"linear_backward 17x256x2048", 4.0 * Nt * Hm * C, [&] {
                 be->linear_backward({xt.data(), Wm.data(), dht.data(), dxt.data(), dWm.data(), dbm.data(), Nt, C, Hm});
             }});
        rows.push_back(
            {"linear_backward 17x2048x256", 4.0 * Nt * Hm * C, [&] {
                 be->linear_backward({ht.data(), Wm.data(), xt.data(), dht.data(), dWm.data(), dbm.data(), Nt, Hm, C});
             }});
        std::vector<float> dW1((size_t) (C * C)), db1((size_t) C);
        rows.push_back({"linear_backward 4096x256x256", 4.0 * HW * C * C, [&] {
                            be->linear_backward(
                                {img.data(), W1.data(), img2.data(), dimg.data(), dW1.data(), db1.data(), HW, C, C});
                        }});
        // The upscaling's LayerNorm2d + GELU over 4 HW channels-last rows of 64: fused and composed.
        const int64_t R1 = 4 * HW;
        std::vector<float> lg((size_t) U1), lb((size_t) U1), lm((size_t) R1), lr((size_t) R1);
        std::vector<float> ly((size_t) (R1 * U1)), lgo((size_t) (R1 * U1)), ldg = randn((size_t) (R1 * U1), 15, 1.0f);
        std::vector<float> ldx((size_t) (R1 * U1)), lscr((size_t) (R1 * U1)), ldgam((size_t) U1), ldbet((size_t) U1);
        for (int64_t c = 0; c < U1; ++c) lg[(size_t) c] = 1.0f + 0.01f * (float) c;
        const sa::LayerNormGeluArgs lnf{u.data(),  lg.data(), lb.data(), lgo.data(), lm.data(),
                                        lr.data(), ly.data(), R1,        U1,         1e-6f};
        const sa::LayerNormGeluBackwardArgs lnb{u.data(),    lg.data(),  lb.data(),  lm.data(),    lr.data(),
                                                ly.data(),   ldg.data(), ldx.data(), ldgam.data(), ldbet.data(),
                                                lscr.data(), R1,         U1};
        rows.push_back({"layernorm_gelu 16384x64", 0, [&] { be->layernorm_gelu(lnf); }});
        rows.push_back({"layernorm + gelu (composed) 16384x64", 0, [&] { sa::compose::layernorm_gelu(*be, lnf); }});
        rows.push_back({"layernorm_gelu_backward 16384x64", 0, [&] { be->layernorm_gelu_backward(lnb); }});
        rows.push_back({"gelu_backward + layernorm_backward (composed) 16384x64", 0,
                        [&] { sa::compose::layernorm_gelu_backward(*be, lnb); }});
        rows.push_back({"mask_head 1 mask", 0, [&] {
                            be->mask_head({y2.data(), hyper.data(), masks.data(), 1, 1, 64, U2});
                        }});
        rows.push_back({"mask_head_backward 1 mask", 0, [&] {
                            be->mask_head_backward(
                                {y2.data(), hyper.data(), masks.data(), dy2.data(), dhyper.data(), 1, 1, 64, U2});
                        }});
        rows.push_back({"mask_loss dicece 1x1x65536", 0, [&] {
                            be->mask_loss({(int) sa::LossKind::DiceCE, masks.data(), target.data(), ss.data(),
                                           dmasks.data(), 1, 1, 16 * HW, nullptr, 1, nullptr});
                        }});
        rows.push_back({"sum_squares 4064816", 0, [&] { be->sum_squares(g.data(), ss.data(), nparam); }});
        rows.push_back({"adam_step_zero_grad 4064816", 0, [&] {
                            be->adam_step_zero_grad({w.data(), g.data(), m.data(), v.data(), nparam, 1e-6f, 0.9f,
                                                     0.999f, 1e-8f, 0.0f, false, 1});
                        }});

        std::printf("decoder ops on the CPU, level %s, %d threads, median of %d calls; GEMM kernel peak %.1f GFLOP/s\n",
                    sa::isa_name(sa::cpu_isa()), be->threads(), repeats, peak);
        std::printf("  %10s %9s %7s  %s\n", "ms", "GFLOP/s", "% peak", "op");
        for (const Row & r : rows) {
            if (!filter.empty() && r.name.find(filter) == std::string::npos) continue;
            r.run();
            r.run();
            std::vector<double> t;
            for (int i = 0; i < repeats; ++i) {
                const auto t0 = Clock::now();
                r.run();
                t.push_back(sa::bench::seconds_since(t0));
            }
            const double sec = sa::bench::median(t);
            if (r.flop > 0) {
                const double gf = r.flop / sec / 1e9;
                std::printf("  %10.3f %9.1f %6.1f%%  %s\n", 1e3 * sec, gf, 100.0 * gf / peak, r.name.c_str());
            } else {
                std::printf("  %10.3f %9s %7s  %s\n", 1e3 * sec, "", "", r.name.c_str());
            }
        }
        return 0;
    } catch (const std::exception & e) {
        std::fprintf(stderr, "bench-decoder-ops: %s\n", e.what());
        return 1;
    }
}
