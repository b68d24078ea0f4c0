// SPDX-License-Identifier: Apache-2.0
#include "cpu/backend-cpu.h"

#include "sa/isa.h"

namespace sa {

const char * precision_name(Precision p) {
    switch (p) {
        case Precision::fp32: return "fp32";
        case Precision::tf32: return "tf32";
        case Precision::bf16: return "bf16";
    }
    return "fp32";
}

std::unique_ptr<Backend> make_cpu_backend() { return make_cpu_backend(Precision::fp32); }

std::unique_ptr<Backend> make_cpu_backend(Precision precision) {
    const Isa isa = cpu_isa();  // an unknown or unavailable SA_ISA fails here, before any kernel runs
    SA_CHECK(precision != Precision::tf32, SA_ERR_UNSUPPORTED, "precision tf32 exists on the CUDA backend only");
    SA_CHECK(precision != Precision::bf16 || isa >= Isa::avx512bf16, SA_ERR_UNSUPPORTED,
             std::string("precision bf16 on the CPU needs AVX512_BF16 or AMX; the CPU level in use is ") +
                 isa_name(isa) + " (available here: " + isa_name(cpu_isa_available()) + ")");
    return std::make_unique<CpuBackend>(precision == Precision::bf16);
}

}  // namespace sa
