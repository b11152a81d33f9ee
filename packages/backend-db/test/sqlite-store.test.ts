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
describeTableStore<SqliteStore>('SqliteStore (file)', { create: (options) => file(options), raw });
describeTableStore<SqliteStore>('SqliteStore (:memory:)', {
  create: (options) => sqliteStore({ path: ':memory:', ...options }),
  raw,
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
