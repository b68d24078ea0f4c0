// SPDX-License-Identifier: Apache-2.0
// Status codes of the native core. The core never aborts the process: every failure becomes a
// status plus a message, and the addon maps it to a JS Error whose `code` is sa_status_code_name().
#pragma once

#include <stdexcept>
#include <string>

enum sa_status {
    SA_OK = 0,
    SA_ERR_INVALID_ARG,  // bad argument from the caller (type, range, null)
    SA_ERR_SHAPE,        // tensor shape does not fit the architecture
    SA_ERR_WEIGHTS,      // missing / unexpected weights
    SA_ERR_OOM,          // allocation failed
    SA_ERR_UNSUPPORTED,  // feature not built in or not supported by this backend
    SA_ERR_NUMERIC,      // NaN / Inf encountered
    SA_ERR_CUDA,         // CUDA / cuBLAS error
    SA_ERR_IO,           // file system
    SA_ERR_CANCELLED,    // cooperative cancellation
    SA_ERR_INTERNAL,     // a bug: an invariant did not hold
};

// "ERR_SA_INVALID_ARG", ... (the JS error code)
const char * sa_status_code_name(sa_status s);

namespace sa {

// Internal error carrier. Thrown inside the core; the addon catches it at its boundary
// (saaddon::rethrow_as_js and PromiseWorker in addon/napi-util.cpp) and turns its status into a JS
// error whose code is sa_status_code_name(status), so no C++ exception ever escapes into N-API.
class Error : public std::runtime_error {
  public:
    Error(sa_status status, const std::string & msg) : std::runtime_error(msg), status_(status) {}
    sa_status status() const { return status_; }

  private:
    sa_status status_;
};

[[noreturn]] void fail(sa_status status, const std::string & msg);

}  // namespace sa

// Validate a condition; on failure throw sa::Error with the given status and message.
#define SA_CHECK(cond, status, msg)                 \
    do {                                            \
        if (!(cond)) {                              \
            ::sa::fail((status), std::string(msg)); \
        }                                           \
    } while (0)

#define SA_CHECK_ARG(cond, msg) SA_CHECK(cond, SA_ERR_INVALID_ARG, msg)
