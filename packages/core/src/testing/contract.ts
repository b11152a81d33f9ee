import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheClosedError, NotIntegerError } from '../errors.js';
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
  /**
   * Each `createStore()` call gets data of its own (MemoryStore, SQLite `:memory:`), so the
   * cross-instance tests do not apply. @default false
   */
  separateInstances?: boolean;
}

/** A value up to this size is written to check that one byte more is refused. */
const OVER_LIMIT_TEST_MAX = 64 * 1024 * 1024;

const bytes = (text: string) => new Uint8Array(Buffer.from(text));
const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** [prefix to clear, a key (without the run prefix) it would remove only as a wildcard pattern]. */
const WILDCARD_CASES: readonly (readonly [string, string])[] = [
  ['w%:', 'wZZ:'],
  ['w_:', 'wZ:'],
  ['w*:', 'wab:'],
  ['w?:', 'wb:'],
  ['w[ab]:', 'wa:'],
  ['w\\:', 'w:'],
];

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
      expect(typeof store.keys === 'function').toBe(c.listKeys === true);
    });

    it('an inProcess store settles every call before any timer can fire (the cache arms no deadline for it)', async (ctx) => {
      if (store.capabilities.inProcess !== true) ctx.skip('the store does not declare inProcess');
      const order: string[] = [];
      const timer = new Promise<void>((resolve) =>
        setTimeout(() => {
          order.push('timer');
          resolve();
        }, 0),
      );
      const k = key('in-process');
      await Promise.all([
        store.set(k, bytes('x'), HOUR).then(() => order.push('set')),
        store.get(k).then(() => order.push('get')),
        store.incr(key('in-process-n'), 1, HOUR).then(() => order.push('incr')),
        timer,
      ]);
      expect(order.at(-1)).toBe('timer');
    });

    it('has() is true for a live key', async () => {
      const k = key('has');
      await store.set(k, bytes('x'), HOUR);
      expect(await store.has(k)).toBe(true);
      const empty = key('has-empty');
      await store.set(empty, new Uint8Array(0), HOUR);
      expect(await store.has(empty)).toBe(true);
    });

    it('round-trips a key of exactly maxKeyBytes bytes', async () => {
      const size = Math.min(store.capabilities.maxKeyBytes, 64 * 1024);
      const base = key('max-key');
      const k = base + 'k'.repeat(size - Buffer.byteLength(base));
      expect(Buffer.byteLength(k)).toBe(size);
      await store.set(k, bytes('long'), HOUR);
      expect(text(await store.get(k))).toBe('long');
      expect(await store.has(k)).toBe(true);
    });

    it('refuses a value one byte over maxValueBytes with E_VALUE_TOO_LARGE and keeps the old one', async (ctx) => {
      const limit = store.capabilities.maxValueBytes;
      if (limit > OVER_LIMIT_TEST_MAX) ctx.skip(`maxValueBytes ${limit} is too large to allocate in a test`);
      const k = key('over-limit');
      await store.set(k, bytes('old'), HOUR);
      await expect(store.set(k, new Uint8Array(limit + 1), HOUR)).rejects.toMatchObject({
        code: 'E_VALUE_TOO_LARGE',
      });
      await expect(
        store.setMany([{ key: k, value: new Uint8Array(limit + 1), ttlMs: HOUR }]),
      ).rejects.toMatchObject({ code: 'E_VALUE_TOO_LARGE' });
      expect(text(await store.get(k))).toBe('old');
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

    it('getMany answers a repeated key in every slot it appears in', async () => {
      const [a, b] = [key('repeat'), key('repeat')];
      await store.set(a, bytes('A'), HOUR);
      expect((await store.getMany([a, b, a, a, b])).map(text)).toEqual(['A', undefined, 'A', 'A', undefined]);
    });

    it('setMany writes every entry, and deleteMany counts what it removed', async () => {
      const keys = Array.from({ length: 20 }, () => key('batch'));
      await store.setMany(keys.map((k, i) => ({ key: k, value: bytes(`v${i}`), ttlMs: HOUR })));
      expect((await store.getMany(keys)).map(text)).toEqual(keys.map((_, i) => `v${i}`));
      expect(await store.deleteMany([...keys.slice(0, 5), key('never-set')])).toBe(5);
      expect((await store.getMany(keys.slice(0, 6))).map(text)).toEqual([...Array(5).fill(undefined), 'v5']);
    });

    it('setMany writes each entry with its own TTL', async () => {
      const granularity = store.capabilities.ttlGranularityMs;
      const [short, long] = [key('batch-ttl'), key('batch-ttl')];
      await store.setMany([
        { key: short, value: bytes('s'), ttlMs: 60_000 },
        { key: long, value: bytes('l'), ttlMs: HOUR },
      ]);
      const [shortTtl, longTtl] = [await store.ttl(short), await store.ttl(long)];
      expect(shortTtl).toBeGreaterThan(60_000 - granularity - 2000);
      expect(shortTtl).toBeLessThanOrEqual(60_000 + granularity);
      expect(longTtl).toBeGreaterThan(HOUR - granularity - 2000);
      expect(longTtl).toBeLessThanOrEqual(HOUR + granularity);
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

    it('incr on an existing key keeps the TTL it had', async () => {
      const granularity = store.capabilities.ttlGranularityMs;
      const k = key('incr-ttl');
      await store.set(k, bytes('1'), 60_000);
      expect(await store.incr(k, 1, HOUR)).toBe(2);
      const ttl = await store.ttl(k);
      expect(ttl).toBeGreaterThan(60_000 - granularity - 2000);
      expect(ttl).toBeLessThanOrEqual(60_000 + granularity);
    });

    it('incr refuses to leave the safe-integer range and keeps the stored value readable', async () => {
      const k = key('incr-edge');
      const top = String(Number.MAX_SAFE_INTEGER);
      await store.set(k, bytes(top), HOUR);
      await expect(store.incr(k, 1, HOUR)).rejects.toBeInstanceOf(NotIntegerError);
      expect(text(await store.get(k))).toBe(top);
      const bottom = String(-Number.MAX_SAFE_INTEGER);
      await store.set(k, bytes(bottom), HOUR);
      await expect(store.incr(k, -1, HOUR)).rejects.toBeInstanceOf(NotIntegerError);
      expect(text(await store.get(k))).toBe(bottom);
      expect(await store.incr(k, 1, HOUR)).toBe(-Number.MAX_SAFE_INTEGER + 1);
    });

    it.skipIf(options.separateInstances === true)(
      'concurrent incr through two store instances adds exactly 200',
      async () => {
        const other = await options.createStore();
        try {
          const k = key('incr-two');
          await Promise.all(
            Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? store : other).incr(k, 1, HOUR)),
          );
          expect(text(await store.get(k))).toBe('200');
          expect(text(await other.get(k))).toBe('200');
        } finally {
          await other.close();
        }
      },
    );

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

    it.skipIf(options.supportsNoExpiry === false)(
      'keeps a key without expiry when asked to (ttl Infinity)',
      async () => {
        const k = key('forever');
        await store.set(k, bytes('x'), Number.POSITIVE_INFINITY);
        expect(await store.ttl(k)).toBe(Number.POSITIVE_INFINITY);
        await store.delete(k);
      },
    );

    it('clear(prefix) removes the prefix and leaves other prefixes untouched', async (ctx) => {
      if (store.capabilities.clearScope !== 'prefix') ctx.skip('the store clears by generation');
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

    it('clear(prefix) reads %, _, *, ?, [ and \\ literally: keys they would match as wildcards stay', async (ctx) => {
      if (store.capabilities.clearScope !== 'prefix') ctx.skip('the store clears by generation');
      const survivors = WILDCARD_CASES.map(([, other]) => `${run}${other}1`);
      await store.setMany(survivors.map((k) => ({ key: k, value: bytes('stay'), ttlMs: HOUR })));
      for (const [pattern] of WILDCARD_CASES) await store.clear(`${run}${pattern}`);
      expect((await store.getMany(survivors)).map(text)).toEqual(survivors.map(() => 'stay'));
    });

    it('keys(prefix) lists exactly the live keys under the prefix, wildcards read literally', async (ctx) => {
      const list = store.keys?.bind(store);
      if (store.capabilities.listKeys !== true || list === undefined) {
        ctx.skip('the store cannot list keys');
        return;
      }
      const granularity = store.capabilities.ttlGranularityMs;
      const mine = `${run}list-a_%*:`;
      const live = Array.from({ length: 30 }, (_, i) => `${mine}${i}`);
      await store.setMany(live.map((k) => ({ key: k, value: bytes('x'), ttlMs: HOUR })));
      await store.set(`${mine}expired`, bytes('x'), Math.max(granularity, 50));
      // Would be listed only if '_', '%' or '*' were read as wildcards.
      await store.set(`${run}list-ab%*:1`, bytes('x'), HOUR);
      await store.set(`${run}list-a_xx*:1`, bytes('x'), HOUR);
      await store.set(`${run}list-a_%X:1`, bytes('x'), HOUR);
      await sleep(Math.max(granularity, 50) + granularity + 100);
      const found: string[] = [];
      for await (const k of list(mine)) found.push(k);
      expect(found.sort()).toEqual([...live].sort());
    });

    it('info reports what the server knows', async () => {
      const info = await store.info();
      expect(typeof info).toBe('object');
      expect(typeof info.serverVersion).toBe('string');
    });

    it('close is idempotent, and calls after close are rejected', async () => {
      const other = await options.createStore();
      await other.close();
      await other.close();
      for (const call of [() => other.get(key('closed')), () => other.set(key('closed'), bytes('x'), HOUR)]) {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(CacheClosedError);
      }
    });
  });
}
