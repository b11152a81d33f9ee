import { beforeEach, describe, expect, it } from 'vitest';
// By path: testkit depends on core, so core cannot depend on it as a package.
import {
  failOnUnhandledRejections,
  loopStall,
  quietLogger,
  SLACK_MS,
  sleep,
} from '../../testkit/src/helpers.js';
import {
  type Cache,
  CacheClosedError,
  CacheConfigError,
  type CacheLogger,
  CacheUnavailableError,
  CircuitOpenError,
  createCache,
  InvalidKeyError,
  InvalidTtlError,
  MemoryStore,
  NotIntegerError,
  StoreTimeoutError,
  ValueTooLargeError,
} from '../src/index.js';
import { ChaosStore } from '../src/testing/index.js';

failOnUnhandledRejections();

function setup(options: Parameters<typeof createCache>[0] = {}) {
  const memory = new MemoryStore();
  const chaos = new ChaosStore(memory);
  const cache = createCache({ store: chaos, logger: quietLogger, ...options });
  return { memory, chaos, cache };
}

describe('Cache: reads and writes', () => {
  it('misses, then hits what was set, with types preserved', async () => {
    const { cache } = setup();
    expect(await cache.get('user:1')).toBeUndefined();
    await cache.set('user:1', { name: 'Ada', tags: ['a'], n: 1.5, ok: true, none: null });
    expect(await cache.get('user:1')).toEqual({ name: 'Ada', tags: ['a'], n: 1.5, ok: true, none: null });
    await cache.set('s', '42');
    await cache.set('n', 42);
    expect(await cache.get('s')).toBe('42');
    expect(await cache.get('n')).toBe(42);
    expect(cache.stats()).toMatchObject({ hits: 3, misses: 1, sets: 3 });
  });

  it('stores safe integers as plain decimal text so server-side INCR works on them', async () => {
    const { cache, memory } = setup();
    await cache.set('count', 41);
    const [stored] = await memory.getMany(['larder:1:count']);
    expect(Buffer.from(stored!).toString()).toBe('41');
    expect(await cache.incr('count')).toBe(42);
    expect(await cache.get('count')).toBe(42);
  });

  it('getMany and setMany keep order and report misses', async () => {
    const { cache } = setup();
    expect(await cache.setMany({ a: 1, b: { x: 2 } })).toBe(true);
    expect(await cache.setMany([['c', 'three']])).toBe(true);
    expect(await cache.getMany(['c', 'missing', 'a', 'b'])).toEqual(['three', undefined, 1, { x: 2 }]);
    expect(await cache.getMany([])).toEqual([]);
  });

  it('add stores only when absent', async () => {
    const { cache } = setup();
    expect(await cache.add('k', 'first')).toBe(true);
    expect(await cache.add('k', 'second')).toBe(false);
    expect(await cache.get('k')).toBe('first');
  });

  it('delete, deleteMany and has', async () => {
    const { cache } = setup();
    await cache.setMany({ a: 1, b: 2, c: 3 });
    expect(await cache.has('a')).toBe(true);
    expect(await cache.delete('a')).toBe(true);
    expect(await cache.delete('a')).toBe(false);
    expect(await cache.has('a')).toBe(false);
    expect(await cache.deleteMany(['b', 'c', 'd'])).toBe(2);
    expect(cache.stats().deletes).toBeGreaterThanOrEqual(2);
  });

  it('incr and decr count atomically from a missing key; a non-integer value throws', async () => {
    const { cache } = setup();
    expect(await cache.incr('hits')).toBe(1);
    expect(await cache.incr('hits', 10)).toBe(11);
    expect(await cache.decr('hits', 3)).toBe(8);
    await cache.set('text', 'abc');
    await expect(cache.incr('text')).rejects.toBeInstanceOf(NotIntegerError);
    await expect(cache.incr('hits', 1.5)).rejects.toBeInstanceOf(NotIntegerError);
  });

  it('touch renews, ttl reports remaining time, ttl 0 removes', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    const cache = createCache({ store, logger: quietLogger, now: () => now });
    await cache.set('k', 'v', { ttl: '10s' });
    expect(await cache.ttl('k')).toBe(10_000);
    now += 9_000;
    expect(await cache.touch('k', { ttl: '1m' })).toBe(true);
    now += 30_000;
    expect(await cache.get('k')).toBe('v');
    expect(await cache.ttl('k')).toBe(30_000);
    expect(await cache.touch('missing')).toBe(false);
    expect(await cache.set('k', 'v2', { ttl: 0 })).toBe(false);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.ttl('k')).toBeUndefined();
  });

  it('expires entries at their TTL', async () => {
    let now = 0;
    const store = new MemoryStore({ now: () => now });
    const cache = createCache({ store, logger: quietLogger });
    await cache.set('short', 1, { ttl: '500ms' });
    now = 499;
    expect(await cache.get('short')).toBe(1);
    now = 500;
    expect(await cache.get('short')).toBeUndefined();
  });

  it('caps TTLs at maxTtl and jitter only ever shortens them', async () => {
    const now = 0;
    const store = new MemoryStore({ now: () => now });
    const cache = createCache({
      store,
      logger: quietLogger,
      maxTtl: '1m',
      defaultTtl: '30s',
      ttlJitter: 0.2,
    });
    await cache.set('long', 1, { ttl: '1d' });
    const ttl = (await cache.ttl('long'))!;
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(ttl).toBeGreaterThanOrEqual(48_000);
    const remaining = new Set<number>();
    for (let i = 0; i < 20; i++) {
      await cache.set(`d${i}`, i);
      const left = (await cache.ttl(`d${i}`))!;
      expect(left).toBeGreaterThanOrEqual(24_000);
      expect(left).toBeLessThanOrEqual(30_000);
      remaining.add(left);
    }
    // The clock stands still, so without jitter all 20 would read exactly 30 000.
    expect(remaining.size).toBeGreaterThan(10);
    expect(Math.min(...remaining)).toBeLessThan(29_000);
  });
});

