// SPDX-License-Identifier: Apache-2.0
// preprocessImage(rgb, height, width, size, out): SAM's preprocessing of an RGB uint8 image into the
// model input [3, size, size] (sa/preprocess.h), off the JS thread; resolves with the resized
// [height, width]. rgb and out are held until it settles and must not be touched before.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "napi-util.h"
#include "sa/preprocess.h"

namespace saaddon {

Napi::Value preprocess_image(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const char * usage = "preprocessImage(rgb, height, width, size, out)";
    const bool bytes = info.Length() >= 1 && info[0].IsTypedArray() &&
                       info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
    SA_THROW_TYPEERROR_IF(!bytes, env, std::string(usage) + ": rgb must be a Uint8Array");
    int64_t dims[3];
    for (size_t i = 0; i < 3; ++i) {
        SA_THROW_TYPEERROR_IF(info.Length() <= i + 1 || !info[i + 1].IsNumber(), env,
                              std::string(usage) + ": height, width and size must be numbers");
        const double v = info[i + 1].As<Napi::Number>().DoubleValue();
        SA_THROW_RANGEERROR_IF(!(v >= 1 && v <= 65536 && v == (double) (int64_t) v), env,
                               std::string(usage) + ": height, width and size must be integers in [1, 65536]");
        dims[i] = (int64_t) v;
    }
    const int64_t h = dims[0], w = dims[1], size = dims[2];
    Napi::Uint8Array rgb = info[0].As<Napi::Uint8Array>();
    SA_THROW_RANGEERROR_IF(rgb.ElementLength() != (size_t) (h * w * 3), env,
                           std::string(usage) + ": rgb holds " + std::to_string(rgb.ElementLength()) +
                               " bytes, expected height x width x 3 = " + std::to_string(h * w * 3));
    Napi::Float32Array out = arg_f32(info, 4, usage);
    SA_THROW_RANGEERROR_IF(out.ElementLength() != (size_t) (3 * size * size), env,
                           std::string(usage) + ": out holds " + std::to_string(out.ElementLength()) +
                               " floats, expected 3 x size x size = " + std::to_string(3 * size * size));
    const uint8_t * src = rgb.Data();
    float * dst = out.Data();
    auto shape = std::make_shared<std::pair<int64_t, int64_t>>(0, 0);
    std::vector<Napi::Reference<Napi::Value>> keep;
    keep.push_back(Napi::Persistent(rgb.As<Napi::Value>()));
    keep.push_back(Napi::Persistent(out.As<Napi::Value>()));
    return PromiseWorker::start(
        env, [=] { sa::sam_preprocess(src, h, w, size, dst, &shape->first, &shape->second); },
        [shape](Napi::Env e) -> Napi::Value {
            Napi::Array a = Napi::Array::New(e, 2);
            a.Set((uint32_t) 0, Napi::Number::New(e, (double) shape->first));
            a.Set((uint32_t) 1, Napi::Number::New(e, (double) shape->second));
            return a;
        },
        std::move(keep));
}

}  // namespace saaddon
