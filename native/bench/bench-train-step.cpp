// SPDX-License-Identifier: Apache-2.0
// Mask-decoder fine-tuning step on the CPU backend, the paper's setting: batch 1, 10 positive points +
// the tight box, 64 x 64 image embedding (SAM ViT-B at 1024), DiceCE loss, Adam; random weights with
// the official decoder shapes (dim 256, depth 2, 8 heads, MLP 2048, 4 mask tokens).
//
//   bench-train-step [--threads N] [--steps N] [--products fp32|bf16] [--profile | --profile-forward]
//
// --products bf16 runs the decoder's products in bf16 (make_cpu_backend's `products`: AMX or VDPBF16PS).
// Prints the median wall-clock and process CPU time (user + sys, all threads) per train step and per
// decoder forward pass (predict_all, 4 masks; predict of mask token 0 alone, as evaluation runs it)
// over --steps runs after warm-up. --profile also runs the
// train steps through a timing decorator of the backend and prints, per op and shape, the mean wall
// and CPU milliseconds per step (each op call is timed on its own, so the total slightly exceeds the
// plain step time), with the GFLOP/s of the products and, at the end, the step's GFLOP, its rate and
// the GEMM kernel's peak measured in the same run; --profile-forward does the same for the forward pass.
#include <ctime>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench-common.h"
#include "sa/backend.h"
#include "sa/decoder-trainer.h"
#include "sa/gemm.h"
#include "sa/isa.h"
#include "sa/sam-decoder.h"
#include "sa/threadpool.h"
#include "sa/weights.h"

