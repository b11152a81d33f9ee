import type { Spread } from './types.js';

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Median, min and max of a non-empty list. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError('spread of an empty list');
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/**
 * A case's median counts as known once its standard error is at most this fraction of it.
 * The difference of two runs' medians then has a standard error of about 5.7 %, so they
 * differ by more than 15 % (2.6 of those) about once in a hundred medians.
 */
export const MEDIAN_ERROR_TARGET = 0.04;

/**
 * How far the median of these samples may be from the true one, relative to it: the usual
 * large-sample standard error of a median, √(π/2) · s / √n, over the median (s the sample
 * standard deviation, which unlike the MAD does not look away from a minority of slow
 * rounds). 0 for fewer than two samples or a median that is not positive.
 */
export function medianError(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = median(values);
  if (!(m > 0)) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  return (Math.sqrt(Math.PI / 2) * Math.sqrt(variance)) / Math.sqrt(n) / m;
}

/**
 * How far the median of rounds timed in several processes may be from the true one, relative
 * to it. Rounds of one process share its luck (heap and code layout, where the scheduler put
 * it), so they are not independent draws, and `medianError` over all of them reads too sure
 * when the processes differ: this is the larger of that and the standard error of the mean
 * over the processes' mean rounds, s_p / √k over the median (s_p the standard deviation of
 * the k processes' means). Rounds without a process count as one process.
 */
export function pooledMedianError(rounds: readonly { opsPerSec: number; process?: number }[]): number {
  const values = rounds.map((r) => r.opsPerSec);
  const iid = medianError(values);
  const byProcess = new Map<number | undefined, number[]>();
  for (const r of rounds) {
    const mine = byProcess.get(r.process);
    if (mine === undefined) byProcess.set(r.process, [r.opsPerSec]);
    else mine.push(r.opsPerSec);
  }
  const k = byProcess.size;
  const m = k < 2 ? 0 : median(values);
  if (!(m > 0)) return iid;
  const means = [...byProcess.values()].map((v) => v.reduce((a, b) => a + b, 0) / v.length);
  const mean = means.reduce((a, b) => a + b, 0) / k;
  const variance = means.reduce((a, v) => a + (v - mean) ** 2, 0) / (k - 1);
  return Math.max(iid, Math.sqrt(variance / k) / m);
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

// 2^(1/32) per bucket: ±1.1 % resolution, from 0.1 µs up to ~28 minutes in 1000 buckets.
const STEPS_PER_DOUBLING = 32;
const BUCKETS = 1000;
const FLOOR_MS = 1e-4;

/**
 * A log-bucket latency histogram in milliseconds: O(1), allocation-free recording, so it can
 * sit inside a timed loop; quantiles are read back to about 1 % and the maximum exactly.
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #max = 0;

  record(ms: number): void {
    const index =
      ms <= FLOOR_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log2(ms / FLOOR_MS) * STEPS_PER_DOUBLING));
    this.#counts[index]!++;
    this.#count++;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#count;
  }

  get max(): number {
    return this.#max;
  }

  /** The upper bound of the bucket holding quantile q (capped at the true maximum); 0 when empty. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.min(this.#count, Math.max(1, Math.ceil(q * this.#count)));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, FLOOR_MS * 2 ** (i / STEPS_PER_DOUBLING));
    }
    return this.#max;
  }

  /** Adds another histogram's counts to this one. */
  merge(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.#count += other.#count;
    if (other.#max > this.#max) this.#max = other.#max;
  }
}

/** a ÷ b, or 0 when b is 0 (so a missing denominator never turns into Infinity in the results). */
export function ratio(a: number, b: number): number {
  return b > 0 && Number.isFinite(a) ? a / b : 0;
}
