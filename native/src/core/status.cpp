// SPDX-License-Identifier: Apache-2.0
#include "sa/status.h"

const char * sa_status_code_name(sa_status s) {
    switch (s) {
        case SA_OK:
            return "OK";
        case SA_ERR_INVALID_ARG:
            return "ERR_SA_INVALID_ARG";
        case SA_ERR_SHAPE:
            return "ERR_SA_SHAPE";
        case SA_ERR_WEIGHTS:
            return "ERR_SA_WEIGHTS";
        case SA_ERR_OOM:
            return "ERR_SA_OOM";
        case SA_ERR_UNSUPPORTED:
            return "ERR_SA_UNSUPPORTED";
        case SA_ERR_NUMERIC:
            return "ERR_SA_NUMERIC";
        case SA_ERR_CUDA:
            return "ERR_SA_CUDA";
        case SA_ERR_IO:
            return "ERR_SA_IO";
        case SA_ERR_CANCELLED:
            return "ERR_SA_CANCELLED";
        case SA_ERR_INTERNAL:
            return "ERR_SA_INTERNAL";
    }
    return "ERR_SA_INTERNAL";
}

namespace sa {
void fail(sa_status status, const std::string & msg) {
    throw Error(status, msg);
}
}  // namespace sa
