import type { Metric, Registry } from 'prom-client';

/** One exported sample: a value and its labels, optionally under a suffixed name (`_bucket`). */
export interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * A metric family whose samples are computed at scrape time. prom-client's own Counter and
 * Histogram only accept increments and observations; Larder's figures are already counted
 * (by the cache's stats), so the family hands the registry finished samples through the
 * `get()` shape every prom-client metric has (tested against prom-client 15.1; a change of
 * that shape fails the exact-scrape test in prometheus.test.ts).
 */
export class ScrapeFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator = 'sum';
  readonly #read: () => Promise<Sample[]>;

  constructor(
    name: string,
    help: string,
    type: 'counter' | 'gauge' | 'histogram',
    read: () => Promise<Sample[]>,
  ) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#read = read;
  }

  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: await this.#read(),
    };
  }

  /** prom-client calls this on `registry.resetMetrics()`; the figures belong to the caches. */
  reset(): void {}

  register(registry: Registry): void {
    registry.registerMetric(this as unknown as Metric);
  }
}
