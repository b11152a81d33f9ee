import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotIntegerError } from '../errors.js';
import type { Store } from '../store.js';

/** Settings for `describeStoreContract`. */
export interface StoreContractOptions {
  /** Suite title, e.g. 'RedisStore (cluster)'. */
  name: string;
  /** Builds a store connected to a real server. Called once for the suite and once for the close test. */
  createStore: () => Store | Promise<Store>;
  /** Whether the store can keep a key with ttl Infinity. @default true */
  supportsNoExpiry?: boolean;
  /** Largest value the suite writes; the store's declared `maxValueBytes` when smaller. @default 1 MiB */
  maxValueBytesToTest?: number;
}

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The behaviour every backend must have, as a vitest suite. A backend's spec calls this
 * against a real server and then adds its own edge cases. Keys use a random prefix per
 * run, and the suite cleans up with `clear(prefix)`, so a shared server is safe.
 */
export function describeStoreContract(options: StoreContractOptions): void {
  describe(`Store contract: ${options.name}`, () => {
    let store: Store;
    const run = `contract-${randomBytes(4).toString('hex')}:`;
    let counter = 0;
    const key = (label: string) => `${run}${label}:${counter++}`;
    const HOUR = 3_600_000;

    beforeAll(async () => {
      store = await options.createStore();
    });
    afterAll(async () => {
      if (store === undefined) return;
      if (store.capabilities.clearScope === 'prefix') await store.clear(run);
      await store.close();
    });

    it('declares sane capabilities', () => {
      const c = store.capabilities;
      expect(c.ttlGranularityMs).toBeGreaterThanOrEqual(1);
      expect(c.maxKeyBytes).toBeGreaterThanOrEqual(200);
      expect(c.maxValueBytes).toBeGreaterThan(1024);
      expect(['prefix', 'none']).toContain(c.clearScope);
    });

    it('misses a key that was never set', async () => {
      expect(await store.get(key('missing'))).toBeUndefined();
      expect(await store.has(key('missing'))).toBe(false);
      expect(await store.ttl(key('missing'))).toBeUndefined();
    });

    it('round-trips all 256 byte values and the empty value', async () => {
      const all = new Uint8Array(256).map((_, i) => i);
      const k1 = key('bytes');
      const k2 = key('empty');
      await store.set(k1, all, HOUR);
      await store.set(k2, new Uint8Array(0), HOUR);
      expect(Buffer.from((await store.get(k1))!)).toEqual(Buffer.from(all));
      const empty = await store.get(k2);
      expect(empty).toBeDefined();
      expect(empty!.byteLength).toBe(0);
    });

    it('round-trips a value of the largest size it declares', async () => {
      const size = Math.min(store.capabilities.maxValueBytes, options.maxValueBytesToTest ?? 1024 * 1024);
      const big = new Uint8Array(randomBytes(size));
      const k = key('big');
      await store.set(k, big, HOUR);
      const back = await store.get(k);
      expect(back?.byteLength).toBe(size);
      expect(Buffer.from(back!).equals(Buffer.from(big))).toBe(true);
    });

    it('keeps unicode keys apart and readable', async () => {
      const base = key('unicode');
      const keys = [`${base}:é`, `${base}:e\u0301`, `${base}:日本`, `${base}:😀`];
      for (const [i, k] of keys.entries()) await store.set(k, bytes(`v${i}`), HOUR);
      for (const [i, k] of keys.entries()) expect(text(await store.get(k))).toBe(`v${i}`);
    });

    it('overwrites a value with set', async () => {
      const k = key('overwrite');
      await store.set(k, bytes('one'), HOUR);
      await store.set(k, bytes('two'), HOUR);
      expect(text(await store.get(k))).toBe('two');
    });

    it('getMany keeps the order of keys and reports missing ones as undefined', async () => {
      const [a, b, c] = [key('many'), key('many'), key('many')];
      await store.set(a, bytes('A'), HOUR);
      await store.set(c, bytes('C'), HOUR);
      expect((await store.getMany([c, b, a])).map(text)).toEqual(['C', undefined, 'A']);
      expect(await store.getMany([])).toEqual([]);
    });

    it('setMany writes every entry, and deleteMany counts what it removed', async () => {
      const keys = Array.from({ length: 20 }, () => key('batch'));
      await store.setMany(keys.map((k, i) => ({ key: k, value: bytes(`v${i}`), ttlMs: HOUR })));
      expect((await store.getMany(keys)).map(text)).toEqual(keys.map((_, i) => `v${i}`));
      expect(await store.deleteMany([...keys.slice(0, 5), key('never-set')])).toBe(5);
      expect((await store.getMany(keys.slice(0, 6))).map(text)).toEqual([...Array(5).fill(undefined), 'v5']);
    });

    it('add stores only when the key is absent', async () => {
      const k = key('add');
      expect(await store.add(k, bytes('first'), HOUR)).toBe(true);
      expect(await store.add(k, bytes('second'), HOUR)).toBe(false);
      expect(text(await store.get(k))).toBe('first');
    });

    it('exactly one of 50 concurrent adds wins', async () => {
      const k = key('add-race');
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.add(k, bytes(`w${i}`), HOUR)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(text(await store.get(k))).toBe(`w${winner}`);
    });

    it('delete says whether a live entry was removed', async () => {
      const k = key('delete');
      await store.set(k, bytes('x'), HOUR);
      expect(await store.delete(k)).toBe(true);
      expect(await store.delete(k)).toBe(false);
      expect(await store.get(k)).toBeUndefined();
    });

    it('incr starts a missing key at delta, keeps ASCII decimal and adds atomically', async () => {
      const k = key('incr');
      expect(await store.incr(k, 5, HOUR)).toBe(5);
      expect(await store.incr(k, -7, HOUR)).toBe(-2);
      expect(text(await store.get(k))).toBe('-2');
      const ttl = await store.ttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(HOUR + store.capabilities.ttlGranularityMs);
    });

    it('200 concurrent incr add exactly 200', async () => {
      const k = key('incr-race');
      await Promise.all(Array.from({ length: 200 }, () => store.incr(k, 1, HOUR)));
      expect(text(await store.get(k))).toBe('200');
    });

    it('incr on a value that is not an integer rejects with NotIntegerError', async () => {
      const k = key('incr-text');
      await store.set(k, bytes('{"a":1}'), HOUR);
      await expect(store.incr(k, 1, HOUR)).rejects.toBeInstanceOf(NotIntegerError);
      expect(text(await store.get(k))).toBe('{"a":1}');
    });

    it('expires entries after their TTL, at the declared granularity', async () => {
      const granularity = store.capabilities.ttlGranularityMs;
      const ttl = Math.max(300, granularity);
      const k = key('expire');
      const kAdd = key('expire-add');
      await store.set(k, bytes('x'), ttl);
      await store.add(kAdd, bytes('old'), ttl);
      expect(text(await store.get(k))).toBe('x');
      await sleep(ttl + granularity + 150);
      expect(await store.get(k)).toBeUndefined();
      expect(await store.has(k)).toBe(false);
      expect(await store.getMany([k])).toEqual([undefined]);
      // An expired entry counts as absent for add.
      expect(await store.add(kAdd, bytes('new'), HOUR)).toBe(true);
      expect(text(await store.get(kAdd))).toBe('new');
    });

    it('touch extends the life of a live entry and says false for a missing one', async () => {
      const granularity = store.capabilities.ttlGranularityMs;
      const ttl = Math.max(300, granularity);
      const k = key('touch');
      await store.set(k, bytes('x'), ttl);
      expect(await store.touch(k, HOUR)).toBe(true);
      await sleep(ttl + granularity + 150);
      expect(text(await store.get(k))).toBe('x');
      expect(await store.touch(key('touch-missing'), HOUR)).toBe(false);
    });

    it('ttl reports the remaining time', async () => {
      const granularity = store.capabilities.ttlGranularityMs;
      const k = key('ttl');
      await store.set(k, bytes('x'), 60_000);
      const remaining = await store.ttl(k);
      expect(remaining).toBeGreaterThan(60_000 - granularity - 2000);
      expect(remaining).toBeLessThanOrEqual(60_000 + granularity);
    });

    it('keeps a key without expiry when asked to (ttl Infinity)', async () => {
      if (options.supportsNoExpiry === false) return;
      const k = key('forever');
      await store.set(k, bytes('x'), Number.POSITIVE_INFINITY);
      expect(await store.ttl(k)).toBe(Number.POSITIVE_INFINITY);
      await store.delete(k);
    });

    it('clear(prefix) removes the prefix and leaves other prefixes untouched', async () => {
      if (store.capabilities.clearScope !== 'prefix') return;
      const mine = `${run}clear-a:`;
      const theirs = `${run}clear-ab:`;
      const glob = `${run}clear-*?[x]%_\\:`;
      await store.setMany([
        { key: `${mine}1`, value: bytes('1'), ttlMs: HOUR },
        { key: `${mine}2`, value: bytes('2'), ttlMs: HOUR },
        { key: `${theirs}1`, value: bytes('3'), ttlMs: HOUR },
        { key: `${glob}1`, value: bytes('4'), ttlMs: HOUR },
      ]);
      await store.clear(mine);
      expect((await store.getMany([`${mine}1`, `${mine}2`, `${theirs}1`, `${glob}1`])).map(text)).toEqual([
        undefined,
        undefined,
        '3',
        '4',
      ]);
      // Glob and LIKE metacharacters in a prefix are literal.
      await store.clear(glob);
      expect(text(await store.get(`${theirs}1`))).toBe('3');
      expect(await store.get(`${glob}1`)).toBeUndefined();
    });

    it('info reports what the server knows', async () => {
      const info = await store.info();
      expect(typeof info).toBe('object');
      expect(typeof info.serverVersion).toBe('string');
    });

    it('close is idempotent', async () => {
      const other = await options.createStore();
      await other.close();
      await other.close();
    });
  });
}
