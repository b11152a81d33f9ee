import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BenchBackend, Entries, MemoryProbe, RawDriver } from './backend.js';
import * as kit from './backend.js';
import { closeQuietly, importPackage } from './load.js';

type SqliteModule = typeof import('@larder/backend-db/sqlite');

/** A bare key-value table: what an app would write by hand (WITHOUT ROWID, like Larder's, so the key is stored once). */
const RAW_TABLE_SQL =
  'CREATE TABLE IF NOT EXISTS bench_raw (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID';

function openRaw(path: string): Database.Database {
  const db = new Database(path, { timeout: 100 });
  // The same settings as Larder's SqliteStore, so the comparison is about the code, not the pragmas.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(RAW_TABLE_SQL);
  return db;
}

function rawDriver(db: Database.Database): RawDriver {
  const get = db.prepare<[string], Buffer>('SELECT value FROM bench_raw WHERE key = ?').pluck();
  const put = db.prepare<[string, Buffer]>(
    'INSERT INTO bench_raw (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const many = db.prepare<[string], { key: string; value: Buffer }>(
    'SELECT key, value FROM bench_raw WHERE key IN (SELECT value FROM json_each(?))',
  );
  // `.all()`, not `.get()`: `.get()` leaves a RETURNING statement unfinished until its next
  // run, so no checkpoint can reset the write-ahead log and it grows by a page per commit
  // (2 GB in eight 600 ms rounds), slowing every later write.
  const incr = db
    .prepare<[string], number>(
      'INSERT INTO bench_raw (key, value) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value',
    )
    .pluck();
  const putMany = db.transaction((entries: Entries) => {
    for (const [key, value] of entries) put.run(key, Buffer.from(kit.encodeRaw(value)));
  });
  return {
    get: async (key) => kit.decodeRaw(get.get(key)),
    set: async (key, value) => put.run(key, Buffer.from(kit.encodeRaw(value))).changes === 1,
    getMany: async (keys) => {
      const found = new Map<string, Buffer>();
      for (const row of many.all(JSON.stringify(keys))) found.set(row.key, row.value);
      return keys.map((key) => kit.decodeRaw(found.get(key)));
    },
    incr: async (key) => incr.all(key)[0],
    load: async (entries) => putMany(entries),
  };
}

/** File bytes after `db` folds the write-ahead log back in: what the data costs on disk. */
function fileBytes(db: Database.Database, path: string): number {
  db.pragma('wal_checkpoint(TRUNCATE)');
  const wal = `${path}-wal`;
  return statSync(path).size + (existsSync(wal) ? statSync(wal).size : 0);
}

function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
}

/** SqliteStore through Larder beside better-sqlite3 prepared statements on a bare table, each in its own file. */
export async function createSqliteBackend(tempDir: string): Promise<BenchBackend> {
  const { sqliteStore } = await importPackage<SqliteModule>('@larder/backend-db/sqlite');
  // Culling off: the bench measures speed, not the size cap.
  const unbounded = (path: string) => ({ path, maxEntries: Number.POSITIVE_INFINITY });
  const store = sqliteStore(unbounded(join(tempDir, 'larder.db')));
  const larder = kit.benchCache(store);
  const version = String(store.client.prepare('SELECT sqlite_version()').pluck().get());
  const rawDb = openRaw(join(tempDir, 'raw.db'));
  const memory: MemoryProbe = {
    methods: { larder: 'SQLite file size delta after wal_checkpoint(TRUNCATE)', raw: 'same, bare table' },
    async open(side) {
      const path = join(tempDir, `memory-${side}.db`);
      removeDb(path);
      const memoryStore =
        side === 'larder' ? sqliteStore({ ...unbounded(path), pruneInterval: 0 }) : undefined;
      const cache = memoryStore && (await kit.primedLoader(memoryStore));
      const db = memoryStore?.client ?? openRaw(path);
      return {
        write: cache ? kit.larderLoader(cache) : rawDriver(db).load,
        bytes: async () => fileBytes(db, path),
        close: async () => {
          await closeQuietly(cache);
          if (db.open) db.close();
          removeDb(path);
        },
        parallel: 1,
      };
    },
  };
  return {
    name: 'sqlite',
    rawClient: 'better-sqlite3 prepared statements',
    server: { version: `SQLite ${version}`, source: 'embedded', address: tempDir },
    ...kit.EMBEDDED,
    larder,
    raw: rawDriver(rawDb),
    memory,
    // The files go with the run's temp dir.
    teardown: kit.once(async () => {
      await closeQuietly(larder);
      rawDb.close();
    }),
  };
}
