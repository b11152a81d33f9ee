import { describe, expect, it } from 'vitest';
// By path: testkit depends on core, so core cannot depend on it as a package.
import { failOnUnhandledRejections, quietLogger, sleep } from '../../testkit/src/helpers.js';
import { CacheConfigError, createCache, MemoryStore, memoryBusHub } from '../src/index.js';
import { ChaosStore } from '../src/testing/index.js';

failOnUnhandledRejections();

/** One shared store (the server) and one cache per "process", each with its own L1. */
function processes(count: number, withBus = true) {
  const server = new ChaosStore(new MemoryStore());
  const hub = memoryBusHub();
  const caches = Array.from({ length: count }, () =>
    createCache({
      store: server,
      logger: quietLogger,
      l1: { maxTtl: '5s' },
      ...(withBus ? { bus: hub.bus() } : {}),
    }),
  );
  return { server, hub, caches };
}

describe('L1 in front of the store', () => {
  it('serves a hot key from process memory: repeated gets do not reach the store', async () => {
    const { server, caches } = processes(1);
    const [cache] = caches;
    await cache!.set('hot', { n: 1 });
    expect(await cache!.get('hot')).toEqual({ n: 1 });
    const before = server.calls;
    for (let i = 0; i < 100; i++) expect(await cache!.get('hot')).toEqual({ n: 1 });
    expect(server.calls).toBe(before);
  });

  it("a write in one process evicts the key from every other process's L1 through the bus", async () => {
    const { caches } = processes(3);
    const [a, b, c] = caches as [
      ReturnType<typeof createCache>,
      ReturnType<typeof createCache>,
      ReturnType<typeof createCache>,
    ];
    await a.set('k', 'v1');
    expect(await b.get('k')).toBe('v1');
    expect(await c.get('k')).toBe('v1');
    await a.set('k', 'v2');
    await sleep(1);
    expect(await b.get('k')).toBe('v2');
    await b.delete('k');
    await sleep(1);
    expect(await c.get('k')).toBeUndefined();
    await c.set('n', 'x');
    expect(await a.get('n')).toBe('x');
    await c.clear();
    await sleep(1);
    expect(await a.get('n')).toBeUndefined();
  });

  it('after the bus reconnects every L1 is emptied (messages may have been lost)', async () => {
    const { caches, hub, server } = processes(2);
    const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>];
    await a.set('k', 'v1');
    expect(await b.get('k')).toBe('v1');
    hub.disconnect();
    await a.set('k', 'v2'); // this invalidation is lost
    await sleep(1);
    expect(await b.get('k')).toBe('v1'); // stale, within l1.maxTtl
    hub.reconnect();
    const before = server.calls;
    expect(await b.get('k')).toBe('v2');
    expect(server.calls).toBe(before + 1);
  });

  it("never serves a value past the entry's own TTL, nor past l1.maxTtl without a bus", async () => {
    let now = 1_000_000;
    const server = new MemoryStore({ now: () => now });
    const writer = createCache({ store: server, logger: quietLogger, now: () => now });
    const reader = createCache({ store: server, logger: quietLogger, now: () => now, l1: { maxTtl: 2000 } });
    const stamping = createCache({
      store: server,
      logger: quietLogger,
      now: () => now,
      l1: { maxTtl: 2000 },
    });
    await stamping.set('short', 's', { ttl: 500 });
    expect(await reader.get('short')).toBe('s');
    now += 501;
    expect(await reader.get('short')).toBeUndefined();
    await stamping.set('long', 'v1', { ttl: '1h' });
    expect(await reader.get('long')).toBe('v1');
    await writer.set('long', 'v2', { ttl: '1h' }); // no bus: the reader does not hear of it
    now += 1000;
    expect(await reader.get('long')).toBe('v1');
    now += 1001;
    expect(await reader.get('long')).toBe('v2');
  });

  it('counters and plain integers stay out of the L1 and keep working with incr', async () => {
    const { caches } = processes(2);
    const [a, b] = caches as [ReturnType<typeof createCache>, ReturnType<typeof createCache>];
    await a.set('count', 41);
    expect(await b.get('count')).toBe(41);
    expect(await a.incr('count')).toBe(42);
    expect(await b.get('count')).toBe(42);
  });

  it('bad l1 and bus options fail at set-up', () => {
    expect(() => createCache({ l1: { maxTtl: 'never' } })).toThrow(CacheConfigError);
    expect(() => createCache({ l1: { maxTll: 5 } as never })).toThrow(/did you mean maxTtl/);
    expect(() => createCache({ bus: memoryBusHub().bus() })).toThrow(/bus needs l1/);
  });

  it('a bus that cannot publish logs once, not once per write, and the writes still succeed', async () => {
    const warnings: string[] = [];
    const logger = { warn: (_: unknown, message: string) => warnings.push(message), error: () => {} };
    const failing = {
      publish: () => Promise.reject(new Error('bus down')),
      subscribe: async () => {},
      close: async () => {},
    };
    const cache = createCache({ logger, l1: {}, bus: failing });
    for (let i = 0; i < 200; i++) expect(await cache.set(`k${i}`, i)).toBe(true);
    await sleep(5);
    expect(warnings.filter((message) => message.includes('could not publish'))).toHaveLength(1);
    await cache.close();
  });
});
