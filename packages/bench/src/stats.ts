import type { Interval } from './types.js';

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The q-quantile (0..1) of a list by the nearest-rank method: the smallest value with at
 * least q of the list at or below it. 0 for an empty list.
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

/** P(B ≤ j) for B ~ Binomial(n, ½), for every j from 0 to n. */
function binomialHalfCdf(n: number): number[] {
  const cdf: number[] = [];
  let pmf = 0.5 ** n;
  let sum = 0;
  for (let i = 0; i <= n; i++) {
    sum += pmf;
    cdf.push(sum);
    pmf = (pmf * (n - i)) / (i + 1);
  }
  return cdf;
}

/**
 * The median with a distribution-free confidence interval from order statistics: with the
 * values sorted, [x(k), x(n+1−k)] holds the true median with probability 1 − 2·P(B ≤ k−1),
 * B ~ Binomial(n, ½), whatever the distribution, as long as the values are independent draws.
 * k is the largest that keeps that coverage at or above `level`. From 6 values on the 95 %
 * interval exists (6 → min–max at 96.9 %, 10 → 2nd–9th at 97.9 %); with fewer the interval is
 * min–max and `coverage` says how much less it holds.
 */
export function medianInterval(values: readonly number[], level = 0.95) {
  const n = values.length;
  if (n === 0) throw new RangeError('interval of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const cdf = binomialHalfCdf(n);
  let k = 1;
  while (k + 1 <= (n + 1) / 2 && 1 - 2 * cdf[k]! >= level) k++;
  return {
    median: median(sorted),
    low: sorted[k - 1]!,
    high: sorted[n - k]!,
    coverage: n === 1 ? 0 : 1 - 2 * cdf[k - 1]!,
  };
}

/**
 * Paired ratios: each round's `a ÷ b`, then the median of those with its interval. The two
 * sides of a round ran back to back on the same machine, so a slow stretch of the host lands
 * on both and cancels in the ratio. Rounds where `b` is not positive are left out.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]) {
  const ratios: number[] = [];
  a.forEach((x, i) => {
    const y = b[i]!;
    if (y > 0 && Number.isFinite(x)) ratios.push(x / y);
  });
  return ratios.length === 0 ? { median: 0, low: 0, high: 0, coverage: 0 } : medianInterval(ratios);
}

/** Whether two intervals share no value: a ratio that "moved" between two runs. */
export const disjoint = (a: Interval, b: Interval): boolean => a.high < b.low || b.high < a.low;

/**
 * Latencies of one round, ms: the first 2^16 calls kept in a preallocated array (no allocation
 * inside the timed loop), enough for a p99 to 1 %; rounds are short, so most keep every call.
 */
export class Latencies {
  readonly #samples = new Float64Array(1 << 16);
  #count = 0;

  /** Forgets the samples, keeping the array (one per process is enough: sides are timed one at a time). */
  reset(): void {
    this.#count = 0;
  }

  record(ms: number): void {
    if (this.#count < this.#samples.length) this.#samples[this.#count++] = ms;
  }

  /** The q-quantile by nearest rank; 0 when empty. */
  quantile(q: number): number {
    return quantile(Array.from(this.#samples.subarray(0, this.#count)), q);
  }
}

/** a ÷ b, or 0 when b is 0 (so a missing denominator never turns into Infinity in the results). */
export const ratio = (a: number, b: number): number => (b > 0 && Number.isFinite(a) ? a / b : 0);
