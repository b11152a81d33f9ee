export { FatalSetupError, runBench } from './bench.js';
export { type CheckReport, checkResults, nonFinitePaths } from './check.js';
export { type Comparison, compareRuns, renderComparison } from './compare.js';
export { type Command, parseCommand, parseSize, USAGE, UsageError } from './options.js';
export { Progress, type ProgressMode } from './progress.js';
export { renderMarkdown } from './report/markdown.js';
export { renderSummary, renderTerminal } from './report/terminal.js';
export { Latencies, median, medianInterval, pairedRatio, quantile } from './stats.js';
export type * from './types.js';
