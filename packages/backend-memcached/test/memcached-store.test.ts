import { inspect } from 'node:util';
import {
  type Cache,
  CacheConfigError,
  CacheError,
  createCache,
  InvalidKeyError,
  NotIntegerError,
  type Store,
  ValueTooLargeError,
} from '@larder/core';
import { describeStoreContract } from '@larder/core/testing';
import { type ServerHandle, startMemcached } from '@larder/testkit';
import { bytes, quietLogger, randomPrefix, sleep, trackUnhandled } from '@larder/testkit/helpers';
import { Client } from 'memjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemcachedStore, type MemjsClient, memcachedStore } from '../src/index.js';
import { serverStats } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();

let server: ServerHandle;
/** A private server for tests that read its counters (cmd_set, bytes_read, cmd_flush). */
let own: ServerHandle;
const unhandled = trackUnhandled();
const stores: MemcachedStore[] = [];
const caches: Cache[] = [];

/** A store on the shared server, closed after the test. */
function open(
  options: ConstructorParameters<typeof MemcachedStore>[0] = { servers: server.url },
): MemcachedStore {
  const store = new MemcachedStore(options);
  stores.push(store);
  return store;
}

function cacheOn(store: MemcachedStore, options: Parameters<typeof createCache>[0] = {}): Cache {
  const cache = createCache({ store, prefix: randomPrefix('t'), logger: quiet, ...options });
  caches.push(cache);
  return cache;
}

const quiet = quietLogger;

beforeAll(async () => {
  [server, own] = await Promise.all([startMemcached(), startMemcached({ memoryMb: 32 })]);
});

afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.close();
  for (const store of stores.splice(0)) await store.close();
});

afterAll(async () => {
  unhandled.stop();
  await Promise.all([server?.stop(), own?.stop()]);
});

describeStoreContract({
  name: 'MemcachedStore',
  createStore: () => new MemcachedStore({ servers: server.url }),
});

describe('MemcachedStore capabilities and options', () => {
  it('declares memcached limits honestly', () => {
    const store = open();
    expect(store.capabilities).toMatchObject({
      ttlGranularityMs: 1000,
      maxKeyBytes: 250,
      maxValueBytes: 1024 * 1024 - 512,
      clearScope: 'none',
      atomicIncr: true,
      nativeTtl: false,
    });
    const forbidden = store.capabilities.forbiddenKeyChars!;
    for (const char of [' ', '\r', '\n', '\0', '\t', '\x7f']) expect(forbidden.test(`a${char}b`)).toBe(true);
    expect(forbidden.test('a:b-c_d!~')).toBe(false);
    expect(
      memcachedStore({ servers: server.url, itemSizeMax: 2 * 1024 * 1024 }).capabilities.maxValueBytes,
    ).toBe(2 * 1024 * 1024 - 512);
  });

  it('rejects bad options in the constructor', () => {
    expect(() => new MemcachedStore({ timeout: 0 })).toThrow(CacheConfigError);
    expect(() => new MemcachedStore({ servers: 'host:99999' })).toThrow(CacheConfigError);
    expect(() => new MemcachedStore({ servers: 'user:pw@host:1' })).toThrow(/credentials/);
    expect(() => new MemcachedStore({ url: 'redis://host:1' })).toThrow(CacheConfigError);
    expect(() => new MemcachedStore({ url: 'memcached://h:1', servers: 'h:1' })).toThrow(CacheConfigError);
    expect(() => new MemcachedStore({ username: 'only-user' })).toThrow(/both username and password/);
    expect(() => new MemcachedStore({ maxValueBytes: 1024 * 1024 })).toThrow(/itemSizeMax/);
    expect(() => new MemcachedStore({ client: {} as MemjsClient })).toThrow(CacheConfigError);
  });

  it('never shows the password of a url in errors', async () => {
    const secret = 's3cr3t-pa55';
    expect(() => new MemcachedStore({ url: `memcached://app:${secret}@bad host:1` })).toThrow(
      CacheConfigError,
    );
    try {
      new MemcachedStore({ url: `memcached://app:${secret}@bad host:1` });
    } catch (error) {
      expect(inspect(error)).not.toContain(secret);
    }
    // Nothing listens on port 1: the call fails, and the error carries no secret.
    const store = open({ url: `memcached://app:${secret}@127.0.0.1:1`, timeout: 500 });
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheError);
    for (const shown of [
      String(error),
      inspect(error),
      JSON.stringify(error),
      (error as Error).stack ?? '',
    ]) {
      expect(shown).not.toContain(secret);
    }
  });

  it('builds from a url, a server list and an existing client, and exposes the client', async () => {
    const key = `${randomPrefix('forms')}:k`;
    const fromUrl = open({ url: `memcached://${server.url}` });
    await fromUrl.set(key, bytes('url'), HOUR);
    const fromList = open({ servers: [server.url] });
    expect(text(await fromList.get(key))).toBe('url');
    expect(fromList.client.servers).toHaveLength(1);

    const client = Client.create(server.url, { logger: { log() {} } });
    const borrowed = new MemcachedStore(client);
    expect(borrowed.client).toBe(client);
    expect(text(await borrowed.get(key))).toBe('url');
    await borrowed.close();
    // close() leaves a client it did not create open and working.
    expect((await client.get(key)).value?.toString()).toBe('url');
    client.close();
  });

  it('spreads keys over several servers with memjs distribution', async () => {
    const second = await startMemcached({ memoryMb: 16 });
    try {
      const store = open({ servers: `${server.url},${second.url}` });
      const prefix = randomPrefix('spread');
      const keys = Array.from({ length: 40 }, (_, i) => `${prefix}:${i}`);
      await store.setMany(keys.map((key, i) => ({ key, value: bytes(`v${i}`), ttlMs: HOUR })));
      expect((await store.getMany(keys)).map(text)).toEqual(keys.map((_, i) => `v${i}`));
      const [a, b] = await Promise.all([
        serverStats(server.host, server.port),
        serverStats(second.host, second.port),
      ]);
      expect(Number(a.cmd_set)).toBeGreaterThan(0);
      expect(Number(b.cmd_set)).toBeGreaterThan(0);
      expect(await store.deleteMany(keys)).toBe(40);
      const info = await store.info();
      expect(info.servers).toBe(2);
    } finally {
      await second.stop();
    }
  });
});

