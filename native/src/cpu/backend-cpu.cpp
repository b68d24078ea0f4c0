// SPDX-License-Identifier: Apache-2.0
#include "cpu/backend-cpu.h"

namespace sa {

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace sa
