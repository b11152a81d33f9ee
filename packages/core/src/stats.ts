/** Operation names that get a latency histogram. */
export type CacheOperation =
  | 'get'
  | 'getMany'
  | 'set'
  | 'setMany'
  | 'add'
  | 'delete'
  | 'deleteMany'
  | 'has'
  | 'incr'
  | 'touch'
  | 'ttl'
  | 'clear';

/** Upper bounds, in ms, of the cumulative latency buckets in `LatencySummary.buckets` (for exporters). */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000,
];

/** Latency of one operation in milliseconds, from the histogram (bucket upper bounds, ~19% resolution). */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  /** Sum of all latencies, in ms. */
  sum: number;
  /** Cumulative counts at `LATENCY_BUCKETS_MS`: `buckets[i]` calls took at most that long. */
  buckets: number[];
}

/** A snapshot of the cache's counters. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 before any read. */
  hitRate: number;
  sets: number;
  deletes: number;
  /** Store failures (swallowed or thrown), timeouts and calls skipped by the open circuit. */
  errors: number;
  /** Reads that found bytes Larder could not decode (counted as misses too). */
  corrupt: number;
  /** Stale values `getOrSet` served within their grace period (the read counted as a miss). */
  stale: number;
  /** Per-operation latency, only for operations that ran. */
  latency: Partial<Record<CacheOperation, LatencySummary>>;
  /** `errors` broken down by `CacheError` code (`E_STORE_TIMEOUT`, ...). */
  errorsByCode: Record<string, number>;
  /** Store calls started and not yet settled, right now. */
  inFlight: number;
}

/** One in-process call in this many is timed (a power of two). */
const SYNC_TIMING_EVERY = 8;

// Buckets: 4 per doubling of the latency in µs (≤ 19% apart), from 1 µs to ~70 minutes.
const STEPS_PER_DOUBLING = 4;
const BUCKETS = 32 * STEPS_PER_DOUBLING;

/** A fixed-bucket latency histogram: recording is O(1) and allocation-free. */
export class Histogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #total = 0;
  #sumMs = 0;
  #lastMs = 0;
  #lastIndex = 0;

  /** Whether the next in-process call should be timed (see `StatsRecorder.syncHistogram`). */
  get timeNext(): boolean {
    return (this.#total & (SYNC_TIMING_EVERY - 1)) === 0;
  }

  /** Records the latency `record` was last given again (a call that was counted, not timed). */
  repeat(): void {
    this.#counts[this.#lastIndex]!++;
    this.#total++;
    this.#sumMs += this.#lastMs;
  }

  record(ms: number): void {
    // Integer math instead of log2: the power of two from clz32, the quarter from the next two bits.
    const micros = Math.min(Math.ceil(ms * 1000), 0x7fffffff);
    let index = 0;
    if (micros > 1) {
      const exponent = 31 - Math.clz32(micros);
      const quarter = exponent >= 2 ? (micros >>> (exponent - 2)) & 3 : (micros << (2 - exponent)) & 3;
      index = exponent * STEPS_PER_DOUBLING + quarter + 1;
    }
    this.#lastMs = ms;
    this.#lastIndex = Math.min(index, BUCKETS - 1);
    this.#counts[this.#lastIndex]!++;
    this.#total++;
    this.#sumMs += ms;
  }

  get count(): number {
    return this.#total;
  }

  /** Sum of every recorded latency, in ms. */
  get sum(): number {
    return this.#sumMs;
  }

  /**
   * Cumulative counts for exporters: for each bound (ms, ascending), how many recordings
   * fell in buckets whose upper bound is at or below it (a bucket is never split).
   */
  cumulative(boundsMs: readonly number[]): number[] {
    const out: number[] = [];
    let seen = 0;
    let i = 0;
    for (const bound of boundsMs) {
      while (i < BUCKETS && bucketUpperBound(i) / 1000 <= bound) seen += this.#counts[i++]!;
      out.push(seen);
    }
    return out;
  }

  /** The upper bound, in ms, of the bucket holding quantile `q`. */
  quantile(q: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return bucketUpperBound(i) / 1000;
    }
    return bucketUpperBound(BUCKETS - 1) / 1000;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
    this.#sumMs = 0;
  }
}

/** The cache's counters and histograms. */
export class StatsRecorder {
  hits = 0;
  misses = 0;
  sets = 0;
  deletes = 0;
  errors = 0;
  corrupt = 0;
  stale = 0;
  /** Store calls in flight; the cache counts up when a call starts and down when it settles. */
  inFlight = 0;
  readonly #latency = new Map<CacheOperation, Histogram>();
  readonly #errorsByCode = new Map<string, number>();

  /** Counts one error under its code (and in `errors`). */
  recordError(code: string): void {
    this.errors++;
    this.#errorsByCode.set(code, (this.#errorsByCode.get(code) ?? 0) + 1);
  }

  /**
   * The histogram of an in-process call. Such calls finish in about a microsecond, as long
   * as two clock reads take on some hosts: one call in `SYNC_TIMING_EVERY` is timed (when
   * `timeNext`) and `record`ed, and the ones between are counted at the last time measured
   * (`repeat`).
   */
  syncHistogram(operation: CacheOperation): Histogram {
    return this.#latency.get(operation) ?? this.#histogram(operation);
  }

  recordLatency(operation: CacheOperation, ms: number): void {
    (this.#latency.get(operation) ?? this.#histogram(operation)).record(ms);
  }

  #histogram(operation: CacheOperation): Histogram {
    const histogram = new Histogram();
    this.#latency.set(operation, histogram);
    return histogram;
  }

  snapshot(): CacheStats {
    const latency: Partial<Record<CacheOperation, LatencySummary>> = {};
    for (const [operation, histogram] of this.#latency) {
      // Made for a synchronous call that failed before it was counted.
      if (histogram.count === 0) continue;
      latency[operation] = {
        count: histogram.count,
        p50: histogram.quantile(0.5),
        p99: histogram.quantile(0.99),
        sum: histogram.sum,
        buckets: histogram.cumulative(LATENCY_BUCKETS_MS),
      };
    }
    const reads = this.hits + this.misses;
    return {
      hits: this.hits,
      misses: this.misses,
      hitRate: reads === 0 ? 0 : this.hits / reads,
      sets: this.sets,
      deletes: this.deletes,
      errors: this.errors,
      corrupt: this.corrupt,
      stale: this.stale,
      latency,
      errorsByCode: Object.fromEntries(this.#errorsByCode),
      inFlight: this.inFlight,
    };
  }

  reset(): void {
    this.hits = this.misses = this.sets = this.deletes = this.errors = this.corrupt = this.stale = 0;
    this.#latency.clear();
    this.#errorsByCode.clear();
  }
}

/** Upper bound, in µs, of bucket `index`: bucket e*4+q+1 holds (2^e·(1+q/4), 2^e·(1+(q+1)/4)]. */
function bucketUpperBound(index: number): number {
  if (index === 0) return 1;
  const exponent = Math.floor((index - 1) / STEPS_PER_DOUBLING);
  const quarter = (index - 1) % STEPS_PER_DOUBLING;
  return 2 ** exponent * (1 + (quarter + 1) / STEPS_PER_DOUBLING);
}
