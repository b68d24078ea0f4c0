// SPDX-License-Identifier: Apache-2.0
// Host part of SAM's prompt encoder: the random-Fourier positional encoding of prompt coordinates and
// of the embedding grid, and the sparse-token inputs (encodings + one-hot label rows) that the device
// combines with the learned embeddings (DecoderGraph::encode_prompts).
#pragma once

#include <cstdint>

#include "sa/sam-decoder.h"

namespace sa::decoder {

// Official PositionEmbeddingRandom._pe_encoding for one point already normalised to [0, 1]:
// out[0:C/2] = sin(2 pi (2c - 1) G), out[C/2:C] = cos(...), G [2, C/2].
void pe_encode(const float * G, int64_t C, float x01, float y01, float * out);

// get_dense_pe(): out [C, E, E] for the pixel centres of the E x E grid.
void dense_pe_host(const float * G, int64_t C, int64_t E, float * out);

// Validates the prompts (SA_ERR_INVALID_ARG naming the field) and returns the sparse token count:
// n_points (+ 1 padding point when there are points but no box) + 2 per box.
int64_t count_sparse(const Prompts & p);

// Fills pe [B, Ns, C] (zero rows for not-a-point labels) and onehot [B, Ns, 5] (columns: labels 0, 1,
// 2, 3, -1) for coordinates in the S x S model input frame.
void sparse_inputs(const Prompts & p, const float * G, int64_t C, int64_t S, float * pe, float * onehot);

}  // namespace sa::decoder