describe('Cache: keys', () => {
  it('lays keys out as prefix:version:key and versions invalidate', async () => {
    const { cache, memory } = setup({ prefix: 'app', version: 3 });
    await cache.set('k', 1);
    expect(await memory.has('app:3:k')).toBe(true);
    expect(await cache.get('k', { version: 2 })).toBeUndefined();
    await cache.set('k', 'old', { version: 2 });
    expect(await cache.get('k', { version: 2 })).toBe('old');
    expect(await cache.get('k')).toBe(1);
    const v4 = createCache({ store: memory, prefix: 'app', version: 4, logger: quietLogger });
    expect(await v4.get('k')).toBeUndefined();
  });

  it('key() parts cannot collide', () => {
    const cache = createCache({ logger: quietLogger });
    expect(cache.key('a:b', 'c')).not.toBe(cache.key('a', 'b:c'));
    expect(cache.key('a%3Ab', 'c')).not.toBe(cache.key('a:b', 'c'));
    expect(cache.key('user', 42)).toBe('user:42');
    expect(() => cache.key()).toThrow(InvalidKeyError);
    expect(() => cache.key({} as unknown as string)).toThrow(InvalidKeyError);
  });

  it('namespaces never collide with root keys, with each other, or with hashed keys', async () => {
    const { cache, memory } = setup();
    const users = cache.namespace('users');
    const odd = cache.namespace('us:ers');
    await cache.set('@users:1', 'root-looks-like-namespace');
    await cache.set('users:1', 'root');
    await users.set('1', 'namespaced');
    await odd.set('1', 'odd');
    await cache.set('#abc', 'root-looks-like-hash');
    expect(await cache.get('@users:1')).toBe('root-looks-like-namespace');
    expect(await cache.get('users:1')).toBe('root');
    expect(await users.get('1')).toBe('namespaced');
    expect(await odd.get('1')).toBe('odd');
    expect(await cache.get('#abc')).toBe('root-looks-like-hash');
    expect((await memory.info()).items).toBe(5);
  });

  it('hashes keys the store cannot hold, deterministically, never truncating', async () => {
    const memory = new MemoryStore();
    const strict = new ChaosStore(memory, {
      capabilities: { maxKeyBytes: 250, forbiddenKeyChars: /[^\x21-\x7e]/ },
    });
    const cache = createCache({ store: strict, logger: quietLogger });
    const long = 'x'.repeat(10_000);
    const longer = `${long}y`;
    const spaced = 'has space\r\n\u0000é';
    await cache.set(long, 1);
    await cache.set(longer, 2);
    await cache.set(spaced, 3);
    expect(await cache.getMany([long, longer, spaced])).toEqual([1, 2, 3]);
    // What reached the store: printable ASCII, at most 250 bytes, under the cache's scope.
    const seen: string[] = [];
    const spy = new ChaosStore(memory, { capabilities: strict.capabilities });
    const original = spy.set.bind(spy);
    spy.set = (key: string, value: Uint8Array, ttl: number) => {
      seen.push(key);
      return original(key, value, ttl);
    };
    await createCache({ store: spy, logger: quietLogger }).set(spaced, 3);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^larder:1:#[0-9a-f]{64}$/);
  });

  it('rejects keys that are not non-empty strings before any I/O', async () => {
    const { cache, chaos } = setup();
    await expect(cache.get('')).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(cache.set(42 as unknown as string, 1)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(cache.getMany(['ok', undefined as unknown as string])).rejects.toBeInstanceOf(
      InvalidKeyError,
    );
    await expect(cache.set('half \ud800 pair', 1)).rejects.toBeInstanceOf(InvalidKeyError);
    expect(chaos.calls).toBe(0);
    expect(await cache.set('emoji 😀 pair', 1)).toBe(true);
  });

  it('clear removes this prefix only; a namespace clears only itself', async () => {
    const memory = new MemoryStore();
    const a = createCache({ store: memory, prefix: 'a', logger: quietLogger });
    const ab = createCache({ store: memory, prefix: 'ab', logger: quietLogger });
    await a.set('k', 1);
    await a.namespace('n').set('k', 2);
    await ab.set('k', 3);
    await a.namespace('n').clear();
    expect(await a.namespace('n').get('k')).toBeUndefined();
    expect(await a.get('k')).toBe(1);
    expect(await a.clear()).toBe(true);
    expect(await a.get('k')).toBeUndefined();
    expect(await ab.get('k')).toBe(3);
  });

  it('clears by generation on stores that cannot enumerate keys, across cache instances', async () => {
    const memory = new MemoryStore();
    const noScan = new ChaosStore(memory, { capabilities: { clearScope: 'none' } });
    const one = createCache({ store: noScan, logger: quietLogger, generationRefresh: 0 });
    const two = createCache({ store: noScan, logger: quietLogger, generationRefresh: 0 });
    const other = createCache({ store: noScan, prefix: 'other', logger: quietLogger, generationRefresh: 0 });
    await one.set('k', 1);
    await one.namespace('n').set('k', 2);
    await other.set('k', 3);
    expect(await two.get('k')).toBe(1);
    await two.namespace('n').clear();
    expect(await one.namespace('n').get('k')).toBeUndefined();
    expect(await one.get('k')).toBe(1);
    await two.clear();
    expect(await one.get('k')).toBeUndefined();
    expect(await other.get('k')).toBe(3);
    await one.set('k', 'after');
    expect(await two.get('k')).toBe('after');
  });
});

describe('Cache: bad input fails before any I/O', () => {
  it.each([
    ['negative', -1],
    ['NaN', Number.NaN],
    ['Infinity without opt-in', Number.POSITIVE_INFINITY],
    ['never without opt-in', 'never'],
    ['a bad string', '5 minutes'],
    ['absurdly long', 1e15],
  ])('rejects ttl %s', async (_label, ttl) => {
    const { cache, chaos } = setup();
    await expect(cache.set('k', 1, { ttl: ttl as number })).rejects.toBeInstanceOf(InvalidTtlError);
    await expect(cache.add('k', 1, { ttl: ttl as number })).rejects.toBeInstanceOf(InvalidTtlError);
    expect(chaos.calls).toBe(0);
  });

  it('accepts duration strings', async () => {
    const { cache } = setup();
    for (const ttl of ['500ms', '30s', '5m', '1h', '7d', '1.5h'] as const) {
      await cache.set('k', 1, { ttl });
      const remaining = (await cache.ttl('k'))!;
      expect(remaining).toBeGreaterThan(0);
    }
  });

  it.each([
    ['a BigInt', 10n],
    [
      'a circular object',
      (() => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      })(),
    ],
    ['a function', () => 1],
    ['undefined', undefined],
    ['a Symbol', Symbol('s')],
    ['a Map', new Map([[1, 2]])],
    ['a Set', new Set([1])],
    [
      'a class instance',
      new (class Point {
        x = 1;
      })(),
    ],
    ['NaN', Number.NaN],
    ['a nested undefined field', { a: undefined }],
    ['a nested function', { f: () => 1 }],
    ['an array hole', [1, undefined, 3]],
    ['a Buffer', Buffer.from('x')],
    ['a Symbol-keyed field', { [Symbol('s')]: 1 }],
    ['a deeply nested Map', { a: [{ b: { c: new Map() } }] }],
  ])('rejects %s with SerializationError even under ignoreErrors, storing nothing', async (_label, value) => {
    const { cache, chaos } = setup();
    await expect(cache.set('k', value)).rejects.toMatchObject({ code: 'E_SERIALIZATION' });
    await expect(cache.setMany({ ok: 1, bad: value })).rejects.toMatchObject({ code: 'E_SERIALIZATION' });
    expect(chaos.calls).toBe(0);
  });

  it('round-trips with the v8 serializer what JSON refuses', async () => {
    const { v8Serializer } = await import('../src/index.js');
    const { cache } = setup({ serializer: v8Serializer });
    const value = { big: 10n, map: new Map([[1, 'a']]), when: new Date(0), bytes: new Uint8Array([1, 2]) };
    await cache.set('k', value);
    expect(await cache.get('k')).toEqual(value);
  });

  it('rejects contradictory options in createCache', () => {
    expect(() => createCache({ defaultTtl: 0 })).toThrow(CacheConfigError);
    expect(() => createCache({ defaultTtl: 'never' })).toThrow(CacheConfigError);
    expect(() => createCache({ defaultTtl: '2h', maxTtl: '1h' })).toThrow(CacheConfigError);
    expect(() => createCache({ ttlJitter: 1.5 })).toThrow(CacheConfigError);
    expect(() => createCache({ timeout: 0 })).toThrow(CacheConfigError);
    expect(() => createCache({ prefix: 'a:b' })).toThrow(CacheConfigError);
    expect(() => createCache({ prefix: 'has space' })).toThrow(CacheConfigError);
    expect(() => createCache({ circuitBreaker: { failures: 0 } })).toThrow(CacheConfigError);
    expect(() => createCache({ schemaVersion: 70_000 })).toThrow(CacheConfigError);
    expect(() => createCache({ compression: { threshold: -1 } })).toThrow(CacheConfigError);
  });

  it('allows keys without expiry only with the opt-in', async () => {
    const { cache, memory } = setup({ allowNoExpiry: true });
    await cache.set('forever', 1, { ttl: 'never' });
    expect(await memory.ttl('larder:1:forever')).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('Cache: every key expires', () => {
  it('writes an expiry through set, setMany, add, getOrSet and incr', async () => {
    const { cache, memory } = setup();
    await cache.set('set', 1);
    await cache.setMany({ many1: 1, many2: 2 });
    await cache.add('add', 1);
    await cache.getOrSet('getOrSet', () => 'v');
    await cache.incr('incr');
    await cache.namespace('ns').set('nested', 1);
    const keys = ['set', 'many1', 'many2', 'add', 'getOrSet', 'incr'].map((k) => `larder:1:${k}`);
    keys.push('larder:1:@ns:nested');
    for (const key of keys) {
      const ttl = await memory.ttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(3_600_000);
    }
    expect((await memory.info()).items).toBe(keys.length);
  });
});

describe('Cache: getOrSet', () => {
  it('runs the factory once for 1000 concurrent misses and hands every caller its value', async () => {
    const { cache } = setup();
    let calls = 0;
    const factory = async () => {
      calls++;
      await sleep(50);
      return { answer: 42 };
    };
    const results = await Promise.all(Array.from({ length: 1000 }, () => cache.getOrSet('hot', factory)));
    expect(calls).toBe(1);
    expect(results.every((r) => r.answer === 42)).toBe(true);
    expect(await cache.get('hot')).toEqual({ answer: 42 });
    await cache.getOrSet('hot', factory);
    expect(calls).toBe(1);
  });

  it('passes a factory error to every waiter and caches nothing', async () => {
    const { cache } = setup();
    let calls = 0;
    const failing = async () => {
      calls++;
      await sleep(10);
      throw new Error('db down');
    };
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrSet('k', failing)));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'db down')).toBe(
      true,
    );
    expect(calls).toBe(1);
    expect(await cache.has('k')).toBe(false);
    expect(await cache.getOrSet('k', () => 'ok')).toBe('ok');
  });

  it('still serves the source value when the store is down', async () => {
    const { cache, chaos } = setup();
    chaos.mode = 'throw';
    expect(await cache.getOrSet('k', () => 'fresh')).toBe('fresh');
  });
});

