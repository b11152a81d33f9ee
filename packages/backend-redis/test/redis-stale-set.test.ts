import { type Cache, createCache, type GetOrSetOptions } from '@larder/core';
import { type RedisServerHandle, startRedis } from '@larder/testkit';
import { heldFactory, randomPrefix, sleep, untilStarted } from '@larder/testkit/helpers';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisBus, redisStore } from '../src/index.js';
import { quietLogger } from './helpers.js';

let server: RedisServerHandle;
const open: Cache[] = [];

beforeAll(async () => {
  server = await startRedis({ useEnv: false });
}, 20_000);

afterAll(async () => {
  await server?.stop();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((cache) => cache.close()));
});

/** One app process's cache: its own connections, with or without an L1 and a Redis bus. */
async function processCache(prefix: string, withBus: boolean): Promise<Cache> {
  const logger = quietLogger();
  const cache = createCache({
    store: redisStore({ url: server.url, logger }),
    prefix,
    logger: { ...logger, error: logger.warn },
    ...(withBus ? { l1: { maxTtl: '5s' }, bus: redisBus({ url: server.url }, { logger }) } : {}),
  });
  open.push(cache);
  if (withBus) await sleep(150); // let the bus subscribe before the test writes
  return cache;
}

describe('stale-set protection across processes on a real Redis', () => {
  it('a delete in process B while process A runs the factory: the deleted value is not resurrected (Redis bus)', async () => {
    const prefix = randomPrefix('staleset');
    const a = await processCache(prefix, true);
    const b = await processCache(prefix, true);
    await b.set('k', 'before');
    for (const options of [{}, { lock: { ttl: '2s' } }] as GetOrSetOptions[]) {
      const { state, factory } = heldFactory('computed from old data');
      await a.delete('k');
      const pending = a.getOrSet('k', factory, options);
      await untilStarted(state);
      await b.delete('k');
      await sleep(50); // the bus message reaches A (p99 of a few ms on loopback)
      state.finish();
      expect(await pending).toBe('computed from old data');
      expect(await b.get('k'), JSON.stringify(options)).toBeUndefined();
      expect(await a.get('k')).toBeUndefined();
    }
  });

  it('a tag invalidated in process B while A runs the factory: A’s value reads as a miss, with no bus at all', async () => {
    const prefix = randomPrefix('staletag');
    const a = await processCache(prefix, false);
    const b = await processCache(prefix, false);
    const { state, factory } = heldFactory('old');
    const pending = a.getOrSet('k', factory, { tags: ['products'] });
    await untilStarted(state);
    await b.invalidateTags(['products']);
    state.finish();
    expect(await pending).toBe('old');
    expect(await b.get('k')).toBeUndefined();
  });

  it('a lease waiter in another process answers when the holder’s write is heard on the bus, before its next poll', async () => {
    const prefix = randomPrefix('leasewake');
    const holder = await processCache(prefix, true);
    const waiter = await processCache(prefix, true);
    let wroteAt = 0;
    // The waiter polls at 25, 75, 175, 375 and 575 ms: the write lands between two polls.
    const slow = async () => {
      await sleep(420);
      wroteAt = performance.now();
      return 'value';
    };
    const first = holder.getOrSet('k', slow, { lock: { ttl: '5s' } });
    await sleep(10);
    let waiterCalls = 0;
    const answeredAt = await waiter
      .getOrSet(
        'k',
        () => {
          waiterCalls++;
          return 'computed by the waiter';
        },
        { lock: { ttl: '5s' } },
      )
      .then((value) => {
        expect(value).toBe('value');
        return performance.now();
      });
    expect(await first).toBe('value');
    expect(waiterCalls).toBe(0);
    expect(answeredAt - wroteAt).toBeLessThan(100);
  });
});
