import type { Socket } from 'node:net';
import { type Cache, CacheError, createCache } from '@larder/core';
import { type ServerHandle, startMemcached } from '@larder/testkit';
import {
  loopStall,
  quietLogger,
  randomPrefix,
  SLACK_MS,
  sleep,
  timed,
  trackUnhandled,
} from '@larder/testkit/helpers';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemcachedStore } from '../src/index.js';
import { idleSockets, waitStopped } from './helpers.js';

// Store and cache deadlines of 500 ms keep the suite short; every call must settle by then,
// plus the slack and the event-loop stall measured while it ran.
const DEADLINE = 500;
const SLACK = SLACK_MS;
const quiet = quietLogger;
const unhandled = trackUnhandled();
const servers: ServerHandle[] = [];
const caches: Cache[] = [];

async function privateServer(options: Parameters<typeof startMemcached>[0] = {}): Promise<ServerHandle> {
  // Any option makes the testkit start a private memcached, never the shared one.
  const server = await startMemcached({ memoryMb: 16, ...options });
  servers.push(server);
  return server;
}

function cacheOn(server: ServerHandle, options: Parameters<typeof createCache>[0] = {}): Cache {
  const cache = createCache({
    store: new MemcachedStore({ servers: server.url, timeout: DEADLINE }),
    prefix: randomPrefix('f'),
    timeout: DEADLINE,
    // A short cooldown, so the breaker's probe comes soon after the fault ends.
    circuitBreaker: { failures: 5, cooldown: 300 },
    logger: quiet,
    ...options,
  });
  caches.push(cache);
  return cache;
}

/**
 * The cache's read-through pattern every `everyMs` until `stop()`: a hit counts, a miss writes
 * the value back. Records each cache call's latency, the times of hits and anything thrown.
 */
function load(cache: Cache, everyMs = 10) {
  const latencies: number[] = [];
  const hits: number[] = [];
  const errors: unknown[] = [];
  const record = async <T>(call: () => Promise<T>): Promise<T> => {
    const { ms, value, error } = await timed(call());
    latencies.push(ms);
    if (error !== undefined) throw error;
    return value as T;
  };
  const stall = loopStall();
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        if ((await record(() => cache.get('hot'))) === 'v') hits.push(performance.now());
        else await record(() => cache.set('hot', 'v'));
      } catch (error) {
        errors.push(error);
      }
      await sleep(everyMs);
    }
  })();
  return {
    latencies,
    hits,
    errors,
    /** Stops the load and resolves the longest event-loop stall seen meanwhile, in ms. */
    async stop(): Promise<number> {
      running = false;
      await done;
      return stall.stop();
    },
  };
}

/** Waits until a hit is recorded after `since`, and resolves how long that took (or Infinity after `limitMs`). */
async function firstHitAfter(hits: number[], since: number, limitMs: number): Promise<number> {
  while (performance.now() - since < limitMs) {
    const hit = hits.find((t) => t >= since);
    if (hit !== undefined) return hit - since;
    await sleep(10);
  }
  return Number.POSITIVE_INFINITY;
}

afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.close();
});

afterAll(async () => {
  unhandled.stop();
  await Promise.all(servers.map((server) => server.stop()));
});

