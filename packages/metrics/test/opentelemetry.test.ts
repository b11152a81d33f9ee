import { createCache, MemoryStore } from '@larder/core';
import { ChaosStore } from '@larder/core/testing';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { instrumentOpenTelemetry } from '../src/index.js';

const silent = { warn() {}, error() {} };

/** Collects once through the SDK's in-memory exporter: instrument name → data points. */
async function collect(exporter: InMemoryMetricExporter, reader: PeriodicExportingMetricReader) {
  exporter.reset();
  await reader.forceFlush();
  const points = new Map<string, { value: unknown; attributes: Record<string, unknown> }[]>();
  for (const resource of exporter.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const metric of scope.metrics) {
        points.set(
          metric.descriptor.name,
          metric.dataPoints.map((p) => ({ value: p.value, attributes: p.attributes })),
        );
      }
    }
  }
  return points;
}

function setup() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  return { exporter, reader, provider, meter: provider.getMeter('larder-test') };
}

describe('instrumentOpenTelemetry', () => {
  it('publishes the exact counts of a known sequence through the SDK', async () => {
    const { exporter, reader, provider, meter } = setup();
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, logger: silent, circuitBreaker: false });
    instrumentOpenTelemetry(cache, { meter, name: 'users' });
    await cache.set('a', 'x');
    for (let i = 0; i < 3; i++) await cache.get('a');
    await cache.get('missing');
    await cache.delete('a');
    chaos.mode = 'throw';
    await cache.get('a');
    chaos.mode = 'pass';

    const points = await collect(exporter, reader);
    const users = { cache: 'users' };
    expect(points.get('larder.hits')).toEqual([{ value: 3, attributes: users }]);
    // The swallowed failure reads as a miss too.
    expect(points.get('larder.misses')).toEqual([{ value: 2, attributes: users }]);
    expect(points.get('larder.sets')).toEqual([{ value: 1, attributes: users }]);
    expect(points.get('larder.deletes')).toEqual([{ value: 1, attributes: users }]);
    expect(points.get('larder.errors')).toEqual([
      { value: 1, attributes: { cache: 'users', code: 'E_STORE_UNAVAILABLE' } },
    ]);
    expect(points.get('larder.hit_ratio')).toEqual([{ value: 0.6, attributes: users }]);
    expect(points.get('larder.operations')).toEqual(
      expect.arrayContaining([{ value: 4, attributes: { cache: 'users', operation: 'get' } }]),
    );
    const p99 = points.get('larder.operation.duration.p99')?.find((p) => p.attributes.operation === 'get');
    expect(p99?.value).toBeGreaterThan(0);
    expect(points.get('larder.store.up')).toEqual([{ value: 1, attributes: users }]);
    expect(points.get('larder.store.items')).toEqual([{ value: 0, attributes: users }]);
    // The memory store reports no connection figures: no data point rather than a made-up 0.
    expect(points.get('larder.store.connections') ?? []).toEqual([]);
    await provider.shutdown();
  });

  it('stop() removes the callback: later calls no longer reach the exporter', async () => {
    const { exporter, reader, provider, meter } = setup();
    const cache = createCache();
    const instrumented = instrumentOpenTelemetry(cache, { meter });
    expect((await collect(exporter, reader)).get('larder.hits')).toEqual([
      { value: 0, attributes: { cache: 'default' } },
    ]);
    instrumented.stop();
    await cache.set('k', 1);
    await cache.get('k');
    const after = (await collect(exporter, reader)).get('larder.hits') ?? [];
    expect(after.some((point) => point.value === 1)).toBe(false);
    await provider.shutdown();
  });
});