describe('MemcachedStore keys', () => {
  it('throws InvalidKeyError for a key it cannot hold and never sends it', async () => {
    const store = open({ servers: own.url });
    const before = await serverStats(own.host, own.port);
    for (const key of ['', 'k'.repeat(251), 'a b', 'a\r\nb', 'a\0b', 'é'.repeat(126)]) {
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.set(key, bytes('x'), HOUR)).rejects.toBeInstanceOf(InvalidKeyError);
    }
    const after = await serverStats(own.host, own.port);
    expect(Number(after.cmd_get)).toBe(Number(before.cmd_get));
    expect(Number(after.cmd_set)).toBe(Number(before.cmd_set));
    const key = `${randomPrefix('k')}:${'x'.repeat(200)}`;
    await store.set(key, bytes('ok'), HOUR);
    expect(text(await store.get(key))).toBe('ok');
  });

  it('stores any key through the cache (long, spaces, CRLF, NUL, non-ASCII) and stays healthy', async () => {
    const store = open();
    const cache = cacheOn(store, { ignoreErrors: false });
    const keys = [
      'a'.repeat(250),
      'b'.repeat(251),
      'c'.repeat(300),
      'd'.repeat(10_000),
      'with space',
      'with\r\nCRLF',
      'nul\0byte',
      'é日本😀',
      'tab\tand\x7fdel',
    ];
    for (const [i, key] of keys.entries()) expect(await cache.set(key, { i })).toBe(true);
    for (const [i, key] of keys.entries()) expect(await cache.get(key)).toEqual({ i });
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        await cache.set(`after:${i}`, i);
        return cache.get(`after:${i}`);
      }),
    );
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});

