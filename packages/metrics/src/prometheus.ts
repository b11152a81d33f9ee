import { type Cache, CacheConfigError, checkOptions, LATENCY_BUCKETS_MS } from '@larder/core';
import type { Registry } from 'prom-client';
import { type Sample, ScrapeFamily } from './prom-family.js';
import { CACHE_COUNTERS, figure, STORE_COUNTERS, STORE_GAUGES, StoreInfoReader } from './store-info.js';

/** Options for `collectPrometheus`. */
export interface PrometheusOptions {
  /** The prom-client registry to publish to (`new Registry()` or prom-client's `register`). */
  registry: Registry;
  /** The `cache` label of every sample; one registry can carry several caches. @default 'default' */
  name?: string;
  /** Prefix of every metric name. @default 'larder_' */
  prefix?: string;
  /** Longest wait for the store's `info()` during a scrape, in ms; a slower store reports `store_up 0`. @default 1000 */
  infoTimeout?: number;
}

/** What `collectPrometheus` returns: `stop()` takes the cache off the registry. */
export interface Collector {
  stop(): void;
}

interface Source {
  cache: Cache;
  name: string;
  info: StoreInfoReader;
}

// One set of families per registry and prefix; every cache collected into it is a label value.
const families = new WeakMap<Registry, Map<string, Map<string, Source>>>();

/**
 * Publishes a cache's counters, latency histograms and store figures to a prom-client
 * registry. Every figure is read from `cache.stats()` and `store.info()` when Prometheus
 * scrapes; nothing runs on a cache call.
 */
export function collectPrometheus(cache: Cache, options: PrometheusOptions): Collector {
  checkOptions('collectPrometheus', options, {
    registry: 'object',
    name: 'string',
    prefix: 'string',
    infoTimeout: 'number',
  });
  const registry = options?.registry;
  if (registry === undefined || typeof registry.registerMetric !== 'function') {
    throw new CacheConfigError(
      'collectPrometheus needs { registry }: a prom-client Registry (or its `register`)',
    );
  }
  const name = options.name ?? 'default';
  const prefix = options.prefix ?? 'larder_';
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new CacheConfigError(
      `prefix "${prefix}" is not a valid Prometheus metric name start; use letters, digits, _ and :`,
    );
  }
  let byPrefix = families.get(registry);
  if (byPrefix === undefined) {
    byPrefix = new Map();
    families.set(registry, byPrefix);
  }
  let sources = byPrefix.get(prefix);
  if (sources === undefined) {
    sources = new Map();
    byPrefix.set(prefix, sources);
    for (const family of buildFamilies(prefix, sources)) family.register(registry);
  }
  if (sources.has(name)) {
    throw new CacheConfigError(
      `a cache named "${name}" is already collected into this registry; give each cache its own name`,
    );
  }
  sources.set(name, { cache, name, info: new StoreInfoReader(cache, options.infoTimeout ?? 1000) });
  const registered = sources;
  return {
    stop: () => {
      if (registered.get(name)?.cache === cache) registered.delete(name);
    },
  };
}

function buildFamilies(prefix: string, sources: Map<string, Source>): ScrapeFamily[] {
  const each = async (sample: (source: Source) => Sample[] | Promise<Sample[]>) =>
    (await Promise.all([...sources.values()].map(sample))).flat();
  const out: ScrapeFamily[] = [];
  for (const { stat, name, help } of CACHE_COUNTERS) {
    out.push(
      new ScrapeFamily(`${prefix}${name}_total`, help, 'counter', () =>
        each((s) => [{ value: s.cache.stats()[stat], labels: { cache: s.name } }]),
      ),
    );
  }
  out.push(
    new ScrapeFamily(
      `${prefix}errors_total`,
      'Store failures, timeouts and calls skipped by the open circuit, by error code.',
      'counter',
      () =>
        each((s) =>
          Object.entries(s.cache.stats().errorsByCode).map(([code, value]) => ({
            value,
            labels: { cache: s.name, code },
          })),
        ),
    ),
    new ScrapeFamily(
      `${prefix}hit_ratio`,
      'hits / (hits + misses) since the cache started; 0 before any read.',
      'gauge',
      () => each((s) => [{ value: s.cache.stats().hitRate, labels: { cache: s.name } }]),
    ),
    new ScrapeFamily(
      `${prefix}in_flight_operations`,
      'Store calls started and not yet settled.',
      'gauge',
      () => each((s) => [{ value: s.cache.stats().inFlight, labels: { cache: s.name } }]),
    ),
    new ScrapeFamily(
      `${prefix}operation_duration_seconds`,
      'Latency of cache operations that reached the store.',
      'histogram',
      () => each(histogramSamples(`${prefix}operation_duration_seconds`)),
    ),
    new ScrapeFamily(
      `${prefix}store_up`,
      '1 when the store answered info() within the timeout, else 0.',
      'gauge',
      () =>
        each(async (s) => [
          { value: (await s.info.read()) === undefined ? 0 : 1, labels: { cache: s.name } },
        ]),
    ),
  );
  for (const { field, name, help } of STORE_GAUGES) {
    out.push(new ScrapeFamily(`${prefix}${name}`, help, 'gauge', () => each(storeSample(field))));
  }
  for (const { field, name, help } of STORE_COUNTERS) {
    out.push(new ScrapeFamily(`${prefix}${name}_total`, help, 'counter', () => each(storeSample(field))));
  }
  return out;
}

/** A store figure, or no sample at all when the store does not report it (never a made-up 0). */
function storeSample(
  field: (typeof STORE_GAUGES)[number]['field'] | (typeof STORE_COUNTERS)[number]['field'],
) {
  return async (s: Source): Promise<Sample[]> => {
    const value = figure(await s.info.read(), field);
    return value === undefined ? [] : [{ value, labels: { cache: s.name } }];
  };
}

function histogramSamples(name: string) {
  return (s: Source): Sample[] => {
    const samples: Sample[] = [];
    for (const [operation, latency] of Object.entries(s.cache.stats().latency)) {
      const labels = { cache: s.name, operation };
      LATENCY_BUCKETS_MS.forEach((bound, i) => {
        samples.push({
          metricName: `${name}_bucket`,
          labels: { ...labels, le: bound / 1000 },
          value: latency.buckets[i] ?? 0,
        });
      });
      samples.push(
        { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: latency.count },
        { metricName: `${name}_sum`, labels, value: latency.sum / 1000 },
        { metricName: `${name}_count`, labels, value: latency.count },
      );
    }
    return samples;
  };
}
