// The training loop hands each step one reused input buffer: every step sees exactly its samples'
// embeddings (batch 1 and batch 3, whether the data source writes into the buffer or returns arrays
// of its own), and the targets likewise.
import { epochOrder, type TrainSet, trainLoop } from "@sam-ablate/train";
import { test } from "uvu";
import * as assert from "uvu/assert";

const PER = 12;
const E4 = 4;
const N = 5;
const embeddingOf = (i: number) => Float32Array.from({ length: PER }, (_, k) => i * 100 + k);
const targetOf = (i: number) => Float32Array.from({ length: E4 * E4 }, (_, k) => ((i + k) % 2) as number);

function data(writesInto: boolean): TrainSet {
    return {
        ids: Array.from({ length: N }, (_, i) => `p${i}`),
        height: 8,
        width: 8,
        embedding: (i, into) => {
            if (!writesInto || !into) return embeddingOf(i);
            into.set(embeddingOf(i));
            return into;
        },
        target: targetOf,
    };
}

const model = { paramNames: () => [], getParam: () => new Float32Array(0), setParam: () => {} };
const trainer = {
    stepCount: 0,
    trainedParams: () => [],
    getState: () => ({ m: new Float32Array(0), v: new Float32Array(0) }),
    setState: () => {},
};

for (const batch of [1, 3])
    for (const writesInto of [true, false])
        test(`batch ${batch}, the source ${writesInto ? "writes into the buffer" : "returns its own arrays"}`, async () => {
            const seen: { emb: number[]; tgt: number[]; samples: number[] }[] = [];
            const buffers = new Set<Float32Array>();
            await trainLoop(
                model,
                trainer,
                data(writesInto),
                async (emb, tgt, samples) => {
                    buffers.add(emb);
                    seen.push({ emb: [...emb], tgt: [...tgt], samples: [...samples] });
                    return 0.5;
                },
                { epochs: 2, stepsPerEpoch: 4, batch, seed: 7, imgSize: 16, fingerprint: "t" },
            );
            assert.is(seen.length, 8);
            assert.is(buffers.size, 1, "one input buffer for every step");
            let cursor = 0;
            for (const [k, s] of seen.entries()) {
                const epoch = Math.floor(k / 4);
                if (k % 4 === 0) cursor = 0;
                const order = epochOrder(N, 7, epoch);
                const want = Array.from({ length: batch }, () => order[cursor++ % N] as number);
                assert.equal(s.samples, want);
                assert.equal(
                    s.emb,
                    want.flatMap((i) => [...embeddingOf(i)]),
                );
                assert.equal(
                    s.tgt,
                    want.flatMap((i) => [...targetOf(i)]),
                );
            }
        });

test.run();
