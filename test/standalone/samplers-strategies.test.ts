// The strategy registry and id parser, and plan helpers.
import {
    PAPER_STRATEGY_IDS,
    type PromptPlan,
    paperStrategies,
    parseStrategy,
    replaceWithNegatives,
    StrategyError,
    strategyId,
    strategyLabel,
    validatePlan,
} from "@sam-ablate/samplers";
import { test } from "uvu";
import * as assert from "uvu/assert";

const isStrategyError = (e: unknown): boolean => e instanceof StrategyError && e.code === "ERR_SA_STRATEGY";

test("the paper's plan: every table row, in table order", () => {
    assert.equal(
        [...PAPER_STRATEGY_IDS],
        [
            "points3",
            "points3_box",
            "points10",
            "points10_box",
            "points50",
            "points50_box",
            "points100",
            "points100_box",
            "box",
            "box_jitter5",
            "box_jitter10",
            "box_jitter20",
            "pos50_neg50",
            "pos50_neg50_box",
            "box_centre",
            "centroid",
            "four_sections",
        ],
    );
    const defs = paperStrategies();
    for (const d of defs) {
        assert.ok(d.paper !== undefined, d.id);
        assert.equal(parseStrategy(d.id), d);
    }
    const byId = new Map(defs.map((d) => [d.id, d]));
    assert.equal(byId.get("points3")?.paper, {
        table: 3,
        row: "3 Positive Points",
        column: "without box",
        datasets: ["bcss", "brats"],
    });
    assert.is(byId.get("points100_box")?.paper?.column, "with box");
    assert.is(byId.get("box")?.paper?.row, "Normal Bounding Box");
    assert.is(byId.get("box_jitter5")?.label, "Bounding Box with 5% Jitter");
    assert.is(byId.get("points3")?.label, "3 Positive Points");
    assert.is(byId.get("pos50_neg50")?.label, "50 Positive + 50 Negative Points");
    assert.equal(byId.get("pos50_neg50")?.paper?.datasets, ["bcss"]);
    assert.equal(byId.get("pos50_neg50_box")?.paper?.datasets, ["brats"]);
    assert.is(byId.get("box_centre")?.paper?.row, "Center of Curated Bounding Box");
    assert.equal(byId.get("centroid")?.plan, {
        positive: { kind: "centroid", centroidMode: "mean" },
        box: { kind: "none" },
    });
    assert.equal(byId.get("box_jitter10")?.plan, {
        positive: { kind: "none" },
        box: { kind: "jittered", jitter: { mode: "outward", fraction: 0.1 } },
    });
    assert.equal(byId.get("pos50_neg50_box")?.plan, {
        positive: { kind: "random", count: 50 },
        negative: { count: 50, region: { kind: "patch" } },
        box: { kind: "tight" },
    });
});

test("generic ids parse to the expected plans and canonical ids", () => {
    const cases: [string, string, PromptPlan][] = [
        [
            "points25_box_jitter10",
            "points25_box_jitter10",
            {
                positive: { kind: "random", count: 25 },
                box: { kind: "jittered", jitter: { mode: "outward", fraction: 0.1 } },
            },
        ],
        ["pos7_box", "points7_box", { positive: { kind: "random", count: 7 }, box: { kind: "tight" } }],
        ["box_points7", "points7_box", { positive: { kind: "random", count: 7 }, box: { kind: "tight" } }],
        ["Box_Center", "box_centre", { positive: { kind: "boxCentre" }, box: { kind: "none" } }],
        ["box_centre_box", "box_centre_box", { positive: { kind: "boxCentre" }, box: { kind: "tight" } }],
        [
            "centroid_interior",
            "centroid_interior",
            { positive: { kind: "centroid", centroidMode: "interior" }, box: { kind: "none" } },
        ],
        ["centroid_mean", "centroid", { positive: { kind: "centroid", centroidMode: "mean" }, box: { kind: "none" } }],
        [
            "pos20_neg10-ring5_box_jittersym7.5",
            "pos20_neg10-ring5_box_jittersym7.5",
            {
                positive: { kind: "random", count: 20 },
                negative: { count: 10, region: { kind: "ring", radius: 5 } },
                box: { kind: "jittered", jitter: { mode: "symmetric", fraction: 0.075 } },
            },
        ],
        [
            "points5_neg5-box",
            "pos5_neg5-box",
            {
                positive: { kind: "random", count: 5 },
                negative: { count: 5, region: { kind: "box" } },
                box: { kind: "none" },
            },
        ],
        [
            "neg3-patch_box",
            "neg3_box",
            { positive: { kind: "none" }, negative: { count: 3, region: { kind: "patch" } }, box: { kind: "tight" } },
        ],
        [
            "box_jitterpx4",
            "box_jitterpx4",
            { positive: { kind: "none" }, box: { kind: "jittered", jitter: { mode: "pixels", pixels: 4 } } },
        ],
        [
            "box_jittermedsam",
            "box_jittermedsam",
            { positive: { kind: "none" }, box: { kind: "jittered", jitter: { mode: "medsam", pixelsAt1024: 20 } } },
        ],
        [
            "four_sections_box_jittermedsam10",
            "four_sections_box_jittermedsam10",
            {
                positive: { kind: "fourSections" },
                box: { kind: "jittered", jitter: { mode: "medsam", pixelsAt1024: 10 } },
            },
        ],
    ];
    for (const [input, canonical, plan] of cases) {
        const d = parseStrategy(input);
        assert.is(d.id, canonical, input);
        assert.equal(d.plan, plan, input);
        assert.equal(parseStrategy(d.id).plan, plan, `round trip of ${d.id}`);
        assert.is(strategyId(plan), canonical);
    }
    assert.is(parseStrategy("points25_box_jitter10").label, "25 Positive Points + Bounding Box with 10% Jitter");
    assert.is(parseStrategy("points1").label, "1 Positive Point");
    assert.is(
        parseStrategy("pos3_neg2-ring4").label,
        "3 Positive + 2 Negative Points (negatives within 4 px of the mask)",
    );
    assert.is(parseStrategy("points5_box").paper, undefined);
});

