// Plans' decoderPrecision: validated, absent by default, part of the fingerprint only when given (so
// the run folders of plans without it resume).
import { planFingerprint, presetPlan, resolvePlan } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";

test("resolvePlan: decoderPrecision fp32 or bf16, absent by default, anything else names the field", () => {
    assert.is(presetPlan("paper").decoderPrecision, undefined);
    assert.is(resolvePlan({ decoderPrecision: "bf16" }).decoderPrecision, "bf16");
    assert.is(resolvePlan({ decoderPrecision: "fp32" }).decoderPrecision, "fp32");
    for (const bad of ["fp16", "tf32", 16]) {
        assert.throws(
            () => resolvePlan({ decoderPrecision: bad }),
            (e: Error) => /decoderPrecision: expected 'fp32' or 'bf16'/.test(e.message),
        );
    }
});

test("fingerprint: a bf16 decoder is another study; no decoderPrecision hashes as before", () => {
    const plain = resolvePlan({ extends: "paper" });
    assert.is(planFingerprint(plain), planFingerprint(presetPlan("paper")));
    assert.is.not(planFingerprint(resolvePlan({ extends: "paper", decoderPrecision: "bf16" })), planFingerprint(plain));
});

test.run();
