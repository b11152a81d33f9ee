import { describe, expect, it } from 'vitest';
import {
  LatencyHistogram,
  median,
  medianError,
  pooledMedianError,
  quantile,
  ratio,
  spread,
} from '../src/stats.js';

describe('median and spread', () => {
  it('takes the middle value of an odd list and the mean of the middle two of an even one', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('reports min and max beside the median', () => {
    expect(spread([10, 30, 20])).toEqual({ median: 20, min: 10, max: 30 });
  });

  it('refuses an empty list instead of returning NaN', () => {
    expect(() => median([])).toThrow(RangeError);
  });
});

describe('quantile', () => {
  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(values, 0.5)).toBe(50);
    expect(quantile(values, 0.99)).toBe(99);
    expect(quantile(values, 1)).toBe(100);
    expect(quantile([], 0.99)).toBe(0);
  });
});

describe('LatencyHistogram', () => {
  it('reads quantiles back within about 2 %', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 10_000; i++) h.record(i / 100); // 0.01 ms .. 100 ms
    expect(h.count).toBe(10_000);
    expect(h.quantile(0.5)).toBeGreaterThanOrEqual(50);
    expect(h.quantile(0.5)).toBeLessThan(51.5);
    expect(h.quantile(0.99)).toBeGreaterThanOrEqual(99);
    expect(h.quantile(0.99)).toBeLessThan(101);
    expect(h.max).toBe(100);
    expect(h.quantile(1)).toBe(100);
  });

  it('is 0 when empty and merges counts', () => {
    const a = new LatencyHistogram();
    expect(a.quantile(0.99)).toBe(0);
    const b = new LatencyHistogram();
    a.record(1);
    b.record(3);
    a.merge(b);
    expect(a.count).toBe(2);
    expect(a.max).toBe(3);
  });
});

describe('ratio', () => {
  it('never returns Infinity or NaN', () => {
    expect(ratio(5, 0)).toBe(0);
    expect(ratio(Number.NaN, 2)).toBe(0);
    expect(ratio(3, 4)).toBe(0.75);
  });
});

describe('medianError', () => {
  it('is √(π/2) · s / √n over the median', () => {
    // mean 100, sample standard deviation √(1000/4) ≈ 15.81, median 100
    const values = [80, 90, 100, 110, 120];
    expect(medianError(values)).toBeCloseTo(
      (Math.sqrt(Math.PI / 2) * Math.sqrt(250)) / Math.sqrt(5) / 100,
      10,
    );
  });

  it('shrinks as rounds of the same spread accumulate', () => {
    const five = [80, 90, 100, 110, 120];
    expect(medianError([...five, ...five, ...five])).toBeLessThan(medianError(five) / 1.6);
  });

  it('does not look away from a minority of slow rounds, as a MAD would', () => {
    // Three rounds agree and two are slow: the spread of all five counts.
    expect(medianError([1872, 1908, 1883, 1335, 1596])).toBeGreaterThan(0.06);
  });

  it('is 0 for one sample, identical samples or a median that is not positive', () => {
    expect(medianError([5])).toBe(0);
    expect(medianError([7, 7, 7])).toBe(0);
    expect(medianError([0, 0, 3])).toBe(0);
  });
});

describe('pooledMedianError', () => {
  const rounds = (perProcess: number[][]) =>
    perProcess.flatMap((values, p) => values.map((opsPerSec) => ({ opsPerSec, process: p + 1 })));

  it('is medianError over the rounds when the processes agree', () => {
    const values = [
      [100, 90],
      [95, 105],
      [110, 92],
    ];
    expect(pooledMedianError(rounds(values))).toBe(medianError(values.flat()));
  });

  it('is the standard error over the processes when their luck sets them apart', () => {
    // Means 100, 100, 114: s_p = 8.08, over √3 and the median 100.
    const split = rounds([
      [100, 100],
      [100, 100],
      [114, 114],
    ]);
    expect(medianError(split.map((r) => r.opsPerSec))).toBeCloseTo(0.037, 3);
    expect(pooledMedianError(split)).toBeCloseTo(0.0467, 3);
  });

  it('treats rounds without a process as one process', () => {
    const values = [100, 100, 100, 100, 114, 114];
    expect(pooledMedianError(values.map((opsPerSec) => ({ opsPerSec })))).toBe(medianError(values));
    expect(pooledMedianError([])).toBe(0);
  });
});
