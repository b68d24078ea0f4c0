// SPDX-License-Identifier: Apache-2.0
#include "testing.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

#include "sa/half.h"
#include "sa/isa.h"

namespace satest {

namespace {

// Tiny JSON scanner sufficient for safetensors headers.
struct Json {
    const std::string & s;
    size_t i = 0;
    void ws() {
        while (i < s.size() && isspace((unsigned char) s[i])) ++i;
    }
    char peek() {
        ws();
        return i < s.size() ? s[i] : '\0';
    }
    void want(char c) {
        if (peek() != c) throw std::runtime_error(std::string("safetensors header: expected '") + c + "'");
        ++i;
    }
    std::string str() {
        want('"');
        std::string out;
        while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\') ++i;
            out += s[i++];
        }
        ++i;
        return out;
    }
    int64_t num() {
        ws();
        size_t j = i;
        while (j < s.size() && (isdigit((unsigned char) s[j]) || s[j] == '-')) ++j;
        int64_t v = std::stoll(s.substr(i, j - i));
        i = j;
        return v;
    }
    void skip() {  // skip any value
        char c = peek();
        if (c == '"') {
            str();
        } else if (c == '{' || c == '[') {
            char close = c == '{' ? '}' : ']';
            int depth = 0;
            bool in_str = false;
            for (; i < s.size(); ++i) {
                if (in_str) {
                    if (s[i] == '\\') ++i;
                    else if (s[i] == '"') in_str = false;
                } else if (s[i] == '"') {
                    in_str = true;
                } else if (s[i] == c) {
                    ++depth;
                } else if (s[i] == close) {
                    if (--depth == 0) {
                        ++i;
                        return;
                    }
                }
            }
        } else {
            while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
        }
    }
};

struct Entry {
    std::string dtype;
    std::vector<int64_t> shape;
    int64_t begin = 0, end = 0;
};

struct Case {
    std::string name;
    std::function<void()> fn;
};
std::vector<Case> & registry() {
    static std::vector<Case> r;
    return r;
}

// out[i] = (float) of the i-th little-endian T stored at p (p need not be aligned).
template <class T>
void convert_to_float(const char * p, int64_t n, float * out) {
    for (int64_t i = 0; i < n; ++i) {
        T d;
        std::memcpy(&d, p + sizeof(T) * i, sizeof(T));
        out[i] = (float) d;
    }
}

}  // namespace

std::map<std::string, Tensor> load_safetensors(const std::string & path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string buf = ss.str();
    if (buf.size() < 8) throw std::runtime_error(path + ": too short for safetensors");
    uint64_t hlen;
    std::memcpy(&hlen, buf.data(), 8);
    if (8 + hlen > buf.size()) throw std::runtime_error(path + ": header length beyond end of file");
    const std::string header = buf.substr(8, hlen);
    const char * data = buf.data() + 8 + hlen;
    const size_t data_len = buf.size() - 8 - hlen;
    std::map<std::string, Tensor> out;
    Json j{header};
    j.want('{');
    while (j.peek() != '}') {
        std::string key = j.str();
        j.want(':');
        if (key == "__metadata__") {
            j.skip();
        } else {
            Entry e;
            j.want('{');
            while (j.peek() != '}') {
                std::string k = j.str();
                j.want(':');
                if (k == "dtype") {
                    e.dtype = j.str();
                } else if (k == "shape") {
                    j.want('[');
                    while (j.peek() != ']') {
                        e.shape.push_back(j.num());
                        if (j.peek() == ',') ++j.i;
                    }
                    j.want(']');
                } else if (k == "data_offsets") {
                    j.want('[');
                    e.begin = j.num();
                    j.want(',');
                    e.end = j.num();
                    j.want(']');
                } else {
                    j.skip();
                }
                if (j.peek() == ',') ++j.i;
            }
            j.want('}');
            if (e.end < e.begin || (size_t) e.end > data_len)
                throw std::runtime_error(path + ": bad offsets for " + key);
            Tensor t;
            t.shape = e.shape;
            int64_t n = 1;
            for (auto d : e.shape) n *= d;
            t.data.resize(n);
            const char * p = data + e.begin;
            const int64_t bytes = e.end - e.begin;
            auto need = [&](int64_t sz) {
                if (bytes != n * sz) throw std::runtime_error(path + ": size mismatch for " + key);
            };
            if (e.dtype == "F32") {
                need(4);
                std::memcpy(t.data.data(), p, n * 4);
            } else if (e.dtype == "F16") {
                need(2);
                std::vector<uint16_t> halves((size_t) n);
                std::memcpy(halves.data(), p, (size_t) n * 2);
                sa::half_to_float(halves.data(), t.data.data(), n);
            } else if (e.dtype == "BF16") {
                need(2);
                for (int64_t i = 0; i < n; ++i) {
                    uint16_t h;
                    std::memcpy(&h, p + 2 * i, 2);
                    uint32_t b = (uint32_t) h << 16;
                    std::memcpy(&t.data[i], &b, 4);
                }
            } else if (e.dtype == "F64") {
                need(8);
                convert_to_float<double>(p, n, t.data.data());
            } else if (e.dtype == "I64") {
                need(8);
                convert_to_float<int64_t>(p, n, t.data.data());
            } else if (e.dtype == "I32") {
                need(4);
                convert_to_float<int32_t>(p, n, t.data.data());
            } else if (e.dtype == "U8" || e.dtype == "BOOL") {
                need(1);
                for (int64_t i = 0; i < n; ++i) t.data[i] = (float) (uint8_t) p[i];
            } else {
                throw std::runtime_error(path + ": unsupported dtype " + e.dtype + " for " + key);
            }
            out.emplace(key, std::move(t));
        }
        if (j.peek() == ',') ++j.i;
    }
    return out;
}

