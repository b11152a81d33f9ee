import { CacheConfigError } from '@larder/core';
import { checkOptions } from '@larder/core/store-kit';
import type Database from 'better-sqlite3';
import { SqliteExecutor } from './sqlite-executor.js';
import { sqliteSyntax } from './sqlite-syntax.js';
import { TABLE_OPTION_SPEC, type TableStoreOptions } from './table-options.js';
import { TableStore } from './table-store.js';

/** Options for `SqliteStore`: a database file (or an open handle) plus the table settings. */
export interface SqliteStoreOptions extends TableStoreOptions {
  /** Database file, created if missing; ':memory:' for a private in-process database. Ignored when `database` is given. @default ':memory:' */
  path?: string;
  /** An open better-sqlite3 handle to use instead of opening `path`; the store never closes it and leaves its pragmas alone (except `busyTimeout` when set). */
  database?: Database.Database;
  /**
   * How long one attempt waits, blocking, for another connection's lock, in ms. better-sqlite3
   * is synchronous, so this wait blocks the event loop: keep it small; the store retries
   * asynchronously after it (see `timeout`). @default 20
   */
  busyTimeout?: number;
  /**
   * How long a call keeps retrying while another connection holds the database locked, in ms,
   * with jittered backoff between attempts; past it the call fails with `StoreTimeoutError`.
   * @default 1000
   */
  timeout?: number;
}

/** A lone UTF-16 surrogate has no UTF-8 form; the cache hashes such keys. */
const SQLITE_FORBIDDEN_KEY_CHARS = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const SPEC = {
  ...TABLE_OPTION_SPEC,
  path: 'string',
  database: 'object',
  busyTimeout: 'number',
  timeout: 'number',
} as const;

/**
 * A cache table in SQLite over better-sqlite3: WAL, `synchronous=NORMAL`, a short busy
 * timeout with asynchronous retries, and reused prepared statements. The file is opened on
 * first use: a file that is not a database, or a directory that does not exist, makes each
 * call fail with a typed error (misses under `ignoreErrors`) instead of crashing the app.
 * See `TableStore`.
 */
export class SqliteStore extends TableStore {
  readonly #executor: SqliteExecutor;

  constructor(options: SqliteStoreOptions = {}) {
    checkOptions('sqliteStore', options, SPEC);
    const busyTimeout = options.busyTimeout;
    if (
      busyTimeout !== undefined &&
      !(Number.isInteger(busyTimeout) && busyTimeout >= 0 && busyTimeout <= 60_000)
    ) {
      throw new CacheConfigError(
        `busyTimeout must be an integer number of ms from 0 to 60000, got ${busyTimeout}`,
      );
    }
    const timeout = options.timeout ?? 1000;
    if (!(Number.isFinite(timeout) && timeout >= 0 && timeout <= 60_000)) {
      throw new CacheConfigError(`timeout must be a number of ms from 0 to 60000, got ${options.timeout}`);
    }
    if (options.database === undefined && options.path === '') {
      throw new CacheConfigError("path must be a file path or ':memory:'");
    }
    const executor = new SqliteExecutor({
      given: options.database,
      path: options.path ?? ':memory:',
      busyTimeout,
      timeout,
    });
    // better-sqlite3 is synchronous: a call has done its work before its promise settles
    // (unless another process holds the lock, when the store bounds its own retries by `timeout`).
    super(sqliteSyntax, executor, options, {
      maxKeyBytes: 4096,
      forbiddenKeyChars: SQLITE_FORBIDDEN_KEY_CHARS,
      inProcess: true,
    });
    this.#executor = executor;
  }

  /** The better-sqlite3 handle; opens the database if it is not open yet (throws a typed error if it cannot). */
  get client(): Database.Database {
    return this.#executor.open();
  }
}

/** Creates a `SqliteStore`. */
export function sqliteStore(options?: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(options);
}
