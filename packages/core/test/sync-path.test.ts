import { describe, expect, it } from 'vitest';
import { failOnUnhandledRejections, quietLogger } from '../../testkit/src/helpers.js';
import {
  CacheClosedError,
  type CacheOptions,
  createCache,
  InvalidKeyError,
  MemoryStore,
  NotIntegerError,
  SerializationError,
  type Store,
  StoreUnavailableError,
  type SyncStoreCalls,
  ValueTooLargeError,
} from '../src/index.js';

failOnUnhandledRejections();

/**
 * A MemoryStore whose synchronous calls fail while `failing` is set, and count how often the
 * cache used them: an in-process store with a real fault, not a mock of one.
 */
function flakyMemoryStore() {
  const store = new MemoryStore() as MemoryStore & { failing: boolean; syncCalls: number };
  store.failing = false;
  store.syncCalls = 0;
  const inner = store.sync;
  const guard =
    <A extends unknown[], R>(call: (...args: A) => R) =>
    (...args: A): R => {
      store.syncCalls++;
      if (store.failing) throw new Error('the in-process store broke');
      return call(...args);
    };
  const sync: SyncStoreCalls = {
    get: guard(inner.get),
    getMany: guard(inner.getMany),
    set: guard(inner.set),
    setMany: guard(inner.setMany),
    setText: guard(inner.setText),
    incr: guard(inner.incr),
  };
  (store as { sync: SyncStoreCalls }).sync = sync;
  return store;
}

function cacheOver(store: Store, options: CacheOptions = {}) {
  return createCache({ store, logger: quietLogger, ...options });
}

