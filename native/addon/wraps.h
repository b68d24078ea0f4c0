// SPDX-License-Identifier: Apache-2.0
// The wrapped classes, one per file (<Name>Wrap.cpp): what registers them, and what a wrap that takes
// another as an argument may see of it.
#pragma once

#include <napi.h>

#include <optional>

#include "native-object.h"
#include "sa/decoder-trainer.h"
#include "sa/sam-decoder.h"

namespace saaddon {

// JS: new ImageEncoder(weights, {arch: "vit" | "tinyvit", prefix?, backend?: "cpu" | "cuda", precision?})
//     encoder.encode(images: Float32Array [B,3,S,S], batch, {taps?}) -> Promise<{embedding, taps?}>
//     encoder.info -> {arch, imgSize, embedDim, embedSize, description, flopsPerImage, backend, precision}
void init_image_encoder(Napi::Env env, Napi::Object exports);

// JS: new SamDecoder(weights, {imgSize, embedSize, backend?})
//     decoder.densePe() -> Float32Array [256, E, E]
//     decoder.encodePrompts(prompts) -> {sparse [B, Ns, 256], nSparse, dense [B, 256, E, E]}
//     decoder.predictAll(embedding, prompts, {perPromptEmbeddings?}) -> Promise<{lowRes [B,4,4E,4E], iou [B,4]}>
//     decoder.info -> {imgSize, embedSize, backend}
//     decoder.paramNames() / paramShape(name) / getParam(name) / setParam(name, data)
//     A trainer still using a disposed decoder keeps it alive until the trainer goes too.
void init_sam_decoder(Napi::Env env, Napi::Object exports);

// JS: new DecoderTrainer(decoder: SamDecoder, {loss, optimizer, lr, beta1, beta2, eps, weightDecay,
//                        gradClipNorm, multimask, trainPromptEncoder, embeddingGrad})
//     trainer.step(embeddings [B,256,E,E], prompts, targets [B,1,4E,4E], {lr?}) -> Promise<number> (loss)
//     trainer.lossAndGrad(embeddings, prompts, targets) -> Promise<number>
//     trainer.trainedParams(), getGrad(name), getState(name) -> {m, v}, setState(name, m, v),
//     stepCount (get/set). dispose() also lets go of the decoder.
void init_decoder_trainer(Napi::Env env, Napi::Object exports);

// JS: new TrainableEncoder(weights, {arch: "vit" | "tinyvit", prefix?, backend?,
//                          lora: {rank, alpha?, targets?, seed?}})   (adapters only: no base gradients)
//     enc.info -> {arch, imgSize, embedDim, embedSize, description, backend, rank, alpha, targets, loraScale}
//     enc.encode(images [B,3,S,S], batch) -> Promise<{embedding}> with the adapted encoder
//     enc.trainStep(trainer: DecoderTrainer (embeddingGrad), images, prompts, targets, {lr?}) -> Promise<number>
//     enc.loraNames() / paramShape(name) / getParam(name) / setParam(name, data) / mergedWeight(name)
//     enc.getState(name) -> {m, v}; enc.setState(name, m, v); enc.stepCount (get/set): the adapters' Adam state
void init_trainable_encoder(Napi::Env env, Napi::Object exports);

// JS: new HeadTrainer({depth, hidden?, inChannels?, embedSize, backend?}, {loss, optimizer, lr, beta1,
//                     beta2, eps, weightDecay, gradClipNorm})
//     head.info -> {depth, hidden, inChannels, embedSize, backend}
//     head.predict(embeddings [B,C,E,E]) -> Promise<Float32Array> low-res logits [B,1,4E,4E]
//     head.step(embeddings, targets [B,1,4E,4E], {lr?}) -> Promise<number> (loss)
//     head.lossAndGrad(embeddings, targets) -> Promise<number>
//     head.paramNames(), paramShape(name), getParam(name), setParam(name, data), getGrad(name),
//     trainedParams(), getState(name) -> {m, v}, setState(name, m, v), stepCount (get/set)
void init_head_trainer(Napi::Env env, Napi::Object exports);

// Every class also has dispose() (Symbol.dispose in JS), which frees the core object now (work in
// flight finishes first; later calls throw ERR_SA_STATE), and nativeBytes, the memory reported to V8.

// The SamDecoder behind v; nothing when v is not one.
std::optional<Held<sa::SamDecoder>> sam_decoder_of(const Napi::Value & v);
// The DecoderTrainer behind v and the decoder it trains; nothing when v is not one.
struct TrainerHeld {
    Held<sa::DecoderTrainer> trainer;
    std::shared_ptr<sa::SamDecoder> decoder;
};
std::optional<TrainerHeld> decoder_trainer_of(const Napi::Value & v);

}  // namespace saaddon
