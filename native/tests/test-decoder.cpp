// SPDX-License-Identifier: Apache-2.0
// Prompt encoder + mask decoder against the official PyTorch outputs (fixtures/sam-tiny).
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sa/backend.h"
#include "sa/sam-decoder.h"
#include "sa/status.h"
#include "testing.h"

using satest::Tensor;

namespace {

using satest::golden;

bool has(const std::string & k) {
    return golden().count(k) != 0;
}

sa::WeightMap decoder_weights(const std::string & skip = "", const std::string & extra = "",
                              const std::string & reshape = "") {
    sa::WeightMap w;
    static std::vector<std::vector<int64_t>> keep_shapes;
    for (const auto & kv : satest::sam_tiny_weights()) {
        if (kv.first.rfind("image_encoder.", 0) == 0 || kv.first == skip) continue;
        std::vector<int64_t> shape = kv.second.shape;
        if (kv.first == reshape) shape.back() += 1;
        w.add(kv.first, sa::WeightView{shape, kv.second.data.data()});
    }
    if (!extra.empty()) w.add(extra, sa::WeightView{{1}, satest::sam_tiny_weights().begin()->second.data.data()});
    return w;
}

struct Fixture {
    std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    sa::WeightMap w = decoder_weights();
    sa::SamDecoder dec{*be, w, 256, 16};
};

Fixture & fx() {
    static Fixture f;
    return f;
}

// Prompts of a golden case; labels converted from int to float.
struct CasePrompts {
    std::vector<float> labels;
    sa::Prompts p;
};

CasePrompts case_prompts(const std::string & name) {
    CasePrompts c;
    const std::string k = "case/" + name + "/";
    int64_t B = 1;
    if (has(k + "boxes_input")) {
        B = golden(k + "boxes_input").shape[0];
        c.p.boxes = golden(k + "boxes_input").data.data();
    }
    if (has(k + "points_input")) {
        const Tensor & pts = golden(k + "points_input");
        c.p.n_points = pts.shape[0];
        c.p.points = pts.data.data();
        c.labels = golden(k + "labels").data;
        c.p.labels = c.labels.data();
    }
    if (has(k + "mask_input")) c.p.mask_input = golden(k + "mask_input").data.data();
    c.p.B = B;
    return c;
}

const char * kCases[] = {"points3", "box", "points10_box", "points100_box", "centroid1", "box_mask", "two_boxes"};

}  // namespace

SA_TEST(dense_pe_matches) {
    std::vector<float> pe(256 * 16 * 16);
    fx().dec.dense_pe(pe.data());
    satest::expect_close("dense_pe", pe.data(), golden("dense_pe"), 1e-4, 1e-3);
}

SA_TEST(config_inferred) {
    auto & d = fx().dec;
    satest::expect(d.embed_dim() == 256 && d.num_mask_tokens() == 4 && d.img_size() == 256 && d.embed_size() == 16,
                   "config: " + d.describe());
    satest::expect(
        d.param_shape("mask_decoder.transformer.layers.1.mlp.lin1.weight") == std::vector<int64_t>({2048, 256}),
        "param_shape of lin1");
}

SA_TEST(sparse_and_dense_embeddings) {
    for (const char * name : kCases) {
        CasePrompts c = case_prompts(name);
        const std::string k = std::string("case/") + name + "/";
        const int64_t Ns = fx().dec.num_sparse(c.p);
        std::vector<float> sparse((size_t) (c.p.B * Ns * 256)), dense((size_t) (c.p.B * 256 * 256));
        const int64_t got = fx().dec.encode_prompts(c.p, sparse.data(), dense.data());
        satest::expect(got == Ns, std::string(name) + ": sparse count");
        const Tensor & ref = golden(k + "sparse");
        satest::expect(ref.numel() == (int64_t) sparse.size(), std::string(name) + ": sparse shape");
        satest::expect_close(k + "sparse", sparse.data(), ref, 1e-4, 1e-3);
        if (has(k + "dense")) satest::expect_close(k + "dense", dense.data(), golden(k + "dense"), 1e-4, 1e-3);
    }
}

