import { type CacheError, StoreTimeoutError, StoreUnavailableError, ValueTooLargeError } from '@larder/core';
import { type ServerHandle, startMemcached } from '@larder/testkit';
import { loopStall, randomPrefix, SLACK_MS, trackUnhandled } from '@larder/testkit/helpers';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemcachedStore } from '../src/index.js';
import { HashRing } from '../src/ring.js';
import { serverStats, waitStopped } from './helpers.js';

const DEADLINE = 500;
const HOUR = 3_600_000;
const unhandled = trackUnhandled();
const servers: ServerHandle[] = [];
const stores: MemcachedStore[] = [];

async function privateServer(): Promise<ServerHandle> {
  // Any option makes the testkit start a private memcached (-I stays 1m).
  const server = await startMemcached({ memoryMb: 32 });
  servers.push(server);
  return server;
}

function open(list: readonly ServerHandle[], options: { itemSizeMax?: number } = {}): MemcachedStore {
  const store = new MemcachedStore({ servers: list.map((s) => s.url), timeout: DEADLINE, ...options });
  stores.push(store);
  return store;
}

const small = (key: string) => Buffer.from(`v:${key}`);
const text = (bytes: Uint8Array | undefined) =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString();

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const server of servers) await server.resume();
});

afterAll(async () => {
  unhandled.stop();
  await Promise.all(servers.map((server) => server.stop()));
});

