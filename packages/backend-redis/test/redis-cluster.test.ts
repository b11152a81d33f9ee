import { randomBytes } from 'node:crypto';
import { createCache } from '@larder/core';
import { describeStoreContract } from '@larder/core/testing';
import { type RedisClusterHandle, startRedisCluster } from '@larder/testkit';
import { bytes } from '@larder/testkit/helpers';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySlot, type RedisStore, redisStore } from '../src/index.js';
import { quietLogger } from './helpers.js';

let cluster: RedisClusterHandle;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
});
afterAll(async () => {
  await cluster?.stop();
});

const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();

describeStoreContract({
  name: 'RedisStore (3-master cluster)',
  createStore: () => redisStore({ cluster: cluster.nodes, maxValueBytes: 256 * 1024, logger: quietLogger() }),
  maxValueBytesToTest: 256 * 1024,
});

describe('RedisStore on a cluster', () => {
  let store: RedisStore;
  const run = `cl-${randomBytes(4).toString('hex')}:`;
  beforeAll(() => {
    store = redisStore({ cluster: cluster.nodes, logger: quietLogger() });
  });
  afterAll(async () => {
    await store.clear(run);
    await store.close();
  });

  it('computes the same key slot as the server', async () => {
    const node = new Redis(cluster.nodes[0]!);
    for (const key of [
      'foo',
      '{user1000}.following',
      'a{}b',
      '{}',
      '{a',
      '日本',
      `${run}😀`,
      `${run}{tag}x`,
    ]) {
      expect(keySlot(key)).toBe(await node.cluster('KEYSLOT', key));
    }
    node.disconnect();
  });

  it('spreads keys over every master, and batch operations cross slots', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `${run}spread:${i}`);
    const slots = new Set(keys.map((key) => keySlot(key)));
    expect(slots.size).toBeGreaterThan(100);
    await store.setMany(keys.map((key, i) => ({ key, value: bytes(`v${i}`), ttlMs: 60_000 })));
    const perMaster = await Promise.all(
      (store.client as Cluster).nodes('master').map((node) => node.dbsize()),
    );
    expect(perMaster.every((count) => count > 0)).toBe(true);
    expect((await store.getMany(keys)).map(text)).toEqual(keys.map((_, i) => `v${i}`));
    const coalesced = await Promise.all(keys.map((key) => store.get(key)));
    expect(coalesced.map(text)).toEqual(keys.map((_, i) => `v${i}`));
    expect(await Promise.all(keys.slice(0, 10).map((key) => store.has(key)))).toEqual(Array(10).fill(true));
    expect(await store.deleteMany([...keys.slice(0, 150), `${run}spread:none`])).toBe(150);
    expect((await store.getMany(keys.slice(149, 151))).map(text)).toEqual([undefined, 'v150']);
  });

  it('hash-tagged keys share one slot and one MGET', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `${run}{tagged}:${i}`);
    expect(new Set(keys.map((key) => keySlot(key))).size).toBe(1);
    await store.setMany(keys.map((key) => ({ key, value: bytes('t'), ttlMs: 60_000 })));
    expect((await store.getMany(keys)).every((value) => text(value) === 't')).toBe(true);
    expect(await store.deleteMany(keys)).toBe(20);
  });

  it('clear removes a prefix from every master and nothing else', async () => {
    const mine = `${run}clear:`;
    const theirs = `${run}clearx:`;
    const entries = Array.from({ length: 600 }, (_, i) => ({
      key: `${mine}${i}`,
      value: bytes('m'),
      ttlMs: 60_000,
    }));
    await store.setMany([...entries, { key: `${theirs}1`, value: bytes('t'), ttlMs: 60_000 }]);
    await store.clear(mine);
    const left = await store.getMany(entries.map((entry) => entry.key));
    expect(left.filter((value) => value !== undefined)).toHaveLength(0);
    expect(text(await store.get(`${theirs}1`))).toBe('t');
  });

  it('info adds up every master', async () => {
    const info = await store.info();
    expect(info.nodes).toBe(3);
    expect(info.serverVersion).toBe(cluster.version);
    expect(info.items).toBeGreaterThanOrEqual(0);
    expect(info.bytesUsed).toBeGreaterThan(0);
  });

  it('works through createCache, including incr and clear', async () => {
    const cache = createCache({ store, prefix: `${run.slice(0, -1)}-cache` });
    await cache.setMany({ a: 1, b: 2, c: 3 });
    expect(await cache.getMany(['a', 'b', 'c', 'd'])).toEqual([1, 2, 3, undefined]);
    expect(await cache.incr('n', 2)).toBe(2);
    expect(await cache.incr('n', 2)).toBe(4);
    await cache.clear();
    expect(await cache.get('a')).toBeUndefined();
  });

  it('coalesced sets and incrs over many slots: each lands on its master with its TTL and value', async () => {
    const node = new Cluster(cluster.nodes);
    // Keys on many slots, plus one hash tag whose keys share a slot (one pipeline, one script call).
    const spread = Array.from({ length: 60 }, (_, i) => `${run}wc:${i}`);
    const tagged = Array.from({ length: 20 }, (_, i) => `${run}{wc}:${i}`);
    const keys = [...spread, ...tagged];
    expect(new Set(spread.map((key) => keySlot(key))).size).toBeGreaterThan(30);
    const stored = await Promise.all(keys.map((key, i) => store.set(key, bytes(`v${i}`), 20_000 + i)));
    expect(stored).toEqual(keys.map(() => undefined));
    const counted = await Promise.all([
      ...keys.map((key, i) => store.incr(`${key}:n`, i + 1, 30_000)),
      store.incr(`${tagged[0]}:n`, 1000, 30_000),
    ]);
    expect(counted).toEqual([...keys.map((_, i) => i + 1), 1000 + spread.length + 1]);
    expect((await store.getMany(keys)).map(text)).toEqual(keys.map((_, i) => `v${i}`));
    for (const [i, key] of keys.entries()) {
      const pttl = await node.pttl(key);
      expect(pttl).toBeGreaterThan(15_000);
      expect(pttl).toBeLessThanOrEqual(20_000 + i);
      expect(await node.pttl(`${key}:n`)).toBeGreaterThan(25_000);
    }
    await node.quit();
  });

  it('accepts an existing Cluster client and leaves it open', async () => {
    const client = new Cluster(cluster.nodes);
    const borrowed = redisStore({ client, logger: quietLogger() });
    await borrowed.set(`${run}borrowed`, bytes('b'), 60_000);
    expect(text(await borrowed.get(`${run}borrowed`))).toBe('b');
    await borrowed.close();
    expect(await client.get(`${run}borrowed`)).toBe('b');
    await client.quit();
  });
});