describe('Cache: error policy', () => {
  it('turns store failures into misses and false, counted and emitted once per call', async () => {
    const { cache, chaos } = setup({ circuitBreaker: false });
    const errors: string[] = [];
    cache.on('error', ({ error, operation }) => errors.push(`${operation}:${error.code}`));
    chaos.mode = 'throw';
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    expect(await cache.add('k', 1)).toBe(false);
    expect(await cache.delete('k')).toBe(false);
    expect(await cache.has('k')).toBe(false);
    expect(await cache.incr('k')).toBeUndefined();
    expect(await cache.getMany(['a', 'b'])).toEqual([undefined, undefined]);
    expect(await cache.setMany({ a: 1 })).toBe(false);
    expect(await cache.deleteMany(['a'])).toBe(0);
    expect(await cache.touch('k')).toBe(false);
    expect(await cache.ttl('k')).toBeUndefined();
    expect(await cache.clear()).toBe(false);
    expect(errors).toHaveLength(12);
    expect(errors.every((e) => e.endsWith(':E_STORE_UNAVAILABLE'))).toBe(true);
    expect(cache.stats().errors).toBe(12);
  });

  it('throws typed errors with the cause when ignoreErrors is false', async () => {
    const { cache, chaos } = setup({ ignoreErrors: false, circuitBreaker: false });
    chaos.mode = 'throw';
    const error = await cache.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheUnavailableError);
    expect(error).toMatchObject({ code: 'E_STORE_UNAVAILABLE', key: 'k', store: 'memory' });
    expect(((error as Error).cause as Error).message).toContain('ECONNREFUSED');
  });

  it('bounds a hanging store by the deadline', async () => {
    const { cache, chaos } = setup({ timeout: 100, circuitBreaker: false });
    chaos.mode = 'hang';
    const stall = loopStall();
    const started = performance.now();
    const results = await Promise.all([cache.get('a'), cache.set('b', 1), cache.getOrSet('c', () => 'src')]);
    const elapsed = performance.now() - started;
    expect(results).toEqual([undefined, false, 'src']);
    // getOrSet's read and write share one deadline: the write gets what the read left (nothing).
    expect(elapsed).toBeLessThan(100 + SLACK_MS + stall.stop());
    expect(cache.stats().errors).toBe(3);
    // The write goes on in the background under its own deadline, and is counted when it ends.
    await sleep(100 + SLACK_MS);
    expect(cache.stats().errors).toBe(4);
    const strict = createCache({ store: chaos, timeout: 100, ignoreErrors: false, logger: quietLogger });
    await expect(strict.get('a')).rejects.toBeInstanceOf(StoreTimeoutError);
    chaos.release();
  });

  it('opens the circuit after consecutive failures, skips the store, and closes after one good probe', async () => {
    let now = 0;
    const { cache, chaos } = setup({ circuitBreaker: { failures: 3, cooldown: 1000 }, now: () => now });
    chaos.mode = 'throw';
    for (let i = 0; i < 3; i++) await cache.get('k');
    expect(chaos.calls).toBe(3);
    const codes: string[] = [];
    cache.on('error', ({ error }) => codes.push(error.code));
    for (let i = 0; i < 10; i++) expect(await cache.get('k')).toBeUndefined();
    expect(chaos.calls).toBe(3);
    expect(codes).toEqual(Array(10).fill('E_CIRCUIT_OPEN'));
    now += 1000;
    chaos.mode = 'pass';
    await cache.set('k', 'back');
    expect(chaos.calls).toBe(4);
    expect(await cache.get('k')).toBe('back');
    expect(chaos.calls).toBe(5);
  });

  it('a failed probe reopens the circuit for another cooldown', async () => {
    let now = 0;
    const { cache, chaos } = setup({ circuitBreaker: { failures: 1, cooldown: 500 }, now: () => now });
    const strict = createCache({
      store: chaos,
      ignoreErrors: false,
      logger: quietLogger,
      circuitBreaker: false,
    });
    chaos.mode = 'throw';
    await cache.get('k');
    now += 500;
    await cache.get('k');
    expect(chaos.calls).toBe(2);
    await cache.get('k');
    expect(chaos.calls).toBe(2);
    await expect(strict.get('k')).rejects.toBeInstanceOf(CacheUnavailableError);
    const open = createCache({
      store: chaos,
      ignoreErrors: false,
      logger: quietLogger,
      circuitBreaker: { failures: 1 },
    });
    await open.get('x').catch(() => {});
    await expect(open.get('x')).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('rejects oversized values with E_VALUE_TOO_LARGE before any I/O, or false under ignoreErrors', async () => {
    const memory = new MemoryStore({ maxValueBytes: 1024 });
    const chaos = new ChaosStore(memory);
    const lenient = createCache({ store: chaos, logger: quietLogger });
    const strict = createCache({ store: chaos, logger: quietLogger, ignoreErrors: false });
    const big = 'x'.repeat(2000);
    expect(await lenient.set('k', big)).toBe(false);
    await expect(strict.set('k', big)).rejects.toBeInstanceOf(ValueTooLargeError);
    expect(chaos.calls).toBe(0);
    const compressed = createCache({ store: chaos, logger: quietLogger, compression: { threshold: 100 } });
    expect(await compressed.set('k', big)).toBe(true);
    expect(await lenient.get('k')).toBe(big);
  });

  it('logs failures rate-limited and without secrets', async () => {
    const lines: string[] = [];
    const logger: CacheLogger = {
      warn: (object, message) => lines.push(`${message} ${JSON.stringify(object)}`),
      error: (object, message) => lines.push(`${message} ${JSON.stringify(object)}`),
    };
    const { cache, chaos } = setup({ logger, circuitBreaker: false });
    chaos.mode = 'throw';
    chaos.error = new Error('connect failed for redis://app:s3cret@10.0.0.1:6379');
    for (let i = 0; i < 100; i++) await cache.get('k');
    expect(lines).toHaveLength(1);
    expect(lines.join('\n')).not.toContain('s3cret');
    const error = await createCache({ store: chaos, ignoreErrors: false, logger, circuitBreaker: false })
      .get('k')
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    // The secret must be looked for in the error the store's failure produced, not a stand-in.
    expect(error).toBeInstanceOf(CacheUnavailableError);
    if (error === undefined) return;
    expect(error.cause).toBeDefined();
    const { inspect } = await import('node:util');
    for (const text of [error.message, error.stack, JSON.stringify(error), inspect(error)]) {
      expect(text).not.toContain('s3cret');
    }
  });

  it('programmer errors always throw, even under ignoreErrors', async () => {
    const { cache } = setup();
    await expect(cache.set('k', 1, { ttl: -5 })).rejects.toBeInstanceOf(InvalidTtlError);
    await expect(cache.set('k', 10n)).rejects.toMatchObject({ code: 'E_SERIALIZATION' });
    await cache.close();
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheClosedError);
    await cache.close();
  });

  it('a listener that throws does not break the call', async () => {
    const { cache } = setup();
    cache.on('hit', () => {
      throw new Error('listener bug');
    });
    await cache.set('k', 1);
    expect(await cache.get('k')).toBe(1);
  });
});