describe('the synchronous path of in-process stores', () => {
  it('is the path a MemoryStore takes: one promise, and the same stats and events', async () => {
    const store = flakyMemoryStore();
    const cache = cacheOver(store);
    const events: string[] = [];
    for (const name of ['hit', 'miss', 'set'] as const)
      cache.on(name, ({ key }) => events.push(`${name} ${key}`));
    expect(await cache.set('a', { n: 1 })).toBe(true);
    expect(await cache.get('a')).toEqual({ n: 1 });
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.getMany(['a', 'b'])).toEqual([{ n: 1 }, undefined]);
    expect(await cache.incr('c', 5)).toBe(5);
    expect(store.syncCalls).toBe(5);
    expect(events).toEqual(['set a', 'hit a', 'miss b', 'hit a', 'miss b']);
    for (let i = 0; i < 20; i++) await cache.get('a');
    const stats = cache.stats();
    expect(stats).toMatchObject({ hits: 22, misses: 2, sets: 1, errors: 0, inFlight: 0 });
    // Every call is counted in its histogram, timed or not.
    expect(stats.latency.get?.count).toBe(22);
    expect(stats.latency.get!.p50).toBeGreaterThan(0);
    expect(stats.latency.set?.count).toBe(1);
    expect(stats.latency.incr?.count).toBe(1);
    await cache.close();
  });

  it('applies the error policy: a failing call is counted, emitted and swallowed, and opens the breaker', async () => {
    const store = flakyMemoryStore();
    const cache = cacheOver(store, { circuitBreaker: { failures: 3, cooldown: 60_000 } });
    const errors: string[] = [];
    cache.on('error', ({ error, operation }) => errors.push(`${operation} ${error.code}`));
    await cache.set('a', 1);
    store.failing = true;
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.set('a', 2)).toBe(false);
    expect(await cache.incr('a')).toBeUndefined();
    const calls = store.syncCalls;
    // The circuit is open: the store is skipped.
    expect(await cache.get('a')).toBeUndefined();
    expect(store.syncCalls).toBe(calls);
    expect(errors).toEqual([
      'get E_STORE_UNAVAILABLE',
      'set E_STORE_UNAVAILABLE',
      'incr E_STORE_UNAVAILABLE',
      'get E_CIRCUIT_OPEN',
    ]);
    expect(cache.stats()).toMatchObject({ errors: 4, misses: 2 });
    await cache.close();
  });

  it('setMany writes a batch in one synchronous call, with its TTL, under the error policy', async () => {
    let now = 1_000;
    const store = flakyMemoryStore();
    const clocked = new MemoryStore({ now: () => now });
    const cache = cacheOver(store);
    expect(
      await cache.setMany([
        ['a', 1],
        ['@b', { n: 2 }],
      ]),
    ).toBe(true);
    expect(store.syncCalls).toBe(1);
    expect(await cache.getMany(['a', '@b'])).toEqual([1, { n: 2 }]);
    expect(await store.has('larder:1:@@b')).toBe(true);
    expect(cache.stats()).toMatchObject({ sets: 2, hits: 2 });
    store.failing = true;
    expect(await cache.setMany({ c: 3 })).toBe(false);
    expect(cache.stats().errorsByCode).toEqual({ E_STORE_UNAVAILABLE: 1 });
    store.failing = false;
    expect(await cache.get('c')).toBeUndefined();
    const timed = cacheOver(clocked, { now: () => now });
    expect(await timed.setMany({ x: 'x', y: 'y' }, { ttl: 1000 })).toBe(true);
    now += 999;
    expect(await timed.getMany(['x', 'y'])).toEqual(['x', 'y']);
    now += 1;
    expect(await timed.getMany(['x', 'y'])).toEqual([undefined, undefined]);
    await cache.close();
    await timed.close();
  });

  it('throws typed errors when errors are not ignored, always as a rejected promise', async () => {
    const store = flakyMemoryStore();
    const cache = cacheOver(store, { ignoreErrors: false });
    await cache.set('text', 'abc');
    await expect(cache.incr('text')).rejects.toBeInstanceOf(NotIntegerError);
    // Bad input rejects; the call itself never throws.
    await expect(cache.get(42 as unknown as string)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(cache.set('big', 10n)).rejects.toBeInstanceOf(SerializationError);
    store.failing = true;
    const failure = cache.get('text');
    await expect(failure).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(cache.get('text')).rejects.toThrow(/in-process store broke/);
    store.failing = false;
    await cache.close();
    await expect(cache.get('text')).rejects.toBeInstanceOf(CacheClosedError);
    await expect(cache.set('text', 1)).rejects.toBeInstanceOf(CacheClosedError);
  });

  it('refuses a value over the store limit with ValueTooLargeError, as the async path does', async () => {
    const store = new MemoryStore({ maxValueBytes: 100, maxBytes: 10_000 });
    const cache = cacheOver(store, { ignoreErrors: false });
    await expect(cache.set('big', 'x'.repeat(200))).rejects.toBeInstanceOf(ValueTooLargeError);
    // 40 two-byte characters: 83 bytes framed, under the limit.
    expect(await cache.set('fits', 'é'.repeat(40))).toBe(true);
    expect(await cache.get('fits')).toBe('é'.repeat(40));
    await cache.close();
  });

  it('round-trips non-ASCII text, integers, null and nested values byte for byte', async () => {
    const cache = cacheOver(new MemoryStore());
    const values = [
      { name: 'Zoë', emoji: '😀', cjk: '漢字', escaped: '\u0000\u001f"\\' },
      'plain',
      null,
      0,
      -17,
      Number.MAX_SAFE_INTEGER,
      1.5,
      [1, 'two', { three: [3] }],
    ];
    await Promise.all(values.map((value, i) => cache.set(`k${i}`, value)));
    for (const [i, value] of values.entries()) expect(await cache.get(`k${i}`)).toEqual(value);
    expect(await cache.getMany(values.map((_, i) => `k${i}`))).toEqual(values);
    // A plain integer written by set stays a counter.
    expect(await cache.incr('k4', 20)).toBe(3);
    expect(await cache.get('k4')).toBe(3);
    await cache.close();
  });

  it('drops __proto__ and constructor keys read through the text path', async () => {
    const store = new MemoryStore();
    const cache = cacheOver(store, { prefix: 'p' });
    await store.set(
      'p:1:evil',
      Buffer.from('\u0001{"__proto__":{"polluted":1},"constructor":2,"ok":3}'),
      60_000,
    );
    const value = (await cache.get('evil')) as Record<string, unknown>;
    expect(value).toEqual({ ok: 3 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    await cache.close();
  });

  it('drops __proto__ and constructor keys spelled with \\u escapes, on one key and on many', async () => {
    const store = new MemoryStore();
    const cache = cacheOver(store, { prefix: 'p' });
    const text =
      '{"\\u005f_proto__":{"polluted":1},"construct\\u006fr":2,"\\u005F\\u005Fproto\\u005F\\u005F":4,"ok":3}';
    await store.set('p:1:evil', Buffer.from(`\u0001${text}`), 60_000);
    await store.set('p:1:bytes', Buffer.from(`\u0001${text.replace('"ok"', '"ok\u00e9"')}`), 60_000);
    const one = (await cache.get('evil')) as Record<string, unknown>;
    const [many, bytes] = (await cache.getMany(['evil', 'bytes'])) as Record<string, unknown>[];
    expect(one).toEqual({ ok: 3 });
    expect(many).toEqual({ ok: 3 });
    expect(bytes).toEqual({ 'ok\u00e9': 3 });
    for (const value of [one, many, bytes]) {
      expect(Object.hasOwn(value!, '__proto__')).toBe(false);
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    }
    await cache.close();
  });

  it('keeps version overrides, tags and grace on in-process stores', async () => {
    let now = 1_000_000;
    const cache = cacheOver(new MemoryStore({ now: () => now }), { now: () => now });
    await cache.set('v', 'one', { version: 2 });
    expect(await cache.get('v')).toBeUndefined();
    expect(await cache.get('v', { version: 2 })).toBe('one');
    await cache.set('t', 'tagged', { tags: ['red'] });
    expect(await cache.get('t')).toBe('tagged');
    expect(await cache.getMany(['t', 'v'])).toEqual(['tagged', undefined]);
    await cache.invalidateTags(['red']);
    expect(await cache.get('t')).toBeUndefined();
    expect(await cache.getMany(['t'])).toEqual([undefined]);
    await cache.set('g', 'graced', { ttl: 1000, grace: 5000 });
    expect(await cache.get('g')).toBe('graced');
    now += 1500;
    expect(await cache.get('g')).toBeUndefined();
    await cache.close();
  });

  it('screens a tagged entry whose frame is all ASCII (a tag version seeded from a small clock)', async () => {
    // now() = 256 seeds the tag's version as 256, a float64 whose bytes are all below 0x80.
    const cache = cacheOver(new MemoryStore({ now: () => 256 }), { now: () => 256 });
    await cache.set('t', 'tagged', { tags: ['blue'] });
    expect(await cache.get('t')).toBe('tagged');
    await cache.invalidateTags(['blue']);
    expect(await cache.get('t')).toBeUndefined();
    expect(await cache.getMany(['t'])).toEqual([undefined]);
    await cache.close();
  });

  it('a circuit opened on the synchronous path lets a probe through after its cooldown', async () => {
    let now = 0;
    const store = flakyMemoryStore();
    const cache = cacheOver(store, { circuitBreaker: { failures: 1, cooldown: 100 }, now: () => now });
    store.failing = true;
    expect(await cache.get('a')).toBeUndefined();
    store.failing = false;
    await expect(cache.get('a')).resolves.toBeUndefined();
    expect(cache.stats().errorsByCode).toEqual({ E_STORE_UNAVAILABLE: 1, E_CIRCUIT_OPEN: 1 });
    now += 100;
    await cache.set('a', 1);
    expect(await cache.get('a')).toBe(1);
    expect(cache.stats().errorsByCode.E_CIRCUIT_OPEN).toBe(1);
    await cache.close();
  });
});
