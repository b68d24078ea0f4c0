// Plans and strategy ids from a hostile but realistic user: counts past the documented limits,
// empty lists, duplicate dataset names, null sections and huge values quoted in messages.
import { quoted } from "@sam-ablate/errors";
import { PROMPT_LIMITS, parseStrategy } from "@sam-ablate/samplers";
import { resolvePlan } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectShortCode } from "../helpers/expect-code.js";

const planError = (input: unknown, pattern: RegExp) =>
    expectShortCode(() => resolvePlan(input), "ERR_SA_PLAN", pattern);

const strategyError = (id: string, pattern: RegExp) =>
    expectShortCode(() => parseStrategy(id), "ERR_SA_STRATEGY", pattern);

test("counts in strategy ids are bounded at parse time by the documented limits", () => {
    strategyError("points1000000000", /"points1000000000": .*1000000000 points in one prompt; at most 1024/);
    strategyError("pos5_neg999999999_box", /1000000004 points in one prompt; at most 1024 \(positive \+ negative\)/);
    strategyError("points1000_neg25", /1025 points in one prompt/);
    strategyError("points99999999999999999999999", /at most 1024/);
    strategyError("neg3-ring5000", /ring radius 5000; at most 1024/);
    strategyError("box_jitter150", /jitter 150%; at most 100%/);
    strategyError("box_jittersym1000.5", /at most 100%/);
    strategyError("box_jitterpx2000", /jitter of 2000 pixels; at most 1024/);
    strategyError("box_jittermedsam99999", /at most 1024/);
    assert.is(parseStrategy(`points${PROMPT_LIMITS.maxPoints}`).plan.positive.kind, "random");
    assert.is(parseStrategy("points1000_neg24_box").id, "pos1000_neg24_box");
    assert.is(parseStrategy("box_jitter100").id, "box_jitter100");
});

test("strategy errors quote ids of any length in a few dozen characters", () => {
    strategyError("x".repeat(1_000_000), /"x{40,}"\.\.\. \(1000000 characters\)/);
    strategyError(`points3_${"y".repeat(100_000)}`, /is not a known part/);
});

test("empty lists are plan errors, not 'all 16 strategies'", () => {
    planError({ strategies: [] }, /plan: strategies: an empty list/);
    planError(
        { datasets: [{ name: "a", kind: "radiology", source: { type: "phantom" }, strategies: [] }] },
        /datasets\[0\]\.strategies: an empty list/,
    );
    planError({ datasets: [] }, /datasets: expected a non-empty list/);
    planError({ training: { seeds: [] } }, /training\.seeds: expected a non-empty list/);
});

test("two datasets with one name (case-insensitive) are a plan error", () => {
    planError(
        {
            datasets: [
                { name: "brats", kind: "radiology", source: { type: "phantom" } },
                { name: "BraTS", kind: "radiology", source: { type: "phantom", seed: 2 } },
            ],
        },
        /datasets\[1\]\.name: 'BraTS' is also the name of datasets\[0\]/,
    );
});

test("null or list sections are plan errors (never a TypeError)", () => {
    for (const section of ["model", "training", "evaluation", "report"]) {
        planError({ [section]: null }, new RegExp(`plan: ${section}: expected .*, got null`));
        planError({ [section]: [1, 2] }, new RegExp(`plan: ${section}: expected .*, got \\[1,2\\]`));
    }
    planError({ datasets: [null] }, /datasets\[0\]: expected an object/);
    planError({ datasets: [{ name: "a", kind: "radiology", source: null }] }, /datasets\[0\]\.source: expected \{type/);
    planError({ evaluation: { ignoreEmpty: "no" } }, /evaluation\.ignoreEmpty: expected true or false, got "no"/);
});

test("values quoted in plan errors are cut to a few dozen characters", () => {
    const big = new Array(1_000_000).fill("abc");
    let shared: unknown = ["lol"];
    for (let i = 0; i < 40; i++) shared = [shared, shared]; // 2^40 leaves if expanded
    planError({ name: big }, /plan: name: expected a non-empty string, got \["abc","abc",.*\.\.\.$/);
    planError({ training: { epochs: shared } }, /training\.epochs: expected an integer .*got \[\[\[\[/);
    planError({ extends: "p".repeat(500_000) }, /unknown preset "p{40,}"\.\.\. \(500000 characters\)/);
    planError({ ["k".repeat(100_000)]: 1 }, /plan: \(root\)\.k{48}\.\.\. \(99952 more characters\): unknown field/);
    assert.is(quoted("abc"), '"abc"');
    assert.is(quoted({ lr: Number.NaN, steps: [1, -Infinity] }), '{"lr":NaN,"steps":[1,-Infinity]}');
    planError({ training: { lr: Number.NaN } }, /training\.lr: expected a number in \[0, 10\], got NaN$/);
    assert.ok(quoted(shared).length <= 52);
});

test.run();
