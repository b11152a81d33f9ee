import { CacheConfigError, createCache, MemoryStore } from '@larder/core';
import { ChaosStore } from '@larder/core/testing';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { collectPrometheus } from '../src/index.js';

const silent = { warn() {}, error() {} };

/** The sample lines of a scrape (no HELP / TYPE comments). */
async function scrape(registry: Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

/** The known sequence: 1 set, 3 hits, 2 misses, 1 delete, 1 failed get (a third miss). */
async function knownSequence() {
  const chaos = new ChaosStore(new MemoryStore());
  const cache = createCache({ store: chaos, logger: silent, circuitBreaker: false });
  await cache.set('a', 'x');
  for (let i = 0; i < 3; i++) await cache.get('a');
  await cache.get('missing-1');
  await cache.get('missing-2');
  await cache.delete('a');
  chaos.mode = 'throw';
  await cache.get('a');
  chaos.mode = 'pass';
  return cache;
}

describe('collectPrometheus', () => {
  it('publishes the exact counts of a known sequence of calls', async () => {
    const registry = new Registry();
    const cache = await knownSequence();
    collectPrometheus(cache, { registry, name: 'users' });
    const lines = await scrape(registry);
    expect(lines).toEqual(
      expect.arrayContaining([
        'larder_hits_total{cache="users"} 3',
        // A swallowed store failure reads as a miss too.
        'larder_misses_total{cache="users"} 3',
        'larder_sets_total{cache="users"} 1',
        'larder_deletes_total{cache="users"} 1',
        'larder_corrupt_reads_total{cache="users"} 0',
        'larder_errors_total{cache="users",code="E_STORE_UNAVAILABLE"} 1',
        'larder_hit_ratio{cache="users"} 0.5',
        'larder_in_flight_operations{cache="users"} 0',
        // The failed get never finished a store call, so 5 gets were timed.
        'larder_operation_duration_seconds_bucket{cache="users",operation="get",le="10"} 5',
        'larder_operation_duration_seconds_bucket{cache="users",operation="get",le="+Inf"} 5',
        'larder_operation_duration_seconds_count{cache="users",operation="get"} 5',
        'larder_operation_duration_seconds_count{cache="users",operation="set"} 1',
        'larder_operation_duration_seconds_count{cache="users",operation="delete"} 1',
        'larder_store_up{cache="users"} 1',
        'larder_store_items{cache="users"} 0',
        'larder_store_memory_limit_bytes{cache="users"} 134217728',
        'larder_store_evictions_total{cache="users"} 0',
      ]),
    );
    // Figures the memory store does not report are absent, not 0.
    expect(lines.some((line) => line.startsWith('larder_store_connections'))).toBe(false);
    // Labels stay bounded: no key ever appears.
    expect(lines.some((line) => line.includes('missing-1'))).toBe(false);
    await cache.close();
  });

  it('reads the counters at scrape time, so later calls show up in the next scrape', async () => {
    const registry = new Registry();
    const cache = createCache();
    collectPrometheus(cache, { registry });
    expect(await scrape(registry)).toContain('larder_hits_total{cache="default"} 0');
    await cache.set('k', 1);
    await cache.get('k');
    expect(await scrape(registry)).toContain('larder_hits_total{cache="default"} 1');
    await cache.close();
  });

  it('carries several caches on one registry as label values, and stop() removes one', async () => {
    const registry = new Registry();
    const first = createCache();
    const second = createCache();
    collectPrometheus(first, { registry, name: 'first' });
    const collector = collectPrometheus(second, { registry, name: 'second' });
    await second.get('nothing');
    const lines = await scrape(registry);
    expect(lines).toContain('larder_misses_total{cache="first"} 0');
    expect(lines).toContain('larder_misses_total{cache="second"} 1');
    expect(() => collectPrometheus(second, { registry, name: 'first' })).toThrow(/already collected/);
    collector.stop();
    expect((await scrape(registry)).some((line) => line.includes('cache="second"'))).toBe(false);
  });

  it('reports store_up 0 within the info timeout when the store hangs', async () => {
    const registry = new Registry();
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, logger: silent });
    collectPrometheus(cache, { registry, infoTimeout: 50 });
    chaos.mode = 'hang';
    const started = performance.now();
    const lines = await scrape(registry);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(lines).toContain('larder_store_up{cache="default"} 0');
    expect(lines.some((line) => line.startsWith('larder_store_items'))).toBe(false);
    chaos.release();
  });

  it('rejects a missing registry and unknown options in the call, naming what to pass', () => {
    const cache = createCache();
    expect(() => collectPrometheus(cache, {} as never)).toThrow(CacheConfigError);
    expect(() => collectPrometheus(cache, {} as never)).toThrow(/needs \{ registry \}/);
    expect(() => collectPrometheus(cache, { registry: new Registry(), nmae: 'x' } as never)).toThrow(
      /did you mean name/,
    );
  });
});