SA_TEST(masks_and_iou_single_and_multi) {
    const Tensor & emb = golden("image_embedding");
    for (const char * name : kCases) {
        CasePrompts c = case_prompts(name);
        const std::string k = std::string("case/") + name + "/";
        const int64_t B = c.p.B, HW = 64 * 64;
        std::vector<float> low((size_t) (B * 4 * HW)), iou((size_t) (B * 4));
        fx().dec.predict_all(emb.data.data(), false, c.p, low.data(), iou.data());
        // single: token 0; multi: tokens 1..3
        std::vector<float> single((size_t) (B * HW)), multi((size_t) (B * 3 * HW)), iou1((size_t) B),
            iou3((size_t) (B * 3));
        for (int64_t b = 0; b < B; ++b) {
            std::copy_n(low.data() + b * 4 * HW, HW, single.data() + b * HW);
            std::copy_n(low.data() + (b * 4 + 1) * HW, 3 * HW, multi.data() + b * 3 * HW);
            iou1[(size_t) b] = iou[(size_t) (b * 4)];
            for (int m = 0; m < 3; ++m) iou3[(size_t) (b * 3 + m)] = iou[(size_t) (b * 4 + 1 + m)];
        }
        satest::expect_close(k + "single/low_res_logits", single.data(), golden(k + "single/low_res_logits"), 1e-4,
                             1e-3);
        satest::expect_close(k + "single/iou_pred", iou1.data(), golden(k + "single/iou_pred"), 1e-4, 1e-3);
        satest::expect_close(k + "multi/low_res_logits", multi.data(), golden(k + "multi/low_res_logits"), 1e-4, 1e-3);
        satest::expect_close(k + "multi/iou_pred", iou3.data(), golden(k + "multi/iou_pred"), 1e-4, 1e-3);
    }
}

// A selection of mask tokens (SAM's single-mask output: token 0; multimask: tokens 1..3; one in the
// middle) gives predict_all's values for those tokens bit for bit, and all four IoUs; ranges outside
// the four tokens are refused.
SA_TEST(selected_mask_tokens_equal_predict_all) {
    CasePrompts c = case_prompts("two_boxes");
    const Tensor & emb = golden("image_embedding");
    const int64_t E = fx().dec.embed_size(), HW = 16 * E * E, B = 2;
    std::vector<float> all((size_t) (B * 4 * HW), NAN), iou_all((size_t) (B * 4), NAN);
    fx().dec.predict_all(emb.data.data(), false, c.p, all.data(), iou_all.data());
    for (auto [first, count] : {std::pair<int64_t, int64_t>{0, 1}, {1, 3}, {2, 1}, {0, 4}}) {
        std::vector<float> low((size_t) (B * count * HW), NAN), iou((size_t) (B * 4), NAN);
        fx().dec.predict(emb.data.data(), false, c.p, first, count, low.data(), iou.data());
        bool same = iou == iou_all;
        for (int64_t b = 0; b < B; ++b)
            same = same && std::equal(low.begin() + b * count * HW, low.begin() + (b + 1) * count * HW,
                                      all.begin() + (b * 4 + first) * HW);
        satest::expect(same, "mask tokens from " + std::to_string(first) + ", " + std::to_string(count) +
                                 ": other values than predict_all's");
    }
    std::vector<float> low((size_t) (B * 4 * HW)), iou((size_t) (B * 4));
    for (auto [first, count] : {std::pair<int64_t, int64_t>{-1, 1}, {0, 0}, {3, 2}, {4, 1}, {0, 5}})
        satest::expect_throws(SA_ERR_INVALID_ARG, "mask tokens outside the decoder", [&] {
            fx().dec.predict(emb.data.data(), false, c.p, first, count, low.data(), iou.data());
        });
}

