import { describe, expect, it } from 'vitest';
import { CacheConfigError, type CacheLogger, createCache, MemoryStore } from '../src/index.js';
import { ChaosStore } from '../src/testing/index.js';

const quietLogger: CacheLogger = { warn: () => {}, error: () => {} };

async function all(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

describe('cache.keys: listing caller keys', () => {
  it('lists this scope only, maps escaped keys back, and leaves out namespaces and hashed keys', async () => {
    // A memory store that declares a 100-byte key limit, so long keys get hashed.
    const inner = new MemoryStore();
    const store = new Proxy(inner, {
      get(target, property) {
        if (property === 'capabilities') return { ...target.capabilities, maxKeyBytes: 100 };
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const cache = createCache({ store, logger: quietLogger, prefix: 'app' });
    await cache.set('plain', 1);
    await cache.set('@at', 2);
    await cache.set('#hash', 3);
    await cache.set(cache.key('a:b', 'c'), 4);
    await cache.namespace('users').set('u1', 5);
    await cache.set('x'.repeat(300), 6); // hashed when the store's key limit is small
    await createCache({ store, logger: quietLogger, prefix: 'other' }).set('foreign', 7);
    await cache.set('old', 8, { version: 2 });
    const listed = await all(cache.keys());
    expect(listed).toContain('plain');
    expect(listed).toContain('@at');
    expect(listed).toContain('#hash');
    expect(listed).toContain(cache.key('a:b', 'c'));
    expect(listed).not.toContain('u1');
    expect(listed).not.toContain('foreign');
    expect(listed).not.toContain('old');
    expect(listed).not.toContain('x'.repeat(300));
    expect(await cache.get('x'.repeat(300))).toBe(6);
    expect(await all(cache.namespace('users').keys())).toEqual(['u1']);
    expect(await all(cache.keys({ version: 2 }))).toEqual(['old']);
    for (const key of listed) expect(await cache.get(key)).toBeDefined();
  });

  it('throws a typed error naming the fix when the store cannot list keys', async () => {
    const store = new ChaosStore(new MemoryStore(), { capabilities: { listKeys: false } });
    const cache = createCache({ store, logger: quietLogger });
    await expect(all(cache.keys())).rejects.toThrow(CacheConfigError);
    await expect(all(cache.keys())).rejects.toThrow(/cannot list its keys/);
  });
});
