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

/** Latency of one operation in milliseconds, from the histogram (bucket upper bounds, ~19% resolution). */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
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
  /** Per-operation latency, only for operations that ran. */
  latency: Partial<Record<CacheOperation, LatencySummary>>;
}

// Buckets grow by 2^(1/4): 1 µs up to ~70 s in 104 buckets; each is a small fixed array.
const BUCKETS = 104;
const STEPS_PER_DOUBLING = 4;

/** A fixed-bucket latency histogram: recording is O(1) and allocation-free. */
export class Histogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #total = 0;

  record(ms: number): void {
    const micros = ms * 1000;
    let index = micros <= 1 ? 0 : Math.ceil(Math.log2(micros) * STEPS_PER_DOUBLING);
    if (index >= BUCKETS) index = BUCKETS - 1;
    this.#counts[index]!++;
    this.#total++;
  }

  get count(): number {
    return this.#total;
  }

  /** The upper bound, in ms, of the bucket holding quantile `q`. */
  quantile(q: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return 2 ** (i / STEPS_PER_DOUBLING) / 1000;
    }
    return 2 ** ((BUCKETS - 1) / STEPS_PER_DOUBLING) / 1000;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
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
  readonly #latency = new Map<CacheOperation, Histogram>();

  recordLatency(operation: CacheOperation, ms: number): void {
    let histogram = this.#latency.get(operation);
    if (histogram === undefined) {
      histogram = new Histogram();
      this.#latency.set(operation, histogram);
    }
    histogram.record(ms);
  }

  snapshot(): CacheStats {
    const latency: Partial<Record<CacheOperation, LatencySummary>> = {};
    for (const [operation, histogram] of this.#latency) {
      latency[operation] = {
        count: histogram.count,
        p50: histogram.quantile(0.5),
        p99: histogram.quantile(0.99),
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
      latency,
    };
  }

  reset(): void {
    this.hits = this.misses = this.sets = this.deletes = this.errors = this.corrupt = 0;
    this.#latency.clear();
  }
}
