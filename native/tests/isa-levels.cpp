// SPDX-License-Identifier: Apache-2.0
// Prints the CPU levels this machine and build can run, lowest first, one per line (the test runner
// runs every C++ and native test file at each of them with SA_ISA).
#include <cstdio>

#include "sa/isa.h"

int main() {
    const int top = (int) sa::cpu_isa_available();
    for (int l = 0; l <= top; ++l) std::printf("%s\n", sa::isa_name((sa::Isa) l));
    return 0;
}