describe('MemcachedStore under real faults', () => {
  it('server killed and restarted: every call settles in time, hits resume within 2 s', async () => {
    const server = await privateServer();
    const prefix = randomPrefix('f');
    const cache = cacheOn(server, { prefix });
    const strict = cacheOn(server, { prefix, ignoreErrors: false, circuitBreaker: false });
    expect(await cache.set('hot', 'v')).toBe(true);
    const run = load(cache);
    await sleep(200);
    await server.kill();
    const error = await strict.get('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheError);
    expect((error as CacheError).code).toBe('E_STORE_UNAVAILABLE');
    await sleep(1500);
    await server.restart();
    const recovery = await firstHitAfter(run.hits, performance.now(), 3000);
    const stalled = await run.stop();
    expect(run.errors).toEqual([]);
    expect(Math.max(...run.latencies)).toBeLessThanOrEqual(DEADLINE + SLACK + stalled);
    expect(recovery).toBeLessThanOrEqual(2000);
    expect(await strict.get('hot')).toBe('v');
  });

  it('server paused (SIGSTOP) and resumed: calls time out in time, hits resume within 2 s', async () => {
    const server = await privateServer();
    const prefix = randomPrefix('f');
    const cache = cacheOn(server, { prefix });
    const strict = cacheOn(server, { prefix, ignoreErrors: false, circuitBreaker: false });
    expect(await cache.set('hot', 'v')).toBe(true);
    expect(await strict.set('s', 1)).toBe(true);
    const run = load(cache);
    await sleep(200);
    await server.pause();
    await waitStopped(server.pid);
    const stall = loopStall();
    const started = performance.now();
    const error = await strict.get('s').catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThanOrEqual(DEADLINE + SLACK + stall.stop());
    expect((error as CacheError).code).toBe('E_STORE_TIMEOUT');
    await sleep(1500);
    await server.resume();
    const recovery = await firstHitAfter(run.hits, performance.now(), 3000);
    const stalled = await run.stop();
    expect(run.errors).toEqual([]);
    expect(Math.max(...run.latencies)).toBeLessThanOrEqual(DEADLINE + SLACK + stalled);
    expect(recovery).toBeLessThanOrEqual(2000);
    expect(await strict.get('s')).toBe(1);
  });

  it('server at its connection limit (-c 16 -t 1, 40 idle sockets): calls settle in time, recover after', async () => {
    const server = await privateServer({ maxConnections: 16, threads: 1 });
    let idle: Socket[] = await idleSockets(server.host, server.port, 40);
    try {
      const prefix = randomPrefix('f');
      const cache = cacheOn(server, { prefix });
      const strict = cacheOn(server, { prefix, ignoreErrors: false, circuitBreaker: false });
      const stall = loopStall();
      const started = performance.now();
      const error = await strict.get('x').catch((e: unknown) => e);
      expect(performance.now() - started).toBeLessThanOrEqual(DEADLINE + SLACK + stall.stop());
      expect(error).toBeInstanceOf(CacheError);
      expect(['E_STORE_UNAVAILABLE', 'E_STORE_TIMEOUT']).toContain((error as CacheError).code);
      const run = load(cache);
      await sleep(1000);
      for (const socket of idle) socket.destroy();
      idle = [];
      const recovery = await firstHitAfter(run.hits, performance.now(), 3000);
      const stalled = await run.stop();
      expect(run.errors).toEqual([]);
      expect(Math.max(...run.latencies)).toBeLessThanOrEqual(DEADLINE + SLACK + stalled);
      expect(recovery).toBeLessThanOrEqual(2000);
    } finally {
      for (const socket of idle) socket.destroy();
    }
  });

  it('close() settles 100 calls stuck on a paused server at once', async () => {
    const server = await privateServer();
    const store = new MemcachedStore({ servers: server.url, timeout: DEADLINE });
    await store.set('k', Buffer.from('x'), 60_000);
    await server.pause();
    await waitStopped(server.pid);
    try {
      const calls = Array.from({ length: 100 }, (_, i) =>
        i % 2 === 0 ? store.get(`k${i}`) : store.set(`k${i}`, Buffer.from('x'), 60_000),
      );
      const settled = Promise.allSettled(calls);
      await sleep(50);
      const stall = loopStall();
      const started = performance.now();
      await store.close();
      const results = await settled;
      // At once: well before any call's own deadline (500 ms) could have ended it.
      expect(performance.now() - started).toBeLessThan(SLACK + stall.stop());
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
    } finally {
      await server.resume();
    }
  });

  it('left no unhandled rejection behind', () => {
    expect(unhandled.list).toEqual([]);
  });
});
