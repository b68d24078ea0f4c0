// SPDX-License-Identifier: Apache-2.0
// JS prompt objects -> sa::Prompts. {batch, nPoints, points?: Float32Array [B*n*2], labels?: Float32Array [B*n],
// boxes?: Float32Array [B*4], maskInput?: Float32Array [B*4E*4E]}. The arrays are borrowed: the
// references in `keep` pin them until the native work is done.
#pragma once

#include <napi.h>

#include <vector>

#include "sa/sam-decoder.h"

namespace saaddon {

sa::Prompts prompts_from_js(Napi::Env env, Napi::Value v, int64_t embed_size, const char * what,
                            std::vector<Napi::Reference<Napi::Value>> * keep);

}  // namespace saaddon
