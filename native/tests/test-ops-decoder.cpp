// SPDX-License-Identifier: Apache-2.0
// The mask decoder's CPU ops: forward passes against naive double-precision references, backward
// passes against central finite differences of a random linear functional L = sum(w * y).
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/ops/compositions.h"
#include "sa/backend.h"
#include "sa/gemm.h"
#include "sa/losses.h"
#include "sa/status.h"
#include "sa/threadpool.h"
#include "testing.h"

namespace {

using Vec = std::vector<float>;

using satest::randn;

double dot(const Vec & a, const Vec & b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += (double) a[i] * (double) b[i];
    return s;
}

// Central differences of f at `samples` entries of x (spread over the tensor) against the analytic
// gradient g. Passes when max |num - g| <= tol * max(max|g|, 1e-3).
void check_fd(const std::string & what, Vec & x, const std::function<double()> & f, const Vec & g, double tol,
              float h = 1e-2f, int samples = 24) {
    double gmax = 0;
    for (float v : g) gmax = std::max(gmax, (double) std::fabs(v));
    double err = 0;
    const size_t n = x.size();
    for (int s = 0; s < samples && s < (int) n; ++s) {
        const size_t i = (size_t) ((uint64_t) s * 2654435761u % n);
        const float x0 = x[i];
        x[i] = x0 + h;
        const double fp = f();
        x[i] = x0 - h;
        const double fm = f();
        x[i] = x0;
        const double num = (fp - fm) / (2.0 * h);
        err = std::max(err, std::fabs(num - (double) g[i]));
    }
    const double rel = err / std::max(gmax, 1e-3);
    satest::expect(rel <= tol, what + ": finite-difference rel err " + std::to_string(rel) + " (max |g| " +
                                   std::to_string(gmax) + ")");
    std::printf("    ok %s: fd rel err %.2e\n", what.c_str(), rel);
}

std::unique_ptr<sa::Backend> & be() {
    static std::unique_ptr<sa::Backend> b = sa::make_cpu_backend();
    return b;
}

}  // namespace

SA_TEST(relu_forward_backward) {
    Vec x = randn(1003, 1), y(x.size()), dy = randn(x.size(), 2), dx(x.size());
    x[5] = NAN;
    be()->relu(x.data(), y.data(), (int64_t) x.size());
    be()->relu_backward(y.data(), dy.data(), dx.data(), (int64_t) x.size());
    satest::expect(std::isnan(y[5]), "relu must propagate NaN");
    for (size_t i = 0; i < x.size(); ++i) {
        if (i == 5) continue;
        satest::expect(y[i] == std::max(x[i], 0.0f), "relu value");
        satest::expect(dx[i] == (x[i] > 0 ? dy[i] : 0.0f), "relu grad");
    }
}

SA_TEST(gelu_backward_fd) {
    Vec x = randn(517, 3, 2.0f), w = randn(x.size(), 4), dx(x.size()), y(x.size());
    be()->gelu_backward(x.data(), w.data(), dx.data(), (int64_t) x.size());
    auto f = [&] {
        be()->gelu(x.data(), y.data(), (int64_t) x.size());
        return dot(y, w);
    };
    check_fd("gelu dx", x, f, dx, 2e-3, 1e-2f, 64);
}

// GELU(LayerNorm(x)), fused on the CPU: the composition's bits for a width that is a multiple of 8
// (forward and backward, the parameter gradients accumulated), within rounding otherwise; the fused
// kernels leave the y and dy_scratch buffers alone; the same bits for 1 and 3 threads; dx against
// finite differences.
static void check_layernorm_gelu(int64_t rows, int64_t C, bool bitwise, uint32_t seed) {
    const std::string name = "layernorm_gelu " + std::to_string(rows) + "x" + std::to_string(C);
    Vec x = randn(rows * C, seed, 2.0f), gm = randn(C, seed + 1), bt = randn(C, seed + 2),
        dg = randn(rows * C, seed + 3);
    struct Out {
        Vec g, mean, rstd, y, dx, dgamma, dbeta, scratch;
    };
    auto run = [&](bool fused) {
        Out o{Vec(rows * C), Vec(rows),    Vec(rows),     Vec(rows * C, NAN),
              Vec(rows * C), Vec(C, 0.5f), Vec(C, 0.25f), Vec(rows * C, NAN)};
        const sa::LayerNormGeluArgs f{x.data(),      gm.data(),  bt.data(), o.g.data(), o.mean.data(),
                                      o.rstd.data(), o.y.data(), rows,      C,          1e-6f};
        const sa::LayerNormGeluBackwardArgs b{
            x.data(),    gm.data(),       bt.data(),      o.mean.data(),    o.rstd.data(), o.y.data(), dg.data(),
            o.dx.data(), o.dgamma.data(), o.dbeta.data(), o.scratch.data(), rows,          C};
        if (fused) {
            be()->layernorm_gelu(f);
            be()->layernorm_gelu_backward(b);
        } else {
            sa::compose::layernorm_gelu(*be(), f);
            sa::compose::layernorm_gelu_backward(*be(), b);
        }
        return o;
    };
    const Out c = run(false), o = run(true);
    bool untouched = true;
    for (size_t i = 0; i < o.y.size(); ++i) untouched = untouched && std::isnan(o.y[i]) && std::isnan(o.scratch[i]);
    satest::expect(untouched, name + ": the fused kernels wrote y or dy_scratch");
    satest::expect(o.mean == c.mean && o.rstd == c.rstd, name + ": other statistics than layernorm's");
    auto err = [](const Vec & a, const Vec & b) {
        double e = 0, m = 1e-6;
        for (size_t i = 0; i < a.size(); ++i) {
            e = std::max(e, (double) std::fabs(a[i] - b[i]));
            m = std::max(m, (double) std::fabs(b[i]));
        }
        return e / m;
    };
    if (bitwise) {
        satest::expect(o.g == c.g && o.dx == c.dx && o.dgamma == c.dgamma && o.dbeta == c.dbeta,
                       name + ": other bits than the composition");
    } else {
        const double e = std::max({err(o.g, c.g), err(o.dx, c.dx), err(o.dgamma, c.dgamma), err(o.dbeta, c.dbeta)});
        satest::expect(e < 1e-5, name + ": relative error " + std::to_string(e) + " against the composition");
    }
    be()->set_threads(3);
    const Out t = run(true);
    be()->set_threads(0);
    satest::expect(t.g == o.g && t.dx == o.dx && t.dgamma == o.dgamma && t.dbeta == o.dbeta,
                   name + ": other bits with 3 threads");
    auto f = [&] {
        Vec g(rows * C), mean(rows), rstd(rows), y(rows * C);
        be()->layernorm_gelu(
            {x.data(), gm.data(), bt.data(), g.data(), mean.data(), rstd.data(), y.data(), rows, C, 1e-6f});
        return dot(g, dg);
    };
    check_fd(name + " dx", x, f, o.dx, 3e-3);
}