describe('MemcachedStore values', () => {
  it('refuses a value of 1 MiB + 1 before sending a byte, and the next 100 calls succeed', async () => {
    const store = open({ servers: own.url });
    const strict = cacheOn(store, { ignoreErrors: false, serializer: rawSerializer });
    const lenient = cacheOn(store, { serializer: rawSerializer });
    const big = Buffer.alloc(1024 * 1024 + 1, 7);
    const before = await serverStats(own.host, own.port);
    const error = await strict.set('big', big).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValueTooLargeError);
    expect((error as CacheError).code).toBe('E_VALUE_TOO_LARGE');
    expect(await lenient.set('big', big)).toBe(false);
    await expect(store.set('direct-big', big, HOUR)).rejects.toThrow(
      /raise the server's -I .*or enable compression/,
    );
    await expect(store.setMany([{ key: 'direct-big', value: big, ttlMs: HOUR }])).rejects.toBeInstanceOf(
      ValueTooLargeError,
    );
    const after = await serverStats(own.host, own.port);
    expect(Number(after.cmd_set)).toBe(Number(before.cmd_set));
    // Only the generation read (a few hundred bytes) reached the server, nothing near a megabyte.
    expect(Number(after.bytes_read) - Number(before.bytes_read)).toBeLessThan(10_000);
    let ok = 0;
    for (let i = 0; i < 100; i++) {
      await strict.set(`after:${i}`, Buffer.from([i]));
      if ((await strict.get<Buffer>(`after:${i}`))?.[0] === i) ok++;
    }
    expect(ok).toBe(100);
  });

  it('stores the largest declared value even under a 250-byte key', async () => {
    const store = open();
    const key = `${randomPrefix('max')}:`.padEnd(250, 'k');
    const value = Buffer.alloc(store.capabilities.maxValueBytes, 3);
    await store.set(key, value, HOUR);
    expect((await store.get(key))?.byteLength).toBe(value.byteLength);
    await store.delete(key);
  });

  it('follows a larger -I through itemSizeMax', async () => {
    const big = await startMemcached({ itemSizeMax: '2m' });
    try {
      const store = open({ servers: big.url, itemSizeMax: 2 * 1024 * 1024 });
      const key = `${randomPrefix('max2')}:`.padEnd(250, 'k');
      const value = Buffer.alloc(store.capabilities.maxValueBytes, 5);
      await store.set(key, value, HOUR);
      expect((await store.get(key))?.byteLength).toBe(2 * 1024 * 1024 - 512);
      await expect(store.set(key, Buffer.alloc(value.byteLength + 1), HOUR)).rejects.toBeInstanceOf(
        ValueTooLargeError,
      );
    } finally {
      await big.stop();
    }
  });
});

describe('MemcachedStore TTLs', () => {
  it('keeps values with TTLs of 31 and 40 days (sent as absolute times)', async () => {
    const store = open();
    const cache = cacheOn(store, { ignoreErrors: false, maxTtl: '60d' });
    expect(await cache.set('31d', 'a', { ttl: '31d' })).toBe(true);
    expect(await cache.set('40d', 'b', { ttl: 40 * DAY })).toBe(true);
    expect(await cache.get('31d')).toBe('a');
    expect(await cache.get('40d')).toBe('b');
    const ttl31 = await cache.ttl('31d');
    expect(ttl31).toBeGreaterThan(31 * DAY - 5000);
    expect(ttl31).toBeLessThanOrEqual(31 * DAY + 1000);
    const key = `${randomPrefix('abs')}:k`;
    await store.set(key, bytes('x'), 30 * DAY + 1);
    expect(text(await store.get(key))).toBe('x');
    expect(await store.incr(`${key}:n`, 1, 45 * DAY)).toBe(1);
    expect(await store.get(`${key}:n`)).toBeDefined();
  });

  it('rounds a TTL up to whole seconds and reports it from the item flags', async () => {
    // 1200 ms is sent as 2 s; memcached's once-a-second clock ends such an item 1–2 s after the write.
    const store = open();
    const key = `${randomPrefix('round')}:k`;
    const started = Date.now();
    await store.set(key, bytes('x'), 1200);
    const ttl = (await store.ttl(key))!;
    // The expiry is the whole second after next; written in the last ms of a second, that is
    // just over 1000 ms away, less the time the two calls took.
    expect(ttl).toBeGreaterThan(1000 - (Date.now() - started));
    expect(ttl).toBeLessThanOrEqual(2000);
    await sleep(800);
    expect(text(await store.get(key))).toBe('x');
    await sleep(1400);
    expect(await store.get(key)).toBeUndefined();
  });

  it('rejects TTLs memjs would crash on, before sending', async () => {
    const store = open();
    for (const ttl of [0, -1, Number.NaN, Number.NEGATIVE_INFINITY, 2 ** 45 * 1000]) {
      await expect(store.set('k', bytes('x'), ttl)).rejects.toHaveProperty('code', 'E_INVALID_TTL');
    }
  });

  it('touch moves the expiry that ttl() reports, and counters created by incr know their TTL', async () => {
    const store = open();
    const prefix = randomPrefix('touch');
    await store.set(`${prefix}:a`, bytes('x'), 60_000);
    expect(await store.touch(`${prefix}:a`, HOUR)).toBe(true);
    expect(await store.ttl(`${prefix}:a`)).toBeGreaterThan(HOUR - 3000);
    expect(text(await store.get(`${prefix}:a`))).toBe('x');
    expect(await store.incr(`${prefix}:n`, 3, 120_000)).toBe(3);
    const ttl = (await store.ttl(`${prefix}:n`))!;
    expect(ttl).toBeGreaterThan(117_000);
    expect(ttl).toBeLessThanOrEqual(121_000);
    // An existing counter keeps its expiry, also through the compare-and-swap path.
    expect(await store.incr(`${prefix}:n`, -10, HOUR)).toBe(-7);
    expect(await store.incr(`${prefix}:n`, 2, HOUR)).toBe(-5);
    expect(await store.ttl(`${prefix}:n`)).toBeLessThanOrEqual(121_000);
    expect(await store.touch(`${prefix}:n`, HOUR)).toBe(true);
    expect(await store.ttl(`${prefix}:n`)).toBeGreaterThan(HOUR - 3000);
    expect(text(await store.get(`${prefix}:n`))).toBe('-5');
  });
});

