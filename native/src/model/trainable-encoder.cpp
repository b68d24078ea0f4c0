// SPDX-License-Identifier: Apache-2.0
// make_trainable_encoder: a trainable image encoder by architecture.
#include "sa/trainable-encoder.h"

#include "sa/status.h"
#include "sa/trainable-tinyvit.h"
#include "sa/trainable-vit.h"

namespace sa {

std::unique_ptr<TrainableEncoder> make_trainable_encoder(Backend & be, WeightMap & w, const std::string & arch,
                                                         const std::string & prefix, TrainableEncoderOptions opt) {
    if (arch == "vit") return std::make_unique<TrainableVit>(be, w, prefix, opt);
    if (arch == "tinyvit") return make_trainable_tinyvit(be, w, prefix, TrainableTinyVitOptions{opt});
    fail(SA_ERR_INVALID_ARG, "trainable image encoder: unknown architecture '" + arch + "' (vit, tinyvit)");
}

}  // namespace sa
