// SPDX-License-Identifier: Apache-2.0
// The list of wrapped classes and functions; each lives in its own file.
#include <napi.h>

#include "backends.h"
#include "wraps.h"

namespace saaddon {

Napi::Value map_file(const Napi::CallbackInfo & info);
Napi::Value half_to_float(const Napi::CallbackInfo & info);
Napi::Value float_to_half(const Napi::CallbackInfo & info);
Napi::Value preprocess_image(const Napi::CallbackInfo & info);

void register_all(Napi::Env env, Napi::Object exports) {
    exports.Set("backends", Napi::Function::New(env, backends_info, "backends"));
    exports.Set("mapFile", Napi::Function::New(env, map_file, "mapFile"));
    exports.Set("halfToFloat", Napi::Function::New(env, half_to_float, "halfToFloat"));
    exports.Set("floatToHalf", Napi::Function::New(env, float_to_half, "floatToHalf"));
    exports.Set("preprocessImage", Napi::Function::New(env, preprocess_image, "preprocessImage"));
    init_image_encoder(env, exports);
    init_sam_decoder(env, exports);
    init_decoder_trainer(env, exports);
    init_trainable_encoder(env, exports);
    init_head_trainer(env, exports);
}

}  // namespace saaddon
