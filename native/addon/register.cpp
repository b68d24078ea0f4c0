// SPDX-License-Identifier: Apache-2.0
// The list of wrapped classes and functions; each lives in its own file.
#include <napi.h>

namespace saaddon {

void register_all(Napi::Env env, Napi::Object exports) {
    (void) env;
    (void) exports;
}

}  // namespace saaddon
