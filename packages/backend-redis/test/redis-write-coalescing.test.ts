import { randomBytes } from 'node:crypto';
import {
  CacheError,
  createCache,
  NotIntegerError,
  StoreFullError,
  StorePermissionError,
  ValueTooLargeError,
} from '@larder/core';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { bytes, loopStall, SLACK_MS, withinDeadline } from '@larder/testkit/helpers';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { quietLogger } from './helpers.js';

const PASSWORD = `pw-${randomBytes(6).toString('hex')}`;
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();

/** Settles every promise, keeping each outcome. */
const outcomes = <T>(calls: Promise<T>[]) => Promise.allSettled(calls);

/** Counts the socket writes the store's client makes while `run` runs (the connection's `stream` is ioredis' socket). */
async function countWrites(store: RedisStore, run: () => Promise<unknown>): Promise<number> {
  const stream = (store.client as Redis).stream as { write: (...args: unknown[]) => boolean };
  const write = stream.write;
  let writes = 0;
  stream.write = (...args: unknown[]) => {
    writes++;
    return write.apply(stream, args);
  };
  try {
    await run();
  } finally {
    stream.write = write;
  }
  return writes;
}

/** Calls of `command` the server has counted (commands a script runs are counted too). */
async function calls(raw: Redis, command: string): Promise<number> {
  const stats = String(await raw.info('commandstats'));
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
}

const evalshaCalls = (raw: Redis) => calls(raw, 'evalsha');

