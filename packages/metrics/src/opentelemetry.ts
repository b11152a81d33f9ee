import { type Cache, CacheConfigError, checkOptions } from '@larder/core';
import type { BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';
import type { Collector } from './prometheus.js';
import { CACHE_COUNTERS, figure, STORE_COUNTERS, STORE_GAUGES, StoreInfoReader } from './store-info.js';

/** Options for `instrumentOpenTelemetry`. */
export interface OpenTelemetryOptions {
  /** The meter to create the instruments on (`metrics.getMeter('my-app')`). */
  meter: Meter;
  /** The `cache` attribute of every data point. @default 'default' */
  name?: string;
  /** Prefix of every instrument name. @default 'larder.' */
  prefix?: string;
  /** Longest wait for the store's `info()` during a collection, in ms. @default 1000 */
  infoTimeout?: number;
}

/**
 * Publishes the same figures as `collectPrometheus` as OpenTelemetry observable instruments,
 * read from `cache.stats()` and `store.info()` when the SDK collects; nothing runs on a
 * cache call. OpenTelemetry has no asynchronous histogram, so latency is published as
 * p50 / p99 gauges (seconds) and an operation counter per operation.
 */
export function instrumentOpenTelemetry(cache: Cache, options: OpenTelemetryOptions): Collector {
  checkOptions('instrumentOpenTelemetry', options, {
    meter: 'object',
    name: 'string',
    prefix: 'string',
    infoTimeout: 'number',
  });
  const meter = options?.meter;
  if (meter === undefined || typeof meter.createObservableCounter !== 'function') {
    throw new CacheConfigError(
      'instrumentOpenTelemetry needs { meter }: an OpenTelemetry Meter (metrics.getMeter(...))',
    );
  }
  const name = options.name ?? 'default';
  const p = options.prefix ?? 'larder.';
  const info = new StoreInfoReader(cache, options.infoTimeout ?? 1000);
  const base = { cache: name };

  const counters = CACHE_COUNTERS.map((c) => ({
    stat: c.stat,
    instrument: meter.createObservableCounter(`${p}${c.name}`, { description: c.help }),
  }));
  const errors = meter.createObservableCounter(`${p}errors`, {
    description: 'Store failures, by error code.',
  });
  const hitRatio = meter.createObservableGauge(`${p}hit_ratio`, {
    description: 'hits / (hits + misses); 0 before any read.',
  });
  const inFlight = meter.createObservableGauge(`${p}in_flight_operations`, {
    description: 'Store calls in flight.',
  });
  const operations = meter.createObservableCounter(`${p}operations`, {
    description: 'Operations that reached the store.',
  });
  const p50 = meter.createObservableGauge(`${p}operation.duration.p50`, {
    description: 'Median latency.',
    unit: 's',
  });
  const p99 = meter.createObservableGauge(`${p}operation.duration.p99`, {
    description: '99th percentile latency.',
    unit: 's',
  });
  const up = meter.createObservableGauge(`${p}store.up`, {
    description: '1 when the store answered info() in time.',
  });
  const storeGauges = STORE_GAUGES.map((g) => ({
    field: g.field,
    instrument: meter.createObservableGauge(`${p}${g.name.replace(/_/g, '.')}`, { description: g.help }),
  }));
  const storeCounters = STORE_COUNTERS.map((g) => ({
    field: g.field,
    instrument: meter.createObservableCounter(`${p}${g.name.replace(/_/g, '.')}`, { description: g.help }),
  }));

  const callback: BatchObservableCallback = async (observer) => {
    const stats = cache.stats();
    for (const { stat, instrument } of counters) observer.observe(instrument, stats[stat], base);
    for (const [code, value] of Object.entries(stats.errorsByCode))
      observer.observe(errors, value, { ...base, code });
    observer.observe(hitRatio, stats.hitRate, base);
    observer.observe(inFlight, stats.inFlight, base);
    for (const [operation, latency] of Object.entries(stats.latency)) {
      const attributes = { ...base, operation };
      observer.observe(operations, latency.count, attributes);
      observer.observe(p50, latency.p50 / 1000, attributes);
      observer.observe(p99, latency.p99 / 1000, attributes);
    }
    const read = await info.read();
    observer.observe(up, read === undefined ? 0 : 1, base);
    for (const { field, instrument } of [...storeGauges, ...storeCounters]) {
      const value = figure(read, field);
      // A figure the store does not report is left out, never published as 0.
      if (value !== undefined) observer.observe(instrument, value, base);
    }
  };
  const observables: Observable[] = [
    ...counters.map((c) => c.instrument),
    errors,
    hitRatio,
    inFlight,
    operations,
    p50,
    p99,
    up,
    ...storeGauges.map((g) => g.instrument),
    ...storeCounters.map((g) => g.instrument),
  ];
  meter.addBatchObservableCallback(callback, observables);
  return { stop: () => meter.removeBatchObservableCallback(callback, observables) };
}
