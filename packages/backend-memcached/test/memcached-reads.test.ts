import { StoreTimeoutError } from '@larder/core';
import { type ServerHandle, startMemcached } from '@larder/testkit';
import { loopStall, randomPrefix, SLACK_MS, trackUnhandled } from '@larder/testkit/helpers';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemcachedStore } from '../src/index.js';
import { waitStopped } from './helpers.js';

const DEADLINE = 500;
const HOUR = 3_600_000;
const unhandled = trackUnhandled();
const servers: ServerHandle[] = [];
const stores: MemcachedStore[] = [];

async function privateServer(): Promise<ServerHandle> {
  const server = await startMemcached({ memoryMb: 32 });
  servers.push(server);
  return server;
}

function open(server: ServerHandle): MemcachedStore {
  const store = new MemcachedStore({ servers: server.url, timeout: DEADLINE });
  stores.push(store);
  return store;
}

/** Counts the writes memjs makes to the store's one server. */
function countWrites(store: MemcachedStore): { count: () => number } {
  const wire = store.client.servers[0]!;
  const write = wire.write.bind(wire);
  let writes = 0;
  wire.write = (blob) => {
    writes++;
    write(blob);
  };
  return { count: () => writes };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
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

describe('reads while a read batch is in flight', () => {
  it('wait for its answer and leave together, each caller still getting its own value', async () => {
    const server = await privateServer();
    const store = open(server);
    const prefix = randomPrefix('h');
    const keys = Array.from({ length: 12 }, (_, i) => `${prefix}:${i}`);
    await Promise.all(keys.map((key) => store.set(key, Buffer.from(`v:${key}`), HOUR)));
    await server.pause();
    await waitStopped(server.pid);
    const writes = countWrites(store);
    // One read, then one per turn of the event loop: callers out of step with each other.
    const reads: Promise<Uint8Array | undefined>[] = [];
    for (const key of keys) {
      reads.push(store.get(key));
      await nextTurn();
    }
    reads.push(store.get(`${prefix}:missing`));
    await nextTurn();
    expect(writes.count()).toBe(1);
    await server.resume();
    const values = await Promise.all(reads);
    expect(values.map(text)).toEqual([...keys.map((key) => `v:${key}`), undefined]);
    // The first read, then everything that waited for it: two writes, not one per caller.
    expect(writes.count()).toBe(2);
  });

  it('keep their deadline from when they were asked for, behind a batch that never answers', async () => {
    const server = await privateServer();
    const store = open(server);
    await store.set('warm', Buffer.from('warm'), HOUR);
    await server.pause();
    await waitStopped(server.pid);
    const stall = loopStall();
    const first = timedRead(store, 'first');
    await nextTurn();
    const held = timedRead(store, 'held');
    const results = await Promise.all([first, held]);
    const slack = SLACK_MS + stall.stop();
    for (const { ms, error } of results) {
      expect(error).toBeInstanceOf(StoreTimeoutError);
      expect(ms).toBeLessThanOrEqual(DEADLINE + slack);
    }
    await server.resume();
    expect(text(await store.get('warm'))).toBe('warm');
  });

  it('fail with the store when it closes', async () => {
    const server = await privateServer();
    const store = open(server);
    await server.pause();
    await waitStopped(server.pid);
    const first = store.get('first');
    await nextTurn();
    const held = store.get('held');
    await nextTurn();
    await store.close();
    await expect(held).rejects.toHaveProperty('code', 'E_CLOSED');
    await expect(first).rejects.toHaveProperty('code', 'E_CLOSED');
  });

  it('left no unhandled rejection behind', () => {
    expect(unhandled.list).toEqual([]);
  });
});

async function timedRead(store: MemcachedStore, key: string): Promise<{ ms: number; error?: unknown }> {
  const started = performance.now();
  try {
    await store.get(key);
    return { ms: performance.now() - started };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}
