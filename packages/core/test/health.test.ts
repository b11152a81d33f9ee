import { describe, expect, it } from 'vitest';
import {
  CacheConfigError,
  createCache,
  type HealthCheck,
  MemoryStore,
  type Store,
  type StoreInfo,
} from '../src/index.js';
import { ChaosStore } from '../src/testing/index.js';

/** A MemoryStore whose info() reports what a server would (memory, policy, pool). */
function storeReporting(extra: StoreInfo): Store {
  const inner = new MemoryStore();
  return Object.assign(Object.create(inner) as Store, {
    info: async () => ({ ...(await inner.info()), ...extra }),
  });
}

const byName = (checks: HealthCheck[], name: string) => checks.find((c) => c.name === name);

describe('cache.health()', () => {
  it('is ok for a fresh healthy cache and calls an unjudged hit rate unknown', async () => {
    const cache = createCache();
    await cache.set('a', 1);
    await cache.get('a');
    const report = await cache.health();
    expect(report.status).toBe('ok');
    expect(byName(report.checks, 'hit-rate')).toMatchObject({ status: 'unknown', value: null });
    expect(byName(report.checks, 'memory')?.status).toBe('ok');
    expect(byName(report.checks, 'store')?.status).toBe('ok');
    await cache.close();
  });

  it('warns when the hit rate falls below 70 % once 1,000 reads were seen', async () => {
    const cache = createCache();
    await cache.set('hot', 1);
    for (let i = 0; i < 600; i++) await cache.get('hot');
    for (let i = 0; i < 400; i++) await cache.get(`cold${i}`);
    const report = await cache.health();
    expect(byName(report.checks, 'hit-rate')).toMatchObject({ status: 'warn', value: 0.6, threshold: 0.7 });
    expect(report.status).toBe('warn');
    const lenient = await cache.health({ minHitRate: 0.5 });
    expect(byName(lenient.checks, 'hit-rate')?.status).toBe('ok');
    await cache.close();
  });

  it('warns above 80 % of the memory limit and for noeviction', async () => {
    const cache = createCache({
      store: storeReporting({ bytesUsed: 900, byteLimit: 1000, evictionPolicy: 'noeviction' }),
    });
    const report = await cache.health();
    expect(byName(report.checks, 'memory')).toMatchObject({ status: 'warn', value: 0.9, threshold: 0.8 });
    expect(byName(report.checks, 'eviction-policy')?.message).toMatch(/allkeys-lru/);
    expect(report.status).toBe('warn');
  });

  it('fails when callers wait for a pool that is fully in use, and calls missing figures unknown', async () => {
    const full = createCache({
      store: storeReporting({ connections: 10, maxConnections: 10, connectionWaiters: 3 }),
    });
    const report = await full.health();
    expect(byName(report.checks, 'connection-pool')).toMatchObject({ status: 'fail', value: 3 });
    expect(report.status).toBe('fail');
    const memory = createCache();
    expect(byName((await memory.health()).checks, 'connection-pool')?.status).toBe('unknown');
  });

  it('counts store errors since the previous check, by code', async () => {
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, circuitBreaker: false, logger: silent });
    chaos.mode = 'throw';
    await cache.get('a');
    await cache.get('b');
    chaos.mode = 'pass';
    const first = await cache.health();
    expect(byName(first.checks, 'errors')).toMatchObject({ status: 'warn', value: 2 });
    expect(cache.stats().errorsByCode).toEqual({ E_STORE_UNAVAILABLE: 2 });
    const second = await cache.health();
    expect(byName(second.checks, 'errors')).toMatchObject({ status: 'ok', value: 0 });
  });

  it('fails the store check when info() does not answer, without throwing', async () => {
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, timeout: 50, logger: silent });
    chaos.mode = 'hang';
    const report = await cache.health();
    expect(byName(report.checks, 'store')).toMatchObject({ status: 'fail' });
    expect(byName(report.checks, 'store')?.message).toMatch(/did not answer within 50 ms/);
    expect(report.status).toBe('fail');
    chaos.release();
  });

  it('counts calls in flight while they run', async () => {
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, logger: silent });
    chaos.mode = 'hang';
    const pending = [cache.get('a'), cache.get('b')];
    expect(cache.stats().inFlight).toBe(2);
    chaos.release();
    await Promise.all(pending);
    expect(cache.stats().inFlight).toBe(0);
  });

  it('rejects an unknown threshold naming the nearest one', async () => {
    const cache = createCache();
    await expect(cache.health({ minHitrate: 0.5 } as never)).rejects.toThrow(CacheConfigError);
    await expect(cache.health({ minHitrate: 0.5 } as never)).rejects.toThrow(/did you mean minHitRate/);
  });
});

const silent = { warn() {}, error() {} };
