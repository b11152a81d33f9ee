import { describe, expect, it } from 'vitest';
// By path: testkit depends on core, so core cannot depend on it as a package.
import { failOnUnhandledRejections, quietLogger as quiet, sleep } from '../../testkit/src/helpers.js';
import { createCache, FactoryTimeoutError, InvalidTtlError, MemoryStore } from '../src/index.js';

failOnUnhandledRejections();

/** A cache and store on one hand-driven clock. */
function clocked() {
  const clock = { now: 1_000_000 };
  const store = new MemoryStore({ now: () => clock.now });
  const cache = createCache({ store, logger: quiet, now: () => clock.now });
  return { clock, store, cache };
}

describe('grace: stale-while-revalidate', () => {
  it('a value past its TTL is a miss to get, but getOrSet serves it while the source fails', async () => {
    const { clock, cache } = clocked();
    await cache.set('k', 'v1', { ttl: 1000, grace: '1m' });
    expect(await cache.get('k')).toBe('v1');
    clock.now += 1500;
    expect(await cache.get('k')).toBeUndefined();
    let calls = 0;
    const failing = () => {
      calls++;
      throw new Error('database down');
    };
    expect(await cache.getOrSet('k', failing, { ttl: 1000, grace: '1m' })).toBe('v1');
    expect(calls).toBe(1);
    expect(cache.stats().stale).toBe(1);
    // Within the failure backoff the source is left alone.
    clock.now += 1000;
    expect(await cache.getOrSet('k', failing, { ttl: 1000, grace: '1m', failureBackoff: 5000 })).toBe('v1');
    expect(calls).toBe(1);
    // After it, the source is tried again, and its value replaces the stale one.
    clock.now += 5000;
    expect(await cache.getOrSet('k', () => 'v2', { ttl: 1000, grace: '1m' })).toBe('v2');
    expect(await cache.get('k')).toBe('v2');
  });

  it('a source failing for 10 s: 200 callers all get the stale value; the source is tried once per backoff', async () => {
    const { clock, cache } = clocked();
    await cache.set('k', 'v1', { ttl: 1000, grace: '1h' });
    clock.now += 1500;
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('database down');
    };
    const options = { ttl: 1000, grace: '1h', failureBackoff: 2000 } as const;
    const served: unknown[] = [];
    // One caller every 50 ms for 10 s of the cache's clock.
    for (let t = 0; t < 10_000; t += 50) {
      served.push(await cache.getOrSet('k', failing, options));
      clock.now += 50;
    }
    expect(served).toHaveLength(200);
    expect(served.every((value) => value === 'v1')).toBe(true);
    // Tried at 0, 2, 4, 6 and 8 s: never sooner than the backoff.
    expect(calls).toBe(5);
    expect(cache.stats().stale).toBe(200);
  });

  it('past its grace the entry is gone and a failing source reaches the caller', async () => {
    const { clock, cache } = clocked();
    await cache.set('k', 'v1', { ttl: 1000, grace: 1000 });
    clock.now += 2001;
    await expect(
      cache.getOrSet(
        'k',
        () => {
          throw new Error('database down');
        },
        { grace: 1000 },
      ),
    ).rejects.toThrow('database down');
  });

  it('softTimeout: a slow source lets the caller have the stale value, and still refreshes it', async () => {
    const { clock, cache } = clocked();
    await cache.set('k', 'old', { ttl: 1000, grace: '1m' });
    clock.now += 1500;
    const started = performance.now();
    const value = await cache.getOrSet(
      'k',
      async () => {
        await sleep(200);
        return 'new';
      },
      { ttl: 1000, grace: '1m', softTimeout: 30 },
    );
    expect(value).toBe('old');
    expect(performance.now() - started).toBeLessThan(150);
    await sleep(250);
    expect(await cache.get('k')).toBe('new');
  });

  it('hardTimeout: the factory is abandoned through its AbortSignal; with nothing stale the caller gets E_FACTORY_TIMEOUT', async () => {
    const { cache } = clocked();
    let aborted = false;
    const outcome = cache.getOrSet(
      'k',
      (signal) =>
        new Promise<string>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
          });
          setTimeout(() => resolve('late'), 300);
        }),
      { hardTimeout: 40 },
    );
    await expect(outcome).rejects.toBeInstanceOf(FactoryTimeoutError);
    expect(aborted).toBe(true);
    await sleep(320);
    // An abandoned factory's late value is not written.
    expect(await cache.get('k')).toBeUndefined();
  });

  it('bad grace and timeout options fail before any I/O', async () => {
    const { cache } = clocked();
    await expect(cache.set('k', 1, { grace: -1 })).rejects.toBeInstanceOf(InvalidTtlError);
    await expect(cache.getOrSet('k', () => 1, { softTimeout: 0 })).rejects.toMatchObject({
      code: 'E_CONFIG',
    });
    await expect(cache.getOrSet('k', () => 1, { lock: { ttl: 'never' } })).rejects.toMatchObject({
      code: 'E_CONFIG',
    });
  });
});

describe('lock: one factory call across processes', () => {
  it('caches that share a store but not a process run the factory once for 4 × 250 concurrent callers', async () => {
    const store = new MemoryStore();
    // Four caches over one store stand for four processes: each has its own single-flight map.
    const caches = Array.from({ length: 4 }, () => createCache({ store, logger: quiet }));
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(100);
      return 'value';
    };
    const results = await Promise.all(
      caches.flatMap((cache) =>
        Array.from({ length: 250 }, () => cache.getOrSet('cold', factory, { lock: { ttl: '2s' } })),
      ),
    );
    expect(calls).toBe(1);
    expect(results.every((value) => value === 'value')).toBe(true);
  });

  it('when the lease holder dies, a waiter takes over once the lease expires', async () => {
    const store = new MemoryStore();
    const holder = createCache({ store, logger: quiet });
    const waiter = createCache({ store, logger: quiet });
    // The holder takes the lease and never finishes (as if its process were killed).
    void holder.getOrSet('k', () => new Promise(() => {}), { lock: { ttl: 300 } });
    await sleep(20);
    const started = performance.now();
    let calls = 0;
    const value = await waiter.getOrSet(
      'k',
      () => {
        calls++;
        return 'computed';
      },
      { lock: { ttl: 300, wait: 5000 } },
    );
    const tookOver = performance.now() - started;
    expect(value).toBe('computed');
    expect(calls).toBe(1);
    expect(tookOver).toBeGreaterThanOrEqual(250);
    expect(tookOver).toBeLessThan(300 + 1000);
  });
});
