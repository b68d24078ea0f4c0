// SPDX-License-Identifier: Apache-2.0
#include "prompts-bridge.h"

#include <cmath>
#include <string>

#include "napi-util.h"

namespace saaddon {

sa::Prompts prompts_from_js(Napi::Env env, Napi::Value v, int64_t embed_size, const char * what,
                            std::vector<Napi::Reference<Napi::Value>> * keep) {
    const std::string w = what;
    SA_THROW_TYPEERROR_IF(!v.IsObject(), env, w + ": prompts must be an object");
    Napi::Object o = v.As<Napi::Object>();
    sa::Prompts p;
    p.B = get_int(o, "batch", 1, what);
    p.n_points = get_int(o, "nPoints", 0, what);
    SA_THROW_RANGEERROR_IF(p.B < 1 || p.B > 65536, env, w + ".batch must be in [1, 65536]");
    SA_THROW_RANGEERROR_IF(p.n_points < 0 || p.n_points > 4096, env, w + ".nPoints must be in [0, 4096]");
    p.points = get_f32_opt(o, "points", p.B * p.n_points * 2, what, keep);
    p.labels = get_f32_opt(o, "labels", p.B * p.n_points, what, keep);
    p.boxes = get_f32_opt(o, "boxes", p.B * 4, what, keep);
    const int64_t m = 4 * embed_size;
    p.mask_input = get_f32_opt(o, "maskInput", p.B * m * m, what, keep);
    SA_THROW_TYPEERROR_IF(p.n_points > 0 && (!p.points || !p.labels), env,
                          w + ": nPoints > 0 needs both points and labels");
    if (p.labels) {
        for (int64_t i = 0; i < p.B * p.n_points; ++i) {
            const float l = p.labels[i];
            SA_THROW_RANGEERROR_IF(
                !(l == -1.f || l == 0.f || l == 1.f || l == 2.f || l == 3.f), env,
                w + ".labels must be 1 (positive), 0 (negative), -1 (not a point) or 2/3 (box corners); got " +
                    std::to_string(l) + " at index " + std::to_string(i));
        }
    }
    auto check_finite = [&](const float * a, int64_t n, const char * name) {
        if (!a) return;
        for (int64_t i = 0; i < n; ++i) {
            SA_THROW_RANGEERROR_IF(!std::isfinite(a[i]), env, w + "." + name + " contains a non-finite value");
        }
    };
    check_finite(p.points, p.B * p.n_points * 2, "points");
    check_finite(p.boxes, p.B * 4, "boxes");
    return p;
}

}  // namespace saaddon
