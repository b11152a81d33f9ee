import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { CacheConfigError, createCache, NotIntegerError } from '@larder/core';
import { describeStoreContract } from '@larder/core/testing';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { bytes } from '@larder/testkit/helpers';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeGlob, RedisStore, redisStore } from '../src/index.js';
import { quietLogger } from './helpers.js';

let server: RedisServerHandle;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

describeStoreContract({
  name: 'RedisStore',
  createStore: () => redisStore({ url: server.url, logger: quietLogger() }),
});

describeStoreContract({
  name: 'RedisStore without read coalescing',
  createStore: () =>
    redisStore({ url: server.url, coalesceReads: false, maxValueBytes: 64 * 1024, logger: quietLogger() }),
  maxValueBytesToTest: 64 * 1024,
});

describe('RedisStore', () => {
  let store: RedisStore;
  let raw: Redis;
  const run = `rs-${randomBytes(4).toString('hex')}:`;
  beforeAll(() => {
    store = redisStore({ url: server.url, logger: quietLogger() });
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    await store.clear(run);
    await store.close();
    raw.disconnect();
  });
  const text = (value: Uint8Array | undefined) =>
    value === undefined ? undefined : Buffer.from(value).toString();

  it('exposes the ioredis client', () => {
    expect(store.client).toBeInstanceOf(Redis);
  });

  it('sends concurrent gets of one tick as a single MGET', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `${run}coalesce:${i}`);
    await store.setMany(keys.map((key, i) => ({ key, value: bytes(`v${i}`), ttlMs: 60_000 })));
    const monitor = await raw.duplicate().monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args[1]?.startsWith(`${run}coalesce:`)) seen.push(String(args[0]).toLowerCase());
    });
    const values = await Promise.all(keys.map((key) => store.get(key)));
    const found = await Promise.all(
      [...keys.slice(0, 3), `${run}coalesce:none`].map((key) => store.has(key)),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    monitor.disconnect();
    expect(values.map(text)).toEqual(keys.map((_, i) => `v${i}`));
    expect(found).toEqual([true, true, true, false]);
    expect(seen.filter((command) => command === 'mget')).toHaveLength(1);
    expect(seen.filter((command) => command === 'get')).toHaveLength(0);
    expect(seen.filter((command) => command === 'exists')).toHaveLength(4);
  });

  it('coalesced reads return the same results as single reads, including duplicates and misses', async () => {
    const a = `${run}dup:a`;
    await store.set(a, bytes('A'), 60_000);
    const results = await Promise.all([store.get(a), store.get(`${run}dup:none`), store.get(a)]);
    expect(results.map(text)).toEqual(['A', undefined, 'A']);
  });

  it('reads a key of another type as a miss, alone or batched', async () => {
    const key = `${run}hash`;
    await raw.hset(key, 'f', 'v');
    await raw.pexpire(key, 60_000);
    expect(await store.get(key)).toBeUndefined();
    expect(await Promise.all([store.get(key), store.get(`${run}none`)])).toEqual([undefined, undefined]);
    expect(await store.getMany([key])).toEqual([undefined]);
    await expect(store.incr(key, 1, 60_000)).rejects.toMatchObject({ code: 'E_NOT_INTEGER' });
  });

  it('writes with PX, and without expiry only for ttl Infinity', async () => {
    const key = `${run}px`;
    await store.set(key, bytes('x'), 1234);
    const pttl = await raw.pttl(key);
    expect(pttl).toBeGreaterThan(1000);
    expect(pttl).toBeLessThanOrEqual(1234);
    await store.setMany([{ key, value: bytes('y'), ttlMs: Number.POSITIVE_INFINITY }]);
    expect(await raw.pttl(key)).toBe(-1);
    expect(await store.touch(key, Number.POSITIVE_INFINITY)).toBe(true);
    expect(await store.touch(key, 5000)).toBe(true);
    expect(await store.touch(key, Number.POSITIVE_INFINITY)).toBe(true);
    expect(await raw.pttl(key)).toBe(-1);
    expect(await store.touch(`${run}none`, Number.POSITIVE_INFINITY)).toBe(false);
  });

  it('incr gives a new key its TTL but never adds one to an existing key', async () => {
    const fresh = `${run}incr:fresh`;
    expect(await store.incr(fresh, 0, 5000)).toBe(0);
    expect(await raw.pttl(fresh)).toBeGreaterThan(0);
    // "0" without expiry: the result equals delta, yet the key existed and must stay immortal.
    const forever = `${run}incr:forever`;
    await raw.set(forever, '0');
    expect(await store.incr(forever, 3, 5000)).toBe(3);
    expect(await raw.pttl(forever)).toBe(-1);
    // An existing key keeps its own expiry.
    const kept = `${run}incr:kept`;
    await raw.set(kept, '10', 'PX', 60_000);
    expect(await store.incr(kept, -4, 1000)).toBe(6);
    expect(await raw.pttl(kept)).toBeGreaterThan(50_000);
    expect(await raw.get(kept)).toBe('6');
    await raw.del(forever);
  });

  it('incr still works after the server forgot the script (NOSCRIPT)', async () => {
    await raw.script('FLUSH');
    expect(await store.incr(`${run}incr:noscript`, 2, 5000)).toBe(2);
  });

  it('getMany, deleteMany and setMany handle batches larger than one command', async () => {
    const keys = Array.from({ length: 2500 }, (_, i) => `${run}big:${i}`);
    await store.setMany(keys.map((key, i) => ({ key, value: bytes(String(i)), ttlMs: 60_000 })));
    const values = await store.getMany(keys);
    expect(values.every((value, i) => text(value) === String(i))).toBe(true);
    expect(await store.deleteMany(keys)).toBe(2500);
  });

  it('clear scans with an escaped pattern and never touches other prefixes', async () => {
    const prefix = `${run}glob[a]*?\\:`;
    await store.set(`${prefix}1`, bytes('1'), 60_000);
    await store.set(`${run}globa:1`, bytes('2'), 60_000);
    await store.set(`${run}glob[a]x:1`, bytes('3'), 60_000);
    await store.clear(prefix);
    expect(await store.get(`${prefix}1`)).toBeUndefined();
    expect(text(await store.get(`${run}globa:1`))).toBe('2');
    expect(text(await store.get(`${run}glob[a]x:1`))).toBe('3');
    expect(escapeGlob('a*b?c[d]e\\')).toBe('a\\*b\\?c\\[d\\]e\\\\');
  });

  it('clear removes more keys than one SCAN page', async () => {
    const prefix = `${run}many:`;
    const entries = Array.from({ length: 1800 }, (_, i) => ({
      key: `${prefix}${i}`,
      value: bytes('x'),
      ttlMs: 60_000,
    }));
    await store.setMany(entries);
    await store.clear(prefix);
    expect(await raw.keys(`${escapeGlob(prefix)}*`)).toEqual([]);
  });

  it('info reports memory, policy, items and version', async () => {
    const info = await store.info();
    expect(info.serverVersion).toBe(server.version);
    expect(info.bytesUsed).toBeGreaterThan(0);
    expect(typeof info.evictionPolicy).toBe('string');
    expect(info.items).toBeGreaterThanOrEqual(0);
    expect(info.evictions).toBeGreaterThanOrEqual(0);
    expect(info.hits).toBeGreaterThanOrEqual(0);
    expect(info.connectedClients).toBeGreaterThanOrEqual(1);
  });

  it('warns once when maxmemory-policy is noeviction', async () => {
    const logger = quietLogger();
    const watched = redisStore({ url: server.url, logger });
    await watched.info();
    await watched.info();
    await watched.close();
    const policy = (await store.info()).evictionPolicy;
    expect(logger.warnings.length).toBe(policy === 'noeviction' ? 1 : 0);
    if (policy === 'noeviction') expect(logger.warnings[0]).toMatch(/allkeys-lru/);
  });

  it('works through createCache, and a prefix clear leaves another cache alone', async () => {
    const prefixA = `${run.slice(0, -1)}a`;
    const a = createCache({ store, prefix: prefixA });
    const b = createCache({ store, prefix: `${run.slice(0, -1)}b` });
    await a.set('k', { n: 1 });
    await b.set('k', { n: 2 });
    expect(await a.get('k')).toEqual({ n: 1 });
    expect(await a.incr('counter', 5)).toBe(5);
    await a.clear();
    expect(await a.get('k')).toBeUndefined();
    expect(await b.get('k')).toEqual({ n: 2 });
    await b.clear();
  });

  it('uses an existing client without closing it', async () => {
    const client = new Redis(server.url);
    const borrowed = new RedisStore({ client, logger: quietLogger() });
    await borrowed.set(`${run}borrowed`, bytes('b'), 60_000);
    expect(text(await borrowed.get(`${run}borrowed`))).toBe('b');
    await borrowed.close();
    await expect(borrowed.get(`${run}borrowed`)).rejects.toMatchObject({ code: 'E_CLOSED' });
    expect(client.status).toBe('ready');
    expect(await client.get(`${run}borrowed`)).toBe('b');
    client.disconnect();
  });

  it('selects the database from the URL path', async () => {
    const db3 = redisStore({ url: `${server.url}/3`, logger: quietLogger() });
    await db3.set(`${run}db`, bytes('three'), 60_000);
    expect(await store.get(`${run}db`)).toBeUndefined();
    expect(text(await db3.get(`${run}db`))).toBe('three');
    await db3.clear(run);
    await db3.close();
  });

  it('rejects bad configuration in the constructor', () => {
    expect(() => redisStore({ url: 'http://x' })).toThrow(/scheme/);
    expect(() => redisStore({ url: 'not a url' })).toThrow(/valid URL/);
    expect(() => redisStore({ url: 'redis://h/x' })).toThrow(/database number/);
    expect(() => redisStore({ timeout: 0 })).toThrow(/timeout/);
    expect(() => redisStore({ maxValueBytes: 2 ** 40 })).toThrow(/maxValueBytes/);
    expect(() => redisStore({ url: server.url, cluster: [{ port: 1 }] })).toThrow(/one of/);
  });

  it('rejects unknown options naming the nearest one, and options of the wrong type', () => {
    expect(() => redisStore({ timout: 5 } as never)).toThrow(/unknown option timout.*did you mean timeout/);
    expect(() => redisStore({ url: 6379 } as never)).toThrow(CacheConfigError);
    expect(() => redisStore({ coalesceReads: 'no' } as never)).toThrow(/coalesceReads/);
    expect(() => redisStore({ logger: console.log } as never)).toThrow(/logger/);
  });

  it('incr past 2^53 throws NotIntegerError and leaves the stored value as it was, readable', async () => {
    const key = `${run}big`;
    await raw.set(key, '9007199254740990', 'PX', 60_000);
    const error = await store.incr(key, 5, 60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotIntegerError);
    expect((error as NotIntegerError).code).toBe('E_NOT_INTEGER');
    expect((error as Error).message).toMatch(/safe-integer range/);
    expect(await raw.get(key)).toBe('9007199254740990');
    expect(await raw.pttl(key)).toBeGreaterThan(50_000);
    expect(await store.incr(key, 1, 60_000)).toBe(9007199254740991);
    await raw.set(key, '-9007199254740990', 'PX', 60_000);
    await expect(store.incr(key, -2, 60_000)).rejects.toBeInstanceOf(NotIntegerError);
    expect(await raw.get(key)).toBe('-9007199254740990');
    // Through the cache: a programmer error, thrown; the counter still reads.
    const cache = createCache({ store, prefix: run.slice(0, -1), logger: { warn() {}, error() {} } });
    await cache.set('n', 9007199254740990);
    await expect(cache.incr('n', 5)).rejects.toMatchObject({ code: 'E_NOT_INTEGER' });
    expect(await cache.get('n')).toBe(9007199254740990);
    await cache.delete('n');
  });

  it('keys(prefix) lists live keys under the prefix only, glob characters taken literally', async () => {
    const base = `${run}list*[?]:`;
    const keys = Array.from({ length: 1200 }, (_, i) => `${base}${i}`);
    await store.setMany(keys.map((key) => ({ key, value: bytes('v'), ttlMs: 60_000 })));
    await store.set(`${run}listX:0`, bytes('other'), 60_000);
    await store.set(`${base}gone`, bytes('v'), 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const listed: string[] = [];
    for await (const key of store.keys(base)) listed.push(key);
    expect(listed.sort()).toEqual([...keys].sort());
    expect(store.capabilities.listKeys).toBe(true);
  });

  it('info() reports connection and hit figures from the server', async () => {
    const info = await store.info();
    expect(info.connections).toBeGreaterThan(0);
    expect(info.maxConnections).toBeGreaterThan(0);
    expect(info.rejectedConnections).toBeGreaterThanOrEqual(0);
    expect(info.serverHits).toBeGreaterThanOrEqual(0);
    expect(info.serverMisses).toBeGreaterThanOrEqual(0);
    expect(info.connectionWaiters).toBeUndefined();
  });

  it('prints itself without the password through inspect, JSON and String', async () => {
    const secret = 'S3cr3t/p@ss#w0rd';
    const withPassword = redisStore({
      url: `redis://default:${encodeURIComponent(secret)}@127.0.0.1:1`,
      logger: quietLogger(),
    });
    for (const shown of [
      inspect(withPassword, { depth: 10 }),
      JSON.stringify(withPassword),
      String(withPassword),
    ]) {
      expect(shown).toContain('127.0.0.1:1');
      expect(shown).not.toContain(secret);
      expect(shown).not.toContain(encodeURIComponent(secret));
    }
    await withPassword.close();
  });
});
