// SPDX-License-Identifier: Apache-2.0
// CPU level detection (cpuid + xgetbv) and the SA_ISA override; see sa/isa.h.
#include "sa/isa.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "sa/status.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace sa {

namespace {

#if defined(__x86_64__) || defined(__i386__)
uint64_t xgetbv0() {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t) hi << 32) | lo;
}

// Asks Linux for the AMX tile-data state (needed once per process before any tile instruction).
[[maybe_unused]] bool request_amx_permission() {
#if defined(__linux__) && defined(SYS_arch_prctl)
    constexpr int kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureTileData = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureTileData) != 0) return false;
    unsigned long bitmask = 0;
    if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &bitmask) != 0) return false;
    return (bitmask >> kXfeatureTileData) & 1;
#else
    return false;
#endif
}

Isa detect() {
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d)) return Isa::avx2;
    const bool osxsave = (c >> 27) & 1;
    if (!osxsave) return Isa::avx2;
    const uint64_t xcr0 = xgetbv0();
    // XMM (1), YMM (2); opmask (5), ZMM0-15 upper halves (6), ZMM16-31 (7); tile config (17), data (18).
    const bool os_avx512 = (xcr0 & 0xE6) == 0xE6;
    const bool os_amx = ((xcr0 >> 17) & 3) == 3;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::avx2;
    const bool f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    const bool amx_bf16 = (d >> 22) & 1, amx_tile = (d >> 24) & 1;
    unsigned a1 = 0, b1, c1, d1;
    __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    const bool avx512_bf16 = (a1 >> 5) & 1;
    if (!(os_avx512 && f && dq && bw && vl)) return Isa::avx2;
    Isa level = Isa::avx512;
#if defined(SA_HAVE_AVX512BF16)
    if (avx512_bf16) level = Isa::avx512bf16;
#endif
#if defined(SA_AMX_EMULATED)
    // The test build whose tile instructions run in software (cpu/isa/amx-emulated.h): level amx on
    // any CPU with AVX512_BF16.
    (void) os_amx, (void) amx_bf16, (void) amx_tile;
    if (level == Isa::avx512bf16) level = Isa::amx;
#elif defined(SA_HAVE_AMX)
    if (level == Isa::avx512bf16 && os_amx && amx_bf16 && amx_tile && request_amx_permission()) level = Isa::amx;
#else
    (void) os_amx, (void) amx_bf16, (void) amx_tile;
#endif
    return level;
}
#else
Isa detect() {
    return Isa::avx2;
}
#endif

Isa available_level() {
#if defined(SA_HAVE_AVX512)
    static const Isa level = detect();
#else
    static const Isa level = Isa::avx2;
#endif
    return level;
}

struct Choice {
    Isa isa = Isa::avx2;
    sa_status status = SA_OK;
    std::string error;
};

Choice choose() {
    Choice ch;
    const Isa avail = available_level();
    ch.isa = avail;
    const char * env = std::getenv("SA_ISA");
    if (!env || !*env) return ch;
    Isa want;
    if (!std::strcmp(env, "avx2")) want = Isa::avx2;
    else if (!std::strcmp(env, "avx512")) want = Isa::avx512;
    else if (!std::strcmp(env, "avx512bf16")) want = Isa::avx512bf16;
    else if (!std::strcmp(env, "amx")) want = Isa::amx;
    else {
        ch.status = SA_ERR_INVALID_ARG;
        ch.error = std::string("SA_ISA='") + env + "' is not a CPU level (avx2, avx512, avx512bf16, amx)";
        return ch;
    }
    if ((int) want > (int) avail) {
        ch.status = SA_ERR_UNSUPPORTED;
        ch.error = std::string("SA_ISA=") + env + ": this CPU and build support at most '" + isa_name(avail) +
                   "' (compiled levels: " + isa_compiled() + ")";
        return ch;
    }
    ch.isa = want;
    return ch;
}

}  // namespace

const char * isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx2:
            return "avx2";
        case Isa::avx512:
            return "avx512";
        case Isa::avx512bf16:
            return "avx512bf16";
        case Isa::amx:
            return "amx";
    }
    return "avx2";
}

std::string isa_compiled() {
    std::string s = "avx2";
#if defined(SA_HAVE_AVX512)
    s += ",avx512";
#endif
#if defined(SA_HAVE_AVX512BF16)
    s += ",avx512bf16";
#endif
#if defined(SA_AMX_EMULATED)
    s += ",amx (emulated tiles)";
#elif defined(SA_HAVE_AMX)
    s += ",amx";
#endif
    return s;
}

Isa cpu_isa_available() {
    return available_level();
}

Isa cpu_isa() {
    static const Choice ch = choose();
    if (ch.status != SA_OK) fail(ch.status, ch.error);
    return ch.isa;
}

}  // namespace sa
