// SPDX-License-Identifier: Apache-2.0
// The SAM ViT image encoder against the official PyTorch outputs of the tiny fixture model
// (embed 64, depth 4, 4 heads, window 5 with padding, global blocks 1 and 3), weight validation
// errors, and configuration inference for the vit_b / vit_l / vit_h presets.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "model/vit-config.h"
#include "sa/backend.h"
#include "sa/image-encoder.h"
#include "sa/status.h"
#include "testing.h"

namespace {

using satest::Tensor;

using satest::golden;
using satest::weight_map;

std::unique_ptr<sa::Backend> & backend() {
    static std::unique_ptr<sa::Backend> be = sa::make_cpu_backend();
    return be;
}

// make_vit_encoder on the tensors t fails with `status` and a message that names each of `parts`.
void expect_rejected(const std::map<std::string, Tensor> & t, sa_status status,
                     const std::vector<std::string> & parts) {
    sa::WeightMap w = weight_map(t);
    try {
        sa::make_vit_encoder(*backend(), w);
    } catch (const sa::Error & e) {
        const std::string msg = e.what();
        satest::expect(e.status() == status, "status " + std::to_string((int) e.status()) + ": " + msg);
        for (const std::string & part : parts)
            satest::expect(msg.find(part) != std::string::npos, "message \"" + msg + "\" does not mention " + part);
        return;
    }
    satest::fail("make_vit_encoder accepted broken weights");
}

SA_TEST(tiny_config_is_inferred) {
    sa::WeightMap w = weight_map(satest::sam_tiny_weights());
    const sa::VitConfig c = sa::infer_vit_config(w, "image_encoder.");
    satest::expect(c.embed_dim == 64 && c.depth == 4 && c.num_heads == 4 && c.head_dim == 16, "dims: " + c.describe());
    satest::expect(c.window == 5 && c.global_blocks == std::vector<int64_t>{1, 3}, "windows: " + c.describe());
    satest::expect(c.img_size == 256 && c.grid == 16 && c.patch == 16 && c.out_chans == 256, "sizes: " + c.describe());
    satest::expect(c.mlp_dim == 256 && c.qkv_bias, "mlp / qkv bias: " + c.describe());
}

SA_TEST(tiny_encoder_matches_pytorch) {
    sa::WeightMap w = weight_map(satest::sam_tiny_weights());
    auto enc = sa::make_vit_encoder(*backend(), w);
    satest::expect(enc->arch() == "vit" && enc->img_size() == 256 && enc->embed_size() == 16 && enc->embed_dim() == 256,
                   "encoder geometry: " + enc->describe());
    const Tensor & img = golden("image/preprocessed");
    std::vector<float> out(256 * 16 * 16);
    sa::Taps taps;
    enc->encode(img.data.data(), 1, out.data(), &taps);
    satest::expect_close("patch_embed", taps.at("patch_embed").data(), golden("encoder/patch_embed"), 1e-4, 1e-3);
    for (int i = 0; i < 4; ++i) {
        const std::string b = "block" + std::to_string(i);
        satest::expect_close(b, taps.at(b).data(), golden("encoder/" + b), 1e-4, 1e-3);
    }
    satest::expect_close("image_embedding", out.data(), golden("image_embedding"), 1e-4, 1e-3);
    satest::expect(taps.at("image_embedding") == out, "image_embedding tap differs from the output");
}

// The thread count changed from another thread while encodes run (as setThreads / --threads may do
// beside a running worker): no crash, and every encode gives the bits of an undisturbed one (an op
// finishes on the pool it started with; no op's result depends on the thread count).
SA_TEST(thread_count_changes_during_encodes) {
    auto be = sa::make_cpu_backend(sa::Precision::fp32, 2);
    sa::WeightMap w = weight_map(satest::sam_tiny_weights());
    auto enc = sa::make_vit_encoder(*be, w);
    const Tensor & img = golden("image/preprocessed");
    std::vector<float> ref(256 * 16 * 16);
    enc->encode(img.data.data(), 1, ref.data(), nullptr);
    std::atomic<bool> stop{false};
    std::atomic<int> changes{0};
    std::thread changer([&] {
        for (int i = 0; !stop.load(); ++i) {
            be->set_threads(1 + i % 4);
            changes.fetch_add(1);
            std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
    });
    const int runs = 8;
    int same = 0;
    for (int r = 0; r < runs; ++r) {
        std::vector<float> out(ref.size());
        enc->encode(img.data.data(), 1, out.data(), nullptr);
        same += out == ref ? 1 : 0;
    }
    stop.store(true);
    changer.join();
    std::printf("    %d thread-count changes during %d encodes\n", changes.load(), runs);
    satest::expect(changes.load() >= runs, "the thread count changed fewer times than encodes ran");
    satest::expect(same == runs, std::to_string(runs - same) + " of " + std::to_string(runs) +
                                     " encodes differ from the undisturbed one");
    be->set_threads(3);
    std::vector<float> out(ref.size());
    enc->encode(img.data.data(), 1, out.data(), nullptr);
    satest::expect(be->threads() == 3 && out == ref, "an encode after the changes differs");
}

SA_TEST(batch_of_two_matches_single_images) {
    sa::WeightMap w = weight_map(satest::sam_tiny_weights());
    auto enc = sa::make_vit_encoder(*backend(), w);
    const Tensor & img = golden("image/preprocessed");
    const size_t n_img = img.data.size(), n_out = 256 * 16 * 16;
    std::vector<float> batch(2 * n_img);
    for (size_t i = 0; i < n_img; ++i) {
        batch[i] = img.data[i];
        batch[n_img + i] = -0.5f * img.data[n_img - 1 - i];  // a different second image
    }
    std::vector<float> both(2 * n_out), first(n_out), second(n_out);
    enc->encode(batch.data(), 2, both.data());
    enc->encode(batch.data(), 1, first.data());
    enc->encode(batch.data() + n_img, 1, second.data());
    const satest::Diff d0 = satest::diff(both.data(), first.data(), (int64_t) n_out);
    const satest::Diff d1 = satest::diff(both.data() + n_out, second.data(), (int64_t) n_out);
    satest::expect(d0.max_abs <= 1e-5 && d1.max_abs <= 1e-5, "batched and single encodings differ");
    satest::expect_close("batched image 0 vs golden", both.data(), golden("image_embedding"), 1e-4, 1e-3);
}

SA_TEST(missing_and_unexpected_keys_are_reported_together) {
    std::map<std::string, Tensor> t = satest::sam_tiny_weights();
    t.erase("image_encoder.blocks.2.mlp.lin2.bias");
    t.erase("image_encoder.neck.3.weight");
    t["image_encoder.blocks.1.attn.extra.weight"] = Tensor{{4}, {1, 2, 3, 4}};
    expect_rejected(t, SA_ERR_WEIGHTS,
                    {"image_encoder.blocks.2.mlp.lin2.bias", "image_encoder.neck.3.weight",
                     "image_encoder.blocks.1.attn.extra.weight"});
}

SA_TEST(wrong_shapes_are_reported) {
    std::map<std::string, Tensor> t = satest::sam_tiny_weights();
    t["image_encoder.blocks.3.norm2.weight"] = Tensor{{65}, std::vector<float>(65, 1.0f)};
    t["image_encoder.neck.2.weight"] = Tensor{{256, 256, 1, 1}, std::vector<float>(256 * 256, 0.0f)};
    expect_rejected(t, SA_ERR_SHAPE, {"image_encoder.blocks.3.norm2.weight", "image_encoder.neck.2.weight", "[65]"});
}

SA_TEST(inconsistent_window_sizes_are_rejected) {
    std::map<std::string, Tensor> t = satest::sam_tiny_weights();
    t["image_encoder.blocks.2.attn.rel_pos_h"] = Tensor{{7, 16}, std::vector<float>(7 * 16, 0.0f)};
    expect_rejected(t, SA_ERR_SHAPE, {"window"});
}

// A weight map with the official shapes of a SAM ViT preset (no data: inference reads shapes only).
sa::WeightMap preset_shapes(int64_t E, int64_t depth, int64_t heads, const std::vector<int64_t> & global) {
    sa::WeightMap w;
    const std::string p = "image_encoder.";
    const int64_t hd = E / heads;
    auto add = [&](const std::string & k, std::vector<int64_t> s) {
        w.add(p + k, sa::WeightView{std::move(s), nullptr});
    };
    add("patch_embed.proj.weight", {E, 3, 16, 16});
    add("patch_embed.proj.bias", {E});
    add("pos_embed", {1, 64, 64, E});
    for (int64_t i = 0; i < depth; ++i) {
        const std::string b = "blocks." + std::to_string(i) + ".";
        const bool g = std::find(global.begin(), global.end(), i) != global.end();
        const int64_t L = g ? 127 : 27;
        add(b + "norm1.weight", {E});
        add(b + "norm1.bias", {E});
        add(b + "attn.qkv.weight", {3 * E, E});
        add(b + "attn.qkv.bias", {3 * E});
        add(b + "attn.proj.weight", {E, E});
        add(b + "attn.proj.bias", {E});
        add(b + "attn.rel_pos_h", {L, hd});
        add(b + "attn.rel_pos_w", {L, hd});
        add(b + "norm2.weight", {E});
        add(b + "norm2.bias", {E});
        add(b + "mlp.lin1.weight", {4 * E, E});
        add(b + "mlp.lin1.bias", {4 * E});
        add(b + "mlp.lin2.weight", {E, 4 * E});
        add(b + "mlp.lin2.bias", {E});
    }
    add("neck.0.weight", {256, E, 1, 1});
    add("neck.1.weight", {256});
    add("neck.1.bias", {256});
    add("neck.2.weight", {256, 256, 3, 3});
    add("neck.3.weight", {256});
    add("neck.3.bias", {256});
    return w;
}

SA_TEST(presets_are_inferred_from_shapes) {
    struct Case {
        const char * name;
        int64_t E, depth, heads;
        std::vector<int64_t> global;
    };
    const Case cases[] = {{"vit_b", 768, 12, 12, {2, 5, 8, 11}},
                          {"vit_l", 1024, 24, 16, {5, 11, 17, 23}},
                          {"vit_h", 1280, 32, 16, {7, 15, 23, 31}}};
    for (const auto & k : cases) {
        const sa::WeightMap w = preset_shapes(k.E, k.depth, k.heads, k.global);
        const sa::VitConfig c = sa::infer_vit_config(w, "image_encoder.");
        satest::expect(c.preset() == k.name, std::string(k.name) + " inferred as " + c.describe());
        satest::expect(c.embed_dim == k.E && c.depth == k.depth && c.num_heads == k.heads && c.window == 14 &&
                           c.global_blocks == k.global && c.img_size == 1024 && c.mlp_dim == 4 * k.E,
                       std::string(k.name) + ": " + c.describe());
    }
    // ViT-B: about 487 G multiply-adds per 1024x1024 image (windowed blocks pad 64x64 to 70x70 tokens).
    const sa::VitConfig b = sa::infer_vit_config(preset_shapes(768, 12, 12, {2, 5, 8, 11}), "image_encoder.");
    const double gmacs = b.flops_per_image() / 2e9;
    satest::expect(gmacs > 480 && gmacs < 495, "vit_b GMACs per image: " + std::to_string(gmacs));
}

}  // namespace

SA_TEST_MAIN()