std::string fixtures_dir() {
    if (const char * s = std::getenv("SA_FIXTURES")) return s;
    return "../shared/fixtures";
}

Diff diff(const float * got, const float * ref, int64_t n) {
    Diff d;
    for (int64_t i = 0; i < n; ++i) {
        double e = std::fabs((double) got[i] - (double) ref[i]);
        if (!(e <= d.max_abs)) d.max_abs = std::isnan(e) ? INFINITY : e;
        d.ref_max = std::max(d.ref_max, (double) std::fabs(ref[i]));
        d.sq_err += e * e;
        d.sq_ref += (double) ref[i] * (double) ref[i];
    }
    return d;
}

const std::map<std::string, Tensor> & sam_tiny_weights() {
    static const auto w = load_safetensors(fixtures_dir() + "/sam-tiny/sam_tiny.safetensors");
    return w;
}

const std::map<std::string, Tensor> & golden() {
    static const auto g = load_safetensors(fixtures_dir() + "/sam-tiny/golden.safetensors");
    return g;
}

const Tensor & golden(const std::string & name) {
    auto it = golden().find(name);
    if (it == golden().end()) fail("golden tensor missing: " + name);
    return it->second;
}

sa::WeightMap weight_map(const std::map<std::string, Tensor> & tensors, const std::string & skip_prefix) {
    sa::WeightMap w;
    for (const auto & kv : tensors) {
        if (!skip_prefix.empty() && kv.first.rfind(skip_prefix, 0) == 0) continue;
        w.add(kv.first, sa::WeightView{kv.second.shape, kv.second.data.data()});
    }
    return w;
}

std::vector<float> randn(size_t n, uint32_t seed, float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto & x : v) x = d(rng);
    return v;
}

std::vector<double> to_d(const std::vector<float> & v) {
    return std::vector<double>(v.begin(), v.end());
}

double wsum(const std::vector<double> & y, const std::vector<float> & w) {
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * (double) w[i];
    return s;
}

void check_grad(const std::string & what, std::vector<double> & x, const std::function<double()> & f,
                const std::vector<float> & g, double tol, int samples) {
    double gmax = 0, err = 0;
    for (float v : g) gmax = std::max(gmax, (double) std::fabs(v));
    const size_t n = x.size();
    const size_t count = samples > 0 ? std::min(n, (size_t) samples) : n;
    for (size_t s = 0; s < count; ++s) {
        const size_t i = samples > 0 ? (size_t) ((uint64_t) s * 2654435761u % n) : s;
        const double x0 = x[i], h = 1e-5;
        x[i] = x0 + h;
        const double fp = f();
        x[i] = x0 - h;
        const double fm = f();
        x[i] = x0;
        err = std::max(err, std::fabs((fp - fm) / (2 * h) - (double) g[i]));
    }
    const double rel = err / std::max(gmax, 1e-12);
    expect(gmax > 0, what + ": zero gradient");
    expect(rel <= tol, what + ": rel err " + std::to_string(rel) + " (max |g| " + std::to_string(gmax) + ")");
    std::printf("    ok %s: rel err %.2e over %zu entries\n", what.c_str(), rel, count);
}

