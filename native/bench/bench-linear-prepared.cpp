// SPDX-License-Identifier: Apache-2.0
// Prepared (frozen-weight) linear layers at ViT-B's shapes on the fp32 and the bf16 CPU backends: the
// products behind an encoder pass with --precision fp32 and bf16.
//
//   bench-linear-prepared [threads] [repeats]
//
// Prints, per shape and precision, the median seconds per call, GFLOP/s over wall time and GFLOP per
// CPU second (less sensitive to other load on the machine).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "bench-common.h"
#include "sa/backend.h"
#include "sa/isa.h"

namespace {

int run(int argc, char ** argv) {
    const int threads = argc > 1 ? std::atoi(argv[1]) : 0;
    const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
    struct Shape {
        const char * name;
        int64_t M, K, N;
    };
    const Shape shapes[] = {{"qkv 4096x768->2304", 4096, 768, 2304},    {"qkv win 4900x768->2304", 4900, 768, 2304},
                            {"proj win 4900x768->768", 4900, 768, 768}, {"proj 4096x768->768", 4096, 768, 768},
                            {"mlp1 4096x768->3072", 4096, 768, 3072},   {"mlp2 4096x3072->768", 4096, 3072, 768}};
    std::printf("cpu level %s, threads %d\n", sa::isa_name(sa::cpu_isa()), threads);
    for (const sa::Precision precision : {sa::Precision::fp32, sa::Precision::bf16}) {
        if (precision == sa::Precision::bf16 && sa::cpu_isa() < sa::Isa::avx512bf16) continue;
        std::unique_ptr<sa::Backend> be = sa::make_cpu_backend(precision, threads);
        for (const Shape & s : shapes) {
            const std::vector<float> x = sa::bench::randn((size_t) (s.M * s.K), 1, 1.0f);
            const std::vector<float> w = sa::bench::randn((size_t) (s.N * s.K), 2, 0.05f);
            const std::vector<float> b = sa::bench::randn((size_t) s.N, 3, 0.1f);
            float * dx = sa::bench::upload_copy(*be, x, (int64_t) x.size());
            float * dw = sa::bench::upload_copy(*be, w, (int64_t) w.size());
            float * db = sa::bench::upload_copy(*be, b, (int64_t) b.size());
            float * dwp = be->alloc(be->prepared_linear_size(s.N, s.K));
            float * dy = be->alloc((size_t) (s.M * s.N));
            be->prepare_linear(dw, dwp, s.N, s.K);
            be->linear_prepared(dx, dwp, db, dy, s.M, s.K, s.N);  // warm up
            std::vector<double> wall, cpu;
            for (int r = 0; r < repeats; ++r) {
                const auto t0 = sa::bench::Clock::now();
                const double c0 = sa::bench::process_cpu_seconds();
                be->linear_prepared(dx, dwp, db, dy, s.M, s.K, s.N);
                wall.push_back(sa::bench::seconds_since(t0));
                cpu.push_back(sa::bench::process_cpu_seconds() - c0);
            }
            const double gflop = 2.0 * (double) s.M * (double) s.K * (double) s.N / 1e9;
            const double tw = sa::bench::median(wall), tc = sa::bench::median(cpu);
            std::printf("%-5s %-22s %8.2f ms  %7.1f GFLOP/s  %7.1f GFLOP per CPU-s\n", sa::precision_name(precision),
                        s.name, tw * 1e3, gflop / tw, gflop / tc);
            for (float * p : {dx, dw, db, dwp, dy}) be->free(p);
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char ** argv) {
    return sa::bench::bench_main("bench-linear-prepared", argc, argv, run);
}
