import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  CacheClosedError,
  CacheConfigError,
  CacheError,
  CacheUnavailableError,
  createCache,
  NotIntegerError,
  ValueTooLargeError,
} from '@larder/core';
import { bytes } from '@larder/testkit/helpers';
import { afterAll, describe, expect, it } from 'vitest';
import type { TableStore, TableStoreOptions } from '../src/index.js';

/** How the shared cases reach one backend. */
export interface TableStoreHarness<S extends TableStore> {
  create(options: TableStoreOptions): S;
  /** Runs raw SQL with `$1`-style parameters on the store's own connection. */
  raw(store: S, sql: string, values?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Installs a trigger that makes the database reject any insert or update of `key`. */
  rejectKey(store: S, key: string): Promise<void>;
}

const text = (value: Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value).toString('latin1');

/** Behaviour both table backends share beyond the store contract: one table design, one set of cases. */
export function describeTableStore<S extends TableStore>(name: string, harness: TableStoreHarness<S>): void {
  describe(`${name}: table design`, () => {
    const stores: S[] = [];
    const open = (options: TableStoreOptions = {}) => {
      const store = harness.create({
        table: `t_${randomBytes(5).toString('hex')}`,
        pruneInterval: 0,
        ...options,
      });
      stores.push(store);
      return store;
    };
    afterAll(async () => {
      for (const store of stores) {
        await harness.raw(store, `DROP TABLE IF EXISTS ${store.table.quoted}`).catch(() => undefined);
        await store.close();
      }
    });

    it('never returns an expired row, judged by the client clock alone', async () => {
      let now = 1_000_000;
      const store = open({ now: () => now });
      await store.set('k', bytes('v'), 100);
      expect(text(await store.get('k'))).toBe('v');
      expect(await store.ttl('k')).toBe(100);
      now += 100;
      expect(await store.get('k')).toBeUndefined();
      expect(await store.getMany(['k', 'k'])).toEqual([undefined, undefined]);
      expect(await store.has('k')).toBe(false);
      expect(await store.ttl('k')).toBeUndefined();
      expect(await store.touch('k', 1000)).toBe(false);
      // The row is still there until pruning: only reads hide it.
      const rows = await harness.raw(store, `SELECT expires_at FROM ${store.table.quoted}`);
      expect(rows.map((r) => Number(r.expires_at))).toEqual([1_000_100]);
    });

    it('stores expires_at as integer ms, NULL only for entries without expiry', async () => {
      const store = open({ now: () => 5_000 });
      await store.setMany([
        { key: 'a', value: bytes('1'), ttlMs: 250 },
        { key: 'b', value: bytes('2'), ttlMs: Number.POSITIVE_INFINITY },
      ]);
      const rows = await harness.raw(store, `SELECT key, expires_at FROM ${store.table.quoted} ORDER BY key`);
      expect(rows.map((r) => [r.key, r.expires_at === null ? null : Number(r.expires_at)])).toEqual([
        ['a', 5_250],
        ['b', null],
      ]);
      expect(await store.ttl('b')).toBe(Number.POSITIVE_INFINITY);
    });

    it('add replaces an expired row, and never a live one', async () => {
      let now = 0;
      const store = open({ now: () => now });
      expect(await store.add('k', bytes('first'), 100)).toBe(true);
      expect(await store.add('k', bytes('second'), 100)).toBe(false);
      now = 100;
      expect(await store.add('k', bytes('third'), 100)).toBe(true);
      expect(text(await store.get('k'))).toBe('third');
      expect(await store.ttl('k')).toBe(100);
    });

    it('incr restarts an expired counter with the new ttl and keeps a live counter’s expiry', async () => {
      let now = 0;
      const store = open({ now: () => now });
      expect(await store.incr('n', 3, 100)).toBe(3);
      now = 50;
      expect(await store.incr('n', 4, 10_000)).toBe(7);
      expect(await store.ttl('n')).toBe(50);
      now = 100;
      expect(await store.incr('n', 2, 10_000)).toBe(2);
      expect(await store.ttl('n')).toBe(10_000);
      await store.set('z', bytes('007'), 1000);
      expect(await store.incr('z', 1, 1000)).toBe(8);
      expect(text(await store.get('z'))).toBe('8');
    });

    it('incr rejects values that are not safe integers and leaves them unchanged', async () => {
      const store = open();
      const bad = [
        Buffer.from([0xff, 0xfe, 0x00]),
        bytes('1.5'),
        bytes(' 12'),
        bytes('12a'),
        bytes('-'),
        bytes(''),
        bytes('１２'),
        bytes(String(Number.MAX_SAFE_INTEGER)),
        bytes('12345678901234567'),
      ];
      for (const [i, value] of bad.entries()) {
        await store.set(`bad${i}`, value, 60_000);
        await expect(store.incr(`bad${i}`, 1, 60_000)).rejects.toBeInstanceOf(NotIntegerError);
        expect(Buffer.from((await store.get(`bad${i}`))!).equals(value)).toBe(true);
      }
      await store.set('max', bytes(String(Number.MAX_SAFE_INTEGER - 1)), 60_000);
      expect(await store.incr('max', 1, 60_000)).toBe(Number.MAX_SAFE_INTEGER);
      expect(await store.incr('max', -Number.MAX_SAFE_INTEGER, 60_000)).toBe(0);
    });

    it('setMany keeps the last entry for a repeated key', async () => {
      const store = open();
      await store.setMany([
        { key: 'b', value: bytes('b1'), ttlMs: 60_000 },
        { key: 'a', value: bytes('a1'), ttlMs: 60_000 },
        { key: 'b', value: bytes('b2'), ttlMs: 60_000 },
      ]);
      expect((await store.getMany(['a', 'b', 'a'])).map(text)).toEqual(['a1', 'b2', 'a1']);
    });

    it('delete and deleteMany count only live rows, and remove expired ones too', async () => {
      let now = 0;
      const store = open({ now: () => now });
      await store.setMany([
        { key: 'old1', value: bytes('x'), ttlMs: 10 },
        { key: 'old2', value: bytes('x'), ttlMs: 10 },
        { key: 'live1', value: bytes('x'), ttlMs: 1000 },
        { key: 'live2', value: bytes('x'), ttlMs: 1000 },
      ]);
      now = 10;
      expect(await store.delete('old1')).toBe(false);
      expect(await store.deleteMany(['live1', 'old2', 'nope', 'live1'])).toBe(1);
      expect(await store.delete('live2')).toBe(true);
      expect(await harness.raw(store, `SELECT key FROM ${store.table.quoted}`)).toEqual([]);
    });

    it('clear treats %, _, the escape character and glob characters literally, and is case-sensitive', async () => {
      const store = open();
      const keys = ['p%1', 'p%2', 'pa1', 'p_1', 'pb1', 'p\\1', 'p\\\\1', 'p*1', 'p[1', 'P%1', 'p?1'];
      await store.setMany(keys.map((key) => ({ key, value: bytes(key), ttlMs: 60_000 })));
      const left = async () =>
        (await harness.raw(store, `SELECT key FROM ${store.table.quoted}`))
          .map((r) => r.key as string)
          .sort();
      await store.clear('p%');
      await store.clear('p_');
      await store.clear('p\\1');
      await store.clear('p*');
      await store.clear('p[');
      expect(await left()).toEqual(['P%1', 'p?1', 'p\\\\1', 'pa1', 'pb1'].sort());
      await store.clear('');
      expect(await left()).toEqual([]);
    });

    it('prune deletes expired rows in batches of pruneBatch and keeps live ones', async () => {
      let now = 0;
      const store = open({ now: () => now, pruneBatch: 10 });
      await store.setMany(
        Array.from({ length: 35 }, (_, i) => ({ key: `old${i}`, value: bytes('x'), ttlMs: 5 })),
      );
      await store.setMany(
        Array.from({ length: 5 }, (_, i) => ({ key: `new${i}`, value: bytes('x'), ttlMs: 500 })),
      );
      now = 5;
      expect((await store.info()).expiredItems).toBe(35);
      expect(await store.prune()).toEqual({ expired: 35, culled: 0 });
      const info = await store.info();
      expect(info.items).toBe(5);
      expect(info.expiredItems).toBe(0);
    });

    it('culls the rows that expire soonest once the table holds more than maxEntries', async () => {
      const store = open({ now: () => 0, maxEntries: 30, cullFraction: 1 / 3 });
      await store.setMany([
        ...Array.from({ length: 44 }, (_, i) => ({
          key: `k${String(i).padStart(2, '0')}`,
          value: bytes('x'),
          ttlMs: 1000 + i,
        })),
        { key: 'forever', value: bytes('x'), ttlMs: Number.POSITIVE_INFINITY },
      ]);
      expect(await store.prune()).toEqual({ expired: 0, culled: 15 });
      const rows = await harness.raw(store, `SELECT key FROM ${store.table.quoted}`);
      const kept = rows.map((r) => r.key as string).sort();
      expect(kept).toHaveLength(30);
      expect(kept).toContain('forever');
      expect(kept.filter((key) => key < 'k15')).toEqual(['forever']);
      expect((await store.info()).evictions).toBe(15);
    });

    it('checks the table size in the background after a run of writes, not on every write', async () => {
      const store = open({ maxEntries: 500 });
      await store.setMany(
        Array.from({ length: 1200 }, (_, i) => ({ key: `w${i}`, value: bytes('x'), ttlMs: 60_000 + i })),
      );
      // 1200 writes passed the check threshold (1000): one background pass culls to maxEntries.
      const deadline = Date.now() + 3000;
      while ((await store.info()).items !== 500 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect((await store.info()).items).toBe(500);
      expect(await store.get('w1199')).toBeDefined();
      expect(await store.get('w0')).toBeUndefined();
    });

    it('with createTable false, a missing table is a typed error until createCacheTable() runs', async () => {
      const store = open({ createTable: false });
      await expect(store.get('k')).rejects.toBeInstanceOf(CacheUnavailableError);
      await store.createCacheTable();
      await store.createCacheTable();
      await store.set('k', bytes('v'), 1000);
      expect(text(await store.get('k'))).toBe('v');
    });

    it('rejects table names that are not plain identifiers, and bad numbers, in the constructor', () => {
      for (const table of ['', 'a b', 'x;DROP TABLE y', '"q"', '1abc', 'a.b.c', 'é']) {
        expect(() => harness.create({ table })).toThrow(CacheConfigError);
      }
      expect(() => harness.create({ maxEntries: 0 })).toThrow(CacheConfigError);
      expect(() => harness.create({ cullFraction: 2 })).toThrow(CacheConfigError);
      expect(() => harness.create({ pruneBatch: 0.5 })).toThrow(CacheConfigError);
      expect(() => harness.create({ pruneInterval: -1 })).toThrow(CacheConfigError);
    });

    it('rejects unknown options naming the nearest one, and options of the wrong type', () => {
      expect(() => harness.create({ pruneIntervl: 5 } as TableStoreOptions)).toThrow(
        /unknown option pruneIntervl.*did you mean pruneInterval/,
      );
      expect(() => harness.create({ maxEntries: '10' } as unknown as TableStoreOptions)).toThrow(
        /maxEntries/,
      );
      expect(() => harness.create({ createTable: 'no' } as unknown as TableStoreOptions)).toThrow(
        /createTable/,
      );
    });

    it('keys(prefix) pages through live keys under the prefix only, LIKE/GLOB characters taken literally', async () => {
      let now = 1_000_000;
      const store = open({ now: () => now });
      const prefix = 'a%_*[?]\\:';
      const keys = Array.from({ length: 1234 }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
      await store.setMany(keys.map((key) => ({ key, value: bytes('v'), ttlMs: 60_000 })));
      await store.set(`${prefix}expired`, bytes('v'), 10);
      for (const other of ['aXY*[?]\\:1', 'a%_x[?]\\:1', 'A%_*[?]\\:1', 'b'])
        await store.set(other, bytes('v'), 60_000);
      now += 20;
      const listed: string[] = [];
      for await (const key of store.keys(prefix)) listed.push(key);
      expect(listed).toEqual(keys);
      expect(store.capabilities.listKeys).toBe(true);
    });

    it('prints itself as backend, endpoint and table through inspect, JSON and String', () => {
      const store = open();
      for (const shown of [inspect(store), JSON.stringify(store), String(store)]) {
        expect(shown).toContain(store.table.raw);
      }
    });

    it('info reports bytes, items, expired items, the policy and the server version', async () => {
      const store = open();
      await store.set('k', bytes('v'), 60_000);
      const info = await store.info();
      expect(info.bytesUsed).toBeGreaterThan(0);
      expect(info.items).toBe(1);
      expect(info.expiredItems).toBe(0);
      expect(info.evictionPolicy).toBe('cull');
      expect(info.serverVersion).toMatch(/\d+\.\d+/);
    });

    it('serves a cache whose keys are too long for an index: the cache hashes them', async () => {
      const store = open();
      const cache = createCache({ store, ignoreErrors: false });
      const long = 'k'.repeat(10_000);
      await cache.set(long, { n: 1 });
      expect(await cache.get(long)).toEqual({ n: 1 });
      expect(await cache.incr('hits')).toBe(1);
      await cache.clear();
      expect(await cache.get(long)).toBeUndefined();
    });

    it('sets of one key in one tick: the last one wins and every caller resolves', async () => {
      const store = open();
      const writes = Array.from({ length: 50 }, (_, i) => store.set('same', bytes(`v${i}`), 60_000));
      const others = Array.from({ length: 20 }, (_, i) => store.set(`other${i}`, bytes(`o${i}`), 60_000));
      expect(await Promise.all([...writes, ...others])).toEqual(Array(70).fill(undefined));
      expect(text(await store.get('same'))).toBe('v49');
      expect(text(await store.get('other19'))).toBe('o19');
      const rows = await harness.raw(store, `SELECT count(*) AS n FROM ${store.table.quoted}`);
      expect(Number(rows[0]?.n)).toBe(21);
    });

    it('a key set again while its earlier write is still in flight ends with the later value', async () => {
      const store = open();
      for (let i = 0; i < 20; i++) {
        const first = store.set('order', bytes(`a${i}`), 60_000);
        await new Promise((resolve) => process.nextTick(resolve));
        const second = Promise.all([
          store.set('order', bytes(`b${i}`), 60_000),
          store.set(`x${i}`, bytes('x'), 60_000),
        ]);
        await Promise.all([first, second]);
        expect(text(await store.get('order'))).toBe(`b${i}`);
      }
    });

    it('sets of one tick where one value is too large: only that caller fails, the rest land', async () => {
      const store = open({ maxValueBytes: 100 });
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          store.set(`k${i}`, i === 7 ? Buffer.alloc(101, 1) : bytes(`v${i}`), 60_000),
        ),
      );
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      expect((results[7] as PromiseRejectedResult).reason).toBeInstanceOf(ValueTooLargeError);
      expect(text(await store.get('k29'))).toBe('v29');
      expect(await store.get('k7')).toBeUndefined();
    });

    it('sets of one tick where the database rejects one row: only that caller fails, the rest land', async () => {
      const store = open();
      await store.set('bad', bytes('before'), 60_000);
      await harness.rejectKey(store, 'bad');
      const keys = Array.from({ length: 30 }, (_, i) =>
        i === 12 ? 'bad' : `k${String(i).padStart(2, '0')}`,
      );
      const results = await Promise.allSettled(
        keys.map((key) => store.set(key, bytes(`new ${key}`), 60_000)),
      );
      const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [keys[i]] : []));
      expect(failed).toEqual(['bad']);
      expect((results[12] as PromiseRejectedResult).reason).toBeInstanceOf(CacheError);
      expect(text(await store.get('bad'))).toBe('before');
      for (const key of keys.filter((k) => k !== 'bad'))
        expect(text(await store.get(key))).toBe(`new ${key}`);
    });

    it('a tick whose first set (sent alone) is rejected by the database: only that caller fails', async () => {
      const store = open();
      await store.set('bad', bytes('before'), 60_000);
      await harness.rejectKey(store, 'bad');
      const keys = ['bad', 'k1', 'k2', 'k3'];
      const results = await Promise.allSettled(
        keys.map((key) => store.set(key, bytes(`new ${key}`), 60_000)),
      );
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(CacheError);
      // Alone again: nothing else in flight.
      await expect(store.set('bad', bytes('again'), 60_000)).rejects.toBeInstanceOf(CacheError);
      expect(text(await store.get('bad'))).toBe('before');
      for (const key of keys.slice(1)) expect(text(await store.get(key))).toBe(`new ${key}`);
    });

    it('increments of one tick, many per key: exact totals, each caller its own count, a non-integer fails alone', async () => {
      let now = 0;
      const store = open({ now: () => now });
      await store.set('text', bytes('abc'), 60_000);
      expect(await store.incr('old', 5, 10)).toBe(5);
      now = 10;
      const calls: Promise<number>[] = [];
      for (let i = 0; i < 30; i++) calls.push(store.incr(`c${i % 3}`, 1, 60_000));
      calls.push(store.incr('text', 1, 60_000), store.incr('old', 2, 60_000));
      const results = await Promise.allSettled(calls);
      for (let k = 0; k < 3; k++) {
        const counts = results
          .slice(0, 30)
          .filter((_, i) => i % 3 === k)
          .map((r) => (r as PromiseFulfilledResult<number>).value);
        expect(counts.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      }
      expect((results[30] as PromiseRejectedResult).reason).toBeInstanceOf(NotIntegerError);
      // An expired counter starts again at the delta, with the new ttl.
      expect((results[31] as PromiseFulfilledResult<number>).value).toBe(2);
      expect(await store.ttl('old')).toBe(60_000);
      expect(text(await store.get('text'))).toBe('abc');
    });

    it('incr, add, touch and delete of one tick each get their own answer', async () => {
      const store = open();
      await store.set('text', bytes('abc'), 60_000);
      await store.set('live', bytes('x'), 60_000);
      await store.set('gone', bytes('x'), 60_000);
      const [n1, n2, n3, notInt, added, notAdded, touched, missing, deleted] = await Promise.allSettled([
        store.incr('n', 1, 60_000),
        store.incr('n', 2, 60_000),
        store.incr('n', 3, 60_000),
        store.incr('text', 1, 60_000),
        store.add('fresh', bytes('f'), 60_000),
        store.add('live', bytes('y'), 60_000),
        store.touch('live', 120_000),
        store.touch('nothing', 1000),
        store.delete('gone'),
      ]);
      // Each incr sees the others that ran before it (in any order on a pool): running totals ending at 6.
      const counts = [n1, n2, n3].map((r) => (r as PromiseFulfilledResult<number>).value);
      expect(new Set(counts).size).toBe(3);
      expect(Math.max(...counts)).toBe(6);
      expect((notInt as PromiseRejectedResult).reason).toBeInstanceOf(NotIntegerError);
      const answers = [added, notAdded, touched, missing, deleted];
      expect(answers.map((r) => (r as PromiseFulfilledResult<boolean>).value)).toEqual([
        true,
        false,
        true,
        false,
        true,
      ]);
      expect(text(await store.get('text'))).toBe('abc');
      expect(text(await store.get('live'))).toBe('x');
      expect(await store.get('gone')).toBeUndefined();
    });

    it('close is idempotent and later calls throw CacheClosedError', async () => {
      const store = open();
      await store.set('k', bytes('v'), 1000);
      await harness.raw(store, `DROP TABLE ${store.table.quoted}`);
      stores.splice(stores.indexOf(store), 1);
      await store.close();
      await store.close();
      await expect(store.get('k')).rejects.toBeInstanceOf(CacheClosedError);
      await expect(store.set('k', bytes('v'), 1000)).rejects.toBeInstanceOf(CacheClosedError);
    });
  });
}
