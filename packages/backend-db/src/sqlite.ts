import {
  CacheConfigError,
  CacheUnavailableError,
  type StoreError,
  StoreFullError,
  type StoreInfo,
  StorePermissionError,
  StoreTimeoutError,
  ValueTooLargeError,
} from '@larder/core';
import Database from 'better-sqlite3';
import type { TableName } from './sql.js';
import {
  type SqlDialect,
  type SqlRow,
  type SqlStatement,
  TableStore,
  type TableStoreOptions,
} from './table-store.js';

/** Options for `SqliteStore`: a database file (or an open handle) plus the table settings. */
export interface SqliteStoreOptions extends TableStoreOptions {
  /** Database file, created if missing; ':memory:' for a private in-process database. Ignored when `database` is given. @default ':memory:' */
  path?: string;
  /** An open better-sqlite3 handle to use instead of opening `path`; the store never closes it and leaves its pragmas alone (except `busyTimeout` when set). */
  database?: Database.Database;
  /**
   * How long a write waits for another connection's lock, in ms. better-sqlite3 is
   * synchronous, so this wait blocks the event loop: keep it small. @default 100
   */
  busyTimeout?: number;
}

/** A lone UTF-16 surrogate has no UTF-8 form; the cache hashes such keys. */
const SQLITE_FORBIDDEN_KEY_CHARS = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A cache table in SQLite over better-sqlite3: WAL, `synchronous=NORMAL`, a short busy
 * timeout and reused prepared statements. The file is opened on first use: a file that is
 * not a database, or a directory that does not exist, makes each call fail with a typed
 * error (misses under `ignoreErrors`) instead of crashing the app. See `TableStore`.
 */
export class SqliteStore extends TableStore {
  readonly #dialect: SqliteDialect;

  constructor(options: SqliteStoreOptions = {}) {
    const busyTimeout = options.busyTimeout;
    if (
      busyTimeout !== undefined &&
      !(Number.isInteger(busyTimeout) && busyTimeout >= 0 && busyTimeout <= 60_000)
    ) {
      throw new CacheConfigError(
        `busyTimeout must be an integer number of ms from 0 to 60000, got ${busyTimeout}`,
      );
    }
    if (
      options.database === undefined &&
      options.path !== undefined &&
      (typeof options.path !== 'string' || options.path === '')
    ) {
      throw new CacheConfigError("path must be a file path or ':memory:'");
    }
    const dialect = new SqliteDialect(options.database, options.path ?? ':memory:', busyTimeout);
    // better-sqlite3 is synchronous: a call has done its work before its promise settles.
    super(dialect, options, {
      maxKeyBytes: 4096,
      forbiddenKeyChars: SQLITE_FORBIDDEN_KEY_CHARS,
      inProcess: true,
    });
    this.#dialect = dialect;
  }

  /** The better-sqlite3 handle; opens the database if it is not open yet (throws a typed error if it cannot). */
  get client(): Database.Database {
    return this.#dialect.open();
  }
}

/** Creates a `SqliteStore`. */
export function sqliteStore(options?: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}

class SqliteDialect implements SqlDialect {
  readonly name = 'sqlite';
  readonly schemas = false;
  readonly coalesceReads = false;
  readonly maxKeysPerStatement = 1000;
  readonly rowLocator = 'key';
  readonly skipLocked = '';
  readonly lockInKeyOrder = '';
  readonly manyRows = undefined;
  readonly #given: Database.Database | undefined;
  readonly #path: string;
  readonly #busyTimeout: number | undefined;
  readonly #statements = new Map<string, Database.Statement>();
  #db: Database.Database | undefined;
  #closed = false;

  constructor(given: Database.Database | undefined, path: string, busyTimeout: number | undefined) {
    this.#given = given;
    this.#path = path;
    this.#busyTimeout = busyTimeout;
  }

  createTableSql(table: TableName): string {
    // WITHOUT ROWID: the row lives in the primary-key b-tree, so the key is stored once.
    return (
      `CREATE TABLE IF NOT EXISTS ${table.quoted} (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, expires_at INTEGER) WITHOUT ROWID; ` +
      `CREATE INDEX IF NOT EXISTS ${table.index} ON ${table.quoted} (expires_at);`
    );
  }

  keyIn(param: string): string {
    return `IN (SELECT value FROM json_each(${param}))`;
  }

  keyList(keys: readonly string[]): unknown {
    return JSON.stringify(keys);
  }

  prefixMatch(param: string): string {
    // GLOB, not LIKE: SQLite's LIKE ignores ASCII case.
    return `key GLOB ${param}`;
  }

  prefixPattern(prefix: string): string {
    return `${prefix.replace(/[*?[]/g, '[$&]')}*`;
  }

  incrementable(value: string, delta: string): string {
    const text = `CAST(${value} AS TEXT)`;
    // ASCII only (byte length = character length), an optional '-', then 1–16 digits.
    const integer =
      `length(${value}) BETWEEN 1 AND 17 AND length(${value}) = length(${text}) ` +
      `AND (${text} GLOB '[0-9]*' OR ${text} GLOB '-[0-9]*') AND substr(${text}, 2) NOT GLOB '*[^0-9]*'`;
    return `CASE WHEN ${integer} THEN abs(CAST(${text} AS INTEGER) + CAST(${delta} AS INTEGER)) <= ${Number.MAX_SAFE_INTEGER} ELSE 0 END`;
  }

