// SPDX-License-Identifier: Apache-2.0
// Minimal test harness for the native C++ tests, plus a safetensors reader for the golden fixtures
// and the helpers several test files share (random inputs, CPU-backend buffers, the sam-tiny model).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/status.h"
#include "sa/sam-decoder.h"
#include "sa/weights.h"

namespace satest {

struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;  // F32/F16/BF16 converted to float; integer types converted too
    int64_t numel() const { return (int64_t) data.size(); }
};

// Reads every tensor of a safetensors file. Throws std::runtime_error on a malformed file.
std::map<std::string, Tensor> load_safetensors(const std::string & path);

// $SA_FIXTURES (set by CTest) or ../shared/fixtures relative to the working directory.
std::string fixtures_dir();

// max |a-b| and max |ref|
struct Diff {
    double max_abs = 0, ref_max = 0;
    double sq_err = 0, sq_ref = 0;  // sums of squared differences and of squared reference values
    double rel() const { return ref_max > 0 ? max_abs / ref_max : max_abs; }
    // mean squared error relative to the reference's mean square
    double nmse() const { return sq_ref > 0 ? sq_err / sq_ref : sq_err; }
};
Diff diff(const float * got, const float * ref, int64_t n);

// The sam-tiny fixture model (fixtures/sam-tiny): its weights and the official PyTorch outputs, each
// read once per test executable.
const std::map<std::string, Tensor> & sam_tiny_weights();
const std::map<std::string, Tensor> & golden();
// One golden tensor; fails the current test when the fixture lacks it.
const Tensor & golden(const std::string & name);

// A WeightMap viewing `tensors` (which must outlive it), without the keys that start with
// `skip_prefix` (none skipped when it is empty).
sa::WeightMap weight_map(const std::map<std::string, Tensor> & tensors, const std::string & skip_prefix = "");

// Element count of a shape.
int64_t numel(const std::vector<int64_t> & shape);

// The sam-tiny fixture's training case: the "points10_box" prompt, the preprocessed image and the
// low-res training target (train/target_low_res).
struct TrainCase {
    std::vector<float> labels;
    sa::Prompts p;
    TrainCase();
    const float * image() const;
    const float * target() const;
};

// n values of Normal(0, scale) from a mt19937 seeded with `seed`: fixed random inputs per test.
std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f);

// Finite-difference checks of backward passes against double-precision references.
std::vector<double> to_d(const std::vector<float> & v);
// sum_i y[i] w[i]: a scalar loss whose output gradient is w.
double wsum(const std::vector<double> & y, const std::vector<float> & w);
// Central differences (double, step h) of f at every entry of x (or `samples` spread entries when
// samples > 0) against the analytic gradient g: max |num - g| <= tol * max |g|.
void check_grad(const std::string & what, std::vector<double> & x, const std::function<double()> & f,
                const std::vector<float> & g, double tol, int samples = 0);

// Convolution in double (zero padding): x [B, C, H, W], w [O, C/groups, k, k], b [O] -> y [B, O, Ho, Wo].
std::vector<double> conv2d_reference(const std::vector<double> & x, const std::vector<double> & w,
                                     const std::vector<double> & b, int64_t B, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t k, int64_t stride, int64_t pad, int64_t groups);

// The CPU backend the op tests of one executable share.
sa::Backend & cpu_backend();

// A buffer of cpu_backend(), initialised from a host vector or filled with one value; freed with it.
struct Buf {
    float * p = nullptr;
    size_t n = 0;
    explicit Buf(const std::vector<float> & v);
    explicit Buf(size_t count, float value = 0.0f);
    ~Buf();
    Buf(const Buf &) = delete;
    Buf & operator=(const Buf &) = delete;
    // The buffer's values, downloaded.
    std::vector<float> host() const;
};

void add_test(const std::string & name, std::function<void()> fn);
// x rounded to bf16 (nearest even), as a float.
float round_bf16(float x);
// Fails the current test with a message (throws).
[[noreturn]] void fail(const std::string & msg);
void expect(bool cond, const std::string & msg);
// f() must throw an sa::Error with status `want`.
template <class F>
void expect_throws(sa_status want, const std::string & what, F && f) {
    try {
        f();
    } catch (const sa::Error & e) {
        expect(e.status() == want, what + ": wrong status, message: " + e.what());
        return;
    }
    fail(what + ": no error thrown");
}
// Passes when max |got - want| <= tol * max(1, max |want|) (an op against its composed or reference
// version); the message names `what` and gives the largest error.
void expect_matches(const std::string & what, const std::vector<float> & got, const std::vector<float> & want,
                    double tol);
// Passes when max_abs <= abs_tol or rel <= rel_tol.
void expect_close(const std::string & what, const float * got, const Tensor & ref, double abs_tol, double rel_tol);
int run_all();

}  // namespace satest

#define SA_TEST(name)                                                   \
    static void name();                                                 \
    static const int name##_reg = (::satest::add_test(#name, name), 0); \
    static void name()

#define SA_TEST_MAIN()              \
    int main() {                    \
        return ::satest::run_all(); \
    }