describe('RedisStore write coalescing', () => {
  let server: RedisServerHandle;
  let store: RedisStore;
  let raw: Redis;
  const run = `wc-${randomBytes(4).toString('hex')}:`;
  beforeAll(async () => {
    server = await startRedis({
      requirepass: PASSWORD,
      // A user whose key patterns leave out `${run}out:*`, for a refusal on one key of a batch,
      // and one that may not run scripts.
      aclUsers: [
        `app on >${PASSWORD} ~${run}in:* resetchannels +@all`,
        `noscript on >${PASSWORD} ~${run}in:* resetchannels +@all -eval -evalsha`,
      ],
    });
    store = redisStore({
      url: `redis://app:${PASSWORD}@127.0.0.1:${server.port}`,
      maxValueBytes: 1024,
      logger: quietLogger(),
    });
    raw = new Redis(server.port, '127.0.0.1', { password: PASSWORD });
  });
  afterAll(async () => {
    await store?.close();
    raw?.disconnect();
    await server?.stop();
  });

  it('sends the sets of one tick in one socket write, and each reads back with its own TTL', async () => {
    await store.set(`${run}in:warm`, bytes('w'), 60_000);
    const keys = Array.from({ length: 50 }, (_, i) => `${run}in:set:${i}`);
    const writes = await countWrites(store, () =>
      Promise.all(keys.map((key, i) => store.set(key, bytes(`v${i}`), 10_000 + i * 1000))),
    );
    expect(writes).toBe(1);
    const values = await Promise.all(keys.map((key) => store.get(key)));
    expect(values.map(text)).toEqual(keys.map((_, i) => `v${i}`));
    for (const [i, key] of keys.entries()) {
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(10_000 + i * 1000 - 2000);
      expect(pttl).toBeLessThanOrEqual(10_000 + i * 1000);
    }
  });

  it('sends the sets and adds of one tick as one script call, each caller with its own outcome', async () => {
    await raw.set(`${run}in:one:taken`, 'before');
    const keys = Array.from({ length: 30 }, (_, i) => `${run}in:one:${i}`);
    const [evals, sets] = [await calls(raw, 'eval'), await calls(raw, 'set')];
    const results = await Promise.all([
      ...keys.map((key, i) => store.set(key, bytes(`v${i}`), 20_000)),
      store.add(`${run}in:one:taken`, bytes('no'), 20_000),
      store.add(`${run}in:one:free`, bytes('yes'), 20_000),
    ]);
    // One EVAL; the 32 SETs it ran are all the server counted.
    expect(await calls(raw, 'eval')).toBe(evals + 1);
    expect(await calls(raw, 'set')).toBe(sets + 32);
    expect(results).toEqual([...keys.map(() => undefined), false, true]);
    expect((await store.getMany(keys)).map(text)).toEqual(keys.map((_, i) => `v${i}`));
    expect(await raw.get(`${run}in:one:taken`)).toBe('before');
    expect(await raw.get(`${run}in:one:free`)).toBe('yes');
    for (const key of [...keys, `${run}in:one:free`]) {
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(15_000);
      expect(pttl).toBeLessThanOrEqual(20_000);
    }
  });

  it('big values go out in several calls, so no script holds the server for all of them', async () => {
    const big = redisStore({
      url: `redis://app:${PASSWORD}@127.0.0.1:${server.port}`,
      logger: quietLogger(),
    });
    try {
      const size = 400 * 1024;
      const keys = Array.from({ length: 4 }, (_, i) => `${run}in:big-batch:${i}`);
      const [evals, sets] = [await calls(raw, 'eval'), await calls(raw, 'set')];
      await Promise.all(keys.map((key, i) => big.set(key, new Uint8Array(size).fill(i), 60_000)));
      // 400 KiB each: two fit in one call of at most 1 MiB, so two script calls.
      expect(await calls(raw, 'eval')).toBe(evals + 2);
      expect(await calls(raw, 'set')).toBe(sets + 4);
      const stored = await big.getMany(keys);
      expect(stored.map((value) => value?.length)).toEqual(keys.map(() => size));
      expect(stored.map((value) => value?.[0])).toEqual([0, 1, 2, 3]);
    } finally {
      await big.close();
    }
  });

  it('a user who may not run scripts still gets every write of a batch, as plain SETs', async () => {
    const limited = redisStore({
      url: `redis://noscript:${PASSWORD}@127.0.0.1:${server.port}`,
      logger: quietLogger(),
    });
    try {
      for (const round of [1, 2]) {
        const keys = Array.from({ length: 10 }, (_, i) => `${run}in:noscript:${round}:${i}`);
        const results = await Promise.all([
          ...keys.map((key, i) => limited.set(key, bytes(`v${i}`), 60_000)),
          limited.add(keys[0]!, bytes('again'), 60_000),
        ]);
        expect(results).toEqual([...keys.map(() => undefined), false]);
        expect((await limited.getMany(keys)).map(text)).toEqual(keys.map((_, i) => `v${i}`));
        expect(await raw.pttl(keys[9]!)).toBeGreaterThan(50_000);
      }
    } finally {
      await limited.close();
    }
  });

  it('a server out of memory refuses a whole batch: every caller gets StoreFullError, nothing is written', async () => {
    await raw.config('SET', 'maxmemory-policy', 'noeviction');
    await raw.config('SET', 'maxmemory', '1');
    try {
      const keys = Array.from({ length: 10 }, (_, i) => `${run}in:oom:${i}`);
      const results = await outcomes<unknown>([
        ...keys.map((key) => store.set(key, bytes('v'), 60_000)),
        store.add(`${run}in:oom:add`, bytes('a'), 60_000),
      ]);
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StoreFullError);
      }
    } finally {
      await raw.config('SET', 'maxmemory', '0');
    }
    expect(await raw.exists(`${run}in:oom:0`, `${run}in:oom:add`)).toBe(0);
  });

  it('a server turned replica refuses a whole batch with READONLY, which reaches reconnectOnError', async () => {
    const seen: string[] = [];
    const watched = redisStore({
      url: `redis://app:${PASSWORD}@127.0.0.1:${server.port}`,
      logger: quietLogger(),
      redis: {
        reconnectOnError: (error) => {
          seen.push(error.message);
          return false;
        },
      },
    });
    await watched.set(`${run}in:ro:warm`, bytes('w'), 60_000);
    // A master that no longer exists: the server stays a read-only replica until REPLICAOF NO ONE.
    await raw.replicaof('127.0.0.1', 1);
    try {
      const results = await outcomes(
        Array.from({ length: 5 }, (_, i) => watched.set(`${run}in:ro:${i}`, bytes('v'), 60_000)),
      );
      for (const result of results) {
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(CacheError);
        expect(String((result as PromiseRejectedResult).reason.cause)).toMatch(/READONLY/);
      }
      expect(seen.filter((message) => message.startsWith('READONLY'))).toHaveLength(1);
    } finally {
      await raw.replicaof('NO', 'ONE');
      await watched.close();
    }
  });

  it('a value over maxValueBytes fails only its own caller; the rest of the batch is stored', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `${run}in:big:${i}`);
    const results = await outcomes(
      keys.map((key, i) => store.set(key, i === 7 ? new Uint8Array(2048) : bytes(`v${i}`), 60_000)),
    );
    expect(results.map((result) => result.status)).toEqual(
      keys.map((_, i) => (i === 7 ? 'rejected' : 'fulfilled')),
    );
    expect((results[7] as PromiseRejectedResult).reason).toBeInstanceOf(ValueTooLargeError);
    const values = await store.getMany(keys);
    expect(values.map(text)).toEqual(keys.map((_, i) => (i === 7 ? undefined : `v${i}`)));
  });

  it('a key the server refuses (ACL) fails only its own set, add and incr in a batch', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => (i === 3 ? `${run}out:x` : `${run}in:acl:${i}`));
    const sets = await outcomes(keys.map((key, i) => store.set(key, bytes(`v${i}`), 60_000)));
    const adds = await outcomes(keys.map((key, i) => store.add(`${key}:add`, bytes(`a${i}`), 60_000)));
    const incrs = await outcomes(keys.map((key) => store.incr(`${key}:n`, 5, 60_000)));
    for (const results of [sets, adds, incrs]) {
      expect(results.map((result) => result.status)).toEqual(
        keys.map((_, i) => (i === 3 ? 'rejected' : 'fulfilled')),
      );
      expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(StorePermissionError);
    }
    expect(adds.filter((result) => result.status === 'fulfilled').map((result) => result.value)).toEqual(
      Array(9).fill(true),
    );
    expect(incrs.filter((result) => result.status === 'fulfilled').map((result) => result.value)).toEqual(
      Array(9).fill(5),
    );
    expect(await raw.get(`${run}in:acl:0:n`)).toBe('5');
  });

  it('sends the incrs of one tick as one script call, each caller with its own value or error', async () => {
    const counters = Array.from({ length: 20 }, (_, i) => `${run}in:n:${i}`);
    await raw.set(`${run}in:n:text`, 'hello');
    await raw.set(`${run}in:n:forever`, '10');
    await raw.set(`${run}in:n:edge`, String(Number.MAX_SAFE_INTEGER - 1), 'PX', 60_000);
    // Loads the script for many counters, so the batch below is one EVALSHA.
    await Promise.all([store.incr(`${run}in:n:warm`, 1, 60_000), store.incr(`${run}in:n:warm2`, 1, 60_000)]);
    const before = await evalshaCalls(raw);
    const results = await outcomes([
      ...counters.map((key, i) => store.incr(key, i + 1, 30_000)),
      store.incr(counters[0]!, 100, 30_000), // the same counter twice in one batch adds both
      store.incr(`${run}in:n:text`, 1, 30_000),
      store.incr(`${run}in:n:forever`, -3, 30_000),
      store.incr(`${run}in:n:edge`, 5, 30_000),
    ]);
    expect(await evalshaCalls(raw)).toBe(before + 1);
    const values = results.map((result) => (result.status === 'fulfilled' ? result.value : result.reason));
    expect(values.slice(0, 20)).toEqual(counters.map((_, i) => i + 1));
    expect(values[20]).toBe(101);
    expect(values[21]).toBeInstanceOf(NotIntegerError);
    expect(values[22]).toBe(7);
    expect(values[23]).toBeInstanceOf(NotIntegerError);
    // A created counter has the TTL; an existing one keeps its own (none, or the first one).
    for (const key of counters) {
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(25_000);
      expect(pttl).toBeLessThanOrEqual(30_000);
    }
    expect(await raw.pttl(`${run}in:n:forever`)).toBe(-1);
    expect(await raw.get(`${run}in:n:text`)).toBe('hello');
    // Refused past 2^53 - 1, and left as it was.
    expect(await raw.get(`${run}in:n:edge`)).toBe(String(Number.MAX_SAFE_INTEGER - 1));
    expect(await raw.pttl(`${run}in:n:edge`)).toBeGreaterThan(50_000);
  });

  it('runs the script from its text when the server lost it (SCRIPT FLUSH)', async () => {
    await raw.script('FLUSH');
    const values = await Promise.all([1, 2, 3].map((i) => store.incr(`${run}in:flushed:${i}`, i, 60_000)));
    expect(values).toEqual([1, 2, 3]);
    expect(await store.incr(`${run}in:flushed:1`, 1, 60_000)).toBe(2);
  });

  it('a read or a delete issued after a write in the same tick never overtakes it', async () => {
    const key = `${run}in:order`;
    const [, read, , deleted, afterDelete] = await Promise.all([
      store.set(key, bytes('one'), 60_000),
      store.get(key),
      store.set(`${key}:2`, bytes('two'), 60_000),
      store.delete(`${key}:2`),
      store.has(`${key}:2`),
    ]);
    expect(text(read)).toBe('one');
    expect(deleted).toBe(true);
    expect(afterDelete).toBe(false);
    const [, counted] = await Promise.all([store.incr(`${key}:n`, 2, 60_000), store.get(`${key}:n`)]);
    expect(text(counted)).toBe('2');
  });

  it('a set issued after an incr of the same key in the same tick lands after it, and the reverse', async () => {
    const key = `${run}in:incr-then-set`;
    const [first, , read] = await Promise.all([
      store.incr(key, 5, 60_000),
      store.set(key, bytes('10'), 60_000),
      store.get(key),
    ]);
    expect(first).toBe(5);
    expect(text(read)).toBe('10');
    const [, counted] = await Promise.all([store.set(key, bytes('1'), 60_000), store.incr(key, 1, 60_000)]);
    expect(counted).toBe(2);
  });

  it('writes issued just before close still land', async () => {
    const closing = redisStore({
      url: `redis://app:${PASSWORD}@127.0.0.1:${server.port}`,
      logger: quietLogger(),
    });
    await closing.set(`${run}in:close:warm`, bytes('w'), 60_000);
    const pending = [
      closing.set(`${run}in:close`, bytes('last'), 60_000),
      closing.incr(`${run}in:close:n`, 1, 60_000),
    ];
    await closing.close();
    expect(await Promise.all(pending)).toEqual([undefined, 1]);
    expect(await raw.get(`${run}in:close`)).toBe('last');
  });
});

