import { BACKEND_NAMES, type BenchResults } from './types.js';
import { WORKLOADS } from './workloads/index.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Every non-finite number (and every null, which is what JSON makes of NaN and Infinity), by path. */
export function nonFinitePaths(value: unknown, path = '$'): string[] {
  if (value === null) return [path];
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [path];
  if (Array.isArray(value)) return value.flatMap((item, i) => nonFinitePaths(item, `${path}[${i}]`));
  if (isObject(value)) return Object.entries(value).flatMap(([k, v]) => nonFinitePaths(v, `${path}.${k}`));
  return [];
}

/** What a check found: problems fail it; warnings are measurements worth a look (errors under load). */
export type CheckReport = { problems: string[]; warnings: string[] };

/**
 * Validates a results file: the shape, every number finite, every backend asked for either
 * measured or skipped with a reason, every measured backend complete (each workload ×
 * concurrency with all its rounds and an interval on every ratio, memory and stability unless
 * skipped). Errors and failed operations are measurements, so they are warnings.
 */
export function checkResults(data: unknown): CheckReport {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!isObject(data)) return { problems: ['the results are not a JSON object'], warnings };
  if (data.schema !== 2) problems.push(`schema is ${String(data.schema)}, expected 2`);
  for (const path of nonFinitePaths(data)) problems.push(`${path} is not a finite number`);
  const { environment, options, backends, skipped } = data as unknown as BenchResults;
  if (!isObject(environment) || typeof environment.node !== 'string') problems.push('environment is missing');
  if (!isObject(options) || !Array.isArray(backends) || !Array.isArray(skipped)) {
    return { problems: [...problems, 'options, backends or skipped is missing'], warnings };
  }
  for (const name of options.backends) {
    if (!BACKEND_NAMES.includes(name)) problems.push(`unknown backend "${name}"`);
    if (!backends.some((b) => b.name === name) && !skipped.some((s) => s.name === name)) {
      problems.push(`${name} is neither measured nor listed as skipped`);
    }
  }
  for (const s of skipped)
    if (!s.reason || !s.fix) problems.push(`${s.name} is skipped without a reason and a fix`);
  if (backends.length === 0) problems.push('no backend was measured');
  for (const b of backends) {
    if (b.error !== undefined) {
      problems.push(`${b.name}: ${b.error}`);
      continue;
    }
    for (const workload of options.skip.includes('workloads') ? [] : options.workloads) {
      if (WORKLOADS[workload].backends?.includes(b.name) === false) continue;
      for (const concurrency of options.concurrency) {
        const at = `${b.name} ${workload} c=${concurrency}`;
        const c = b.cases.find((x) => x.workload === workload && x.concurrency === concurrency);
        if (c === undefined) {
          const failure = b.failures.find((f) => f.workload === workload && f.concurrency === concurrency);
          problems.push(`${at} has no result${failure ? `: ${failure.error}` : ''}`);
          continue;
        }
        if (c.rounds.length !== options.rounds)
          problems.push(`${at}: ${c.rounds.length} rounds kept, expected ${options.rounds}`);
        if (c.ratios.larder === undefined) problems.push(`${at}: no Larder ÷ raw ratio`);
        for (const [side, r] of Object.entries(c.ratios)) {
          const outside = [r.ops, r.cpu].some((i) => !(i.low <= i.median && i.median <= i.high));
          if (outside) problems.push(`${at} ${side}: ratio outside its interval`);
        }
        for (const [side, s] of Object.entries(c.sides)) {
          if (s.p50Ms > s.p99Ms) problems.push(`${at} ${side}: p50 above p99`);
          if (!(s.opsPerSec > 0)) warnings.push(`${at} ${side}: no operation succeeded`);
          if (s.errors > 0) warnings.push(`${at} ${side}: ${s.errors} errors`);
          if (s.failed > 0) warnings.push(`${at} ${side}: ${s.failed} operations failed`);
        }
      }
    }
    const measured = b.memory && b.memory.larder.bytes > 0 && b.memory.raw.bytes > 0;
    if (!options.skip.includes('memory') && !measured)
      problems.push(`${b.name}: no memory figure${b.memoryError ? `: ${b.memoryError}` : ''}`);
    if (!options.skip.includes('stability') && typeof b.stability?.larder.summary !== 'string') {
      problems.push(`${b.name}: no stability figures${b.stabilityError ? `: ${b.stabilityError}` : ''}`);
    }
  }
  return { problems, warnings };
}
