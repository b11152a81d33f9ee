import { describe, expect, it } from 'vitest';
// By path: testkit depends on core, so core cannot depend on it as a package.
import {
  failOnUnhandledRejections,
  heldFactory,
  quietLogger as quiet,
  sleep,
  untilStarted,
} from '../../testkit/src/helpers.js';
import { type Cache, createCache, type GetOrSetOptions, MemoryStore, memoryBusHub } from '../src/index.js';

failOnUnhandledRejections();

const plain: GetOrSetOptions = {};
const locked: GetOrSetOptions = { lock: { ttl: '2s' } };

describe('stale-set protection: a factory that started before a change does not store over it', () => {
  for (const [mode, options] of [
    ['plain getOrSet', plain],
    ['getOrSet with lock', locked],
  ] as const) {
    it(`${mode}: the key deleted while the factory runs stays deleted; callers still get the value`, async () => {
      const cache = createCache({ logger: quiet });
      const { state, factory } = heldFactory('old');
      const pending = cache.getOrSet('k', factory, options);
      await untilStarted(state);
      await cache.delete('k');
      state.finish();
      expect(await pending).toBe('old');
      expect(await cache.get('k')).toBeUndefined();
    });

    it(`${mode}: a set while the factory runs wins over the factory's older value`, async () => {
      const cache = createCache({ logger: quiet });
      const { state, factory } = heldFactory('old');
      const pending = cache.getOrSet('k', factory, options);
      await untilStarted(state);
      await cache.set('k', 'newer');
      state.finish();
      expect(await pending).toBe('old');
      expect(await cache.get('k')).toBe('newer');
    });
  }

  it('a clear, a namespace clear or a tag invalidation while the factory runs: nothing is stored', async () => {
    const changes: [string, (cache: Cache) => Promise<unknown>][] = [
      ['clear', (cache) => cache.clear()],
      ['namespace clear', (cache) => cache.namespace('users').clear()],
      ['invalidateTags', (cache) => cache.invalidateTags(['t'])],
    ];
    for (const [name, change] of changes) {
      const cache = createCache({ logger: quiet });
      const users = cache.namespace('users');
      const { state, factory } = heldFactory(name);
      const pending = users.getOrSet('k', factory, { tags: ['t'] });
      await untilStarted(state);
      await change(cache);
      state.finish();
      expect(await pending).toBe(name);
      expect(await users.get('k'), name).toBeUndefined();
    }
  });

  it('a change to another key, or one made before the factory started, does not stop the write', async () => {
    const cache = createCache({ logger: quiet });
    await cache.delete('k');
    const { state, factory } = heldFactory('value');
    const pending = cache.getOrSet('k', factory);
    await untilStarted(state);
    await cache.delete('other');
    await cache.set('k2', 1);
    state.finish();
    await pending;
    expect(await cache.get('k')).toBe('value');
    // The version is part of the key: a delete under another version is another key.
    const { state: second, factory: secondFactory } = heldFactory('v2');
    const v2 = cache.getOrSet('j', secondFactory, { version: 2 });
    await untilStarted(second);
    await cache.delete('j');
    second.finish();
    await v2;
    expect(await cache.get('j', { version: 2 })).toBe('v2');
  });

  it('softTimeout: a factory finishing in the background after the caller was answered does not resurrect a deleted key', async () => {
    const clock = { now: 1_000_000 };
    const cache = createCache({
      store: new MemoryStore({ now: () => clock.now }),
      logger: quiet,
      now: () => clock.now,
    });
    await cache.set('k', 'stale', { ttl: 1000, grace: '1h' });
    clock.now += 2000;
    const { state, factory } = heldFactory('fresh');
    // The caller gets the stale value after 20 ms; the factory goes on.
    expect(await cache.getOrSet('k', factory, { ttl: 1000, grace: '1h', softTimeout: 20 })).toBe('stale');
    await cache.delete('k');
    state.finish();
    await sleep(20);
    expect(await cache.getOrSet('k', () => 'after delete', { ttl: 1000 })).toBe('after delete');
  });

  it('across processes, no bus needed: a tag invalidated while the factory runs makes its value read as a miss', async () => {
    const server = new MemoryStore();
    const [a, b] = [0, 1].map(() => createCache({ store: server, logger: quiet })) as [Cache, Cache];
    for (const options of [{ tags: ['t'] }, { tags: ['t'], lock: true as const }]) {
      const { state, factory } = heldFactory('old');
      const pending = a.getOrSet('k', factory, options);
      await untilStarted(state);
      await b.invalidateTags(['t']);
      state.finish();
      expect(await pending).toBe('old');
      expect(await a.get('k'), JSON.stringify(options)).toBeUndefined();
      expect(await b.get('k')).toBeUndefined();
    }
    // Without an invalidation the tagged value is stored and read back.
    expect(await a.getOrSet('k', () => 'kept', { tags: ['t'] })).toBe('kept');
    expect(await b.get('k')).toBe('kept');
  });

  it('across processes: a delete heard on the bus stops another process storing its older value', async () => {
    const server = new MemoryStore();
    const hub = memoryBusHub();
    const [a, b] = [0, 1].map(() =>
      createCache({ store: server, logger: quiet, l1: { maxTtl: '5s' }, bus: hub.bus() }),
    ) as [Cache, Cache];
    const { state, factory } = heldFactory('old');
    const pending = a.getOrSet('k', factory);
    await untilStarted(state);
    await b.delete('k');
    await sleep(5); // the bus delivers asynchronously, as a network bus would
    state.finish();
    expect(await pending).toBe('old');
    expect(await b.get('k')).toBeUndefined();
    expect(await a.get('k')).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });
});