SA_TEST(layernorm_gelu_fused_equals_composition) {
    check_layernorm_gelu(300, 64, true, 121);  // the upscaling's width
    check_layernorm_gelu(37, 20, false, 125);  // scalar tails inside rows
}

// Tall inputs (weight gradients summed over many rows in the GEMM's K-split chunks, a partial last
// one; the chunks also carry dx and db) against a double-precision reference; dx and dW with the bits
// of the plain products (sgemm); the same bits for 1, 2 and 8 threads (8: more threads than chunks,
// dx on the whole pool first).
SA_TEST(linear_backward_tall) {
    const int64_t M = 4500, K = 40, N = 24;
    Vec x = randn(M * K, 15), W = randn(N * K, 16), dy = randn(M * N, 17);
    satest::expect(sa::sgemm_split_k_chunk(N, K, M) == 1024, "linear_backward tall: expected 5 chunks of rows");
    std::vector<Vec> dxs, dWs, dbs;
    {
        sa::ThreadPool pool(2);
        Vec dx(M * K), dW(N * K, 0.5f);
        sa::sgemm(false, false, M, K, N, 1.0f, dy.data(), N, W.data(), K, 0.0f, dx.data(), K, pool);
        sa::sgemm(true, false, N, K, M, 1.0f, dy.data(), N, x.data(), K, 1.0f, dW.data(), K, pool);
        dxs.push_back(dx);
        dWs.push_back(dW);
    }
    for (int threads : {1, 2, 8}) {
        be()->set_threads(threads);
        Vec dx(M * K, NAN), dW(N * K, 0.5f), db(N, 0.25f);
        be()->linear_backward({x.data(), W.data(), dy.data(), dx.data(), dW.data(), db.data(), M, K, N});
        dxs.push_back(dx);
        dWs.push_back(dW);
        dbs.push_back(db);
    }
    be()->set_threads(0);
    satest::expect(dxs[1] == dxs[0] && dWs[1] == dWs[0], "linear_backward tall: dx, dW differ from sgemm's");
    dxs.erase(dxs.begin());
    dWs.erase(dWs.begin());
    double ex = 0, ew = 0, eb = 0, mx = 0, mw = 0, mb = 0;
    for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) {
            double r = 0;
            for (int64_t n = 0; n < N; ++n) r += (double) dy[(size_t) (m * N + n)] * W[(size_t) (n * K + k)];
            ex = std::max(ex, std::fabs(r - dxs[0][(size_t) (m * K + k)]));
            mx = std::max(mx, std::fabs(r));
        }
    for (int64_t n = 0; n < N; ++n) {
        double rb = 0.25;
        for (int64_t m = 0; m < M; ++m) rb += dy[(size_t) (m * N + n)];
        eb = std::max(eb, std::fabs(rb - dbs[0][(size_t) n]));
        mb = std::max(mb, std::fabs(rb));
        for (int64_t k = 0; k < K; ++k) {
            double r = 0.5;
            for (int64_t m = 0; m < M; ++m) r += (double) dy[(size_t) (m * N + n)] * x[(size_t) (m * K + k)];
            ew = std::max(ew, std::fabs(r - dWs[0][(size_t) (n * K + k)]));
            mw = std::max(mw, std::fabs(r));
        }
    }
    satest::expect(ex <= 1e-5 * mx, "linear_backward tall dx: " + std::to_string(ex));
    satest::expect(ew <= 1e-5 * mw, "linear_backward tall dW: " + std::to_string(ew));
    satest::expect(eb <= 1e-5 * mb, "linear_backward tall db: " + std::to_string(eb));
    for (size_t t = 1; t < dxs.size(); ++t)
        satest::expect(dxs[0] == dxs[t] && dWs[0] == dWs[t] && dbs[0] == dbs[t],
                       "linear_backward tall: other bits with thread setting " + std::to_string(t));
}

SA_TEST(linear_backward_fd) {
    const int64_t M = 7, K = 13, N = 5;
    Vec x = randn(M * K, 5), W = randn(N * K, 6), b = randn(N, 7), w = randn(M * N, 8), y(M * N);
    Vec dx(M * K), dW(N * K, 0.5f), db(N, 0.25f);
    be()->linear_backward({x.data(), W.data(), w.data(), dx.data(), dW.data(), db.data(), M, K, N});
    for (auto & v : dW) v -= 0.5f;  // accumulated on top of 0.5
    for (auto & v : db) v -= 0.25f;
    auto f = [&] {
        be()->linear(x.data(), W.data(), b.data(), y.data(), M, K, N);
        return dot(y, w);
    };
    check_fd("linear dx", x, f, dx, 2e-3);
    check_fd("linear dW", W, f, dW, 2e-3);
    check_fd("linear db", b, f, db, 2e-3);
}

