// SPDX-License-Identifier: Apache-2.0
// Minimal test harness for the native C++ tests, plus a safetensors reader for the golden fixtures.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

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
    double rel() const { return ref_max > 0 ? max_abs / ref_max : max_abs; }
};
Diff diff(const float * got, const float * ref, int64_t n);

void add_test(const std::string & name, std::function<void()> fn);
// Fails the current test with a message (throws).
[[noreturn]] void fail(const std::string & msg);
void expect(bool cond, const std::string & msg);
// Passes when max_abs <= abs_tol or rel <= rel_tol.
void expect_close(const std::string & what, const float * got, const Tensor & ref, double abs_tol, double rel_tol);
int run_all();

}  // namespace satest

#define SA_TEST(name)                                                              \
    static void name();                                                            \
    static const int name##_reg = (::satest::add_test(#name, name), 0);            \
    static void name()

#define SA_TEST_MAIN() \
    int main() { return ::satest::run_all(); }
