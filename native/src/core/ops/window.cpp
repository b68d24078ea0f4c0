// SPDX-License-Identifier: Apache-2.0
// Backend::window_partition / window_unpartition: the argument checks, then the backend's kernel
// (nothing to do: no call).
#include <string>

#include "sa/backend.h"

namespace sa {

namespace {

// false: an empty grid (nothing to do).
bool check_window(const char * op, const WindowArgs & a) {
    SA_CHECK_ARG(a.B >= 0 && a.H >= 0 && a.W >= 0 && a.C >= 0, std::string(op) + ": negative size");
    SA_CHECK_ARG(a.win > 0, std::string(op) + ": window size must be positive");
    SA_CHECK_ARG(a.x != a.y, std::string(op) + ": in-place is not supported");
    if (a.B == 0 || a.H == 0 || a.W == 0 || a.C == 0) return false;
    SA_CHECK_ARG(a.x && a.y, std::string(op) + ": null pointer");
    return true;
}

}  // namespace

void Backend::window_partition(const WindowArgs & a) {
    if (check_window("window_partition", a)) window_partition_impl(a);
}

void Backend::window_unpartition(const WindowArgs & a) {
    if (check_window("window_unpartition", a)) window_unpartition_impl(a);
}

}  // namespace sa