static void check_layernorm_backward(int64_t R, int64_t C) {
    Vec x = randn(R * C, 9, 2.0f), g = randn(C, 10), bt = randn(C, 11), w = randn(R * C, 12), y(R * C);
    Vec mean(R), rstd(R), dx(R * C), dg(C, 0.0f), db(C, 0.0f);
    for (int64_t i = 0; i < R * C; ++i) x[(size_t) i] += 3.0f;
    be()->layernorm({x.data(), g.data(), bt.data(), y.data(), mean.data(), rstd.data(), R, C, 1e-5f});
    be()->layernorm_backward(
        {x.data(), g.data(), mean.data(), rstd.data(), w.data(), dx.data(), dg.data(), db.data(), R, C});
    auto f = [&] {
        be()->layernorm({x.data(), g.data(), bt.data(), y.data(), nullptr, nullptr, R, C, 1e-5f});
        return dot(y, w);
    };
    const std::string tag = "layernorm " + std::to_string(R) + "x" + std::to_string(C);
    check_fd(tag + " dx", x, f, dx, 5e-3);
    check_fd(tag + " dgamma", g, f, dg, 5e-3);
    check_fd(tag + " dbeta", bt, f, db, 5e-3);
}

SA_TEST(layernorm_backward_fd) {
    check_layernorm_backward(9, 40);
    check_layernorm_backward(150, 21);  // several row blocks, a scalar column tail
}

SA_TEST(layernorm2d_backward_fd) {
    const int64_t B = 2, C = 6, HW = 300;
    Vec x = randn(B * C * HW, 13), g = randn(C, 14), bt = randn(C, 15), w = randn(B * C * HW, 16), y(x.size());
    Vec mean(B * HW), rstd(B * HW), dx(x.size()), dg(C, 0.0f), db(C, 0.0f);
    be()->layernorm2d({x.data(), g.data(), bt.data(), y.data(), mean.data(), rstd.data(), B, C, HW, 1e-6f});
    be()->layernorm2d_backward(
        {x.data(), g.data(), mean.data(), rstd.data(), w.data(), dx.data(), dg.data(), db.data(), B, C, HW});
    auto f = [&] {
        be()->layernorm2d({x.data(), g.data(), bt.data(), y.data(), nullptr, nullptr, B, C, HW, 1e-6f});
        return dot(y, w);
    };
    check_fd("layernorm2d dx", x, f, dx, 5e-3);
    check_fd("layernorm2d dgamma", g, f, dg, 5e-3);
    check_fd("layernorm2d dbeta", bt, f, db, 5e-3);
}

SA_TEST(conv_transpose_forward_and_backward) {
    const int64_t B = 2, C = 5, H = 3, Wd = 4, O = 3;
    Vec x = randn(B * C * H * Wd, 17), W = randn(C * O * 4, 18), b = randn(O, 19);
    Vec y(B * O * 4 * H * Wd);
    be()->conv_transpose_k2s2({x.data(), W.data(), b.data(), y.data(), B, C, H, Wd, O});
    double err = 0;
    for (int64_t n = 0; n < B; ++n)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t yy = 0; yy < 2 * H; ++yy)
                for (int64_t xx = 0; xx < 2 * Wd; ++xx) {
                    double s = b[(size_t) o];
                    for (int64_t c = 0; c < C; ++c)
                        s += (double) x[(size_t) (((n * C + c) * H + yy / 2) * Wd + xx / 2)] *
                             W[(size_t) (((c * O + o) * 2 + yy % 2) * 2 + xx % 2)];
                    err = std::max(err, std::fabs(s - y[(size_t) (((n * O + o) * 2 * H + yy) * 2 * Wd + xx)]));
                }
    satest::expect(err < 1e-5, "conv transpose forward vs naive: " + std::to_string(err));
    Vec w = randn(y.size(), 20), dx(x.size()), dW(W.size(), 0.0f), db(O, 0.0f);
    be()->conv_transpose_k2s2_backward({x.data(), W.data(), w.data(), dx.data(), dW.data(), db.data(), B, C, H, Wd, O});
    auto f = [&] {
        be()->conv_transpose_k2s2({x.data(), W.data(), b.data(), y.data(), B, C, H, Wd, O});
        return dot(y, w);
    };
    check_fd("conv_transpose dx", x, f, dx, 2e-3);
    check_fd("conv_transpose dW", W, f, dW, 2e-3);
    check_fd("conv_transpose db", b, f, db, 2e-3);
}