describe('Cache: codec', () => {
  let store: MemoryStore;
  let cache: Cache;
  beforeEach(() => {
    store = new MemoryStore();
    cache = createCache({ store, logger: quietLogger });
  });

  it('reads corrupt or foreign bytes as a counted miss, never an exception', async () => {
    const foreign = [
      Buffer.from([0x80, 0x04, 0x95, 0x00]), // pickle
      Buffer.from('s:5:"hello";'), // PHP serialize
      Buffer.from([0xff, 0x0f, 0x6f]), // truncated v8
      Buffer.from([0x01, 0x7b]), // JSON frame with a truncated body
      Buffer.from([0x05, 0x01, 0x02]), // deflate frame with garbage
      Buffer.from('{"valid":"json without a frame"}'),
      Buffer.from([]),
    ];
    for (const [i, bytes] of foreign.entries()) await store.set(`larder:1:f${i}`, bytes, 60_000);
    for (let i = 0; i < foreign.length; i++) expect(await cache.get(`f${i}`)).toBeUndefined();
    expect(cache.stats().corrupt).toBe(foreign.length);
    expect(await cache.getOrSet('f0', () => 'rewritten')).toBe('rewritten');
    expect(await cache.get('f0')).toBe('rewritten');
  });

  it('cannot be used for prototype pollution', async () => {
    const raw = '{"__proto__":{"polluted":1},"constructor":{"prototype":{"p2":1}},"ok":true}';
    await store.set('larder:1:evil', Buffer.concat([Buffer.from([0x01]), Buffer.from(raw)]), 60_000);
    const value = (await cache.get<Record<string, unknown>>('evil'))!;
    expect(value).toEqual({ ok: true });
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, '__proto__')).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).p2).toBeUndefined();
    const merged = Object.assign({}, value);
    expect((merged as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('never evaluates code found in a stored value', async () => {
    const payload = '{"rce":"_$$ND_FUNC$$_function(){globalThis.__pwned = true}()"}';
    await store.set('larder:1:rce', Buffer.concat([Buffer.from([0x01]), Buffer.from(payload)]), 60_000);
    const value = await cache.get<{ rce: string }>('rce');
    expect(typeof value?.rce).toBe('string');
    expect((globalThis as Record<string, unknown>).__pwned).toBeUndefined();
  });

  it('reads values written under other codec settings', async () => {
    const gzip = createCache({
      store,
      logger: quietLogger,
      compression: { algorithm: 'gzip', threshold: 10 },
    });
    const brotli = createCache({
      store,
      logger: quietLogger,
      compression: { algorithm: 'brotli', threshold: 10 },
    });
    const { v8Serializer } = await import('../src/index.js');
    const v8 = createCache({ store, logger: quietLogger, serializer: v8Serializer });
    const text = 'compressible '.repeat(100);
    await gzip.set('g', text);
    await brotli.set('b', text);
    await v8.set('v', { when: 'now' });
    await cache.set('plain', text);
    expect(await cache.getMany(['g', 'b', 'v', 'plain'])).toEqual([text, text, { when: 'now' }, text]);
    expect((await store.get('larder:1:g'))!.byteLength).toBeLessThan(200);
  });

  it('treats a value of another schema version as a miss, not an error', async () => {
    const v1 = createCache({ store, logger: quietLogger, schemaVersion: 1 });
    const v2 = createCache({ store, logger: quietLogger, schemaVersion: 2 });
    await v1.set('user', { name: 'old shape' });
    expect(await v2.get('user')).toBeUndefined();
    expect(await v1.get('user')).toEqual({ name: 'old shape' });
    expect(v2.stats().corrupt).toBe(0);
    await v2.set('n', 7);
    expect(await v1.get('n')).toBe(7);
  });

  it('documents what JSON changes: a Date becomes its ISO string', async () => {
    await cache.set('d', { at: new Date(0) });
    expect(await cache.get('d')).toEqual({ at: '1970-01-01T00:00:00.000Z' });
  });
});

