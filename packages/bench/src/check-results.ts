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

/** What a check found: problems fail it; warnings are measurements worth a look (errors under load, a busy machine). */
export interface CheckReport {
  problems: string[];
  warnings: string[];
}

function checkCases(backend: BackendResult, options: BenchResults['options'], report: CheckReport): void {
  const { problems, warnings } = report;
  for (const workload of options.workloads) {
    for (const concurrency of options.concurrency) {
      const at = `${backend.name} ${workload} c=${concurrency}`;
      const c = backend.cases.find((x) => x.workload === workload && x.concurrency === concurrency);
      if (c === undefined) {
        const failure = backend.failures.find(
          (f) => f.workload === workload && f.concurrency === concurrency,
        );
        problems.push(`${at} has no result${failure ? `: ${failure.error}` : ''}`);
        continue;
      }
      if (c.busy) warnings.push(`${at}: measured on a busy machine`);
      for (const side of ['larder', 'raw'] as const) {
        const s = c[side];
        const where = `${at} ${side}`;
        if (s.rounds.length < 3) problems.push(`${where}: ${s.rounds.length} rounds, expected at least 3`);
        if (s.opsPerSec.min > s.opsPerSec.median || s.opsPerSec.median > s.opsPerSec.max) {
          problems.push(`${where}: median outside min–max`);
        }
        if (s.p50Ms > s.p99Ms) problems.push(`${where}: p50 above p99`);
        if (!(s.opsPerSec.median > 0)) warnings.push(`${where}: no operation succeeded`);
        if (s.errors > 0) warnings.push(`${where}: ${s.errors} errors`);
        if (s.failed > 0) warnings.push(`${where}: ${s.failed} operations failed`);
      }
    }
  }
}

/**
 * Validates a results file: the shape, every number finite, every backend that was asked for
 * either measured or listed as skipped with a reason, and every measured backend complete
 * (all workloads × concurrencies, memory and stability unless skipped). Errors and failed
 * operations are measurements, not harness faults: they are warnings.
 */
export function checkResults(data: unknown): CheckReport {
  const report: CheckReport = { problems: [], warnings: [] };
  const { problems } = report;
  if (!isObject(data)) return { problems: ['the results are not a JSON object'], warnings: [] };
  if (data.schema !== 1) problems.push(`schema is ${String(data.schema)}, expected 1`);
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
  const skipped = new Set(results.skipped.map((s) => s.name));
  for (const name of options.backends ?? []) {
    if (!(BACKEND_NAMES as readonly string[]).includes(name)) problems.push(`unknown backend "${name}"`);
    if (!measured.has(name) && !skipped.has(name))
      problems.push(`${name} is neither measured nor listed as skipped`);
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
    if (!options.skip.includes('stability')) {
      if (backend.stability === undefined) {
        problems.push(
          `${name}: no stability figures${backend.stabilityError ? `: ${backend.stabilityError}` : ''}`,
        );
      } else if (typeof backend.stability.larder.summary !== 'string') {
        problems.push(`${name}: stability summary missing`);
      }
    }
  }
  return report;
}
