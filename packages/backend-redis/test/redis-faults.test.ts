import { type Cache, CacheError, createCache, StoreFullError } from '@larder/core';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { loopStall, SLACK_MS, sleep, timed, trackUnhandled, withinDeadline } from '@larder/testkit/helpers';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RedisStore, redisStore } from '../src/index.js';
import { quietLogger } from './helpers.js';
import { PartitionProxy } from './proxy.js';

const TIMEOUT = 1000;

interface Sample {
  at: number;
  ms: number;
  hit: boolean;
  error?: unknown;
}

/**
 * Reads a key every `everyMs` through the cache, rewriting it after a miss, until `stop()`.
 * Each sample records when it started, how long it took, whether it hit, and any error.
 */
function load(cache: Cache, key: string, everyMs = 20) {
  const samples: Sample[] = [];
  const stall = loopStall();
  let stalled = 0;
  let running = true;
  const done = (async () => {
    while (running) {
      const at = performance.now();
      try {
        const value = await cache.get<string>(key);
        samples.push({ at, ms: performance.now() - at, hit: value !== undefined });
        if (value === undefined) await cache.set(key, 'v', { ttl: 60_000 });
      } catch (error) {
        samples.push({ at, ms: performance.now() - at, hit: false, error });
      }
      await sleep(everyMs);
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await done;
      stalled = stall.stop();
    },
    /** The bound every call must meet: the deadline, the slack and the event-loop stall measured over the run. */
    bound: () => TIMEOUT + SLACK_MS + stalled,
    firstHitAfter: (t: number) => samples.find((sample) => sample.at >= t && sample.hit),
  };
}

const logger = () => {
  const quiet = quietLogger();
  return { warn: quiet.warn, error: quiet.warn };
};

function expectBounded(run: { samples: Sample[]; bound: () => number }) {
  const bound = run.bound();
  const slow = run.samples.filter((sample) => sample.ms > bound);
  expect(slow, `calls slower than ${bound.toFixed(0)} ms`).toEqual([]);
}

describe('RedisStore under faults', () => {
  let server: RedisServerHandle;
  let store: RedisStore | undefined;
  let unhandled: ReturnType<typeof trackUnhandled>;

  beforeEach(() => {
    unhandled = trackUnhandled();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await server?.stop();
    unhandled.stop();
    expect(unhandled.list).toEqual([]);
  });

  it('server killed, then restarted: degrades within the deadline, hits resume within 2 s, nothing replayed', async () => {
    server = await startRedis({ useEnv: false });
    store = redisStore({ url: server.url, timeout: TIMEOUT, logger: quietLogger() });
    const cache = createCache({ store, prefix: 'kill', circuitBreaker: false, logger: logger() });
    const errors: CacheError[] = [];
    cache.on('error', ({ error }) => errors.push(error));
    const running = load(cache, 'k');
    await sleep(200);
    await server.kill();
    const killedAt = performance.now();
    // Writes attempted during the outage must never land later.
    expect(await cache.set('late', 'written during the outage')).toBe(false);
    await sleep(1500);
    await server.restart();
    const upAt = performance.now();
    await sleep(2200);
    await running.stop();

    expect(running.samples.filter((sample) => sample.error !== undefined)).toEqual([]);
    expectBounded(running);
    const hit = running.firstHitAfter(upAt);
    expect(hit, 'a hit after the restart').toBeDefined();
    const recovery = hit!.at + hit!.ms - upAt;
    console.info(
      `kill/restart: recovery ${recovery.toFixed(0)} ms after restart; outage ops ${running.samples.filter((s) => s.at > killedAt && s.at < upAt).length}, max ${Math.max(...running.samples.map((s) => s.ms)).toFixed(0)} ms`,
    );
    expect(recovery).toBeLessThan(2000);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((error) => error instanceof CacheError && error.code.startsWith('E_STORE'))).toBe(
      true,
    );
    await sleep(300);
    expect(await cache.get('late')).toBeUndefined();
  });

  it('server killed: with ignoreErrors off, every call rejects a typed error within the deadline', async () => {
    server = await startRedis({ useEnv: false });
    store = redisStore({ url: server.url, timeout: TIMEOUT, logger: quietLogger() });
    const cache = createCache({ store, prefix: 'strict', ignoreErrors: false, logger: logger() });
    await cache.set('k', 1);
    await server.kill();
    const codes = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const result = await withinDeadline(TIMEOUT, () => cache.get('k'));
      expect(result.error).toBeInstanceOf(CacheError);
      codes.add((result.error as CacheError).code);
      expect(result.ms).toBeLessThan(result.bound);
    }
    // Unreachable first; after 5 failures the circuit breaker takes over.
    expect([...codes].every((code) => ['E_STORE_UNAVAILABLE', 'E_CIRCUIT_OPEN'].includes(code))).toBe(true);
    await server.restart();
  });

  it('server paused (SIGSTOP) shorter than socketTimeout: calls time out, late replies never desync', async () => {
    server = await startRedis({ useEnv: false });
    store = redisStore({ url: server.url, timeout: 500, socketTimeout: 10_000, logger: quietLogger() });
    const cache = createCache({ store, prefix: 'stop', circuitBreaker: false, logger: logger() });
    for (const name of ['a', 'b', 'c']) await cache.set(name, `old-${name}`);
    await server.pause();
    const during = await Promise.all(
      ['a', 'b', 'c', 'a', 'b'].map((name) => withinDeadline(500, () => cache.get(name))),
    );
    const strict = createCache({
      store,
      prefix: 'stop',
      ignoreErrors: false,
      circuitBreaker: false,
      logger: logger(),
    });
    const strictResult = await timed(strict.set('a', 'never'));
    await server.resume();
    for (const result of during) {
      expect(result.error).toBeUndefined();
      expect(result.value).toBeUndefined();
      expect(result.ms).toBeLessThan(result.bound);
    }
    expect(strictResult.error).toMatchObject({ code: 'E_STORE_TIMEOUT' });
    // The paused connection survives; its late replies must not answer newer commands.
    expect(store.status).toBe('ready');
    await cache.set('a', 'A');
    await cache.set('b', 'B');
    await cache.set('c', 'C');
    expect(await Promise.all([cache.get('c'), cache.get('a'), cache.get('b')])).toEqual(['C', 'A', 'B']);
    expect(await cache.getMany(['b', 'c', 'a'])).toEqual(['B', 'C', 'A']);
  });

  it('server paused for 3 s: the dead socket is dropped, hits resume right after SIGCONT', async () => {
    server = await startRedis({ useEnv: false });
    store = redisStore({ url: server.url, timeout: TIMEOUT, logger: quietLogger() });
    const cache = createCache({ store, prefix: 'stop3', circuitBreaker: false, logger: logger() });
    const running = load(cache, 'k');
    await sleep(200);
    await server.pause();
    await sleep(3000);
    await server.resume();
    const resumedAt = performance.now();
    await sleep(1500);
    await running.stop();
    expect(running.samples.filter((sample) => sample.error !== undefined)).toEqual([]);
    expectBounded(running);
    const hit = running.firstHitAfter(resumedAt);
    expect(hit).toBeDefined();
    const recovery = hit!.at + hit!.ms - resumedAt;
    console.info(`SIGSTOP 3 s: recovery ${recovery.toFixed(0)} ms after SIGCONT`);
    expect(recovery).toBeLessThan(2000);
    for (const name of ['x', 'y', 'z']) await cache.set(name, name.toUpperCase());
    expect(await Promise.all(['z', 'x', 'y'].map((name) => cache.get(name)))).toEqual(['Z', 'X', 'Y']);
  });

  it('network partition of an established connection: degrades, recovers within 2 s of the heal', async () => {
    server = await startRedis({ useEnv: false });
    const proxy = await PartitionProxy.start(server.port);
    try {
      store = redisStore({ url: `redis://127.0.0.1:${proxy.port}`, timeout: TIMEOUT, logger: quietLogger() });
      const cache = createCache({ store, prefix: 'part', circuitBreaker: false, logger: logger() });
      const running = load(cache, 'k');
      await sleep(200);
      proxy.partition();
      await sleep(5000);
      proxy.heal();
      const healedAt = performance.now();
      await sleep(2200);
      await running.stop();
      expect(running.samples.filter((sample) => sample.error !== undefined)).toEqual([]);
      expectBounded(running);
      const hit = running.firstHitAfter(healedAt);
      expect(hit).toBeDefined();
      const recovery = hit!.at + hit!.ms - healedAt;
      console.info(`partition 5 s: recovery ${recovery.toFixed(0)} ms after heal`);
      expect(recovery).toBeLessThan(2000);
    } finally {
      await store?.close();
      await proxy.close();
    }
  });

  it('connection refused at start-up: creating neither throws nor blocks, calls degrade, then hits once the server is up', async () => {
    server = await startRedis({ useEnv: false });
    await server.kill();
    const started = performance.now();
    store = redisStore({ url: server.url, timeout: TIMEOUT, logger: quietLogger() });
    const cache = createCache({ store, prefix: 'refused', circuitBreaker: false, logger: logger() });
    // Blocking would mean waiting for a connect attempt (up to TIMEOUT); building takes far less.
    expect(performance.now() - started).toBeLessThan(TIMEOUT / 2);
    // Calls issued before any connection attempt finished: they must degrade, not throw.
    const early = await Promise.all([
      withinDeadline(TIMEOUT, () => cache.get('k')),
      withinDeadline(TIMEOUT, () => cache.set('k', 1)),
      withinDeadline(TIMEOUT, () => cache.has('k')),
    ]);
    for (const result of early) {
      expect(result.error).toBeUndefined();
      expect(result.ms).toBeLessThan(result.bound);
    }
    expect(early.map((result) => result.value)).toEqual([undefined, false, false]);
    const strict = await withinDeadline(TIMEOUT, () =>
      createCache({ store, prefix: 'refused', ignoreErrors: false, logger: logger() }).get('k'),
    );
    expect(strict.error).toMatchObject({ code: 'E_STORE_UNAVAILABLE' });
    expect((strict.error as Error).message).toMatch(/ECONNREFUSED/);
    expect(strict.ms).toBeLessThan(strict.bound);

    const running = load(cache, 'k');
    await sleep(500);
    await server.restart();
    const upAt = performance.now();
    await sleep(2200);
    await running.stop();
    expect(running.samples.filter((sample) => sample.error !== undefined)).toEqual([]);
    const hit = running.firstHitAfter(upAt);
    expect(hit).toBeDefined();
    console.info(
      `refused at start-up: first hit ${(hit!.at + hit!.ms - upAt).toFixed(0)} ms after the server came up`,
    );
    expect(hit!.at + hit!.ms - upAt).toBeLessThan(2000);
  });

  it('calls issued before the first connection is ready wait for it instead of failing', async () => {
    server = await startRedis({ useEnv: false });
    store = redisStore({ url: server.url, timeout: TIMEOUT, logger: quietLogger() });
    const cache = createCache({ store, prefix: 'early', ignoreErrors: false, logger: logger() });
    const results = await Promise.all([cache.set('a', 1), cache.get('a'), cache.incr('n'), cache.has('a')]);
    expect(results).toEqual([true, 1, 1, true]);
  });

  it('maxmemory under noeviction: set degrades to false, get and delete keep working', async () => {
    server = await startRedis({ useEnv: false, maxmemory: '2mb', maxmemoryPolicy: 'noeviction' });
    const warnings = quietLogger();
    store = redisStore({ url: server.url, timeout: TIMEOUT, logger: warnings });
    const cache = createCache({ store, prefix: 'full', circuitBreaker: false, logger: logger() });
    const value = 'x'.repeat(1024);
    let stored = 0;
    while (await cache.set(`k${stored}`, value)) {
      stored++;
      if (stored > 10_000) throw new Error('maxmemory never reached');
    }
    expect(stored).toBeGreaterThan(100);
    expect(await cache.get('k0')).toBe(value);
    expect(await cache.getMany(['k1', 'k2'])).toEqual([value, value]);
    expect(await cache.delete('k0')).toBe(true);
    const strict = createCache({
      store,
      prefix: 'full',
      ignoreErrors: false,
      circuitBreaker: false,
      logger: logger(),
    });
    const refused = await timed(strict.set('big', 'y'.repeat(64 * 1024)));
    expect(refused.error).toBeInstanceOf(StoreFullError);
    expect((refused.error as Error).message).toMatch(/allkeys-lru/);
    expect(warnings.warnings.some((warning) => warning.includes('noeviction'))).toBe(true);
    const info = await store.info();
    expect(info.evictionPolicy).toBe('noeviction');
    expect(info.byteLimit).toBe(2 * 1024 * 1024);
  });

  it('a client error with no listener of the app never crashes the process', async () => {
    server = await startRedis({ useEnv: false });
    store = redisStore({ url: server.url, timeout: TIMEOUT, logger: quietLogger() });
    await store.set('k', new Uint8Array([1]), 10_000);
    const admin = new Redis(server.url);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    admin.disconnect();
    await sleep(600);
    expect(store.status).toBe('ready');
    expect(await store.get('k')).toEqual(Buffer.from([1]));
  });
});
