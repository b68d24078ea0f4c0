// SPDX-License-Identifier: Apache-2.0
// One training step with the image encoder in the loop (LoRA in the encoder, trained together with
// the mask decoder): the batch is encoded with the adapted encoder (no embedding cache), the decoder
// trainer computes the loss and its gradients down to the image embeddings (TrainConfig.embedding_grad),
// the encoder's backward pass carries them to its adapters, and Adam / AdamW (the trainer's
// configuration and learning rate) updates the decoder and the adapters.
#pragma once

#include "sa/decoder-trainer.h"
#include "sa/sam-decoder.h"
#include "sa/trainable-encoder.h"

namespace sa {

// images: host [p.B, 3, S, S] (normalised, padded); p: the batch's prompts; targets: host
// [p.B, 1, 4E, 4E] in {0, 1}. The encoder must have adapters; the trainer must compute the embedding
// gradient and belong to a decoder of the encoder's embedding size. A NaN / Inf loss or gradient
// (decoder or adapters) throws SA_ERR_NUMERIC before any parameter or optimiser state changes.
// Gradient clipping (TrainConfig.grad_clip_norm) applies to the decoder's gradients only. Returns
// the loss.
float encoder_decoder_step(TrainableEncoder & enc, DecoderTrainer & trainer, const float * images, const Prompts & p,
                           const float * targets, float lr_override = -1);

}  // namespace sa
