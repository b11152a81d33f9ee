import { describe, expect, it } from 'vitest';
import { Histogram } from '../src/stats.js';

describe('Histogram', () => {
  it('reports quantiles within one bucket (≤ 25%) of the true value', () => {
    const histogram = new Histogram();
    for (let i = 1; i <= 1000; i++) histogram.record(i / 100); // 0.01 ms .. 10 ms
    const p50 = histogram.quantile(0.5);
    const p99 = histogram.quantile(0.99);
    expect(p50).toBeGreaterThanOrEqual(5);
    expect(p50).toBeLessThanOrEqual(5 * 1.25);
    expect(p99).toBeGreaterThanOrEqual(9.9);
    expect(p99).toBeLessThanOrEqual(9.9 * 1.25);
    expect(histogram.count).toBe(1000);
  });

  it('puts sub-microsecond and enormous values in the end buckets', () => {
    const histogram = new Histogram();
    histogram.record(0);
    histogram.record(1e12);
    expect(histogram.quantile(0.01)).toBe(0.001);
    expect(histogram.quantile(1)).toBeGreaterThan(1e6);
    histogram.reset();
    expect(histogram.quantile(0.5)).toBe(0);
  });
});
