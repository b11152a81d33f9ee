import { describe, expect, it } from 'vitest';
import { createRandom } from '../src/data.js';
import { disjoint, Latencies, median, medianInterval, pairedRatio, quantile, ratio } from '../src/stats.js';

describe('median and quantile', () => {
  it('takes the middle value of an odd list and the mean of the middle two of an even one', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('refuses an empty list instead of returning NaN', () => {
    expect(() => median([])).toThrow(RangeError);
    expect(() => medianInterval([])).toThrow(RangeError);
  });

  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(values, 0.5)).toBe(50);
    expect(quantile(values, 0.99)).toBe(99);
    expect(quantile([], 0.5)).toBe(0);
  });
});

describe('medianInterval (order statistics)', () => {
  const ranks = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

  it.each([
    // n, low rank, high rank, exact coverage 1 − 2·P(Binomial(n, ½) ≤ k − 1)
    [6, 1, 6, 1 - 2 / 64],
    [9, 2, 8, 1 - (2 * 10) / 512],
    [10, 2, 9, 1 - (2 * 11) / 1024],
    [12, 3, 10, 1 - (2 * (1 + 12 + 66)) / 4096],
    [20, 6, 15, 0.9586105346679688],
  ])('with %d values takes the %d-th and %d-th, covering %f', (n, low, high, coverage) => {
    const interval = medianInterval(ranks(n).reverse());
    expect(interval.low).toBe(low);
    expect(interval.high).toBe(high);
    expect(interval.coverage).toBeCloseTo(coverage, 10);
    expect(interval.coverage).toBeGreaterThanOrEqual(0.95);
  });

  it('falls back to min–max with the coverage it really has below 6 values', () => {
    expect(medianInterval([3, 1, 2, 5, 4])).toEqual({ median: 3, low: 1, high: 5, coverage: 1 - 2 / 32 });
    expect(medianInterval([7]).coverage).toBe(0);
  });

  it('holds the true median at least 95 % of the time, whatever the distribution', () => {
    const random = createRandom(42);
    // A skewed, heavy-tailed draw (log-normal-ish, like round times on a busy host), median 1.
    const draw = () => Math.exp(2 * (random() + random() + random() - 1.5));
    let held = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const { low, high } = medianInterval(Array.from({ length: 10 }, draw));
      if (low <= 1 && 1 <= high) held++;
    }
    // The exact coverage is 97.9 %; 4000 trials put the estimate within ±0.5 % of it.
    expect(held / trials).toBeGreaterThan(0.965);
  });
});

describe('pairedRatio', () => {
  it('is the median of the per-round ratios, so a host that swings both sides cancels out', () => {
    // The host runs at full speed, then at half, round by round; Larder is always 2× raw.
    const larder = [200, 100, 200, 100, 200, 100];
    const raw = [100, 50, 100, 50, 100, 50];
    expect(pairedRatio(larder, raw)).toEqual({ median: 2, low: 2, high: 2, coverage: 1 - 2 / 64 });
    // The ratio of the two medians (150 ÷ 75) agrees here, but the unpaired spread of each side is 2×.
  });

  it('leaves out rounds whose raw side did nothing', () => {
    expect(pairedRatio([1, 2, 3], [0, 1, 1]).median).toBe(2.5);
    expect(pairedRatio([1], [0])).toEqual({ median: 0, low: 0, high: 0, coverage: 0 });
  });
});

describe('disjoint', () => {
  const at = (low: number, high: number) => ({ median: (low + high) / 2, low, high, coverage: 0.95 });

  it('says two intervals moved apart only when they share no value', () => {
    expect(disjoint(at(1, 2), at(2.1, 3))).toBe(true);
    expect(disjoint(at(2.1, 3), at(1, 2))).toBe(true);
    expect(disjoint(at(1, 2), at(2, 3))).toBe(false);
    expect(disjoint(at(1, 3), at(1.5, 2))).toBe(false);
  });
});

describe('Latencies', () => {
  it('reads quantiles back by nearest rank', () => {
    const h = new Latencies();
    for (let i = 1; i <= 10_000; i++) h.record(i / 100); // 0.01 ms .. 100 ms
    expect(h.quantile(0.5)).toBe(50);
    expect(h.quantile(0.99)).toBe(99);
    expect(new Latencies().quantile(0.99)).toBe(0);
  });
});

describe('ratio', () => {
  it('never returns Infinity or NaN', () => {
    expect(ratio(5, 0)).toBe(0);
    expect(ratio(Number.NaN, 2)).toBe(0);
    expect(ratio(3, 4)).toBe(0.75);
  });
});