describe('MemcachedStore incr', () => {
  it('counts exactly across connections, with native increments and CAS decrements mixed', async () => {
    const key = `${randomPrefix('incr')}:n`;
    const clients = Array.from({ length: 4 }, () => open());
    await Promise.all(
      clients.flatMap((store) => [
        ...Array.from({ length: 300 }, () => store.incr(key, 2, HOUR)),
        ...Array.from({ length: 50 }, () => store.incr(key, -1, HOUR)),
      ]),
    );
    expect(text(await clients[0]!.get(key))).toBe(String(4 * (300 * 2 - 50)));
  });

  it('rejects incr on text with NotIntegerError and leaves the value', async () => {
    const store = open();
    const key = `${randomPrefix('nan')}:k`;
    await store.set(key, bytes('12abc'), HOUR);
    await expect(store.incr(key, 1, HOUR)).rejects.toBeInstanceOf(NotIntegerError);
    await expect(store.incr(key, -1, HOUR)).rejects.toBeInstanceOf(NotIntegerError);
    expect(text(await store.get(key))).toBe('12abc');
  });

  it('reads a counter that shrank or went below zero back as plain decimal', async () => {
    const store = open();
    const key = `${randomPrefix('shrink')}:n`;
    expect(await store.incr(key, 1000, HOUR)).toBe(1000);
    // memcached pads a counter that got shorter in place with spaces ("5   ").
    expect(await store.incr(key, -995, HOUR)).toBe(5);
    expect(text(await store.get(key))).toBe('5');
    expect(await store.incr(key, -10, HOUR)).toBe(-5);
    expect((await store.getMany([key])).map(text)).toEqual(['-5']);
    // On the server a negative counter is its 64-bit two's complement, so memcached's own
    // increment keeps working on it.
    const raw = (await (store.client as unknown as Client).get(key)) as { value: Buffer | null };
    expect(raw.value?.toString().trim()).toBe(String(2n ** 64n - 5n));
    expect(await store.incr(key, 7, HOUR)).toBe(2);
  });

  it('cache.decr below zero keeps plain decimal', async () => {
    const cache = cacheOn(open(), { ignoreErrors: false });
    expect(await cache.decr('d', 3)).toBe(-3);
    expect(await cache.incr('d', 10)).toBe(7);
    expect(await cache.get('d')).toBe(7);
  });
});

