import { renderReport, summaryText } from "@sam-ablate/report";
import { syntheticRun } from "./report-fixture.js";
const r = syntheticRun();
const files = await renderReport(r, "/tmp/t4-out", { generatedAt: new Date(0) });
console.log(files);
console.log(summaryText(r));