// Forward against a naive double-precision reference and backward against finite differences, for
// one (B, Nq, Nk, nh, d) problem.
static void check_attention(const std::string & name, int64_t B, int64_t Nq, int64_t Nk, int64_t nh, int64_t d,
                            uint32_t seed) {
    const int64_t D = nh * d;
    Vec q = randn(B * Nq * D, seed), k = randn(B * Nk * D, seed + 1), v = randn(B * Nk * D, seed + 2), out(B * Nq * D);
    Vec probs(B * nh * Nq * Nk);
    be()->attention({q.data(), k.data(), v.data(), out.data(), probs.data(), B, Nq, Nk, nh, d});
    double err = 0, perr = 0;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < nh; ++h)
            for (int64_t i = 0; i < Nq; ++i) {
                std::vector<double> s((size_t) Nk);
                double mx = -1e300, sum = 0;
                for (int64_t j = 0; j < Nk; ++j) {
                    double a = 0;
                    for (int64_t c = 0; c < d; ++c)
                        a += (double) q[(size_t) ((b * Nq + i) * D + h * d + c)] *
                             k[(size_t) ((b * Nk + j) * D + h * d + c)];
                    s[(size_t) j] = a / std::sqrt((double) d);
                    mx = std::max(mx, s[(size_t) j]);
                }
                for (auto & e : s) sum += (e = std::exp(e - mx));
                const float * pr = probs.data() + ((b * nh + h) * Nq + i) * Nk;
                for (int64_t j = 0; j < Nk; ++j) perr = std::max(perr, std::fabs(s[(size_t) j] / sum - pr[j]));
                for (int64_t c = 0; c < d; ++c) {
                    double o = 0;
                    for (int64_t j = 0; j < Nk; ++j)
                        o += s[(size_t) j] / sum * v[(size_t) ((b * Nk + j) * D + h * d + c)];
                    err = std::max(err, std::fabs(o - out[(size_t) ((b * Nq + i) * D + h * d + c)]));
                }
            }
    satest::expect(err < 1e-5, "attention " + name + " forward vs naive: " + std::to_string(err));
    satest::expect(perr < 1e-6, "attention " + name + " probs vs naive: " + std::to_string(perr));
    Vec w = randn(out.size(), seed + 3), dq(q.size()), dk(k.size(), 9.0f), dv(v.size(), 9.0f);
    be()->attention_backward(
        {q.data(), k.data(), v.data(), probs.data(), w.data(), dq.data(), dk.data(), dv.data(), B, Nq, Nk, nh, d});
    auto f = [&] {
        be()->attention({q.data(), k.data(), v.data(), out.data(), nullptr, B, Nq, Nk, nh, d});
        return dot(out, w);
    };
    check_fd("attention " + name + " dq", q, f, dq, 3e-3);
    check_fd("attention " + name + " dk", k, f, dk, 3e-3);
    check_fd("attention " + name + " dv", v, f, dv, 3e-3);
    // Keys and values that feed one tensor: dkv += dk + dv, in place (the backend's) and composed (the
    // base class's, through scratch), against the separate gradients.
    const size_t nkv = k.size();
    Vec base = randn(nkv, seed + 4), dkv = base, dkv_b = base, dq2(q.size()), dq2b(q.size()), scratch(2 * nkv);
    be()->attention_backward_kv_acc({q.data(), k.data(), v.data(), probs.data(), w.data(), dq2.data(), dkv.data(),
                                     scratch.data(), B, Nq, Nk, nh, d});
    sa::compose::attention_backward_kv_acc(*be(), {q.data(), k.data(), v.data(), probs.data(), w.data(), dq2b.data(),
                                                   dkv_b.data(), scratch.data(), B, Nq, Nk, nh, d});
    double aerr = 0, berr = 0, qerr = 0, scale = 1e-6;
    for (size_t i = 0; i < nkv; ++i) {
        const double want = (double) base[i] + dk[i] + dv[i];
        scale = std::max(scale, std::fabs(want));
        aerr = std::max(aerr, std::fabs(want - dkv[i]));
        berr = std::max(berr, std::fabs(want - dkv_b[i]));
    }
    for (size_t i = 0; i < dq.size(); ++i)
        qerr = std::max({qerr, (double) std::fabs(dq2[i] - dq[i]), (double) std::fabs(dq2b[i] - dq[i])});
    satest::expect(aerr <= 1e-6 * scale, "attention " + name + " kv_acc in place: " + std::to_string(aerr));
    satest::expect(berr <= 1e-6 * scale, "attention " + name + " kv_acc composed: " + std::to_string(berr));
    satest::expect(qerr == 0.0, "attention " + name + " kv_acc dq differs: " + std::to_string(qerr));
}

SA_TEST(attention_forward_and_backward) {
    check_attention("tokens to image", 2, 5, 37, 2, 4, 21);
    // More queries than keys: the key-major path, with several query blocks per head.
    check_attention("image to tokens", 2, 1100, 7, 2, 5, 31);
    // One head of a single sample: fewer tasks than threads, products threaded within the task.
    check_attention("single task", 1, 9, 300, 1, 12, 61);
    // One head, a few queries, many keys (the final attention, folded, at its training shape).
    check_attention("few queries", 2, 5, 300, 1, 32, 91);
    check_attention("few queries, the final attention", 1, 16, 4096, 1, 256, 93);
}

// One head, one task: the products are threaded within the task; the same bits for 1, 2 and 3 threads.
SA_TEST(attention_single_head_same_bits_for_any_thread_count) {
    const int64_t Nq = 10, Nk = 1000, d = 64;
    Vec q = randn(Nq * d, 101), k = randn(Nk * d, 102), v = randn(Nk * d, 103), w = randn(Nq * d, 104);
    std::vector<Vec> outs, dqs, dkvs;
    for (int threads : {1, 2, 3}) {
        be()->set_threads(threads);
        Vec out(Nq * d), probs(Nq * Nk), dq(Nq * d), dkv = randn(Nk * d, 105), scratch(2 * Nk * d);
        be()->attention({q.data(), k.data(), v.data(), out.data(), probs.data(), 1, Nq, Nk, 1, d});
        be()->attention_backward_kv_acc({q.data(), k.data(), v.data(), probs.data(), w.data(), dq.data(), dkv.data(),
                                         scratch.data(), 1, Nq, Nk, 1, d});
        outs.push_back(out);
        dqs.push_back(dq);
        dkvs.push_back(dkv);
    }
    be()->set_threads(0);
    for (size_t t = 1; t < outs.size(); ++t)
        satest::expect(outs[t] == outs[0] && dqs[t] == dqs[0] && dkvs[t] == dkvs[0],
                       "single-head attention: other bits with " + std::to_string(t + 1) + " threads");
}

// Row softmax against a double reference and the base composition, its backward against the
// composition and finite differences, and the same bits for 1, 2 and 3 threads. Row lengths on both
// sides of the short-row kernels (eight rows per vector below 32) and row counts with a partial group.
static void check_softmax_rows(int64_t rows, int64_t n, uint32_t seed) {
    const std::string name = std::to_string(rows) + "x" + std::to_string(n);
    Vec x = randn(rows * n, seed, 3.0f), y(x.size()), yb(x.size());
    be()->softmax_rows(x.data(), y.data(), rows, n);
    be()->sa::Backend::softmax_rows(x.data(), yb.data(), rows, n);
    double err = 0, berr = 0;
    for (int64_t r = 0; r < rows; ++r) {
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, (double) x[(size_t) (r * n + j)]);
        for (int64_t j = 0; j < n; ++j) sum += std::exp(x[(size_t) (r * n + j)] - mx);
        for (int64_t j = 0; j < n; ++j) {
            const size_t i = (size_t) (r * n + j);
            err = std::max(err, std::fabs(std::exp(x[i] - mx) / sum - y[i]));
            berr = std::max(berr, (double) std::fabs(yb[i] - y[i]));
        }
    }
    satest::expect(err < 1e-6, "softmax_rows " + name + " vs naive: " + std::to_string(err));
    satest::expect(berr < 1e-6, "softmax_rows " + name + " vs composed: " + std::to_string(berr));
    Vec w = randn(y.size(), seed + 1), dx(x.size()), dxb(x.size());
    be()->softmax_rows_backward(y.data(), w.data(), dx.data(), rows, n);
    be()->sa::Backend::softmax_rows_backward(y.data(), w.data(), dxb.data(), rows, n);
    double gerr = 0;
    for (size_t i = 0; i < dx.size(); ++i) gerr = std::max(gerr, (double) std::fabs(dx[i] - dxb[i]));
    satest::expect(gerr < 1e-6, "softmax_rows_backward " + name + " vs composed: " + std::to_string(gerr));
    for (int threads : {1, 3}) {
        be()->set_threads(threads);
        Vec yt(x.size()), dxt(x.size());
        be()->softmax_rows(x.data(), yt.data(), rows, n);
        be()->softmax_rows_backward(y.data(), w.data(), dxt.data(), rows, n);
        satest::expect(yt == y && dxt == dx,
                       "softmax_rows " + name + ": other bits with " + std::to_string(threads) + " threads");
    }
    be()->set_threads(0);
    auto f = [&] {
        be()->softmax_rows(x.data(), y.data(), rows, n);
        return dot(y, w);
    };
    check_fd("softmax_rows " + name + " dx", x, f, dx, 3e-3);
}

