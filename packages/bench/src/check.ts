import { BACKEND_NAMES, type BackendResult, type BenchResults } from './types.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every non-finite number (and every null, which is what JSON makes of NaN and Infinity), by path. */
export function nonFinitePaths(value: unknown, path = '$'): string[] {
  if (value === null) return [path];
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [path];
  if (Array.isArray(value)) return value.flatMap((item, i) => nonFinitePaths(item, `${path}[${i}]`));
  if (isObject(value)) return Object.entries(value).flatMap(([k, v]) => nonFinitePaths(v, `${path}.${k}`));
  return [];
}

/** What a check found: problems fail it; warnings are measurements worth a look (errors under load). */
export interface CheckReport {
  problems: string[];
  warnings: string[];
}

function checkCases(backend: BackendResult, options: BenchResults['options'], report: CheckReport): void {
  const { problems, warnings } = report;
  for (const workload of options.workloads) {
    if (workload === 'set-full' && backend.name !== 'memory') continue;
    for (const concurrency of options.concurrency) {
      const at = `${backend.name} ${workload} c=${concurrency}`;
      const c = backend.cases.find((x) => x.workload === workload && x.concurrency === concurrency);
      if (c === undefined) {
        const failure = backend.failures.find((f) => f.workload === workload && f.concurrency === concurrency);
        problems.push(`${at} has no result${failure ? `: ${failure.error}` : ''}`);
        continue;
      }
      if (c.rounds.length !== options.rounds) problems.push(`${at}: ${c.rounds.length} rounds kept, expected ${options.rounds}`);
      if (c.ratios.larder === undefined) problems.push(`${at}: no Larder ÷ raw ratio`);
      for (const [side, r] of Object.entries(c.ratios)) {
        for (const i of [r.ops, r.cpu]) {
          if (!(i.low <= i.median && i.median <= i.high)) problems.push(`${at} ${side}: ratio outside its interval`);
        }
      }
      for (const [side, s] of Object.entries(c.sides)) {
        if (s.p50Ms > s.p99Ms) problems.push(`${at} ${side}: p50 above p99`);
        if (!(s.opsPerSec > 0)) warnings.push(`${at} ${side}: no operation succeeded`);
        if (s.errors > 0) warnings.push(`${at} ${side}: ${s.errors} errors`);
        if (s.failed > 0) warnings.push(`${at} ${side}: ${s.failed} operations failed`);
      }
    }
  }
}

/**
 * Validates a results file: the shape, every number finite, every backend that was asked for
 * either measured or listed as skipped with a reason, and every measured backend complete
 * (all workloads × concurrencies with every round and an interval on every ratio, memory and
 * stability unless skipped). Errors and failed operations are measurements: warnings.
 */
export function checkResults(data: unknown): CheckReport {
  const report: CheckReport = { problems: [], warnings: [] };
  const { problems } = report;
  if (!isObject(data)) return { problems: ['the results are not a JSON object'], warnings: [] };
  if (data.schema !== 2) problems.push(`schema is ${String(data.schema)}, expected 2`);
  for (const path of nonFinitePaths(data)) problems.push(`${path} is not a finite number`);
  const results = data as unknown as BenchResults;
  if (!isObject(results.environment) || typeof results.environment.node !== 'string') {
    problems.push('environment (date, Node, CPU) is missing');
  }
  if (!isObject(results.options) || !Array.isArray(results.backends) || !Array.isArray(results.skipped)) {
    problems.push('options, backends or skipped is missing');
    return report;
  }
  const { options } = results;
  const measured = new Set(results.backends.map((b) => b.name));
  const skipped = new Set<string>(results.skipped.map((s) => s.name));
  for (const name of options.backends ?? []) {
    if (!(BACKEND_NAMES as readonly string[]).includes(name)) problems.push(`unknown backend "${name}"`);
    if (!measured.has(name) && !skipped.has(name)) problems.push(`${name} is neither measured nor listed as skipped`);
  }
  for (const s of results.skipped) {
    if (!s.reason || !s.fix) problems.push(`${s.name} is skipped without a reason and a fix`);
  }
  if (results.backends.length === 0) problems.push('no backend was measured');
  for (const backend of results.backends) {
    const name = backend.name;
    if (backend.error !== undefined) {
      problems.push(`${name}: ${backend.error}`);
      continue;
    }
    if (!options.skip.includes('workloads')) checkCases(backend, options, report);
    if (!options.skip.includes('memory')) {
      if (backend.memory === undefined) {
        problems.push(`${name}: no memory figure${backend.memoryError ? `: ${backend.memoryError}` : ''}`);
      } else if (!(backend.memory.larder.bytes > 0 && backend.memory.raw.bytes > 0)) {
        problems.push(`${name}: memory figure is not positive`);
      }
    }
    if (!options.skip.includes('stability') && typeof backend.stability?.larder.summary !== 'string') {
      problems.push(`${name}: no stability figures${backend.stabilityError ? `: ${backend.stabilityError}` : ''}`);
    }
  }
  return report;
}