describe('sets of one tick go out as one quiet multi-set', () => {
  it('sends them in one batch: memcached counts the sets, and the connection answers only once', async () => {
    const server = await privateServer();
    const store = open([server]);
    const keys = Array.from({ length: 50 }, (_, i) => `${randomPrefix('b')}:${i}`);
    const written = (stats: Record<string, string>) => Number(stats.bytes_written);
    // bytes_written also counts the stats replies: measure one interval without sets first.
    const idleFrom = await serverStats(server.host, server.port);
    const before = await serverStats(server.host, server.port);
    await Promise.all(keys.map((key) => store.set(key, small(key), HOUR)));
    const after = await serverStats(server.host, server.port);
    expect(Number(after.cmd_set) - Number(before.cmd_set)).toBe(50);
    // One NOOP answer (24 bytes) instead of 50 SET answers (24 bytes each).
    const answered = written(after) - written(before) - (written(before) - written(idleFrom));
    expect(answered).toBeLessThan(10 * 24);
    expect((await store.getMany(keys)).map(text)).toEqual(keys.map((key) => `v:${key}`));
  });

  it('a value the server refuses fails only its own caller, wherever it sits in the batch', async () => {
    const server = await privateServer();
    // The store believes items may reach 2 MiB; the server (-I 1m) refuses 1.1 MB values itself.
    const store = open([server], { itemSizeMax: 2 * 1024 * 1024 });
    const prefix = randomPrefix('t');
    const big = new Set([3, 11]);
    const keys = Array.from({ length: 16 }, (_, i) => `${prefix}:${i}`);
    const results = await Promise.allSettled(
      keys.map((key, i) => store.set(key, big.has(i) ? Buffer.alloc(1_100_000, 1) : small(key), HOUR)),
    );
    results.forEach((result, i) => {
      if (big.has(i)) {
        expect(result.status).toBe('rejected');
        const error = (result as PromiseRejectedResult).reason as CacheError;
        expect(error).toBeInstanceOf(ValueTooLargeError);
        expect(error.key).toBe(keys[i]);
      } else {
        expect(result.status).toBe('fulfilled');
      }
    });
    const read = await store.getMany(keys);
    expect(read.map(text)).toEqual(keys.map((key, i) => (big.has(i) ? undefined : `v:${key}`)));
    // The connection is still in step: the next batch and a single set both work.
    await Promise.all(keys.map((key) => store.set(key, Buffer.from('again'), HOUR)));
    expect((await store.getMany(keys)).map(text)).toEqual(keys.map(() => 'again'));
  });

  it('a server killed mid-batch: every caller settles at once with a typed error', async () => {
    const server = await privateServer();
    const store = open([server]);
    await store.set('warm', small('warm'), HOUR);
    await server.pause();
    await waitStopped(server.pid);
    const prefix = randomPrefix('k');
    const calls = Array.from({ length: 200 }, (_, i) => store.set(`${prefix}:${i}`, small(`${i}`), HOUR));
    const settled = Promise.allSettled(calls);
    // The batch is written and unanswered when the server dies.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stall = loopStall();
    const started = performance.now();
    await server.kill();
    const results = await settled;
    expect(performance.now() - started).toBeLessThan(DEADLINE - 50 + stall.stop());
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);
    }
    await server.restart();
    await store.set('after', small('after'), HOUR);
    expect(text(await store.get('after'))).toBe('v:after');
  });

  it('a server paused mid-batch: its callers fail within the deadline, batches to other servers succeed', async () => {
    const list = [await privateServer(), await privateServer(), await privateServer()];
    const store = open(list);
    const ring = new HashRing(list.map((s) => s.url));
    await list[1]!.pause();
    await waitStopped(list[1]!.pid);
    const prefix = randomPrefix('p');
    const keys = Array.from({ length: 300 }, (_, i) => `${prefix}:${i}`);
    const stall = loopStall();
    const started = performance.now();
    const results = await Promise.allSettled(keys.map((key) => store.set(key, small(key), HOUR)));
    expect(performance.now() - started).toBeLessThanOrEqual(DEADLINE + SLACK_MS + stall.stop());
    results.forEach((result, i) => {
      if (ring.serverFor(keys[i]!) === 1) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toBeInstanceOf(StoreTimeoutError);
      } else {
        expect(result.status).toBe('fulfilled');
      }
    });
    const live = keys.filter((key) => ring.serverFor(key) !== 1);
    expect((await store.getMany(live)).map(text)).toEqual(live.map((key) => `v:${key}`));
  });

  it('keeps answers matched to requests when memjs wraps its request counter past 2^31', async () => {
    const server = await privateServer();
    const store = open([server]);
    (store.client as unknown as { seq: number }).seq = 0x7fff_fff0;
    const prefix = randomPrefix('w');
    const keys = Array.from({ length: 40 }, (_, i) => `${prefix}:${i}`);
    for (const key of keys.slice(0, 20)) await store.set(key, small(key), HOUR);
    await Promise.all(keys.slice(20).map((key) => store.set(key, small(key), HOUR)));
    expect(await Promise.all(keys.map(async (key) => text(await store.get(key))))).toEqual(
      keys.map((key) => `v:${key}`),
    );
    expect(await store.incr(`${prefix}:n`, 2, HOUR)).toBe(2);
    expect(await store.incr(`${prefix}:n`, 2, HOUR)).toBe(4);
  });

  it('a call on a key made after a set of it in the same tick reaches the server after the set', async () => {
    const store = open([await privateServer()]);
    const prefix = randomPrefix('o');
    const key = `${prefix}:k`;
    const others = (tag: string) =>
      Array.from({ length: 10 }, (_, i) => store.set(`${prefix}:${tag}${i}`, small(tag), HOUR));
    const deleted = await Promise.all([...others('a'), store.set(key, small('a'), HOUR), store.delete(key)]);
    expect(deleted.at(-1)).toBe(true);
    expect(await store.get(key)).toBeUndefined();
    const read = await Promise.all([...others('b'), store.set(key, small('b'), HOUR), store.get(key)]);
    expect(text(read.at(-1) as Uint8Array | undefined)).toBe('v:b');
    const counted = await Promise.all([store.set(key, Buffer.from('5'), HOUR), store.incr(key, 1, HOUR)]);
    expect(counted[1]).toBe(6);
    const many = await Promise.all([store.set(key, small('c'), HOUR), store.getMany([key, `${prefix}:b0`])]);
    expect(many[1].map(text)).toEqual(['v:c', 'v:b']);
  });

  it('left no unhandled rejection behind', () => {
    expect(unhandled.list).toEqual([]);
  });
});