std::vector<double> conv2d_reference(const std::vector<double> & x, const std::vector<double> & w,
                                     const std::vector<double> & b, int64_t B, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t k, int64_t stride, int64_t pad, int64_t groups) {
    const int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    const int64_t cg = C / groups, og = O / groups;  // channels per group in and out
    std::vector<double> y((size_t) (B * O * Ho * Wo));
    for (int64_t n = 0; n < B; ++n)
        for (int64_t o = 0; o < O; ++o)
            for (int64_t oy = 0; oy < Ho; ++oy)
                for (int64_t ox = 0; ox < Wo; ++ox) {
                    double s = b[(size_t) o];
                    for (int64_t ci = 0; ci < cg; ++ci) {
                        const int64_t c = o / og * cg + ci;
                        for (int64_t i = 0; i < k; ++i)
                            for (int64_t j = 0; j < k; ++j) {
                                const int64_t iy = oy * stride + i - pad, ix = ox * stride + j - pad;
                                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                    s += x[(size_t) (((n * C + c) * H + iy) * W + ix)] *
                                         w[(size_t) (((o * cg + ci) * k + i) * k + j)];
                            }
                    }
                    y[(size_t) (((n * O + o) * Ho + oy) * Wo + ox)] = s;
                }
    return y;
}

float round_bf16(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    std::memcpy(&x, &u, 4);
    return x;
}

sa::Backend & cpu_backend() {
    static std::unique_ptr<sa::Backend> b = sa::make_cpu_backend();
    return *b;
}

Buf::Buf(const std::vector<float> & v) : n(v.size()) {
    p = cpu_backend().alloc(n);
    cpu_backend().upload(p, v.data(), n);
}

Buf::Buf(size_t count, float value) : n(count) {
    p = cpu_backend().alloc(n);
    cpu_backend().fill(p, value, n);
}

Buf::~Buf() {
    cpu_backend().free(p);
}

std::vector<float> Buf::host() const {
    std::vector<float> v(n);
    cpu_backend().download(v.data(), p, n);
    return v;
}

void add_test(const std::string & name, std::function<void()> fn) {
    registry().push_back({name, std::move(fn)});
}

void fail(const std::string & msg) {
    throw std::runtime_error(msg);
}

void expect(bool cond, const std::string & msg) {
    if (!cond) fail(msg);
}

void expect_matches(const std::string & what, const std::vector<float> & got, const std::vector<float> & want,
                    double tol) {
    expect(got.size() == want.size(),
           what + ": " + std::to_string(got.size()) + " values, expected " + std::to_string(want.size()));
    const Diff d = diff(got.data(), want.data(), (int64_t) want.size());
    expect(d.max_abs <= tol * std::max(1.0, d.ref_max), what + ": max error " + std::to_string(d.max_abs));
}

void expect_close(const std::string & what, const float * got, const Tensor & ref, double abs_tol, double rel_tol) {
    Diff d = diff(got, ref.data.data(), ref.numel());
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: max_abs=%.3g rel=%.3g (ref max %.3g)", what.c_str(), d.max_abs, d.rel(),
                  d.ref_max);
    if (!(d.max_abs <= abs_tol || d.rel() <= rel_tol)) fail(std::string("not close: ") + buf);
    std::printf("    ok %s\n", buf);
}

int run_all() {
    int passed = 0, failed = 0;
    try {
        std::printf("cpu level: %s (available: %s)\n", sa::isa_name(sa::cpu_isa()),
                    sa::isa_name(sa::cpu_isa_available()));
    } catch (const std::exception & e) {
        std::printf("  FAIL cpu level: %s\n0 passed, 1 failed\n", e.what());
        return 1;
    }
    for (auto & c : registry()) {
        try {
            c.fn();
            ++passed;
            std::printf("  PASS %s\n", c.name.c_str());
        } catch (const std::exception & e) {
            ++failed;
            std::printf("  FAIL %s: %s\n", c.name.c_str(), e.what());
        }
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

int64_t numel(const std::vector<int64_t> & shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

TrainCase::TrainCase() : labels(golden("case/points10_box/labels").data) {
    const std::string k = "case/points10_box/";
    p.n_points = golden(k + "points_input").shape[0];
    p.points = golden(k + "points_input").data.data();
    p.labels = labels.data();
    p.boxes = golden(k + "boxes_input").data.data();
}
const float * TrainCase::image() const {
    return golden("image/preprocessed").data.data();
}
const float * TrainCase::target() const {
    return golden("train/target_low_res").data.data();
}

}  // namespace satest