  increment(value: string, delta: string): string {
    return `CAST(CAST(CAST(CAST(${value} AS TEXT) AS INTEGER) + CAST(${delta} AS INTEGER) AS TEXT) AS BLOB)`;
  }

  manyRowsValues(): unknown[] {
    return [];
  }

  all(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow[]> {
    try {
      return Promise.resolve(this.#prepare(statement).all(bind(values)) as SqlRow[]);
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
  }

  first(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow | undefined> {
    try {
      return Promise.resolve(this.#prepare(statement).get(bind(values)) as SqlRow | undefined);
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
  }

  run(statement: SqlStatement, values: readonly unknown[]): Promise<number> {
    try {
      return Promise.resolve(this.#prepare(statement).run(bind(values)).changes);
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
  }

  runEach(statement: SqlStatement, rows: readonly (readonly unknown[])[]): Promise<void> {
    try {
      const prepared = this.#prepare(statement);
      this.open().transaction(() => {
        for (const values of rows) prepared.run(bind(values));
      })();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
  }

  exec(script: string): Promise<void> {
    try {
      this.open().exec(script);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
  }

  info(table: TableName): Promise<StoreInfo> {
    try {
      const db = this.open();
      const name = table.raw;
      const index = table.index.slice(1, -1);
      let bytes: number;
      try {
        bytes = Number(
          (
            db
              .prepare('SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN (?, ?)')
              .get(name, index) as SqlRow
          ).bytes,
        );
      } catch {
        // Built without the dbstat table: the whole database file is the best figure.
        bytes =
          Number(db.pragma('page_count', { simple: true })) *
          Number(db.pragma('page_size', { simple: true }));
      }
      const version = (db.prepare('SELECT sqlite_version() AS v').get() as SqlRow).v;
      return Promise.resolve({
        bytesUsed: bytes,
        serverVersion: `sqlite ${String(version)}`,
        path: db.name,
        journalMode: db.pragma('journal_mode', { simple: true }),
      });
    } catch (error) {
      return Promise.reject(this.#error(error));
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#statements.clear();
    if (this.#db !== undefined && this.#db !== this.#given) this.#db.close();
    this.#db = undefined;
    return Promise.resolve();
  }

  /** The open handle, opening (and configuring) the file on first use. */
  open(): Database.Database {
    if (this.#db !== undefined) return this.#db;
    if (this.#closed) throw new CacheUnavailableError('the sqlite store is closed', { store: 'sqlite' });
    const given = this.#given;
    if (given !== undefined) {
      if (this.#busyTimeout !== undefined) given.pragma(`busy_timeout = ${this.#busyTimeout}`);
      this.#db = given;
      return given;
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(this.#path, { timeout: this.#busyTimeout ?? 100 });
      // The first statements read the header: a file that is not a database fails here (SQLITE_NOTADB).
      if (!db.memory) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    } catch (error) {
      db?.close();
      throw this.#error(error);
    }
    this.#db = db;
    return db;
  }

  #prepare(statement: SqlStatement): Database.Statement {
    let prepared = this.#statements.get(statement.name);
    if (prepared === undefined) {
      prepared = this.open().prepare(statement.text);
      this.#statements.set(statement.name, prepared);
    }
    return prepared;
  }

  #error(error: unknown): StoreError {
    if (error instanceof CacheUnavailableError) return error;
    return sqliteError(
      error,
      this.#given === undefined ? this.#path : this.#given.name,
      this.#busyTimeout ?? 100,
    );
  }
}

/** `$1`, `$2`… in the shared SQL are named parameters to SQLite; bind them by number. */
function bind(values: readonly unknown[]): Record<number, unknown> {
  const named: Record<number, unknown> = {};
  for (let i = 0; i < values.length; i++) named[i + 1] = values[i];
  return named;
}

/** Maps a better-sqlite3 error (its `code` is the extended result code name) to a typed error. */
function sqliteError(error: unknown, path: string, busyTimeout: number): StoreError {
  const code = String((error as { code?: unknown })?.code ?? '');
  const detail = error instanceof Error ? error.message : String(error);
  const context = { store: 'sqlite', cause: error };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreTimeoutError(
      `sqlite database ${path} stayed locked by another connection past busyTimeout (${busyTimeout} ms) (${code})`,
      context,
    );
  }
  if (code.startsWith('SQLITE_FULL')) {
    return new StoreFullError(
      `sqlite database ${path} is full: the disk or max_page_count is exhausted (${code})`,
      context,
    );
  }
  if (code.startsWith('SQLITE_TOOBIG')) {
    return new ValueTooLargeError(`value exceeds SQLite's size limit (${code})`, context);
  }
  if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_PERM') ||
    code.startsWith('SQLITE_AUTH')
  ) {
    return new StorePermissionError(
      `sqlite database ${path} cannot be written (${code}): ${detail}; check file permissions`,
      context,
    );
  }
  if (code.startsWith('SQLITE_NOTADB')) {
    return new CacheUnavailableError(
      `${path} is not a SQLite database (${code}); point path at a new file or remove this one. The cache serves misses until then`,
      context,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new CacheUnavailableError(
      `cannot open sqlite database ${path} (${code}); check that its directory exists and is writable`,
      context,
    );
  }
  return new CacheUnavailableError(
    `sqlite call failed${code === '' ? '' : ` (${code})`}: ${detail}`,
    context,
  );
}