SA_TEST(per_prompt_embeddings_equal_shared) {
    CasePrompts c = case_prompts("two_boxes");
    const Tensor & emb = golden("image_embedding");
    std::vector<float> both(emb.data);
    both.insert(both.end(), emb.data.begin(), emb.data.end());
    const int64_t n = 2 * 4 * 64 * 64;
    std::vector<float> a((size_t) n), b((size_t) n), ia(8), ib(8);
    fx().dec.predict_all(emb.data.data(), false, c.p, a.data(), ia.data());
    fx().dec.predict_all(both.data(), true, c.p, b.data(), ib.data());
    satest::expect(a == b && ia == ib, "per-prompt embeddings must give the shared-embedding result");
}

SA_TEST(padded_points_batch_like_single) {
    // A batch of two prompts padded to the same point count gives each prompt's own result
    // (label -1 rows are not-a-point tokens, exactly as the official padding point).
    const Tensor & emb = golden("image_embedding");
    CasePrompts c = case_prompts("points3");
    std::vector<float> pts(2 * 4 * 2, 0.0f), labels(2 * 4, -1.0f);
    for (int i = 0; i < 3; ++i) {
        pts[(size_t) (i * 2)] = c.p.points[i * 2];
        pts[(size_t) (i * 2 + 1)] = c.p.points[i * 2 + 1];
        labels[(size_t) i] = c.p.labels[i];
        pts[(size_t) (8 + i * 2)] = c.p.points[i * 2];
        pts[(size_t) (8 + i * 2 + 1)] = c.p.points[i * 2 + 1];
        labels[(size_t) (4 + i)] = c.p.labels[i];
    }
    sa::Prompts p;
    p.B = 2;
    p.n_points = 4;
    p.points = pts.data();
    p.labels = labels.data();
    std::vector<float> low(2 * 4 * 4096), iou(8);
    fx().dec.predict_all(emb.data.data(), false, p, low.data(), iou.data());
    satest::expect(std::equal(low.begin(), low.begin() + 4 * 4096, low.begin() + 4 * 4096), "batch rows differ");
}

SA_TEST(bad_weights_are_reported) {
    auto be = sa::make_cpu_backend();
    auto expect_status = [&](sa::WeightMap w, sa_status want, const std::string & key) {
        try {
            sa::SamDecoder d(*be, w, 256, 16);
        } catch (const sa::Error & e) {
            satest::expect(e.status() == want, std::string("status for ") + key + ": " + e.what());
            satest::expect(std::string(e.what()).find(key) != std::string::npos,
                           std::string("message must name ") + key + ": " + e.what());
            return;
        }
        satest::fail("no error for " + key);
    };
    expect_status(decoder_weights("mask_decoder.transformer.layers.1.norm2.bias"), SA_ERR_WEIGHTS,
                  "mask_decoder.transformer.layers.1.norm2.bias");
    expect_status(decoder_weights("prompt_encoder.not_a_point_embed.weight"), SA_ERR_WEIGHTS,
                  "prompt_encoder.not_a_point_embed.weight");
    expect_status(decoder_weights("", "mask_decoder.unexpected.weight"), SA_ERR_WEIGHTS,
                  "mask_decoder.unexpected.weight");
    expect_status(decoder_weights("", "", "mask_decoder.output_upscaling.3.bias"), SA_ERR_SHAPE,
                  "mask_decoder.output_upscaling.3.bias");
}

SA_TEST(bad_prompts_are_rejected) {
    const Tensor & emb = golden("image_embedding");
    float pt[2] = {10, 10}, bad_label[1] = {7};
    sa::Prompts p;
    p.n_points = 1;
    p.points = pt;
    p.labels = bad_label;
    std::vector<float> low(4 * 4096), iou(4);
    bool thrown = false;
    try {
        fx().dec.predict_all(emb.data.data(), false, p, low.data(), iou.data());
    } catch (const sa::Error & e) {
        thrown = e.status() == SA_ERR_INVALID_ARG && std::string(e.what()).find("labels") != std::string::npos;
    }
    satest::expect(thrown, "label 7 must be rejected naming labels");
}

SA_TEST_MAIN()