describe('lease waiters hear the value on the bus', () => {
  it('a waiter in another process gets the value when the holder writes it, not at its next poll', async () => {
    const server = new MemoryStore();
    const hub = memoryBusHub();
    const [holder, waiter] = [0, 1].map(() =>
      createCache({ store: server, logger: quiet, l1: { maxTtl: '5s' }, bus: hub.bus() }),
    ) as [Cache, Cache];
    let wroteAt = 0;
    // Polls come at 25, 75, 175, 375 and 575 ms: a 420 ms factory lands between two of them.
    const slow = async () => {
      await sleep(420);
      wroteAt = performance.now();
      return 'value';
    };
    const first = holder.getOrSet('k', slow, { lock: { ttl: '5s' } });
    await sleep(5);
    let waiterCalls = 0;
    const second = waiter.getOrSet(
      'k',
      () => {
        waiterCalls++;
        return 'computed by the waiter';
      },
      { lock: { ttl: '5s' } },
    );
    const answeredAt = await second.then(() => performance.now());
    expect(await first).toBe('value');
    expect(await second).toBe('value');
    expect(waiterCalls).toBe(0);
    // Without the bus the waiter would answer at its 575 ms poll, ~150 ms after the write.
    expect(answeredAt - wroteAt).toBeLessThan(60);
    await Promise.all([holder.close(), waiter.close()]);
  });

  it('a waiter counts one miss for its call, however often it looks for the value', async () => {
    const server = new MemoryStore();
    const [holder, waiter] = [0, 1].map(() => createCache({ store: server, logger: quiet })) as [
      Cache,
      Cache,
    ];
    const first = holder.getOrSet(
      'k',
      async () => {
        await sleep(300); // the waiter looks at 25, 75, 175 and 375 ms
        return 'value';
      },
      { lock: { ttl: '5s' } },
    );
    await sleep(5);
    expect(await waiter.getOrSet('k', () => 'not called', { lock: { ttl: '5s' } })).toBe('value');
    await first;
    expect(waiter.stats()).toMatchObject({ hits: 0, misses: 1 });
    expect(holder.stats()).toMatchObject({ hits: 0, misses: 1 });
  });
});