describe('Cache: stats and events', () => {
  it('reports hit rate and latency percentiles, and resets', async () => {
    const { cache } = setup();
    const events: string[] = [];
    const onHit = ({ key }: { key: string }) => events.push(`hit:${key}`);
    cache.on('hit', onHit).on('miss', ({ key }) => events.push(`miss:${key}`));
    cache
      .on('set', ({ key }) => events.push(`set:${key}`))
      .on('delete', ({ key }) => events.push(`delete:${key}`));
    await cache.get('a');
    await cache.set('a', 1);
    await cache.get('a');
    await cache.delete('a');
    cache.off('hit', onHit);
    await cache.set('a', 1);
    await cache.get('a');
    expect(events).toEqual(['miss:a', 'set:a', 'hit:a', 'delete:a', 'set:a']);
    const stats = cache.stats();
    expect(stats.hitRate).toBeCloseTo(2 / 3);
    expect(stats.latency.get?.count).toBe(3);
    expect(stats.latency.get?.p50).toBeGreaterThan(0);
    expect(stats.latency.get!.p99).toBeGreaterThanOrEqual(stats.latency.get!.p50);
    cache.resetStats();
    expect(cache.stats()).toMatchObject({ hits: 0, misses: 0, sets: 0, latency: {} });
  });
});