SA_TEST(softmax_rows_forward_and_backward) {
    check_softmax_rows(37, 17, 71);  // the image-to-token attention's rows; 4 groups of 8 and 5 more
    check_softmax_rows(9, 1, 73);
    check_softmax_rows(16, 8, 75);
    check_softmax_rows(21, 31, 77);
    check_softmax_rows(13, 32, 79);  // first length on the one-row-at-a-time path
    check_softmax_rows(6, 45, 81);   // fewer rows than a group
}

// Mask head: naive double reference of the definition (sub-pixel row -> raster pixel, exact GELU),
// the backend's fused kernel against the base-class composition, and the backward pass against
// finite differences.
static void check_mask_head(int64_t B, int64_t M, int64_t E, int64_t Cf, uint32_t seed) {
    const int64_t P = 16 * E * E, S = 4 * E;
    Vec feat = randn(B * P * Cf, seed, 1.5f), hyper = randn(M * B * Cf, seed + 1), masks(B * M * P);
    be()->mask_head({feat.data(), hyper.data(), masks.data(), B, M, E, Cf});
    double err = 0;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t m = 0; m < M; ++m)
            for (int64_t y = 0; y < S; ++y)
                for (int64_t x = 0; x < S; ++x) {
                    const int64_t i = y / 4, ki1 = y % 4 / 2, ki2 = y % 2, j = x / 4, kj1 = x % 4 / 2, kj2 = x % 2;
                    const int64_t row = ((i * E + j) * 4 + 2 * ki1 + kj1) * 4 + 2 * ki2 + kj2;
                    double s = 0;
                    for (int64_t c = 0; c < Cf; ++c) {
                        const double f = feat[(size_t) ((b * P + row) * Cf + c)];
                        s += hyper[(size_t) ((m * B + b) * Cf + c)] * f * 0.5 * (1.0 + std::erf(f / std::sqrt(2.0)));
                    }
                    err = std::max(err, std::fabs(s - masks[(size_t) ((b * M + m) * P + y * S + x)]));
                }
    const std::string tag = "mask_head Cf=" + std::to_string(Cf);
    satest::expect(err < 1e-4, tag + " forward vs naive: " + std::to_string(err));
    Vec base(masks.size());
    sa::compose::mask_head(*be(), {feat.data(), hyper.data(), base.data(), B, M, E, Cf});
    double berr = 0;
    for (size_t n = 0; n < base.size(); ++n) berr = std::max(berr, (double) std::fabs(base[n] - masks[n]));
    satest::expect(berr < 1e-4, tag + " fused vs composed forward: " + std::to_string(berr));

    Vec w = randn(masks.size(), seed + 2), dfeat(feat.size(), 7.0f), dhyper(hyper.size(), 7.0f);
    be()->mask_head_backward({feat.data(), hyper.data(), w.data(), dfeat.data(), dhyper.data(), B, M, E, Cf});
    Vec dfeat_b(feat.size()), dhyper_b(hyper.size());
    sa::compose::mask_head_backward(
        *be(), {feat.data(), hyper.data(), w.data(), dfeat_b.data(), dhyper_b.data(), B, M, E, Cf});
    double gerr = 0, gmax = 0;
    for (size_t n = 0; n < dfeat.size(); ++n) gerr = std::max(gerr, (double) std::fabs(dfeat[n] - dfeat_b[n]));
    for (size_t n = 0; n < dhyper.size(); ++n) {
        gerr = std::max(gerr, (double) std::fabs(dhyper[n] - dhyper_b[n]));
        gmax = std::max(gmax, (double) std::fabs(dhyper_b[n]));
    }
    satest::expect(gerr <= 1e-5 * std::max(1.0, gmax), tag + " fused vs composed backward: " + std::to_string(gerr));
    auto f = [&] {
        be()->mask_head({feat.data(), hyper.data(), masks.data(), B, M, E, Cf});
        return dot(masks, w);
    };
    check_fd(tag + " dfeat", feat, f, dfeat, 3e-3);
    check_fd(tag + " dhyper", hyper, f, dhyper, 3e-3);
}

SA_TEST(mask_head_forward_and_backward) {
    check_mask_head(2, 3, 3, 12, 41);  // scalar path
    check_mask_head(2, 1, 4, 16, 51);  // vector path
    check_mask_head(2, 3, 3, 32, 61);  // SAM's 32 channels, several masks (16-lane rows at avx512)
    check_mask_head(1, 2, 2, 24, 71);  // 8-lane rows at every level
}

