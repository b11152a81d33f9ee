import { describe, expect, it } from 'vitest';
import {
  CacheConfigError,
  type CacheLogger,
  createCache,
  InvalidTtlError,
  MemoryStore,
} from '../src/index.js';
import { ChaosStore } from '../src/testing/index.js';

const quietLogger: CacheLogger = { warn: () => {}, error: () => {} };

describe('cache.warm', () => {
  it('writes every entry, counts skipped and failed ones, and reports progress', async () => {
    const cache = createCache({ logger: quietLogger });
    const entries: [string, () => unknown][] = [];
    for (let i = 0; i < 50; i++) entries.push([`p:${i}`, async () => ({ id: i })]);
    entries.push(['none', () => undefined]);
    entries.push(['bad', () => Promise.reject(new Error('loader failed'))]);
    const seen: number[] = [];
    const result = await cache.warm(entries, { onProgress: (p) => seen.push(p.done), ttl: '10m' });
    expect(result).toMatchObject({ written: 50, skipped: 1, failed: 1 });
    expect(result.stoppedEarly).toBeUndefined();
    expect(result.ms).toBeGreaterThanOrEqual(0);
    expect(seen).toHaveLength(52);
    expect(seen.at(-1)).toBe(52);
    expect(await cache.get('p:49')).toEqual({ id: 49 });
    expect(await cache.ttl('p:0')).toBeGreaterThan(9 * 60_000);
  });

  it('takes an async iterable and never runs more loaders at once than the concurrency', async () => {
    const cache = createCache({ logger: quietLogger });
    let running = 0;
    let peak = 0;
    async function* entries() {
      for (let i = 0; i < 40; i++) {
        yield [
          `k${i}`,
          async () => {
            running++;
            peak = Math.max(peak, running);
            await new Promise((resolve) => setTimeout(resolve, 2));
            running--;
            return i;
          },
        ] as const;
      }
    }
    const result = await cache.warm(entries(), { concurrency: 3 });
    expect(result.written).toBe(40);
    expect(peak).toBe(3);
  });

  it('counts store failures without aborting, and stops early when the circuit breaker opens', async () => {
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({
      store: chaos,
      logger: quietLogger,
      circuitBreaker: { failures: 3, cooldown: 60_000 },
    });
    chaos.mode = 'throw';
    let loaded = 0;
    const entries = Array.from({ length: 1000 }, (_, i) => [`k${i}`, () => ++loaded] as const);
    const result = await cache.warm(entries, { concurrency: 2 });
    expect(result.written).toBe(0);
    expect(result.failed).toBeGreaterThanOrEqual(3);
    expect(result.failed).toBeLessThan(10);
    expect(result.stoppedEarly).toMatch(/circuit breaker/);
    expect(loaded).toBeLessThan(10);
  });

  it('refuses bad options before loading anything', async () => {
    const cache = createCache({ logger: quietLogger });
    let loaded = 0;
    const entries = [['a', () => ++loaded] as const];
    await expect(cache.warm(entries, { concurrency: 0 })).rejects.toThrow(/concurrency/);
    await expect(cache.warm(entries, { ttl: -1 })).rejects.toThrow(InvalidTtlError);
    await expect(cache.warm(42 as never)).rejects.toThrow(CacheConfigError);
    expect(loaded).toBe(0);
  });
});