namespace {

using sa::bench::Clock;
using sa::bench::median;

// Process CPU time (user + sys over all threads), ms.
double cpu_ms() {
    return 1e3 * sa::bench::process_cpu_seconds();
}

double wall_ms() {
    return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

std::string dims(std::initializer_list<int64_t> d) {
    std::string s;
    for (int64_t v : d) s += (s.empty() ? "" : "x") + std::to_string(v);
    return s;
}

// A Backend decorator that forwards every op to `inner` and accumulates its wall and CPU time under
// "op shape". Memory management and transfers are forwarded untimed.
class ProfilingBackend final : public sa::Backend {
  public:
    explicit ProfilingBackend(sa::Backend & inner) : in_(inner) {}

    struct Entry {
        double wall = 0, cpu = 0, flop = 0;  // flop: 2 per multiply-add of the op's products
        int64_t calls = 0;
    };
    const std::map<std::string, Entry> & entries() const { return entries_; }
    void reset() { entries_.clear(); }

    sa::DeviceKind kind() const override { return in_.kind(); }
    std::string name() const override { return in_.name(); }
    float * alloc(size_t n) override { return in_.alloc(n); }
    void free(float * p) override { in_.free(p); }
    void upload(float * d, const float * s, size_t n) override { in_.upload(d, s, n); }
    void download(float * d, const float * s, size_t n) override { in_.download(d, s, n); }
    void synchronize() override { in_.synchronize(); }
    void copy(float * d, const float * s, size_t n) override {
        timed("copy " + dims({(int64_t) n}), [&] { in_.copy(d, s, n); });
    }
    void fill(float * d, float v, size_t n) override {
        timed("fill " + dims({(int64_t) n}), [&] { in_.fill(d, v, n); });
    }
    bool supports(sa::Op op) const override { return in_.supports(op); }
    void gemm_impl(const sa::GemmArgs & a) override {
        timed(
            gemm_key("gemm", a.trans_a, a.trans_b, a.M, a.N, a.K, 1), [&] { in_.gemm(a); }, 2.0 * a.M * a.N * a.K);
    }
    void gemm_batched_impl(const sa::GemmArgs & a) override {
        timed(
            gemm_key("gemm_batched", a.trans_a, a.trans_b, a.M, a.N, a.K, a.batch), [&] { in_.gemm_batched(a); },
            2.0 * a.M * a.N * a.K * a.batch);
    }
    void add(const float * a, const float * b, float * y, int64_t n) override {
        timed("add " + dims({n}), [&] { in_.add(a, b, y, n); });
    }
    void add_bias(const float * x, const float * b, float * y, int64_t r, int64_t c) override {
        timed("add_bias " + dims({r, c}), [&] { in_.add_bias(x, b, y, r, c); });
    }
    void scale(const float * x, float s, float * y, int64_t n) override {
        timed("scale " + dims({n}), [&] { in_.scale(x, s, y, n); });
    }
    void gelu(const float * x, float * y, int64_t n) override {
        timed("gelu " + dims({n}), [&] { in_.gelu(x, y, n); });
    }
    void gelu_backward(const float * x, const float * dy, float * dx, int64_t n) override {
        timed("gelu_backward " + dims({n}), [&] { in_.gelu_backward(x, dy, dx, n); });
    }
    void relu(const float * x, float * y, int64_t n) override {
        timed("relu " + dims({n}), [&] { in_.relu(x, y, n); });
    }
    void relu_backward(const float * y, const float * dy, float * dx, int64_t n) override {
        timed("relu_backward " + dims({n}), [&] { in_.relu_backward(y, dy, dx, n); });
    }
    void linear(const float * x, const float * W, const float * b, float * y, int64_t M, int64_t K,
                int64_t N) override {
        timed(
            "linear " + dims({M, K, N}), [&] { in_.linear(x, W, b, y, M, K, N); }, 2.0 * M * K * N);
    }
    void linear_backward_impl(const sa::LinearBackwardArgs & a) override {
        timed(
            "linear_backward " + dims({a.M, a.K, a.N}) + (a.dx ? "" : " (no dx)"), [&] { in_.linear_backward(a); },
            2.0 * a.M * a.K * a.N * ((a.dx ? 1 : 0) + (a.dW ? 1 : 0)));
    }
    void layernorm_impl(const sa::LayerNormArgs & a) override {
        timed("layernorm " + dims({a.rows, a.C}), [&] { in_.layernorm(a); });
    }
    void layernorm_backward_impl(const sa::LayerNormBackwardArgs & a) override {
        timed("layernorm_backward " + dims({a.rows, a.C}), [&] { in_.layernorm_backward(a); });
    }
    void layernorm_gelu_impl(const sa::LayerNormGeluArgs & a) override {
        timed("layernorm_gelu " + dims({a.rows, a.C}), [&] { in_.layernorm_gelu(a); });
    }
    void layernorm_gelu_backward_impl(const sa::LayerNormGeluBackwardArgs & a) override {
        timed("layernorm_gelu_backward " + dims({a.rows, a.C}), [&] { in_.layernorm_gelu_backward(a); });
    }
    void layernorm_add_impl(const sa::LayerNormAddArgs & a) override {
        timed("layernorm_add " + dims({a.ln.rows, a.ln.C}), [&] { in_.layernorm_add(a); });
    }
    void keys_from_embedding_impl(const sa::KeysFromEmbeddingArgs & a) override {
        timed("keys_from_embedding " + dims({a.B, a.C, a.HW}), [&] { in_.keys_from_embedding(a); });
    }
    void layernorm2d_impl(const sa::LayerNorm2dArgs & a) override {
        timed("layernorm2d " + dims({a.B, a.C, a.HW}), [&] { in_.layernorm2d(a); });
    }
    void layernorm2d_backward_impl(const sa::LayerNorm2dBackwardArgs & a) override {
        timed("layernorm2d_backward " + dims({a.B, a.C, a.HW}), [&] { in_.layernorm2d_backward(a); });
    }
    void conv2d_impl(const sa::Conv2dArgs & a) override {
        timed("conv2d " + dims({a.B, a.C, a.H, a.Wd, a.O, a.kh}), [&] { in_.conv2d(a); });
    }
    void conv_transpose_k2s2_impl(const sa::ConvTransposeArgs & a) override {
        timed("conv_transpose_k2s2 " + dims({a.B, a.C, a.H, a.Wd, a.O}), [&] { in_.conv_transpose_k2s2(a); });
    }
    void conv_transpose_k2s2_backward_impl(const sa::ConvTransposeBackwardArgs & a) override {
        timed("conv_transpose_k2s2_backward " + dims({a.B, a.C, a.H, a.Wd, a.O}),
              [&] { in_.conv_transpose_k2s2_backward(a); });
    }
    void transpose_last2(const float * x, float * y, int64_t B, int64_t R, int64_t C) override {
        timed("transpose_last2 " + dims({B, R, C}), [&] { in_.transpose_last2(x, y, B, R, C); });
    }
    void attention_vit_impl(const sa::AttentionVitArgs & a) override {
        timed("attention_vit " + dims({a.B, a.H, a.W, a.nh, a.hd}), [&] { in_.attention_vit(a); });
    }
    void window_partition_impl(const sa::WindowArgs & a) override {
        timed("window_partition " + dims({a.B, a.H, a.W, a.C, a.win}), [&] { in_.window_partition(a); });
    }
    void window_unpartition_impl(const sa::WindowArgs & a) override {
        timed("window_unpartition " + dims({a.B, a.H, a.W, a.C, a.win}), [&] { in_.window_unpartition(a); });
    }
    void attention_tinyvit_impl(const sa::AttentionTinyVitArgs & a) override {
        timed("attention_tinyvit " + dims({a.B, a.H, a.W, a.win, a.nh, a.kd, a.vd}), [&] { in_.attention_tinyvit(a); });
    }
    void tinyvit_mbconv_impl(const sa::TinyVitMbconvArgs & a) override {
        timed("tinyvit_mbconv " + dims({a.B, a.C, a.H, a.W, a.hidden}), [&] { in_.tinyvit_mbconv(a); });
    }
    void tinyvit_patch_embed_impl(const sa::TinyVitPatchEmbedArgs & a) override {
        timed("tinyvit_patch_embed " + dims({a.B, a.Cin, a.H, a.W, a.C0, a.C1}), [&] { in_.tinyvit_patch_embed(a); });
    }
    void tinyvit_mlp_impl(const sa::TinyVitMlpArgs & a) override {
        timed("tinyvit_mlp " + dims({a.M, a.C, a.hidden}), [&] { in_.tinyvit_mlp(a); });
    }
    void attention_impl(const sa::AttentionArgs & a) override {
        timed(
            "attention " + dims({a.B, a.Nq, a.Nk, a.nh, a.d}), [&] { in_.attention(a); },
            4.0 * a.B * a.nh * a.Nq * a.Nk * a.d);
    }
    void attention_backward_impl(const sa::AttentionBackwardArgs & a) override {
        timed(
            "attention_backward " + dims({a.B, a.Nq, a.Nk, a.nh, a.d}), [&] { in_.attention_backward(a); },
            2.0 * a.B * a.nh * a.Nq * a.Nk * a.d * (1 + (a.dq ? 1 : 0) + (a.dk ? 1 : 0) + (a.dv ? 1 : 0)));
    }
    void attention_backward_kv_acc_impl(const sa::AttentionKvAccArgs & a) override {
        timed(
            "attention_backward_kv_acc " + dims({a.B, a.Nq, a.Nk, a.nh, a.d}),
            [&] { in_.attention_backward_kv_acc(a); }, 2.0 * a.B * a.nh * a.Nq * a.Nk * a.d * (3 + (a.dq ? 1 : 0)));
    }
    void softmax_rows(const float * x, float * y, int64_t rows, int64_t n) override {
        timed("softmax_rows " + dims({rows, n}), [&] { in_.softmax_rows(x, y, rows, n); });
    }
    void softmax_rows_backward(const float * y, const float * dy, float * dx, int64_t rows, int64_t n) override {
        timed("softmax_rows_backward " + dims({rows, n}), [&] { in_.softmax_rows_backward(y, dy, dx, rows, n); });
    }
    void mask_head_impl(const sa::MaskHeadArgs & a) override {
        timed(
            "mask_head " + dims({a.B, a.M, a.E, a.Cf}), [&] { in_.mask_head(a); },
            2.0 * a.B * a.M * 16 * a.E * a.E * a.Cf);
    }
    void mask_head_backward_impl(const sa::MaskHeadBackwardArgs & a) override {
        timed(
            "mask_head_backward " + dims({a.B, a.M, a.E, a.Cf}), [&] { in_.mask_head_backward(a); },
            2.0 * a.B * a.M * 16 * a.E * a.E * a.Cf * ((a.dfeat ? 1 : 0) + (a.dhyper ? 1 : 0)));
    }
    void mask_loss_impl(const sa::MaskLossArgs & a) override {
        timed("mask_loss " + dims({a.B, a.M, a.HW}), [&] { in_.mask_loss(a); });
    }
    void adam_step_impl(const sa::AdamArgs & a) override {
        timed("adam_step", [&] { in_.adam_step(a); });
    }
    void adam_step_zero_grad_impl(const sa::AdamArgs & a) override {
        timed("adam_step_zero_grad", [&] { in_.adam_step_zero_grad(a); });
    }
    void sum_squares(const float * x, float * out, int64_t n) override {
        timed("sum_squares " + dims({n}), [&] { in_.sum_squares(x, out, n); });
    }

  private:
    static std::string gemm_key(const char * op, bool ta, bool tb, int64_t M, int64_t N, int64_t K, int64_t batch) {
        return std::string(op) + (ta ? " T" : " N") + (tb ? "T " : "N ") + dims({M, N, K}) +
               (batch > 1 ? " x" + std::to_string(batch) : "");
    }
    template <class F>
    void timed(const std::string & key, F && f, double flop = 0) {
        const double w0 = wall_ms(), c0 = cpu_ms();
        f();
        Entry & e = entries_[key];
        e.cpu += cpu_ms() - c0;
        e.wall += wall_ms() - w0;
        e.flop += flop;
        ++e.calls;
    }

    sa::Backend & in_;
    std::map<std::string, Entry> entries_;
};

// The bench problem: embedding, target disc and prompts (10 points inside the disc + its box).
struct Problem {
    static constexpr int64_t S = 1024, E = 64, C = 256, HW = E * E;
    std::vector<float> emb, target, pts, labels, box;
    sa::Prompts p;
    Problem() : emb((size_t) (C * HW)), target(16 * HW, 0.0f), labels(10, 1.0f) {
        std::mt19937 rng(11);
        std::normal_distribution<float> nd(0.0f, 1.0f);
        for (auto & x : emb) x = nd(rng);
        for (int y = 0; y < 256; ++y)
            for (int x = 0; x < 256; ++x)
                target[(size_t) (y * 256 + x)] = (x - 120) * (x - 120) + (y - 130) * (y - 130) < 50 * 50;
        box = {70 * 4.0f, 80 * 4.0f, 170 * 4.0f, 180 * 4.0f};
        for (int i = 0; i < 10; ++i) {
            pts.push_back((float) (120 + 30 * std::cos(i)) * 4);
            pts.push_back((float) (130 + 30 * std::sin(i)) * 4);
        }
        p.n_points = 10;
        p.points = pts.data();
        p.labels = labels.data();
        p.boxes = box.data();
    }
};

struct Timing {
    double wall, cpu;
};

// Median wall and CPU ms of `steps` calls of f after `warmup` calls.
template <class F>
Timing measure(int warmup, int steps, F && f) {
    for (int i = 0; i < warmup; ++i) f();
    std::vector<double> w, c;
    for (int i = 0; i < steps; ++i) {
        const double w0 = wall_ms(), c0 = cpu_ms();
        f();
        c.push_back(cpu_ms() - c0);
        w.push_back(wall_ms() - w0);
    }
    return {median(w), median(c)};
}

// measure() for two functions called in turn: their medians over `steps` calls each.
template <class F, class G>
std::pair<Timing, Timing> measure_alternating(int warmup, int steps, F && f, G && g) {
    for (int i = 0; i < warmup; ++i) {
        f();
        g();
    }
    std::vector<double> w[2], c[2];
    for (int i = 0; i < steps; ++i)
        for (int k = 0; k < 2; ++k) {
            const double w0 = wall_ms(), c0 = cpu_ms();
            if (k == 0) {
                f();
            } else {
                g();
            }
            c[k].push_back(cpu_ms() - c0);
            w[k].push_back(wall_ms() - w0);
        }
    return {{median(w[0]), median(c[0])}, {median(w[1]), median(c[1])}};
}

void profile(const sa::WeightMap & wm0, const Problem & pb, int steps, int threads, bool forward,
             sa::Precision products) {
    auto cpu = sa::make_cpu_backend(sa::Precision::fp32, threads, products);
    ProfilingBackend be(*cpu);
    sa::WeightMap wm = wm0;
    sa::SamDecoder dec(be, wm, Problem::S, Problem::E);
    sa::DecoderTrainer tr(be, dec, sa::TrainConfig{});
    std::vector<float> low((size_t) (4 * 16 * Problem::HW)), iou(4);
    auto run = [&] {
        if (forward) {
            dec.predict_all(pb.emb.data(), false, pb.p, low.data(), iou.data());
        } else {
            tr.step(pb.emb.data(), pb.p, pb.target.data());
        }
    };
    for (int i = 0; i < 2; ++i) run();
    be.reset();
    const double w0 = wall_ms(), c0 = cpu_ms();
    for (int i = 0; i < steps; ++i) run();
    const double wall = (wall_ms() - w0) / steps, cpu_total = (cpu_ms() - c0) / steps;
    std::vector<std::pair<std::string, ProfilingBackend::Entry>> rows(be.entries().begin(), be.entries().end());
    std::sort(rows.begin(), rows.end(), [](const auto & a, const auto & b) { return a.second.cpu > b.second.cpu; });
    sa::ThreadPool pool(cpu->threads());
    const double peak = sa::gemm_kernel_peak_gflops(pool, 0.5);
    std::printf("profile (mean per %s over %d runs; wall %.2f ms, cpu %.2f ms):\n",
                forward ? "forward pass (4 masks)" : "train step", steps, wall, cpu_total);
    std::printf("  %9s %9s %6s %8s  %s\n", "wall ms", "cpu ms", "calls", "GFLOP/s", "op");
    double sw = 0, sc = 0, flop = 0;
    for (const auto & r : rows) {
        sw += r.second.wall / steps;
        sc += r.second.cpu / steps;
        flop += r.second.flop / steps;
        char rate[16] = "";
        if (r.second.flop > 0) std::snprintf(rate, sizeof rate, "%.1f", r.second.flop / r.second.wall / 1e6);
        std::printf("  %9.3f %9.3f %6.1f %8s  %s\n", r.second.wall / steps, r.second.cpu / steps,
                    (double) r.second.calls / steps, rate, r.first.c_str());
    }
    std::printf("  %9.3f %9.3f %6s %8s  (sum over ops)\n", sw, sc, "", "");
    std::printf(
        "products: %.2f GFLOP per %s, %.1f GFLOP/s over its wall time; GEMM kernel peak in the same run "
        "%.1f GFLOP/s (%d threads): %.0f%%\n",
        flop / 1e9, forward ? "pass" : "step", flop / wall / 1e6, peak, pool.size(), 100.0 * flop / wall / 1e6 / peak);
}

}  // namespace

int main(int argc, char ** argv) {
    int threads = 0, steps = 20;
    bool prof = false, prof_forward = false;
    sa::Precision products = sa::Precision::fp32;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--profile")) {
            prof = true;
        } else if (!std::strcmp(argv[i], "--profile-forward")) {
            prof = prof_forward = true;
        } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
        } else if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) {
            steps = std::max(1, std::atoi(argv[++i]));
        } else if (!std::strcmp(argv[i], "--products") && i + 1 < argc &&
                   (!std::strcmp(argv[i + 1], "fp32") || !std::strcmp(argv[i + 1], "bf16"))) {
            products = !std::strcmp(argv[++i], "bf16") ? sa::Precision::bf16 : sa::Precision::fp32;
        } else {
            std::fprintf(stderr,
                         "usage: bench-train-step [--threads N] [--steps N] [--products fp32|bf16] [--profile | "
                         "--profile-forward]\n");
            return 2;
        }
    }
    try {
        sa::bench::RandomDecoderWeights rw(7);
        sa::WeightMap wm = rw.map();
        const Problem pb;
        if (prof) {
            profile(wm, pb, steps, threads, prof_forward, products);
            return 0;
        }
        auto be = sa::make_cpu_backend(sa::Precision::fp32, threads, products);
        sa::SamDecoder dec(*be, wm, Problem::S, Problem::E);
        sa::DecoderTrainer tr(*be, dec, sa::TrainConfig{});
        float loss = 0;
        const Timing step = measure(3, steps, [&] { loss = tr.step(pb.emb.data(), pb.p, pb.target.data()); });

        std::vector<float> low((size_t) (4 * 16 * Problem::HW)), iou(4);
        // The two forward passes alternate call by call, so that both see the same machine.
        const auto [fwd, fwd1] = measure_alternating(
            2, steps, [&] { dec.predict_all(pb.emb.data(), false, pb.p, low.data(), iou.data()); },
            [&] { dec.predict(pb.emb.data(), false, pb.p, 0, 1, low.data(), iou.data()); });
        std::printf(
            "decoder train step (batch 1, 10 points + box, 64x64 embedding, dicece, adam),\n"
            "cpu level %s, %d threads, %s products, median of %d (wall ms / process cpu ms):\n",
            sa::isa_name(sa::cpu_isa()), be->threads(), sa::precision_name(products), steps);
        std::printf("  train step          %8.2f / %8.2f   (last loss %.4f)\n", step.wall, step.cpu, loss);
        std::printf("  forward (4 masks)   %8.2f / %8.2f\n", fwd.wall, fwd.cpu);
        std::printf("  forward (mask 0)    %8.2f / %8.2f\n", fwd1.wall, fwd1.cpu);
        return 0;
    } catch (const std::exception & e) {
        std::fprintf(stderr, "bench-train-step: %s\n", e.what());
        return 1;
    }
}