// keys_from_embedding and layernorm_add: the backend's one-pass kernels against the base-class
// compositions (transpose_last2, add_bias, add; layernorm, add), bit for bit, on shapes with tails.
static void check_keys_from_embedding(int64_t B, int64_t C, int64_t HW, bool shared, bool bias, bool pe,
                                      uint32_t seed) {
    const int64_t n = C * HW;
    Vec emb = randn((shared ? 1 : B) * n, seed), bv = randn(C, seed + 1), pev = randn(n, seed + 2);
    Vec keys(B * n, 7.0f), keys_pe(B * n, 7.0f), keys_b(B * n, 5.0f), keys_pe_b(B * n, 5.0f);
    const sa::KeysFromEmbeddingArgs a{
        emb.data(),    bias ? bv.data() : nullptr, pev.data(), keys.data(), pe ? keys_pe.data() : nullptr, B, C, HW,
        shared ? 0 : n};
    be()->keys_from_embedding(a);
    sa::KeysFromEmbeddingArgs c = a;
    c.keys = keys_b.data();
    c.keys_pe = pe ? keys_pe_b.data() : nullptr;
    sa::compose::keys_from_embedding(*be(), c);
    const std::string tag = "keys_from_embedding " + std::to_string(B) + "x" + std::to_string(C) + "x" +
                            std::to_string(HW) + (shared ? " shared" : "") + (bias ? " bias" : "") + (pe ? " pe" : "");
    double naive = 0;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t p = 0; p < HW; ++p)
            for (int64_t ch = 0; ch < C; ++ch) {
                const float want = emb[(size_t) ((shared ? 0 : b * n) + ch * HW + p)] + (bias ? bv[(size_t) ch] : 0.0f);
                naive = std::max(naive, (double) std::fabs(want - keys[(size_t) (b * n + p * C + ch)]));
            }
    satest::expect(naive == 0.0, tag + ": keys vs definition " + std::to_string(naive));
    satest::expect(keys == keys_b, tag + ": keys differ from the composition");
    if (pe) satest::expect(keys_pe == keys_pe_b, tag + ": keys + pe differ from the composition");
    if (!pe) satest::expect(keys_pe[0] == 7.0f, tag + ": keys_pe written although null");
}

SA_TEST(keys_from_embedding_matches_composition) {
    check_keys_from_embedding(2, 32, 64, false, true, true, 101);     // whole 8 x 8 blocks
    check_keys_from_embedding(3, 13, 70, true, true, true, 111);      // channel and pixel tails, shared embedding
    check_keys_from_embedding(1, 256, 4096, false, true, true, 121);  // the decoder's shape
    check_keys_from_embedding(2, 24, 37, false, false, false, 131);   // no bias, no pe
}

static void check_layernorm_add(int64_t rows, int64_t C, int64_t add_rows, uint32_t seed) {
    Vec x = randn(rows * C, seed, 2.0f), g = randn(C, seed + 1), bt = randn(C, seed + 2),
        ad = randn(add_rows * C, seed + 3);
    Vec y(rows * C), y2(rows * C), m(rows), r(rows), yb(rows * C), y2b(rows * C), mb(rows), rb(rows);
    be()->layernorm_add({{x.data(), g.data(), bt.data(), y.data(), m.data(), r.data(), rows, C, 1e-5f},
                         ad.data(),
                         y2.data(),
                         add_rows});
    sa::compose::layernorm_add(*be(), {{x.data(), g.data(), bt.data(), yb.data(), mb.data(), rb.data(), rows, C, 1e-5f},
                                       ad.data(),
                                       y2b.data(),
                                       add_rows});
    const std::string tag = "layernorm_add " + std::to_string(rows) + "x" + std::to_string(C);
    satest::expect(y == yb && m == mb && r == rb, tag + ": LayerNorm differs from layernorm");
    satest::expect(y2 == y2b, tag + ": y + addend differs from the composition");
    double err = 0;
    for (int64_t i = 0; i < rows * C; ++i)
        err = std::max(err, (double) std::fabs(y2[(size_t) i] - (y[(size_t) i] + ad[(size_t) (i % (add_rows * C))])));
    satest::expect(err == 0.0, tag + ": y2 vs definition " + std::to_string(err));
}

SA_TEST(layernorm_add_matches_composition) {
    check_layernorm_add(2 * 64, 256, 64, 141);
    check_layernorm_add(3 * 7, 13, 7, 151);  // lane tails
    bool threw = false;
    try {
        Vec x(12), y(12), y2(12), ad(8);
        be()->layernorm_add(
            {{x.data(), nullptr, nullptr, y.data(), nullptr, nullptr, 3, 4, 1e-5f}, ad.data(), y2.data(), 2});
    } catch (const sa::Error &) {
        threw = true;
    }
    satest::expect(threw, "layernorm_add: rows not a multiple of add_rows accepted");
}

SA_TEST(mask_loss_gradients_fd) {
    const int64_t B = 2, HW = 5000;
    Vec x = randn(B * HW, 25, 2.0f), t(B * HW), iou = {0.3f, 0.8f}, dx(x.size()), diou(2);
    std::mt19937 rng(26);
    for (int64_t i = 0; i < B * HW; ++i)
        t[(size_t) i] = (x[(size_t) i] + std::normal_distribution<float>(0, 1.5f)(rng)) > 0.5f;
    for (int kind = 0; kind < 3; ++kind) {
        const bool sam = kind == (int) sa::LossKind::SAM;
        float loss = 0;
        be()->mask_loss({kind, x.data(), t.data(), &loss, dx.data(), B, 1, HW, sam ? iou.data() : nullptr, 1,
                         sam ? diou.data() : nullptr});
        auto f = [&] {
            float l = 0;
            be()->mask_loss({kind, x.data(), t.data(), &l, nullptr, B, 1, HW, sam ? iou.data() : nullptr, 1, nullptr});
            return (double) l;
        };
        const std::string name = sa::loss_name((sa::LossKind) kind);
        // IoU(x > 0, t) is piecewise constant: keep perturbations below the smallest |x|... by choosing h
        // small relative to the logits while the sampled entries stay away from 0.
        check_fd(name + " dlogits", x, f, dx, 2e-2, 2e-2f, 40);
        if (sam) check_fd(name + " diou", iou, f, diou, 1e-3, 1e-2f, 2);
    }
}

