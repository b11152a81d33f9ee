import {
  type StoreError,
  StoreFullError,
  StorePermissionError,
  StoreTimeoutError,
  StoreUnavailableError,
  ValueTooLargeError,
} from '@larder/core';
import type { StoreInfo } from '@larder/core/store-kit';
import Database from 'better-sqlite3';
import type { SqlExecutor, SqlRow, SqlStatement } from './dialect.js';
import type { TableName } from './sql.js';

/** How the executor opens and waits on the database. */
export interface SqliteConnection {
  /** An open handle the caller owns, or undefined to open `path`. */
  given: Database.Database | undefined;
  path: string;
  /** SQLite's own (blocking) wait for a lock, per attempt, in ms; undefined leaves a given handle's setting alone. */
  busyTimeout: number | undefined;
  /** Total time a call may keep retrying a locked database, in ms. */
  timeout: number;
}

/** The blocking wait per attempt when none is configured: short, the rest is waited asynchronously. */
export const DEFAULT_BUSY_TIMEOUT = 20;
/** Longest pause between two attempts on a locked database. */
const MAX_BACKOFF_MS = 50;

/**
 * Runs statements on a better-sqlite3 handle, opened on first use. better-sqlite3 is
 * synchronous; a call that finds the database locked by another connection waits at most
 * `busyTimeout` ms blocking, then retries asynchronously with jittered backoff until
 * `timeout`, so many writers on one file all land without stalling the event loop longer.
 */
export class SqliteExecutor implements SqlExecutor {
  readonly coalesceReads = false;
  readonly #c: SqliteConnection;
  readonly #statements = new Map<string, Database.Statement>();
  #db: Database.Database | undefined;
  #closed = false;

  constructor(connection: SqliteConnection) {
    this.#c = connection;
  }

  all(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow[]> {
    return this.#attempt(() => this.#prepare(statement).all(bind(values)) as SqlRow[]);
  }

  first(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow | undefined> {
    return this.#attempt(() => this.#prepare(statement).get(bind(values)) as SqlRow | undefined);
  }

  run(statement: SqlStatement, values: readonly unknown[]): Promise<number> {
    return this.#attempt(() => this.#prepare(statement).run(bind(values)).changes);
  }

  runEach(statement: SqlStatement, rows: readonly (readonly unknown[])[]): Promise<void> {
    return this.#attempt(() => {
      const prepared = this.#prepare(statement);
      this.open().transaction(() => {
        for (const values of rows) prepared.run(bind(values));
      })();
    });
  }

  exec(script: string): Promise<void> {
    return this.#attempt(() => {
      this.open().exec(script);
    });
  }

  info(table: TableName): Promise<StoreInfo> {
    return this.#attempt(() => {
      const db = this.open();
      let bytes: number;
      try {
        const row = db
          .prepare('SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN (?, ?)')
          .get(table.raw, table.index.slice(1, -1)) as SqlRow;
        bytes = Number(row.bytes);
      } catch {
        // Built without the dbstat table: the whole database file is the best figure.
        bytes =
          Number(db.pragma('page_count', { simple: true })) *
          Number(db.pragma('page_size', { simple: true }));
      }
      const version = (db.prepare('SELECT sqlite_version() AS v').get() as SqlRow).v;
      return {
        bytesUsed: bytes,
        serverVersion: `sqlite ${String(version)}`,
        path: db.name,
        journalMode: db.pragma('journal_mode', { simple: true }),
      };
    });
  }

  describe(): string {
    return `sqlite:${this.#c.given?.name ?? this.#c.path}`;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#statements.clear();
    if (this.#db !== undefined && this.#db !== this.#c.given) this.#db.close();
    this.#db = undefined;
    return Promise.resolve();
  }

  /** The open handle, opening (and configuring) the file on first use. */
  open(): Database.Database {
    if (this.#db !== undefined) return this.#db;
    if (this.#closed) throw new StoreUnavailableError('the sqlite store is closed', { store: 'sqlite' });
    const { given, busyTimeout } = this.#c;
    if (given !== undefined) {
      if (busyTimeout !== undefined) given.pragma(`busy_timeout = ${busyTimeout}`);
      this.#db = given;
      return given;
    }
    let db: Database.Database | undefined;
    try {
      db = new Database(this.#c.path, { timeout: busyTimeout ?? DEFAULT_BUSY_TIMEOUT });
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

  /**
   * Runs `work` now; if the database is locked, again after a pause, while a whole attempt
   * (SQLite's blocking wait included) still fits in `timeout`.
   */
  #attempt<T>(work: () => T): Promise<T> {
    const started = performance.now();
    try {
      return Promise.resolve(work());
    } catch (error) {
      if (!isBusy(error)) return Promise.reject(this.#error(error));
      return this.#retry(work, error, started);
    }
  }

  async #retry<T>(work: () => T, firstError: unknown, started: number): Promise<T> {
    const blocking = this.#c.busyTimeout ?? DEFAULT_BUSY_TIMEOUT;
    let lastError = firstError;
    let pause = 1;
    for (;;) {
      const wait = pause * (0.5 + Math.random());
      const left = this.#c.timeout - (performance.now() - started);
      if (left < wait + blocking || this.#closed) throw this.#error(lastError);
      await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        return work();
      } catch (error) {
        if (!isBusy(error)) throw this.#error(error);
        lastError = error;
      }
      pause = Math.min(pause * 2, MAX_BACKOFF_MS);
    }
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
    if (error instanceof StoreUnavailableError) return error;
    return sqliteError(error, this.#c.given?.name ?? this.#c.path, this.#c.timeout);
  }
}

function isBusy(error: unknown): boolean {
  const code = String((error as { code?: unknown })?.code ?? '');
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** `$1`, `$2`… in the shared SQL are named parameters to SQLite; bind them by number. */
function bind(values: readonly unknown[]): Record<number, unknown> {
  const named: Record<number, unknown> = {};
  for (let i = 0; i < values.length; i++) named[i + 1] = values[i];
  return named;
}

/** Maps a better-sqlite3 error (its `code` is the extended result code name) to a typed error. */
function sqliteError(error: unknown, path: string, timeout: number): StoreError {
  const code = String((error as { code?: unknown })?.code ?? '');
  const detail = error instanceof Error ? error.message : String(error);
  const context = { store: 'sqlite', cause: error };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreTimeoutError(
      `sqlite database ${path} stayed locked by another connection for the store's timeout (${timeout} ms) (${code}); raise timeout or shorten the other connection's transactions`,
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
    return new StoreUnavailableError(
      `${path} is not a SQLite database (${code}); point path at a new file or remove this one. The cache serves misses until then`,
      context,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new StoreUnavailableError(
      `cannot open sqlite database ${path} (${code}); check that its directory exists and is writable`,
      context,
    );
  }
  return new StoreUnavailableError(
    `sqlite call failed${code === '' ? '' : ` (${code})`}: ${detail}`,
    context,
  );
}
