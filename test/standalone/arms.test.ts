// What a plan's strategy id denotes: prompt strategies, prompt-free heads and encoder adapters,
// parsed once (parseArm) and used by plan validation and the units.
import { ARM_LIMITS, parseArm, parseStrategy } from "@sam-ablate/samplers";
import { planUnits, resolvePlan, strategiesFor } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectShortCode } from "../helpers/expect-code.js";

const armError = (id: string, pattern: RegExp) => expectShortCode(() => parseArm(id), "ERR_SA_STRATEGY", pattern);

test("prompt ids are prompt arms with the samplers' canonical definition", () => {
    const a = parseArm("pos10_box");
    assert.is(a.kind, "prompt");
    if (a.kind !== "prompt") return;
    assert.is(a.id, "points10_box");
    assert.equal(a.strategy, parseStrategy("points10_box"));
    assert.is(a.label, a.strategy.label);
});

test("head ids: autosam, cnn<N> with N in 1..6, linear; ':' or '-' and any case", () => {
    assert.equal(parseArm("head:autosam"), {
        kind: "head",
        id: "head:autosam",
        label: "AutoSAM (decoder without prompt)",
        head: "autosam",
    });
    assert.equal(parseArm("HEAD-Linear"), { kind: "head", id: "head:linear", label: "Linear head", head: "linear" });
    for (let n = ARM_LIMITS.minCnnDepth; n <= ARM_LIMITS.maxCnnDepth; n++) {
        const a = parseArm(`head:cnn${n}`);
        assert.is(a.kind, "head");
        if (a.kind === "head") {
            assert.is(a.head, "cnn");
            assert.is(a.depth, n);
            assert.is(a.id, `head:cnn${n}`);
        }
    }
    assert.is(parseArm("head:cnn02").id, "head:cnn2");
    armError("head:cnn0", /CNN depth 0; use 1 to 6/);
    armError("head:cnn7", /CNN depth 7; use 1 to 6/);
    armError("head:cnn99999999999999999999999999", /CNN depth 999999999999\.\.\.; use 1 to 6/);
    armError("head:unet", /"unet" is not a known head; architecture forms: head:autosam/);
    armError("head:", /is not a known head/);
});

test("LoRA ids: lora<r>_<prompt strategy>, the prompt part parsed and canonical", () => {
    const a = parseArm("lora4_box");
    assert.is(a.kind, "lora");
    if (a.kind !== "lora") return;
    assert.is(a.rank, 4);
    assert.is(a.id, "lora4_box");
    assert.equal(a.prompt, parseStrategy("box"));
    const b = parseArm("LoRA8_pos10_box");
    assert.is(b.id, "lora8_points10_box");
    assert.is(b.kind === "lora" && b.prompt.id, "points10_box");
    armError("lora4", /names the prompt strategy it trains with \(lora4_box/);
    armError("lora0_box", /LoRA rank 0; use 1 to 256/);
    armError("lora257_box", /LoRA rank 257; use 1 to 256/);
    armError("lora4_boxx", /its prompt part: unknown strategy "boxx"/);
    armError("lora4_points5000", /its prompt part: .*5000 points in one prompt; at most 1024/);
});

test("unknown ids keep the prompt parser's message and code", () => {
    armError("wibble", /unknown strategy "wibble": "wibble" is not a known part; valid forms: points<N>/);
});

test("plans accept heads and adapters and still fail on unknown ids before any work", () => {
    const plan = resolvePlan({
        extends: "quick",
        strategies: ["box", "head:autosam", "head:cnn2", "head:linear", "lora4_box"],
    });
    const arms = strategiesFor(plan, plan.datasets[0] as never);
    assert.equal(
        arms.map((a) => [a.kind, a.id]),
        [
            ["prompt", "box"],
            ["head", "head:autosam"],
            ["head", "head:cnn2"],
            ["head", "head:linear"],
            ["lora", "lora4_box"],
        ],
    );
    for (const [ids, pattern] of [
        [["box", "head:cnn9"], /plan: dataset 'radiology-phantom': unknown strategy "head:cnn9": CNN depth 9/],
        [["lora4_wobble"], /plan: dataset 'radiology-phantom': unknown strategy "lora4_wobble": its prompt part/],
    ] as const) {
        try {
            resolvePlan({ extends: "quick", strategies: ids });
            assert.unreachable("expected a plan error");
        } catch (e) {
            const err = e as { code?: string; message: string };
            assert.is(err.code, "ERR_SA_PLAN", err.message);
            assert.match(err.message, pattern);
        }
    }
    // two spellings of one arm are one arm
    const dup = resolvePlan({ extends: "quick", strategies: ["head:cnn2", "HEAD-cnn02"] });
    assert.equal(
        strategiesFor(dup, dup.datasets[0] as never).map((a) => a.id),
        ["head:cnn2"],
    );
});

test("units: heads and adapters train like strategies and have no zero-shot unit of their own", () => {
    const plan = resolvePlan({ extends: "quick", strategies: ["box", "head:autosam", "lora4_box"] });
    const ids = planUnits(plan).map((u) => u.id);
    assert.ok(ids.includes("train/radiology-phantom/head:autosam/seed0"));
    assert.ok(ids.includes("train/radiology-phantom/lora4_box/seed0"));
    assert.ok(ids.includes("zeroshot/radiology-phantom/box"));
    assert.not.ok(ids.some((id) => id.startsWith("zeroshot/") && (id.includes("head:") || id.includes("lora"))));
});

test.run();