SA_TEST(mask_loss_reference_values) {
    // Two pixels per sample, hand-computed in double.
    const Vec x = {2.0f, -1.0f}, t = {1.0f, 0.0f};
    float loss = 0;
    be()->mask_loss({(int) sa::LossKind::DiceCE, x.data(), t.data(), &loss, nullptr, 1, 1, 2, nullptr, 0, nullptr});
    const double p0 = 1 / (1 + std::exp(-2.0)), p1 = 1 / (1 + std::exp(1.0));
    const double dice = 1 - (2 * p0 + 1e-5) / (p0 + p1 + 1 + 1e-5);
    const double bce = (std::log1p(std::exp(-2.0)) + std::log1p(std::exp(-1.0))) / 2;
    satest::expect(std::fabs(loss - (dice + bce)) < 1e-6, "dicece value " + std::to_string(loss));
    be()->mask_loss({(int) sa::LossKind::MedSAM, x.data(), t.data(), &loss, nullptr, 1, 1, 2, nullptr, 0, nullptr});
    const double dice2 = 1 - (2 * p0 + 1e-5) / (p0 * p0 + p1 * p1 + 1 + 1e-5);
    satest::expect(std::fabs(loss - (dice2 + bce)) < 1e-6, "medsam value " + std::to_string(loss));
    const float iou_pred = 0.25f;
    be()->mask_loss({(int) sa::LossKind::SAM, x.data(), t.data(), &loss, nullptr, 1, 1, 2, &iou_pred, 1, nullptr});
    const double f0 = 0.25 * std::log1p(std::exp(-2.0)) * (1 - p0) * (1 - p0);
    const double f1 = 0.75 * std::log1p(std::exp(-1.0)) * p1 * p1;
    const double ref = 20 * (f0 + f1) / 2 + dice + (0.25 - 1.0) * (0.25 - 1.0);
    satest::expect(std::fabs(loss - ref) < 1e-5, "sam value " + std::to_string(loss) + " vs " + std::to_string(ref));
}

// Every loss kind over two chunks of pixels (whole vectors and a scalar tail), with logits from 0 to
// +-90 and soft targets, against the definitions evaluated in double: the loss, the selected
// candidate's gradient and the SAM loss's IoU-prediction gradient.
SA_TEST(mask_loss_matches_double_reference) {
    const int64_t B = 2, M = 2, HW = 4096 + 13;
    Vec x = randn(B * M * HW, 91, 4.0f), t(B * HW), iou = {0.3f, 0.8f, 0.6f, 0.1f};
    const float extremes[] = {0.0f, 30.0f, -30.0f, 90.0f, -90.0f, 1e-4f, -1e-4f, 17.0f, -17.0f};
    for (size_t i = 0; i < x.size(); i += 37) x[i] = extremes[(i / 37) % 9];
    for (int64_t i = 0; i < B * HW; ++i) t[(size_t) i] = i % 5 == 0 ? 0.3f : ((i / 7) % 3 == 0 ? 1.0f : 0.0f);
    for (int kind : {(int) sa::LossKind::DiceCE, (int) sa::LossKind::MedSAM, (int) sa::LossKind::SAM}) {
        const bool sam = kind == (int) sa::LossKind::SAM, sq = kind == (int) sa::LossKind::MedSAM;
        float loss = 0;
        Vec dx(x.size()), diou(iou.size());
        be()->mask_loss({kind, x.data(), t.data(), &loss, dx.data(), B, M, HW, sam ? iou.data() : nullptr, M,
                         sam ? diou.data() : nullptr});
        double ref_loss = 0, gerr = 0, gmax = 0;
        for (int64_t b = 0; b < B; ++b) {
            double best = 1e300, best_num = 0, best_den = 0, best_iou = 0;
            int64_t bm = 0;
            for (int64_t m = 0; m < M; ++m) {
                const float * xm = x.data() + (b * M + m) * HW;
                const float * g = t.data() + b * HW;
                double inter = 0, sp = 0, sg = 0, bce = 0, focal = 0, ii = 0, iu = 0;
                for (int64_t i = 0; i < HW; ++i) {
                    const double xi = xm[i], gi = g[i], p = 1.0 / (1.0 + std::exp(-xi));
                    const double ce = std::max(xi, 0.0) - xi * gi + std::log1p(std::exp(-std::fabs(xi)));
                    inter += p * gi;
                    sp += sq ? p * p : p;
                    sg += sq ? gi * gi : gi;
                    bce += ce;
                    const double pt = p * gi + (1 - p) * (1 - gi), at = 0.25 * gi + 0.75 * (1 - gi);
                    focal += at * ce * (1 - pt) * (1 - pt);
                    ii += (xi > 0 && gi > 0.5) ? 1 : 0;
                    iu += (xi > 0 || gi > 0.5) ? 1 : 0;
                }
                const double num = 2 * inter + 1e-5, den = sp + sg + 1e-5, dice = 1 - num / den;
                const double iou_t = iu > 0 ? ii / iu : 1.0, e = iou[(size_t) (b * M + m)] - iou_t;
                const double l = sam ? 20 * focal / (double) HW + dice + e * e : dice + bce / (double) HW;
                if (l < best) {
                    best = l;
                    bm = m;
                    best_num = num;
                    best_den = den;
                    best_iou = iou_t;
                }
            }
            ref_loss += best / (double) B;
            if (sam) {
                for (int64_t m = 0; m < M; ++m) {
                    const double want = m == bm ? 2.0 * (iou[(size_t) (b * M + m)] - best_iou) / (double) B : 0.0;
                    satest::expect(std::fabs(diou[(size_t) (b * M + m)] - want) < 1e-6, "mask_loss diou_pred");
                }
            }
            for (int64_t m = 0; m < M; ++m) {
                const float * xm = x.data() + (b * M + m) * HW;
                const float * g = t.data() + b * HW;
                for (int64_t i = 0; i < HW; ++i) {
                    double d = 0;
                    if (m == bm) {
                        const double xi = xm[i], gi = g[i], p = 1.0 / (1.0 + std::exp(-xi));
                        const double dden = sq ? 2 * p : 1.0;
                        d = (-2.0 / best_den * gi + best_num / (best_den * best_den) * dden) * p * (1 - p) / (double) B;
                        const double w = (sam ? 20.0 : 1.0) / (double) B / (double) HW;
                        if (sam) {
                            const double ce = std::max(xi, 0.0) - xi * gi + std::log1p(std::exp(-std::fabs(xi)));
                            const double pt = p * gi + (1 - p) * (1 - gi), at = 0.25 * gi + 0.75 * (1 - gi), q = 1 - pt;
                            d += w * at * ((p - gi) * q * q - 2 * ce * q * (2 * gi - 1) * p * (1 - p));
                        } else {
                            d += w * (p - gi);
                        }
                    }
                    gmax = std::max(gmax, std::fabs(d));
                    gerr = std::max(gerr, std::fabs(d - dx[(size_t) ((b * M + m) * HW + i)]));
                }
            }
        }
        const std::string name = "mask_loss kind " + std::to_string(kind);
        satest::expect(std::fabs(loss - ref_loss) <= 2e-6 * std::max(1.0, std::fabs(ref_loss)),
                       name + ": " + std::to_string(loss) + " vs " + std::to_string(ref_loss));
        satest::expect(gerr <= 1e-4 * gmax,
                       name + " gradient: max error " + std::to_string(gerr) + " of " + std::to_string(gmax));
        std::printf("    ok %s: loss %.8f vs %.8f, gradient error %.2e of %.2e\n", name.c_str(), loss, ref_loss, gerr,
                    gmax);
    }
}

