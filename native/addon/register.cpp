// SPDX-License-Identifier: Apache-2.0
// The list of wrapped classes and functions; each lives in its own file.
#include <napi.h>

#include "DecoderTrainerWrap.h"
#include "HeadTrainerWrap.h"
#include "ImageEncoderWrap.h"
#include "SamDecoderWrap.h"
#include "TrainableEncoderWrap.h"
#include "backends.h"

namespace saaddon {

Napi::Value map_file(const Napi::CallbackInfo & info);
Napi::Value half_to_float(const Napi::CallbackInfo & info);

void register_all(Napi::Env env, Napi::Object exports) {
    exports.Set("backends", Napi::Function::New(env, backends_info, "backends"));
    exports.Set("mapFile", Napi::Function::New(env, map_file, "mapFile"));
    exports.Set("halfToFloat", Napi::Function::New(env, half_to_float, "halfToFloat"));
    ImageEncoderWrap::init(env, exports);
    SamDecoderWrap::init(env, exports);
    DecoderTrainerWrap::init(env, exports);
    TrainableEncoderWrap::init(env, exports);
    HeadTrainerWrap::init(env, exports);
}

}  // namespace saaddon
