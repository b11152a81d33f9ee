import { type Cache, CacheConfigError, createCache, type Ttl } from '@larder/core';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { loopStall, randomPrefix, sleep } from '@larder/testkit/helpers';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisBus, redisStore } from '../src/index.js';
import { quietLogger } from './helpers.js';

let server: RedisServerHandle;
const open: Cache[] = [];

beforeAll(async () => {
  // Private: the restart test kills it.
  server = await startRedis({ useEnv: false });
}, 20_000);

afterAll(async () => {
  await server?.stop();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((cache) => cache.close()));
});

/** A cache with an L1 and its own Redis bus, as one app process would have. */
async function twoTier(prefix: string, maxTtl: Ttl = '5s'): Promise<Cache> {
  const logger = quietLogger();
  const cache = createCache({
    store: redisStore({ url: server.url, logger }),
    prefix,
    l1: { maxTtl },
    bus: redisBus({ url: server.url }, { logger }),
    logger: { ...logger, error: logger.warn },
  });
  open.push(cache);
  // Let the bus connect and subscribe before the test writes.
  await sleep(150);
  return cache;
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (await check()) return true;
    await sleep(1);
  }
  return false;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

describe('redisBus', () => {
  it('a set or delete in one process evicts the L1 entry in another', async () => {
    const prefix = randomPrefix('bus');
    const a = await twoTier(prefix, 60_000);
    const b = await twoTier(prefix, 60_000);
    await a.set('k', 'v1', { ttl: 60_000 });
    expect(await b.get('k')).toBe('v1'); // now in B's L1, for up to a minute
    await a.set('k', 'v2', { ttl: 60_000 });
    expect(await waitFor(async () => (await b.get('k')) === 'v2', 1000)).toBe(true);
    await a.delete('k');
    expect(await waitFor(async () => (await b.get('k')) === undefined, 1000)).toBe(true);
  });

  it('B sees a value A set within 50 ms p99 over 200 sets', async () => {
    const prefix = randomPrefix('buslat');
    const a = await twoTier(prefix, 60_000);
    const b = await twoTier(prefix, 60_000);
    await a.set('hot', -1, { ttl: 60_000 });
    const stall = loopStall();
    const lags: number[] = [];
    for (let i = 0; i < 200; i++) {
      // B holds the previous value in its L1.
      expect(await b.get('hot')).toBe(i - 1);
      await a.set('hot', i, { ttl: 60_000 });
      const written = performance.now();
      while ((await b.get('hot')) !== i) {
        if (performance.now() - written > 2000) throw new Error(`B never saw value ${i}`);
        await sleep(1);
      }
      lags.push(performance.now() - written);
    }
    const stalled = stall.stop();
    lags.sort((x, y) => x - y);
    const p50 = percentile(lags, 50);
    const p99 = percentile(lags, 99);
    console.log(
      `redisBus: set in A → seen by B, 200 sets: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${lags.at(-1)!.toFixed(2)} ms (loop stall ${stalled.toFixed(0)} ms)`,
    );
    expect(p99).toBeLessThan(50 + stalled);
  }, 20_000);

  it('after the Redis server restarts, B empties its L1 and serves fresh values', async () => {
    const prefix = randomPrefix('busrst');
    const a = await twoTier(prefix, 60_000);
    const b = await twoTier(prefix, 60_000);
    await a.set('k', 'before', { ttl: 60_000 });
    expect(await b.get('k')).toBe('before');
    await server.kill();
    await server.restart();
    // Written while B's bus was away (no message reaches B): only the reconnect can evict it.
    const writer = new Redis(server.url);
    const plain = createCache({ store: redisStore({ client: writer, logger: quietLogger() }), prefix });
    await expect(plain.set('k', 'after', { ttl: 60_000 })).resolves.toBe(true);
    const started = performance.now();
    expect(await waitFor(async () => (await b.get('k')) === 'after', 5000)).toBe(true);
    const ms = performance.now() - started;
    console.log(`redisBus: B served the fresh value ${ms.toFixed(0)} ms after the restart`);
    // The bus listens again: A's next write reaches B.
    await waitFor(async () => (await a.set('k', 'again', { ttl: 60_000 })) && true, 2000);
    expect(await waitFor(async () => (await b.get('k')) === 'again', 2000)).toBe(true);
    await plain.close();
    writer.disconnect();
  }, 20_000);

  it('a frozen bus server (SIGSTOP) is noticed by PING: B empties its L1 while the bus is down, and listens again after', async () => {
    // The bus on its own server, so the store keeps working while the bus is frozen.
    const busServer = await startRedis({ useEnv: false });
    try {
      const prefix = randomPrefix('busping');
      const logger = quietLogger();
      const tier = () => {
        const cache = createCache({
          store: redisStore({ url: server.url, logger }),
          prefix,
          l1: { maxTtl: 60_000 },
          bus: redisBus({ url: busServer.url }, { logger, pingInterval: 200, pingTimeout: 500 }),
          logger: { ...logger, error: logger.warn },
        });
        open.push(cache);
        return cache;
      };
      const a = tier();
      const b = tier();
      await sleep(150);
      await a.set('k', 'before', { ttl: 60_000 });
      // A's own message about 'k' reaches B first, so that it cannot evict what B reads next.
      await sleep(200);
      expect(await b.get('k')).toBe('before'); // in B's L1 for up to a minute
      await busServer.pause();
      // Written while the bus is frozen, by a process without a bus: no message can tell B.
      const plain = createCache({ store: redisStore({ url: server.url, logger }), prefix });
      open.push(plain);
      expect(await plain.set('k', 'after', { ttl: 60_000 })).toBe(true);
      const paused = performance.now();
      const stall = loopStall();
      expect(await waitFor(async () => (await b.get('k')) === 'after', 3000)).toBe(true);
      const noticed = performance.now() - paused;
      console.log(`redisBus: frozen bus noticed, B's L1 emptied ${noticed.toFixed(0)} ms after SIGSTOP`);
      // interval + timeout + one reconnect-free read, plus what the loop stalled
      expect(noticed).toBeLessThan(200 + 500 + 200 + stall.stop());
      expect(logger.warnings.some((line) => line.includes('the Redis cache bus lost its connection'))).toBe(
        true,
      );
      await busServer.resume();
      // the bus listens again: A's next write reaches B through it
      expect(await b.get('k')).toBe('after');
      expect(
        await waitFor(async () => {
          await a.set('k', 'again', { ttl: 60_000 });
          return (await b.get('k')) === 'again';
        }, 5000),
      ).toBe(true);
    } finally {
      await Promise.all(open.splice(0).map((cache) => cache.close()));
      await busServer.stop();
    }
  }, 20_000);

  it('uses a given client for publishing, never closes it, and shows no password', async () => {
    const client = new Redis(server.url, { lazyConnect: true });
    await client.connect();
    const bus = redisBus({ client }, { channel: 'larder:test' });
    const heard: unknown[] = [];
    await bus.subscribe({ onMessage: (m) => heard.push(m), onReconnect: () => {} });
    await bus.publish({ origin: 'x', keys: ['k'] });
    expect(await waitFor(async () => heard.length === 1, 1000)).toBe(true);
    expect(heard[0]).toEqual({ origin: 'x', keys: ['k'] });
    await bus.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    const secret = redisBus({ url: 'redis://app:s3cr3t-pw@127.0.0.1:1' });
    expect(String(secret)).not.toContain('s3cr3t');
    expect(JSON.stringify(secret)).not.toContain('s3cr3t');
    await secret.close();
  });

  it('rejects bad connections and options, saying what to pass', () => {
    expect(() => redisBus(undefined as never)).toThrow(CacheConfigError);
    expect(() => redisBus({ ur: 'redis://x' } as never)).toThrow(/url/);
    expect(() => redisBus({ url: 'http://x' })).toThrow(/redis:/);
    expect(() => redisBus({ url: server.url }, { chanel: 'x' } as never)).toThrow(/channel/);
    expect(() => redisBus({ url: server.url }, { channel: '' })).toThrow(/channel/);
    expect(() => redisBus({ url: server.url }, { pingInterval: 0 })).toThrow(/pingInterval 0 must be/);
    expect(() => redisBus({ url: server.url }, { pingTimeout: Number.NaN })).toThrow(/pingTimeout/);
  });
});
