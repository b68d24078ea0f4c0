// SPDX-License-Identifier: Apache-2.0
// The CPU instruction-set level the kernels run at, chosen once per process.
//
// The core is built for a baseline (x86-64-v3: AVX2, FMA, F16C); the AVX-512, AVX-512-BF16 and AMX
// kernels live in their own translation units (src/cpu/isa/) compiled with their own flags, and are
// called only when the CPU has the instructions and the OS saves their register state (XCR0; for
// AMX also the per-process tile-data permission). SA_ISA=avx2|avx512|avx512bf16|amx forces a level
// (at most the highest available one). Results are bit-reproducible for a seed and thread count on
// one level; two levels may differ in the last bits (other register blocking, other summation order
// inside the kernels).
#pragma once

#include <string>

namespace sa {

enum class Isa { avx2 = 0, avx512 = 1, avx512bf16 = 2, amx = 3 };

// The level in use: SA_ISA when set, else the highest available. Throws sa::Error with
// SA_ERR_INVALID_ARG for an unknown SA_ISA name and SA_ERR_UNSUPPORTED for a level above the
// highest available one (the error repeats on every call; nothing runs at a level the CPU lacks).
Isa cpu_isa();
// The highest level both this CPU (cpuid, OS register state) and this build support.
Isa cpu_isa_available();
// "avx2", "avx512", "avx512bf16", "amx".
const char * isa_name(Isa isa);
// Every level this build has kernels for, lowest first, e.g. "avx2,avx512,avx512bf16,amx".
std::string isa_compiled();

}  // namespace sa
