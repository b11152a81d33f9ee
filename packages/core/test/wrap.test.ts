import { describe, expect, it } from 'vitest';
import { CacheConfigError, type CacheLogger, createCache, MemoryStore } from '../src/index.js';

const quietLogger: CacheLogger = { warn: () => {}, error: () => {} };

describe('cache.wrap: memoized functions', () => {
  it('runs the function once per argument list and serves repeats from the cache', async () => {
    const cache = createCache({ logger: quietLogger });
    let calls = 0;
    const price = cache.wrap(async function price(id: number, currency: string) {
      calls++;
      return { id, currency, amount: id * 10 };
    });
    expect(await price(1, 'EUR')).toEqual({ id: 1, currency: 'EUR', amount: 10 });
    expect(await price(1, 'EUR')).toEqual({ id: 1, currency: 'EUR', amount: 10 });
    expect(await price(2, 'EUR')).toEqual({ id: 2, currency: 'EUR', amount: 20 });
    expect(calls).toBe(2);
    expect(await cache.get(price.key(1, 'EUR'))).toEqual({ id: 1, currency: 'EUR', amount: 10 });
  });

  it('runs the function once for concurrent callers of one key (single flight)', async () => {
    const cache = createCache({ logger: quietLogger });
    let calls = 0;
    const slow = cache.wrap(
      async (id: number) => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 30));
        return `v${id}`;
      },
      { name: 'slow' },
    );
    const results = await Promise.all(Array.from({ length: 20 }, () => slow(7)));
    expect(results).toEqual(Array(20).fill('v7'));
    expect(calls).toBe(1);
  });

  it('keeps argument lists apart: ("a:b","c") and ("a","b:c"), 1 and "1" as JSON', async () => {
    const cache = createCache({ logger: quietLogger });
    const echo = cache.wrap(async (...parts: unknown[]) => JSON.stringify(parts), { name: 'echo' });
    expect(await echo('a:b', 'c')).toBe('["a:b","c"]');
    expect(await echo('a', 'b:c')).toBe('["a","b:c"]');
    expect(await echo({ q: 1 })).toBe('[{"q":1}]');
    expect(await echo('{"q":1}')).toBe('["{\\"q\\":1}"]');
    expect(echo.key('a:b', 'c')).not.toBe(echo.key('a', 'b:c'));
  });

  it('does not cache errors; forget() drops one result; ttl applies', async () => {
    const store = new MemoryStore();
    const cache = createCache({ store, logger: quietLogger });
    let fail = true;
    let calls = 0;
    const load = cache.wrap(
      async (id: string) => {
        calls++;
        if (fail) throw new Error('db down');
        return id.toUpperCase();
      },
      { name: 'load', ttl: '5m' },
    );
    await expect(load('x')).rejects.toThrow('db down');
    fail = false;
    expect(await load('x')).toBe('X');
    expect(await load('x')).toBe('X');
    expect(calls).toBe(2);
    const ttl = await cache.ttl(load.key('x'));
    expect(ttl).toBeGreaterThan(4 * 60_000);
    expect(ttl).toBeLessThanOrEqual(5 * 60_000);
    expect(await load.forget('x')).toBe(true);
    expect(await load('x')).toBe('X');
    expect(calls).toBe(3);
  });

  it('uses a custom key function', async () => {
    const cache = createCache({ logger: quietLogger });
    const user = cache.wrap(async (u: { id: number; name: string }) => u.name, {
      key: (u) => `user:${u.id}`,
    });
    expect(await user({ id: 3, name: 'ann' })).toBe('ann');
    expect(await user({ id: 3, name: 'changed' })).toBe('ann');
    expect(await cache.get('user:3')).toBe('ann');
  });

  it('refuses an anonymous function without a name or key, and a non-function, at wrap time', () => {
    const cache = createCache({ logger: quietLogger });
    expect(() => cache.wrap(async () => 1)).toThrow(CacheConfigError);
    expect(() => cache.wrap(async () => 1)).toThrow(/name/);
    expect(() => cache.wrap(42 as unknown as () => number, { name: 'n' })).toThrow(/function/);
  });

  it('refuses arguments with no key form, naming the fix', async () => {
    const cache = createCache({ logger: quietLogger });
    const f = cache.wrap(async (_x: unknown) => 1, { name: 'f' });
    await expect(async () => f(() => 1)).rejects.toThrow(/pass \{ key \}/);
  });
});
