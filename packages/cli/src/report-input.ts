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
            const prep = data.find((p) => p.name === d.name);
            return {
                name: d.name,
                kind: d.kind,
                nTrain: prep?.train.ids.length ?? 0,
                nTest: prep?.test.ids.length ?? 0,
                ...(prep
                    ? {
                          testPatch: async (imageId: string) => {
                              const i = prep.test.ids.indexOf(imageId);
                              if (i < 0) return undefined;
                              return {
                                  width: prep.width,
                                  height: prep.height,
                                  image: await prep.test.image(i),
                                  gt: prep.test.mask(i),
                              };
                          },
                      }
                    : {}),
            };
        }),
        predictionsDir: (rec) =>
            folder.unit({ dataset: rec.dataset, strategy: rec.strategy, seed: rec.seed }).file("predictions"),
        zeroShot: (dataset, strategy) => folder.zeroShotUnit(dataset, strategy).readResult(),
    });
}
