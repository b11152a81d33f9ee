import { describe, expect, it } from 'vitest';
// By path: testkit depends on core, so core cannot depend on it as a package.
import { failOnUnhandledRejections, quietLogger } from '../../testkit/src/helpers.js';
import { createCache, InvalidKeyError, MemoryStore } from '../src/index.js';
import { ChaosStore } from '../src/testing/index.js';

failOnUnhandledRejections();

describe('tags', () => {
  it('invalidateTags makes every entry carrying a tag a miss, in every cache on the store, and nothing else', async () => {
    const store = new MemoryStore();
    const one = createCache({ store, logger: quietLogger });
    const other = createCache({ store, logger: quietLogger });
    await one.set('post:1', 'p1', { tags: ['user:7', 'posts'] });
    await one.set('post:2', 'p2', { tags: ['posts'] });
    await one.set('profile:7', 'u7', { tags: ['user:7'] });
    await one.set('plain', 'x');
    expect(await other.getMany(['post:1', 'post:2', 'profile:7', 'plain'])).toEqual(['p1', 'p2', 'u7', 'x']);
    expect(await other.invalidateTags(['user:7'])).toBe(true);
    expect(await one.get('post:1')).toBeUndefined();
    expect(await one.get('profile:7')).toBeUndefined();
    expect(await one.getMany(['post:1', 'post:2', 'profile:7', 'plain'])).toEqual([
      undefined,
      'p2',
      undefined,
      'x',
    ]);
    // Written again after the invalidation, an entry with the tag is live.
    await one.set('profile:7', 'u7b', { tags: ['user:7'] });
    expect(await other.get('profile:7')).toBe('u7b');
  });

  it('getOrSet with tags caches the factory value until a tag is invalidated', async () => {
    const cache = createCache({ logger: quietLogger });
    let calls = 0;
    const load = () => cache.getOrSet('list', () => ++calls, { tags: ['products'] });
    expect(await load()).toBe(1);
    expect(await load()).toBe(1);
    await cache.invalidateTags(['products']);
    expect(await load()).toBe(2);
    expect(calls).toBe(2);
  });

  it('a tag whose counter was evicted reads as invalidated, never as a resurrected version', async () => {
    const memory = new MemoryStore();
    const cache = createCache({ store: memory, logger: quietLogger });
    await cache.set('k', 'v', { tags: ['t'] });
    for await (const key of memory.keys('larder:1:#tag:')) await memory.delete(key);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('tags are scoped to the namespace, and a tagged write is one cache call under one deadline', async () => {
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, logger: quietLogger });
    const a = cache.namespace('a');
    const b = cache.namespace('b');
    await a.set('k', 'a', { tags: ['t'] });
    await b.set('k', 'b', { tags: ['t'] });
    await a.invalidateTags(['t']);
    expect(await a.get('k')).toBeUndefined();
    expect(await b.get('k')).toBe('b');
    expect(cache.stats().latency.set?.count).toBe(2);
  });

  it('bad tags fail before any I/O with a typed error', async () => {
    const chaos = new ChaosStore(new MemoryStore());
    const cache = createCache({ store: chaos, logger: quietLogger });
    await expect(cache.set('k', 1, { tags: 'user:1' as unknown as string[] })).rejects.toBeInstanceOf(
      InvalidKeyError,
    );
    await expect(cache.set('k', 1, { tags: [''] })).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(cache.invalidateTags([1 as unknown as string])).rejects.toBeInstanceOf(InvalidKeyError);
    expect(chaos.calls).toBe(0);
  });
});
