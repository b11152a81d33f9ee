import keyvTestSuite from '@keyv/test-suite';
import { sqliteStore } from '@larder/backend-db/sqlite';
import { redisStore } from '@larder/backend-redis';
import { CacheConfigError, createCache, MemoryStore } from '@larder/core';
import { randomPrefix } from '@larder/testkit/helpers';
import { describeWithServer } from '@larder/testkit/vitest';
import { createCache as createCacheManager } from 'cache-manager';
import { Keyv, type KeyvStoreAdapter } from 'keyv';
import * as vitest from 'vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeyv, LarderKeyvStore } from '../src/index.js';

const HOUR = 3_600_000;

// Keyv's own adapter suite (API, values, namespaces), run on Larder over memory and SQLite.
describe('@keyv/test-suite on a Larder MemoryStore', () => {
  const cache = createCache({ prefix: randomPrefix('kv') });
  keyvTestSuite(vitest, Keyv, () => new LarderKeyvStore(cache));
});

describe('@keyv/test-suite on a Larder SqliteStore', () => {
  const cache = createCache({ store: sqliteStore(), prefix: randomPrefix('kv') });
  afterAll(() => cache.close());
  keyvTestSuite(vitest, Keyv, () => new LarderKeyvStore(cache));
});

describeWithServer('redis', '@keyv/test-suite on a Larder RedisStore', (server) => {
  const cache = createCache({ store: redisStore({ url: server.url }), prefix: randomPrefix('kv') });
  afterAll(async () => {
    await cache.clear(); // this suite's prefix only
    await cache.close();
  });
  keyvTestSuite(vitest, Keyv, () => new LarderKeyvStore(cache));
});

describe('LarderKeyvStore', () => {
  it('is a KeyvStoreAdapter', () => {
    const adapter: KeyvStoreAdapter = new LarderKeyvStore(createCache());
    expect(typeof adapter.get).toBe('function');
  });

  it("stores Keyv's namespace as a Larder namespace, without Keyv's key prefix on top", async () => {
    const cache = createCache({ prefix: 'shop' });
    const keyv = createKeyv(cache, { namespace: 'sessions' });
    await keyv.set('abc', { user: 42 });
    const stored = await cache.namespace('sessions').get<string>('abc');
    expect(JSON.parse(stored ?? 'null')).toMatchObject({ value: { user: 42 } });
    expect(await cache.get('sessions:abc')).toBeUndefined();
    expect(await keyv.get('abc')).toEqual({ user: 42 });
  });

  it('clear() clears its namespace and leaves the rest of the cache alone', async () => {
    const cache = createCache({ prefix: 'shop' });
    await cache.set('page', 'kept');
    const keyv = createKeyv(cache, { namespace: 'sessions' });
    await keyv.set('abc', 1);
    await keyv.clear();
    expect(await keyv.get('abc')).toBeUndefined();
    expect(await cache.get('page')).toBe('kept');
  });

  it("a write without a TTL gets the cache's defaultTtl, not forever", async () => {
    const cache = createCache({ defaultTtl: '1h' });
    const keyv = createKeyv(cache);
    await keyv.set('k', 'v');
    const ttl = await cache.namespace('keyv').ttl('k');
    expect(ttl).toBeGreaterThan(HOUR - 5_000);
    expect(ttl).toBeLessThanOrEqual(HOUR);
  });

  it("noTtl: 'never' stores a write without a TTL without expiry (the store-built cache allows it)", async () => {
    const keyv = createKeyv(new MemoryStore(), { noTtl: 'never' });
    await keyv.set('k', 'v');
    const adapter = keyv.store as LarderKeyvStore;
    expect(await adapter.cache.namespace('keyv').ttl('k')).toBe(Number.POSITIVE_INFINITY);
    await keyv.disconnect();
  });

  it('a TTL from Keyv is the Larder TTL, in ms', async () => {
    const cache = createCache();
    const keyv = createKeyv(cache);
    await keyv.set('k', 'v', 30_000);
    const ttl = await cache.namespace('keyv').ttl('k');
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });

  it('disconnect() closes a cache it built from a Store, and leaves a Cache you passed open', async () => {
    const mine = createCache();
    await createKeyv(mine).disconnect();
    expect(await mine.set('still', 'open')).toBe(true);

    const built = createKeyv(new MemoryStore());
    const adapter = built.store as LarderKeyvStore;
    await built.disconnect();
    await expect(adapter.cache.get('k')).rejects.toMatchObject({ code: 'E_CLOSED' });
  });

  it('a bad option fails in the constructor, naming the nearest one', () => {
    expect(() => new LarderKeyvStore(createCache(), { noTTL: 'never' } as never)).toThrow(
      /did you mean noTtl/,
    );
    expect(() => new LarderKeyvStore(createCache(), { noTtl: 'forever' as never })).toThrow(CacheConfigError);
  });
});

describe('cache-manager 7 on Larder', () => {
  it('wrap() runs the loader once, then serves the cached value from the Larder store', async () => {
    const larder = createCache({ store: sqliteStore(), prefix: randomPrefix('cm') });
    const cache = createCacheManager({ stores: [createKeyv(larder)] });
    let calls = 0;
    const load = async () => {
      calls++;
      return { id: 7, name: 'Ada' };
    };
    const [a, b] = await Promise.all([
      cache.wrap('user:7', load, 60_000),
      cache.wrap('user:7', load, 60_000),
    ]);
    expect(a).toEqual({ id: 7, name: 'Ada' });
    expect(b).toEqual(a);
    expect(await cache.wrap('user:7', load, 60_000)).toEqual(a);
    expect(calls).toBe(1);
    const ttl = await larder.namespace('keyv').ttl('user:7');
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await cache.disconnect();
    await larder.close();
  });

  it('set, get, del and mget go through to Larder', async () => {
    const larder = createCache({ prefix: randomPrefix('cm') });
    const cache = createCacheManager({ stores: [createKeyv(larder)], ttl: 10_000 });
    await cache.set('a', 1);
    await cache.set('b', 2);
    expect(await cache.mget(['a', 'b', 'c'])).toEqual([1, 2, undefined]);
    expect(await cache.del('a')).toBe(true);
    expect(await cache.get('a')).toBeUndefined();
    expect(larder.stats().sets).toBeGreaterThanOrEqual(2);
  });
});
