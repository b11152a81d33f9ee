import { describe, expect, it } from 'vitest';
import { checkResults, nonFinitePaths } from '../src/check.js';
import { sampleResults } from './fixtures.js';

/** What the results look like after a round trip through the file. */
function viaJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

describe('checkResults', () => {
  it('passes complete results', () => {
    expect(checkResults(viaJson(sampleResults()))).toEqual({ problems: [], warnings: [] });
  });

  it('catches NaN and Infinity, which JSON writes as null', () => {
    const results = sampleResults();
    results.backends[0]!.cases[0]!.ratios.larder!.ops.high = Number.NaN;
    results.backends[1]!.memory!.ratio = Number.POSITIVE_INFINITY;
    const { problems } = checkResults(viaJson(results));
    expect(problems).toContain('$.backends[0].cases[0].ratios.larder.ops.high is not a finite number');
    expect(problems).toContain('$.backends[1].memory.ratio is not a finite number');
  });

  it('requires every requested backend to be measured or skipped with a reason', () => {
    const results = sampleResults();
    results.skipped = [];
    expect(checkResults(viaJson(results)).problems).toContain(
      'redis is neither measured nor listed as skipped',
    );
  });

  it('requires every workload × concurrency of a measured backend', () => {
    const results = sampleResults();
    results.backends[1]!.cases.pop();
    results.backends[1]!.failures.push({ workload: 'get-hit', concurrency: 64, error: 'boom' });
    expect(checkResults(viaJson(results)).problems).toContain('sqlite get-hit c=64 has no result: boom');
  });

  it('fails on a missing phase and warns about errors and failed operations', () => {
    const results = sampleResults();
    results.backends[0]!.cases[0]!.sides.larder!.errors = 3;
    results.backends[0]!.cases[0]!.sides.raw!.failed = 2;
    delete results.backends[1]!.memory;
    results.backends[1]!.memoryError = 'disk full';
    const { problems, warnings } = checkResults(viaJson(results));
    expect(problems).toEqual(['sqlite: no memory figure: disk full']);
    expect(warnings).toEqual([
      'memory get-hit c=1 larder: 3 errors',
      'memory get-hit c=1 raw: 2 operations failed',
    ]);
  });

  it('fails on figures that cannot come from a correct run', () => {
    const results = sampleResults();
    const c = results.backends[0]!.cases[0]!;
    c.sides.larder!.p50Ms = 5;
    c.rounds.pop();
    c.ratios.larder!.cpu.median = c.ratios.larder!.cpu.high + 1;
    delete results.backends[1]!.cases[1]!.ratios.larder;
    expect(checkResults(viaJson(results)).problems).toEqual([
      'memory get-hit c=1: 9 rounds kept, expected 10',
      'memory get-hit c=1 larder: ratio outside its interval',
      'memory get-hit c=1 larder: p50 above p99',
      'sqlite get-hit c=64: no Larder ÷ raw ratio',
    ]);
  });

  it('does not ask for phases that were skipped', () => {
    const results = sampleResults();
    results.options.skip = ['memory', 'stability'];
    for (const b of results.backends) {
      delete b.memory;
      delete b.stability;
    }
    expect(checkResults(viaJson(results))).toEqual({ problems: [], warnings: [] });
  });

  it('fails when nothing was measured or the file is not results', () => {
    const results = sampleResults();
    results.backends = [];
    results.skipped.push(
      { name: 'memory', reason: 'x', fix: 'y' },
      { name: 'sqlite', reason: 'x', fix: 'y' },
    );
    expect(checkResults(viaJson(results)).problems).toContain('no backend was measured');
    expect(checkResults([1, 2]).problems).toEqual(['the results are not a JSON object']);
  });
});

describe('nonFinitePaths', () => {
  it('lists nulls and non-finite numbers by path', () => {
    expect(nonFinitePaths({ a: [1, null, { b: Number.NaN }], c: 'x' })).toEqual(['$.a[1]', '$.a[2].b']);
  });
});