test("unknown or inconsistent ids throw ERR_SA_STRATEGY listing the valid forms", () => {
    for (const bad of [
        "",
        "points",
        "points0",
        "points3_foo",
        "jitter10",
        "points3_points4",
        "box_box",
        "centroid_four_sections",
        "neg3_neg4",
        "box_jitter-5",
        "neg3-ring0",
        "points3__box",
    ]) {
        assert.throws(
            () => parseStrategy(bad),
            (e: unknown) => isStrategyError(e) && (e as Error).message.includes("valid forms"),
            bad,
        );
    }
    assert.throws(() => parseStrategy(42 as unknown as string), isStrategyError);
});

test("validatePlan rejects malformed and empty plans", () => {
    const bad: unknown[] = [
        { positive: { kind: "none" }, box: { kind: "none" } },
        { positive: { kind: "none" }, negative: { count: 0, region: { kind: "patch" } }, box: { kind: "none" } },
        { positive: { kind: "random", count: 0 }, box: { kind: "none" } },
        { positive: { kind: "random", count: 2.5 }, box: { kind: "none" } },
        { positive: { kind: "centroid", centroidMode: "median" }, box: { kind: "none" } },
        {
            positive: { kind: "random", count: 2 },
            negative: { count: 1, region: { kind: "ring", radius: 0.5 } },
            box: { kind: "none" },
        },
        {
            positive: { kind: "random", count: 2 },
            negative: { count: 1, region: { kind: "moon" } },
            box: { kind: "none" },
        },
        { positive: { kind: "random", count: 2 }, box: { kind: "loose" } },
        { positive: { kind: "random", count: 2 } },
    ];
    for (const plan of bad)
        assert.throws(() => validatePlan(plan as PromptPlan), isStrategyError, JSON.stringify(plan));
    assert.throws(
        () =>
            validatePlan({
                positive: { kind: "none" },
                box: { kind: "jittered", jitter: { mode: "outward", fraction: -1 } },
            }),
        (e: unknown) => isStrategyError(e) && (e as Error).message.includes("fraction must be"),
    );
});

test("replaceWithNegatives turns 100 points into 50 + 50 and keeps the box", () => {
    const plan = replaceWithNegatives(parseStrategy("points100_box").plan);
    assert.equal(plan, parseStrategy("pos50_neg50_box").plan);
    assert.is(strategyId(replaceWithNegatives(parseStrategy("points10").plan, 0.3, { kind: "box" })), "pos7_neg3-box");
    assert.throws(() => replaceWithNegatives(parseStrategy("points1").plan), isStrategyError);
    assert.throws(() => replaceWithNegatives(parseStrategy("centroid").plan), isStrategyError);
    assert.throws(() => replaceWithNegatives(parseStrategy("points10").plan, 1), isStrategyError);
    assert.throws(() => replaceWithNegatives(parseStrategy("pos5_neg5").plan), isStrategyError);
});

test("labels read like the paper", () => {
    assert.is(strategyLabel(parseStrategy("centroid").plan), "Centroid of Ground Truth");
    assert.is(strategyLabel(parseStrategy("four_sections").plan), "Dividing Ground Truth into 4 Sections");
    assert.is(strategyLabel(parseStrategy("box_centre").plan), "Centre of Bounding Box");
    assert.is(strategyLabel(parseStrategy("points10_box").plan), "10 Positive Points + Bounding Box");
    assert.is(strategyLabel(parseStrategy("box_jittersym10").plan), "Bounding Box with \u00b110% Symmetric Jitter");
});

test.run();
