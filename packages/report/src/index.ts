/**
 * @sam-ablate/report: the report of an ablation run. Tables 3-5 beside the paper's published
 * numbers (Markdown, CSV), paired statistics, figures (per-image Dice box plots, Figure 10's
 * effort scatter, loss curves, sample overlays) as SVG and PNG, and a self-contained HTML report.
 */

export { writeFileAtomic } from "./atomic-write.js";
export {
    COMPARISONS_NOTE,
    type ComparisonKind,
    comparisonsCsv,
    comparisonsMarkdown,
    comparisonsTextTable,
    holmAdjust,
    type PairedComparison,
    pairedComparisons,
} from "./comparisons.js";
export {
    architectureEffort,
    DEFAULT_EFFORT,
    EFFORT_LEVELS,
    type EffortData,
    type EffortLevel,
    type EffortPoint,
    type EffortTable,
    effortData,
    effortOf,
    parseEffortTable,
} from "./effort.js";
export { ReportError, type ReportErrorCode } from "./errors.js";
export {
    type BoxPlotOptions,
    type BoxPlotStats,
    boxPlotFigure,
    boxPlotStats,
    strategyColour,
} from "./figures/boxplot.js";
export { maskOutlinePath } from "./figures/contour.js";
export { learningCurvesFigure } from "./figures/curves-figure.js";
export { effortFigure } from "./figures/effort-figure.js";
export { lossFigure } from "./figures/loss-figure.js";
export {
    checkSample,
    OVERLAY_COLOURS,
    type OverlayOptions,
    overlayFigure,
    overlayTitle,
    zoomRegion,
} from "./figures/overlay.js";
export { PALETTE } from "./figures/svg.js";
export { type OverlayGroup, type ReportFigure, type ReportModel, reportHtml } from "./html.js";
export { type DatasetOverview, overview, overviewCsv, overviewTextTable, summaryText } from "./overview.js";
export {
    PAPER_DATASET_BY_KIND,
    PAPER_DATASETS,
    PAPER_RESULTS,
    PAPER_TABLE3_IMPROVEMENT,
    type PaperEntry,
    type PaperImprovement,
    paperEntryForStrategy,
    paperRow,
} from "./paper.js";
export { type ReportFiles, type ReportOptions, renderReport, slug } from "./render.js";
export { buildRunResults, type RunDataset, type RunResultsInput, type TestPatch } from "./run-results.js";
export { selectionCsv, selectionTextTable } from "./selection.js";
export {
    compareStrategyIds,
    parseStrategyId,
    type StrategyFamily,
    type StrategyInfo,
    sortByStrategy,
    strategyDisplayName,
    withoutBoxId,
} from "./strategies.js";
export {
    bestStrategy,
    comparedPaperDataset,
    diceValues,
    type MetricSummary,
    type StrategySummary,
    SummaryCache,
    summarizeStrategy,
} from "./summaries.js";
export {
    buildComparisonTable,
    buildComparisonTables,
    type ComparisonRow,
    type ComparisonTable,
    comparisonTableCsv,
    comparisonTableHtml,
    comparisonTableMarkdown,
    comparisonTextTable,
    hasArchitectureArms,
    type MetricCell,
    type PaperTableId,
    type Spread,
} from "./tables.js";
export { csvTable, escapeXml, markdownTable, type TextTable } from "./text-table.js";
export type {
    DatasetResults,
    FoldResult,
    PaperDataset,
    PerImageResult,
    RunResults,
    Sample,
    SelectionResult,
    StrategyResult,
} from "./types.js";
export { validateRunResults } from "./validate.js";
