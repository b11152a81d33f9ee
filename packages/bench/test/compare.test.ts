import { describe, expect, it } from 'vitest';
import { compareRuns, renderComparison } from '../src/compare.js';
import { backendResult, sampleResults } from './fixtures.js';

describe('compareRuns', () => {
  it('finds every ratio the same when both runs measured the same ratios', () => {
    const a = sampleResults();
    const comparison = compareRuns(a, sampleResults());
    // 2 backends × 2 concurrencies × (ops, cpu) for Larder ÷ raw.
    expect(comparison.ratios).toHaveLength(8);
    expect(comparison.agrees).toBe(true);
    expect(renderComparison(comparison)).toMatch(/All 8 ratios agree/);
  });

  it('ignores the absolute speed of the host: twice as fast throughout is no change', () => {
    const b = sampleResults();
    b.backends = [backendResult('memory', 400_000, 0.5), backendResult('sqlite', 100_000, 0.8)];
    expect(compareRuns(sampleResults(), b).agrees).toBe(true);
  });

  it('says a ratio moved when its two intervals do not overlap, and only that one', () => {
    const b = sampleResults();
    b.backends = [backendResult('memory', 200_000, 0.6), backendResult('sqlite', 50_000, 0.8)];
    const comparison = compareRuns(sampleResults(), b);
    expect(comparison.agrees).toBe(false);
    const moved = comparison.ratios.filter((r) => r.moved).map((r) => r.what);
    expect(moved).toEqual([
      'memory get-hit c=1 larder ops',
      'memory get-hit c=1 larder cpu',
      'memory get-hit c=64 larder ops',
      'memory get-hit c=64 larder cpu',
    ]);
    expect(renderComparison(comparison)).toMatch(/4 of 8 ratios moved/);
    expect(renderComparison(comparison)).toMatch(/MOVED/);
  });

  it('compares only what both runs measured', () => {
    const b = sampleResults();
    b.backends = b.backends.slice(0, 1);
    expect(compareRuns(sampleResults(), b).ratios).toHaveLength(4);
  });
});
