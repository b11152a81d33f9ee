import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStoreContract } from '@larder/core/testing';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { type SqliteStore, type SqliteStoreOptions, sqliteStore } from '../src/sqlite.js';
import { describeTableStore } from './table-store-cases.js';

const dir = mkdtempSync(join(tmpdir(), 'larder-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (options: SqliteStoreOptions = {}) => sqliteStore({ path: join(dir, 'cache.db'), ...options });

describeStoreContract({ name: 'SqliteStore (file)', createStore: () => file() });
describeStoreContract({
  name: 'SqliteStore (:memory:)',
  createStore: () => sqliteStore({ path: ':memory:' }),
  separateInstances: true,
});

const raw = async (store: SqliteStore, sql: string, values: unknown[] = []) => {
  const statement = store.client.prepare(sql);
  const named = Object.fromEntries(values.map((v, i) => [i + 1, v]));
  if (statement.reader) return statement.all(named) as Record<string, unknown>[];
  statement.run(named);
  return [];
};
const rejectKey = async (store: SqliteStore, key: string) => {
  const t = store.table.quoted;
  const name = `reject_${store.table.raw}`;
  for (const event of ['INSERT', 'UPDATE']) {
    store.client.exec(
      `CREATE TRIGGER ${name}_${event} BEFORE ${event} ON ${t} WHEN NEW.key = '${key}' BEGIN SELECT RAISE(ABORT, 'rejected by the test'); END`,
    );
  }
};
describeTableStore<SqliteStore>('SqliteStore (file)', { create: (options) => file(options), raw, rejectKey });
describeTableStore<SqliteStore>('SqliteStore (:memory:)', {
  create: (options) => sqliteStore({ path: ':memory:', ...options }),
  raw,
  rejectKey,
});

describe('SqliteStore specifics', () => {
  it('opens files in WAL mode with synchronous=NORMAL and a 20 ms busy timeout (the rest of a wait is asynchronous)', async () => {
    const store = file({ table: 'pragmas' });
    await store.set('k', Buffer.from('v'), 1000);
    expect(store.client.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.client.pragma('synchronous', { simple: true })).toBe(1);
    expect(store.client.pragma('busy_timeout', { simple: true })).toBe(20);
    expect((await store.info()).journalMode).toBe('wal');
    await store.close();
  });

  it('creates a WITHOUT ROWID table and no expiry index (each write touches one b-tree)', async () => {
    const store = file({ table: 'layout' });
    await store.createCacheTable();
    const sql = store.client
      .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'layout' ORDER BY type DESC")
      .pluck()
      .all() as string[];
    expect(sql).toHaveLength(1);
    expect(sql[0]).toMatch(/WITHOUT ROWID/);
    await store.close();
  });

  it('a table made by an earlier version (with an expiry index) keeps its rows, loses the index and works', async () => {
    const path = join(dir, 'old-schema.db');
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    old.exec(
      'CREATE TABLE larder_cache (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, expires_at INTEGER) WITHOUT ROWID; ' +
        'CREATE INDEX larder_cache_expires_at_idx ON larder_cache (expires_at);',
    );
    const insert = old.prepare('INSERT INTO larder_cache VALUES (?, ?, ?)');
    insert.run('kept', Buffer.from('old value'), Date.now() + 60_000);
    insert.run('stale', Buffer.from('x'), Date.now() - 1);
    old.close();
    const indexes = (store: SqliteStore) =>
      store.client
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'larder_cache'")
        .pluck()
        .all();

    // Without DDL rights the old index stays, and everything still works through it.
    const untouched = sqliteStore({ path, createTable: false, pruneInterval: 0 });
    expect(Buffer.from((await untouched.get('kept'))!).toString()).toBe('old value');
    await untouched.set('new', Buffer.from('n'), 60_000);
    expect(indexes(untouched)).toEqual(['larder_cache_expires_at_idx']);
    await untouched.close();

    const store = sqliteStore({ path, pruneInterval: 0 });
    expect(Buffer.from((await store.get('kept'))!).toString()).toBe('old value');
    expect(indexes(store)).toEqual([]);
    await Promise.all([store.set('a', Buffer.from('1'), 60_000), store.incr('n', 2, 60_000)]);
    expect(await store.prune()).toEqual({ expired: 1, culled: 0 });
    expect((await store.info()).items).toBe(4);
    await store.close();
  });

  it('prunes a table larger than one walk slice, continuing where the last pass stopped', async () => {
    let now = 0;
    const store = file({ table: 'walk', now: () => now, pruneBatch: 2, pruneInterval: 0 });
    // 30 rows, every third one expiring; a slice is 20 rows and a pass at most 100 slices.
    await store.setMany(
      Array.from({ length: 30 }, (_, i) => ({
        key: `k${String(i).padStart(2, '0')}`,
        value: Buffer.from('v'),
        ttlMs: i % 3 === 0 ? 10 : 60_000,
      })),
    );
    now = 10;
    expect(await store.prune()).toEqual({ expired: 10, culled: 0 });
    expect((await store.info()).items).toBe(20);
    await store.close();
  });

  it('uses a given handle without closing it', async () => {
    const db = new Database(':memory:');
    const store = sqliteStore({ database: db });
    await store.set('k', Buffer.from('v'), 1000);
    await store.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT count(*) AS n FROM larder_cache').get()).toEqual({ n: 1 });
    db.close();
  });

  it('keeps one :memory: database per store', async () => {
    const a = sqliteStore();
    const b = sqliteStore();
    await a.set('k', Buffer.from('a'), 1000);
    expect(await b.get('k')).toBeUndefined();
    await a.close();
    await b.close();
  });

  it('rejects schema-qualified table names and bad busy timeouts', () => {
    expect(() => sqliteStore({ table: 'main.cache' })).toThrow(/not a valid name/);
    expect(() => sqliteStore({ busyTimeout: -1 })).toThrow(/busyTimeout/);
  });
});