describe('MemcachedStore clear', () => {
  it('clear(prefix) throws and never flushes the server', async () => {
    const store = open({ servers: own.url });
    const key = `${randomPrefix('keep')}:k`;
    await store.set(key, bytes('x'), HOUR);
    await expect(store.clear('any:')).rejects.toThrow(/generation/);
    await expect(store.clear('any:')).rejects.toBeInstanceOf(CacheConfigError);
    const cache = cacheOn(store, { ignoreErrors: false });
    await cache.set('gone', 1);
    expect(await cache.clear()).toBe(true);
    expect(await cache.get('gone')).toBeUndefined();
    expect(text(await store.get(key))).toBe('x');
    const stats = await serverStats(own.host, own.port);
    expect(Number(stats.cmd_flush)).toBe(0);
  });

  it('cache.clear() hides one prefix, leaves another, and is seen by a second instance', async () => {
    const prefix = randomPrefix('a');
    const a1 = cacheOn(open(), { prefix, generationRefresh: 200 });
    const a2 = cacheOn(open(), { prefix, generationRefresh: 200 });
    const b = cacheOn(open(), { prefix: randomPrefix('b') });
    await a1.set('x', 1);
    await a1.namespace('users').set('u', 2);
    await b.set('x', 'other');
    expect(await a2.get('x')).toBe(1);
    expect(await a1.clear()).toBe(true);
    expect(await a1.get('x')).toBeUndefined();
    expect(await a1.namespace('users').get('u')).toBeUndefined();
    expect(await b.get('x')).toBe('other');
    await sleep(250);
    expect(await a2.get('x')).toBeUndefined();
    await a2.set('x', 3);
    expect(await a1.get('x')).toBe(3);
  });
});