SA_TEST(mask_loss_selects_best_candidate) {
    // Sample with 3 candidates: the loss is the minimum and only that candidate gets a gradient.
    const int64_t HW = 64;
    Vec t(HW), x(3 * HW);
    for (int64_t i = 0; i < HW; ++i) {
        t[(size_t) i] = i < 20 ? 1.0f : 0.0f;
        x[(size_t) i] = -1.0f;                                    // poor
        x[(size_t) (HW + i)] = t[(size_t) i] > 0 ? 4.0f : -4.0f;  // best
        x[(size_t) (2 * HW + i)] = 0.5f;                          // poor
    }
    float all = 0, best = 0;
    Vec dx(3 * HW), dbest(HW);
    be()->mask_loss({0, x.data(), t.data(), &all, dx.data(), 1, 3, HW, nullptr, 0, nullptr});
    be()->mask_loss({0, x.data() + HW, t.data(), &best, dbest.data(), 1, 1, HW, nullptr, 0, nullptr});
    satest::expect(all == best, "multi-candidate loss must be the best candidate's");
    for (int64_t i = 0; i < HW; ++i) {
        satest::expect(dx[(size_t) i] == 0.0f && dx[(size_t) (2 * HW + i)] == 0.0f, "unselected gradient not zero");
        satest::expect(dx[(size_t) (HW + i)] == dbest[(size_t) i], "selected gradient differs");
    }
}

SA_TEST(adam_matches_reference) {
    for (int decoupled = 0; decoupled < 2; ++decoupled) {
        const int64_t n = 1000;
        Vec p = randn(n, 30), g0 = randn(n, 31), m(n, 0.0f), v(n, 0.0f);
        std::vector<double> pr(p.begin(), p.end()), mr(n, 0.0), vr(n, 0.0);
        const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
        for (int64_t t = 1; t <= 3; ++t) {
            Vec g = randn(n, 40 + (uint32_t) t);
            be()->adam_step({p.data(), g.data(), m.data(), v.data(), n, (float) lr, (float) b1, (float) b2, (float) eps,
                             (float) wd, decoupled != 0, t});
            for (int64_t i = 0; i < n; ++i) {
                double gi = g[(size_t) i];
                if (decoupled) pr[(size_t) i] *= 1 - lr * wd;
                else gi += wd * pr[(size_t) i];
                mr[(size_t) i] = b1 * mr[(size_t) i] + (1 - b1) * gi;
                vr[(size_t) i] = b2 * vr[(size_t) i] + (1 - b2) * gi * gi;
                const double mh = mr[(size_t) i] / (1 - std::pow(b1, (double) t));
                const double vh = vr[(size_t) i] / (1 - std::pow(b2, (double) t));
                pr[(size_t) i] -= lr * mh / (std::sqrt(vh) + eps);
            }
        }
        double err = 0;
        for (int64_t i = 0; i < n; ++i) err = std::max(err, std::fabs(pr[(size_t) i] - p[(size_t) i]));
        satest::expect(err < 1e-5, std::string(decoupled ? "adamw" : "adam") + " vs reference: " + std::to_string(err));
    }
}

SA_TEST(sum_squares_exact_and_nan) {
    Vec x = randn(100003, 50);
    double ref = 0;
    for (float v : x) ref += (double) v * v;
    float out = 0;
    be()->sum_squares(x.data(), &out, (int64_t) x.size());
    satest::expect(std::fabs(out - ref) <= 1e-6 * ref, "sum of squares");
    x[777] = INFINITY;
    be()->sum_squares(x.data(), &out, (int64_t) x.size());
    satest::expect(!std::isfinite(out), "Inf must propagate");
    x[777] = NAN;
    be()->sum_squares(x.data(), &out, (int64_t) x.size());
    satest::expect(std::isnan(out), "NaN must propagate");
}

SA_TEST(ops_validate_arguments) {
    bool thrown = false;
    try {
        float l;
        be()->mask_loss({7, nullptr, nullptr, &l, nullptr, 1, 1, 1, nullptr, 0, nullptr});
    } catch (const sa::Error & e) {
        thrown = e.status() == SA_ERR_INVALID_ARG;
    }
    satest::expect(thrown, "unknown loss kind must be rejected");
    thrown = false;
    try {
        float p = 0, g = 0, m = 0, v = 0;
        be()->adam_step({&p, &g, &m, &v, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, false, 0});
    } catch (const sa::Error & e) {
        thrown = e.status() == SA_ERR_INVALID_ARG;
    }
    satest::expect(thrown, "adam step 0 must be rejected");
}

SA_TEST_MAIN()
