// SPDX-License-Identifier: Apache-2.0
// SamDecoder's state, shared with DecoderTrainer: the parameter layout, the flat device parameter
// buffer, the dense positional encoding, and the host staging of prompt inputs.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/decoder-graph.h"
#include "model/decoder-layout.h"
#include "sa/backend.h"
#include "sa/sam-decoder.h"

namespace sa {

class SamDecoderImpl {
  public:
    SamDecoderImpl(Backend & be, WeightMap & w, int64_t img_size, int64_t embed_size);
    ~SamDecoderImpl();

    // Validates the prompts, prepares g for them and uploads the inputs (embedding count: B when
    // per_prompt, else 1).
    void load_inputs(decoder::DecoderGraph & g, const float * embedding, bool per_prompt, const Prompts & p,
                     bool train);

    Backend & be;
    decoder::Layout L;
    int64_t S, E;
    float * params = nullptr;     // device, L.total floats
    float * key_pe = nullptr;     // device [E*E, C]
    std::vector<float> dense_pe;  // host [C, E, E]
    std::vector<float> host_pe, host_onehot, host_gauss;
    std::unique_ptr<decoder::DecoderGraph> graph;  // inference workspace
};

}  // namespace sa