describe('MemcachedStore hardening', () => {
  it('incr past 2^53 throws NotIntegerError and leaves the stored counter as it was, readable', async () => {
    const store = open();
    const key = `${randomPrefix('big')}:n`;
    await store.set(key, bytes('9007199254740990'), HOUR);
    const error = await store.incr(key, 5, HOUR).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotIntegerError);
    expect((error as Error).message).toMatch(/safe-integer range/);
    expect(text(await store.get(key))).toBe('9007199254740990');
    expect(await store.incr(key, 1, HOUR)).toBe(9007199254740991);
    // Below zero (the compare-and-swap path, then the native one on two's complement).
    const negative = `${randomPrefix('big')}:m`;
    await store.set(negative, bytes('-9007199254740990'), HOUR);
    await expect(store.incr(negative, -5, HOUR)).rejects.toBeInstanceOf(NotIntegerError);
    expect(text(await store.get(negative))).toBe('-9007199254740990');
    expect(await store.incr(negative, -1, HOUR)).toBe(-9007199254740991);
    await expect(store.incr(negative, -1, HOUR)).rejects.toBeInstanceOf(NotIntegerError);
    expect(text(await store.get(negative))).toBe('-9007199254740991');
    // Through the cache: thrown as a programmer error; the value still reads.
    const cache = cacheOn(store);
    await cache.set('n', 9007199254740990);
    await expect(cache.incr('n', 5)).rejects.toMatchObject({ code: 'E_NOT_INTEGER' });
    expect(await cache.get('n')).toBe(9007199254740990);
  });

  it('rejects unknown options naming the nearest one, and options of the wrong type', () => {
    expect(() => new MemcachedStore({ servres: 'h:1' } as never)).toThrow(
      /unknown option servres.*did you mean servers/,
    );
    expect(() => new MemcachedStore({ timeout: '5' } as never)).toThrow(/timeout/);
    expect(() => new MemcachedStore({ servers: [1] } as never)).toThrow(/servers/);
    expect(() => new MemcachedStore({ now: 5 } as never)).toThrow(/now/);
  });

  it.each(['/', '@', '#', '?', ':'])(
    'a url whose password holds a raw %s never shows any of it in the E_CONFIG message',
    (char) => {
      const password = `Zx${char}9q${char}Lm4t`;
      const error = (() => {
        try {
          new MemcachedStore({ url: `memcached://app:${password}@bad host:1` });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(CacheConfigError);
      const shown = [inspect(error), JSON.stringify(error), String(error)].join('\n');
      for (let i = 0; i + 4 <= password.length; i++) expect(shown).not.toContain(password.slice(i, i + 4));
    },
  );

  it('accepts a url whose raw password holds / and @ (up to the last @)', async () => {
    const store = open({ url: `memcached://app:p/a@ss@${server.url}` });
    expect(String(store)).not.toContain('p/a@ss');
    expect(inspect(store)).toContain(server.url);
  });

  it('prints itself without the password through inspect, JSON and String', () => {
    const secret = 'S3cr3t/pa55@word';
    const store = open({ servers: server.url, username: 'app', password: secret });
    for (const shown of [inspect(store, { depth: 10 }), JSON.stringify(store), String(store)]) {
      expect(shown).toContain(server.url);
      expect(shown).not.toContain(secret);
    }
  });

  it('a set that fails on an unreachable server is logged as a set, and no error names a get', async () => {
    const lines: string[] = [];
    const logger = {
      warn: (fields: unknown, message: string) => lines.push(`${message} ${JSON.stringify(fields)}`),
      error: (fields: unknown, message: string) => lines.push(`${message} ${JSON.stringify(fields)}`),
    };
    const store = open({ servers: '127.0.0.1:1', timeout: 300 });
    const cache = createCache({ store, logger, circuitBreaker: false });
    caches.push(cache);
    expect(await cache.set('k', 1)).toBe(false);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).toMatch(/memcached set failed/);
    expect(lines.join('\n')).not.toMatch(/memcached get/);
  });

  it('clear() also reaches keys written under a per-call version override (as the README says)', async () => {
    const store = open();
    const cache = cacheOn(store);
    await cache.set('current', 1);
    await cache.set('other', 2, { version: 7 });
    expect(await cache.get('other', { version: 7 })).toBe(2);
    await cache.clear();
    expect(await cache.get('current')).toBeUndefined();
    expect(await cache.get('other', { version: 7 })).toBeUndefined();
  });

  it('declares listKeys false and reports connection and hit figures from stats', async () => {
    const store = open();
    expect(store.capabilities.listKeys).toBe(false);
    expect((store as Store).keys).toBeUndefined();
    const info = await store.info();
    expect(info.connections).toBeGreaterThan(0);
    expect(info.maxConnections).toBeGreaterThan(0);
    expect(info.rejectedConnections).toBeGreaterThanOrEqual(0);
    expect(info.serverHits).toBeGreaterThanOrEqual(0);
    expect(info.serverMisses).toBeGreaterThanOrEqual(0);
    expect(info.connectionWaiters).toBeUndefined();
  });
});

describe('MemcachedStore reads', () => {
  it('coalesces concurrent gets into one request per tick and hands each caller its value', async () => {
    const store = open();
    const prefix = randomPrefix('co');
    const keys = Array.from({ length: 64 }, (_, i) => `${prefix}:${i}`);
    await store.setMany(
      keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: bytes(key), ttlMs: HOUR })),
    );
    const wire = store.client.servers[0]!;
    const write = wire.write.bind(wire);
    let writes = 0;
    wire.write = (blob) => {
      writes++;
      write(blob);
    };
    try {
      const values = await Promise.all([...keys, ...keys].map((key) => store.get(key)));
      expect(writes).toBe(1);
      expect(values.map(text)).toEqual([...keys, ...keys].map((key, i) => (i % 2 === 0 ? key : undefined)));
      expect(await Promise.all(keys.slice(0, 4).map((key) => store.has(key)))).toEqual([
        true,
        false,
        true,
        false,
      ]);
    } finally {
      wire.write = write;
    }
  });

  it('info reports memory, items, evictions, connections and the version', async () => {
    const info = await open().info();
    expect(info.serverVersion).toBe(server.version);
    expect(info.byteLimit).toBeGreaterThan(0);
    expect(typeof info.bytesUsed).toBe('number');
    expect(typeof info.items).toBe('number');
    expect(typeof info.evictions).toBe('number');
    expect(info.currConnections).toBeGreaterThan(0);
  });

  it('rejects calls after close, and close is idempotent', async () => {
    const store = new MemcachedStore({ servers: server.url });
    await store.set('closing', bytes('x'), HOUR);
    await store.close();
    await store.close();
    await expect(store.get('closing')).rejects.toHaveProperty('code', 'E_CLOSED');
  });

  it('left no unhandled rejection behind', () => {
    expect(unhandled.list).toEqual([]);
  });
});

/** Passes bytes through untouched, so a test controls the exact size that reaches the store. */
const rawSerializer = {
  name: 'raw',
  id: 3 as const,
  serialize: (value: unknown) => value as Uint8Array,
  deserialize: (value: Uint8Array) => Buffer.from(value),
};
