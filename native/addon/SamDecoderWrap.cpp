// SPDX-License-Identifier: Apache-2.0
// SamDecoder (see wraps.h): SAM's prompt encoder and mask decoder.
#include "backends.h"
#include "prompts-bridge.h"
#include "wraps.h"

namespace saaddon {

class SamDecoderWrap : public NativeObjectWrap<SamDecoderWrap, sa::SamDecoder> {
  public:
    explicit SamDecoderWrap(const Napi::CallbackInfo & info) : NativeObjectWrap(info) {
        Napi::Env env = info.Env();
        Napi::Object w = arg_weights(info, "SamDecoder");
        Napi::Object opts = arg_object(info, 1, "new SamDecoder options");
        const int64_t img_size = get_int(opts, "imgSize", 1024, "SamDecoder options");
        const int64_t embed_size = get_int(opts, "embedSize", img_size / 16, "SamDecoder options");
        SA_THROW_RANGEERROR_IF(img_size < 16 || img_size > 8192, env, "SamDecoder: imgSize must be in [16, 8192]");
        SA_THROW_RANGEERROR_IF(embed_size < 1 || embed_size > 512, env, "SamDecoder: embedSize must be in [1, 512]");
        sa::WeightMap weights = weight_map_from_js(env, w);
        precision_ = get_string(opts, "precision", "fp32");
        backend_ = backend_for(env, get_string(opts, "backend", "cpu"), "fp32", precision_);
        std::shared_ptr<sa::SamDecoder> dec;
        SA_NAPI_TRY(env, { dec = std::make_shared<sa::SamDecoder>(*backend_, weights, img_size, embed_size); })
        hold(env, std::move(dec), weight_bytes(weights));
    }

    static void init(Napi::Env env, Napi::Object exports) {
        define(env, exports, "SamDecoder",
               {InstanceMethod<&SamDecoderWrap::dense_pe>("densePe"),
                InstanceMethod<&SamDecoderWrap::encode_prompts>("encodePrompts"),
                InstanceMethod<&SamDecoderWrap::predict_all>("predictAll"),
                InstanceMethod<&SamDecoderWrap::param_names>("paramNames"), shape_member(),
                values<&sa::SamDecoder::get_param>("getParam"), values<&sa::SamDecoder::set_param>("setParam"),
                InstanceAccessor<&SamDecoderWrap::get_info>("info")});
    }

  private:
    Napi::Value get_info(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        const sa::SamDecoder & dec = live(env);
        Napi::Object o = Napi::Object::New(env);
        o.Set("imgSize", Napi::Number::New(env, (double) dec.img_size()));
        o.Set("embedSize", Napi::Number::New(env, (double) dec.embed_size()));
        o.Set("backend", Napi::String::New(env, backend_->name()));
        o.Set("precision", Napi::String::New(env, precision_));
        return o;
    }

    std::string precision_ =
        "fp32";  // the decoder's products (training and prediction): fp32, or bf16 (CPU, AVX512_BF16 or AMX)

    Napi::Value param_names(const Napi::CallbackInfo & info) {
        return js_strings(info.Env(), live(info.Env()).param_names());
    }

    Napi::Value dense_pe(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        sa::SamDecoder & dec = live(env);
        const int64_t E = dec.embed_size();
        std::vector<float> out((size_t) (dec.embed_dim() * E * E));
        SA_NAPI_TRY(env, {
            std::lock_guard<std::mutex> lk(*mu_);
            dec.dense_pe(out.data());
        })
        return f32_from_vector(env, std::move(out));
    }

    Napi::Value encode_prompts(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        sa::SamDecoder & dec = live(env);
        SA_THROW_TYPEERROR_IF(info.Length() < 1, env, "encodePrompts(prompts): prompts required");
        const int64_t E = dec.embed_size(), C = dec.embed_dim();
        sa::Prompts p = prompts_from_js(env, info[0], E, "encodePrompts(prompts)", nullptr);
        std::vector<float> sparse;
        std::vector<float> dense((size_t) (p.B * C * E * E));
        int64_t ns = 0;
        SA_NAPI_TRY(env, {
            std::lock_guard<std::mutex> lk(*mu_);
            sparse.resize((size_t) (p.B * dec.num_sparse(p) * C));
            ns = dec.encode_prompts(p, sparse.data(), dense.data());
        })
        sparse.resize((size_t) (p.B * ns * C));
        Napi::Object r = Napi::Object::New(env);
        r.Set("sparse", f32_from_vector(env, std::move(sparse)));
        r.Set("nSparse", Napi::Number::New(env, (double) ns));
        r.Set("dense", f32_from_vector(env, std::move(dense)));
        return r;
    }

    Napi::Value predict_all(const Napi::CallbackInfo & info) {
        Napi::Env env = info.Env();
        sa::SamDecoder & dec = live(env);
        Napi::Float32Array emb = arg_f32(info, 0, "predictAll(embedding)");
        SA_THROW_TYPEERROR_IF(info.Length() < 2, env, "predictAll(embedding, prompts): prompts required");
        const int64_t E = dec.embed_size();
        Keep keep;
        sa::Prompts p = prompts_from_js(env, info[1], E, "predictAll(prompts)", &keep);
        Napi::Object opts = arg_object(info, 2, "predictAll options");
        const bool per_prompt = get_bool(opts, "perPromptEmbeddings", false);
        const int64_t T = dec.num_mask_tokens();
        const int64_t first = get_int(opts, "firstMask", 0, "predictAll options");
        const int64_t count = get_int(opts, "maskCount", T - first, "predictAll options");
        SA_THROW_RANGEERROR_IF(first < 0 || count < 1 || first + count > T, env,
                               "predictAll: mask tokens firstMask " + std::to_string(first) + ", maskCount " +
                                   std::to_string(count) + " outside the decoder's " + std::to_string(T));
        const int64_t C = dec.embed_dim();
        const int64_t want = (per_prompt ? p.B : 1) * C * E * E;
        SA_THROW_RANGEERROR_IF((int64_t) emb.ElementLength() != want, env,
                               "predictAll: embedding must hold " + std::to_string(want) + " floats (" +
                                   (per_prompt ? "batch x " : "") + std::to_string(C) + " x " + std::to_string(E) +
                                   " x " + std::to_string(E) + "), got " + std::to_string(emb.ElementLength()));
        keep.push_back(Napi::Persistent(emb.As<Napi::Value>()));
        const float * emb_ptr = emb.Data();
        auto low = std::make_shared<std::vector<float>>((size_t) (p.B * count * 16 * E * E));
        auto iou = std::make_shared<std::vector<float>>((size_t) (p.B * T));
        return start(
            env, std::move(keep),
            [=](sa::SamDecoder & d) { d.predict(emb_ptr, per_prompt, p, first, count, low->data(), iou->data()); },
            [=](Napi::Env e) -> Napi::Value {
                Napi::Object r = Napi::Object::New(e);
                r.Set("lowRes", f32_from_vector(e, std::move(*low)));
                r.Set("iou", f32_from_vector(e, std::move(*iou)));
                return r;
            });
    }
};

void init_sam_decoder(Napi::Env env, Napi::Object exports) {
    SamDecoderWrap::init(env, exports);
}

std::optional<Held<sa::SamDecoder>> sam_decoder_of(const Napi::Value & v) {
    if (SamDecoderWrap * w = SamDecoderWrap::unwrap_if(v)) return w->held();
    return std::nullopt;
}

}  // namespace saaddon
