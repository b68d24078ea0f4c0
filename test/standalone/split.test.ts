import { applyFixedSplit, parseSplit, splitPatients } from "@sam-ablate/data";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { expectThrowsCode as expectCode } from "../helpers/expect-code.js";

const patients = Array.from({ length: 23 }, (_, i) => `P${String(i).padStart(3, "0")}`);

test("80:20 by patient, sorted, disjoint and complete", () => {
    const s = splitPatients(patients, { seed: 7 });
    assert.is(s.train.length, 18);
    assert.is(s.test.length, 5);
    assert.equal(s.train, [...s.train].sort());
    assert.equal(s.test, [...s.test].sort());
    const train = new Set(s.train);
    assert.ok(s.test.every((p) => !train.has(p)));
    assert.equal([...s.train, ...s.test].sort(), patients);
});

test("deterministic for a seed, independent of input order and duplicates", () => {
    const a = splitPatients(patients, { seed: 3 });
    const shuffled = [...patients].reverse().concat(patients.slice(0, 5));
    assert.equal(splitPatients(shuffled, { seed: 3 }), a);
    const others = Array.from({ length: 10 }, (_, k) => splitPatients(patients, { seed: 100 + k }).test.join());
    assert.ok(
        others.some((t) => t !== a.test.join()),
        "other seeds should give other splits",
    );
});

test("fraction option and small cohorts keep both sides non-empty", () => {
    assert.is(splitPatients(patients, { trainFraction: 0.5 }).train.length, 12);
    assert.equal(splitPatients(["a", "b"], { trainFraction: 0.99 }).train.length, 1);
    assert.equal(splitPatients(["a", "b"], { trainFraction: 0.01 }).test.length, 1);
    assert.equal(splitPatients(["only"]), { train: ["only"], test: [] });
    assert.equal(splitPatients(patients, { trainFraction: 1 }).test, []);
    expectCode(
        () => splitPatients(patients, { trainFraction: 0 }),
        "ERR_SA_SPLIT",
        /trainFraction must be in \(0, 1\]/,
    );
    expectCode(() => splitPatients(patients, { seed: 1.5 }), "ERR_SA_SPLIT", /seed must be an integer/);
});

test("a fixed split assigns every patient and never both sides", () => {
    const fixed = { train: ["a", "b", "x"], test: ["c"] };
    assert.equal(applyFixedSplit(["c", "a", "b"], fixed, "split.json"), { train: ["a", "b"], test: ["c"] });
    expectCode(
        () => applyFixedSplit(["a", "b", "c", "d"], fixed, "split.json"),
        "ERR_SA_SPLIT",
        /split\.json: 1 patient\(s\) .* neither side .*: d/,
    );
    expectCode(
        () => applyFixedSplit(["a"], { train: ["a"], test: ["a"] }, "s.json"),
        "ERR_SA_SPLIT",
        /s\.json: 1 patient\(s\) on both sides of the split: a/,
    );
});

test("split files: plain lists or a manifest's split", () => {
    assert.equal(parseSplit('{"train":["a"],"test":["b"]}', "f"), { train: ["a"], test: ["b"] });
    assert.equal(parseSplit('{"kind":"brats","split":{"method":"file","train":["a"],"test":[]}}', "m"), {
        train: ["a"],
        test: [],
    });
    expectCode(() => parseSplit("{", "broken.json"), "ERR_SA_SPLIT", /broken\.json: split file is not valid JSON/);
    expectCode(() => parseSplit('{"train":[1]}', "bad.json"), "ERR_SA_SPLIT", /bad\.json: expected/);
});

test.run();