describe('RedisStore write coalescing when the server dies mid-batch', () => {
  const TIMEOUT = 500;
  let server: RedisServerHandle | undefined;
  let store: RedisStore | undefined;
  afterEach(async () => {
    await store?.close();
    await server?.stop();
    store = undefined;
    server = undefined;
  });

  it('every caller of a batch settles within its deadline with a typed error, or false under ignoreErrors', async () => {
    server = await startRedis({ useEnv: false });
    store = redisStore({ url: server.url, timeout: TIMEOUT, logger: quietLogger() });
    const cache = createCache({
      store,
      prefix: 'dies',
      circuitBreaker: false,
      logger: { warn() {}, error() {} },
    });
    await store.set('dies:warm', bytes('w'), 60_000);
    await store.incr('dies:warm:n', 1, 60_000);
    // Stopped, then killed: the batch is on the wire and no reply will ever come.
    await server.pause();
    const stall = loopStall();
    const started = performance.now();
    const direct: Promise<unknown>[] = [
      ...Array.from({ length: 40 }, (_, i) => store!.set(`dies:${i}`, bytes(`v${i}`), 60_000)),
      ...Array.from({ length: 20 }, (_, i) => store!.incr(`dies:n:${i}`, 1, 60_000)),
      store.add('dies:add', bytes('a'), 60_000),
    ];
    const swallowed = [
      ...Array.from({ length: 20 }, (_, i) => cache.set(`c${i}`, i)),
      ...Array.from({ length: 10 }, (_, i) => cache.incr(`cn${i}`)),
    ];
    // Settled from here on: the kill may reject the batch (connection lost) before it returns.
    const settled = Promise.all([outcomes(direct), Promise.all(swallowed)]);
    await server.kill();
    const [results, cacheResults] = await settled;
    const elapsed = performance.now() - started;
    const bound = TIMEOUT + SLACK_MS + stall.stop();
    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    for (const result of results) expect((result as PromiseRejectedResult).reason).toBeInstanceOf(CacheError);
    expect(cacheResults).toEqual([...Array(20).fill(false), ...Array(10).fill(undefined)]);
    expect(elapsed).toBeLessThan(bound);
    // A call after the batch still settles within its own deadline.
    const after = await withinDeadline(TIMEOUT, () => store!.set('dies:after', bytes('x'), 60_000));
    expect(after.error).toBeInstanceOf(CacheError);
    expect(after.ms).toBeLessThan(after.bound);
  });
});
