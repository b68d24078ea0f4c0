/**
 * The report of a run folder: unit records + prepared datasets -> the report's input, rendered into
 * the folder's report/, with the run-level per-image.csv beside it (shared by `ablate`, `demo` and
 * `report`).
 */
import { buildRunResults, type EffortTable, type RunResults, renderReport } from "@sam-ablate/report";
import type { RunFolder, UnitRecord } from "@sam-ablate/run-folder";
import { type AblationPlan, type PreparedData, type StrategyRecord, writeRunPerImage } from "@sam-ablate/train";
import { VERSION } from "./version.js";

/** Builds RunResults from the records, writes per-image.csv and renders report/; returns the results. */
export async function writeRunReport(
    folder: RunFolder,
    plan: AblationPlan,
    records: readonly UnitRecord[],
    data: readonly PreparedData[],
    effort?: EffortTable,
): Promise<RunResults> {
    writeRunPerImage(plan, records as readonly StrategyRecord[], folder.dir);
    const results = await runResults(folder, plan, records, data);
    await renderReport(results, folder.reportDir, effort ? { effort } : {});
    return results;
}

/** The report's input from the unit records and prepared datasets (nothing is written). */
export function runResults(
    folder: RunFolder,
    plan: AblationPlan,
    records: readonly UnitRecord[],
    data: readonly PreparedData[],
): Promise<RunResults> {
    return buildRunResults({
        title: `sam-ablate: ${plan.name}`,
        createdBy: `sam-ablate ${VERSION}`,
        config: plan,
        records,
        datasets: plan.datasets.map((d) => {
            // with cross-validation one entry per evaluated fold (disjoint test patients)
            const preps = data.filter((p) => p.name === d.name);
            const prep = preps[0];
            return {
                name: d.name,
                kind: d.kind,
                nTrain: prep?.train.ids.length ?? 0,
                nTest: preps.reduce((a, p) => a + p.test.ids.length, 0),
                ...(prep?.foldCount !== undefined ? { folds: prep.foldCount } : {}),
                ...(prep
                    ? {
                          testPatch: async (imageId: string) => {
                              for (const p of preps) {
                                  const i = p.test.ids.indexOf(imageId);
                                  if (i < 0) continue;
                                  return {
                                      width: p.width,
                                      height: p.height,
                                      image: await p.test.image(i),
                                      gt: p.test.mask(i),
                                  };
                              }
                              return undefined;
                          },
                      }
                    : {}),
            };
        }),
        predictionsDir: (rec) =>
            folder
                .unit({
                    dataset: rec.dataset,
                    strategy: rec.strategy,
                    seed: rec.seed,
                    ...(rec.fold === undefined ? {} : { fold: rec.fold }),
                })
                .file("predictions"),
        zeroShot: (dataset, strategy, fold) => folder.zeroShotUnit(dataset, strategy, fold).readResult(),
    });
}
