// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the addon's wrappers: argument validation that throws TypeError/RangeError,
// and the mapping of core status codes to JS errors that carry a `code`.
#pragma once

#include <napi.h>

#include <string>

#include "sa/status.h"

namespace saaddon {

// Throws a JS Error with err.code = code.
[[noreturn]] inline void throw_coded(Napi::Env env, const std::string & code, const std::string & msg) {
    Napi::Error e = Napi::Error::New(env, msg);
    e.Set("code", Napi::String::New(env, code));
    throw e;
}

[[noreturn]] inline void throw_status(Napi::Env env, sa_status s, const std::string & msg) {
    throw_coded(env, sa_status_code_name(s), msg);
}

// Converts a C++ exception caught in the addon into a coded JS error.
[[noreturn]] inline void rethrow_as_js(Napi::Env env, const std::exception & e) {
    if (auto * se = dynamic_cast<const sa::Error *>(&e)) throw_status(env, se->status(), se->what());
    throw_coded(env, "ERR_SA_INTERNAL", e.what());
}

}  // namespace saaddon

#define SA_THROW_TYPEERROR_IF(cond, env, msg)                                  \
    do {                                                                       \
        if (cond) {                                                            \
            Napi::TypeError e = Napi::TypeError::New((env), (msg));            \
            e.Set("code", Napi::String::New((env), "ERR_SA_INVALID_ARG"));     \
            throw e;                                                           \
        }                                                                      \
    } while (0)

#define SA_THROW_RANGEERROR_IF(cond, env, msg)                                 \
    do {                                                                       \
        if (cond) {                                                            \
            Napi::RangeError e = Napi::RangeError::New((env), (msg));          \
            e.Set("code", Napi::String::New((env), "ERR_SA_INVALID_ARG"));     \
            throw e;                                                           \
        }                                                                      \
    } while (0)
