export { type Command, parseCommand, parseSize, USAGE, UsageError } from './args.js';
export { FatalSetupError, runBench } from './bench.js';
export { type CheckReport, checkResults, nonFinitePaths } from './check-results.js';
export { Progress, type ProgressMode } from './progress.js';
export { renderMarkdown } from './report/markdown.js';
export { renderSvg } from './report/svg.js';
export { renderSummary, renderTerminal } from './report/terminal.js';
export { LatencyHistogram, median, quantile, spread } from './stats.js';
export type * from './types.js';
