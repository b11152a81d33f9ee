import { CacheConfigError } from '@larder/core';
import { checkOptions } from '@larder/core/store-kit';
import pg from 'pg';
import { PostgresExecutor } from './postgres-executor.js';
import { postgresSyntax } from './postgres-syntax.js';
import { TABLE_OPTION_SPEC, type TableStoreOptions } from './table-options.js';
import { TableStore } from './table-store.js';

/** Options for `PostgresStore`: a connection (URL, pool settings or an existing pool) plus the table settings. */
export interface PostgresStoreOptions extends TableStoreOptions {
  /** Connection URL, e.g. `postgres://app:secret@db:5432/app`. One of `connectionString`, `poolConfig` or `pool` is required. @default none */
  connectionString?: string;
  /** Further `pg.Pool` settings (host, user, ssl, ...); the store's own timeout settings win unless set here. @default {} */
  poolConfig?: pg.PoolConfig;
  /** An existing pool to use instead of creating one; the store adds an `'error'` listener but never ends it. @default none */
  pool?: pg.Pool;
  /** Connections in the pool the store creates. @default 10 */
  max?: number;
  /** Bounds every call in ms: pool acquire (`connectionTimeoutMillis`), the server side (`statement_timeout`) and the reply (`query_timeout`, + 500 ms). @default 1000 */
  timeout?: number;
  /** Create the table UNLOGGED: no WAL, faster writes, emptied after a server crash (fine for a cache). @default false */
  unlogged?: boolean;
}

/** Postgres rejects a NUL in text; a lone UTF-16 surrogate has no UTF-8 form. The cache hashes such keys. */
const POSTGRES_FORBIDDEN_KEY_CHARS =
  /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const SPEC = {
  ...TABLE_OPTION_SPEC,
  connectionString: 'string',
  poolConfig: 'object',
  pool: { accepts: 'a pg.Pool', check: (value: unknown) => value instanceof pg.Pool || isPoolLike(value) },
  max: 'number',
  timeout: 'number',
  unlogged: 'boolean',
} as const;

/**
 * A cache table in Postgres over a `pg.Pool`. Single-key reads issued in the same tick are
 * coalesced into one `= ANY($1)` query; hot statements are named prepared statements; every
 * call is bounded by `timeout`. See `TableStore` for the table design. `inspect`, `toJSON`
 * and `String()` show the host, port and database, never the password.
 */
export class PostgresStore extends TableStore {
  /** The pool (created by the store, or the one passed as `pool`). Its options hold the password: do not log it. */
  declare readonly client: pg.Pool;

  constructor(options: PostgresStoreOptions) {
    if (options === undefined) {
      throw new CacheConfigError(
        'postgresStore needs a connection: pass connectionString (postgres://user:pass@host:5432/db), poolConfig or pool',
      );
    }
    checkOptions('postgresStore', options, SPEC);
    const timeout = options.timeout ?? 1000;
    if (!(Number.isFinite(timeout) && timeout > 0 && timeout <= 60_000)) {
      throw new CacheConfigError(
        `timeout must be a number of ms between 1 and 60000, got ${options.timeout}`,
      );
    }
    const max = options.max ?? 10;
    if (!(Number.isInteger(max) && max > 0))
      throw new CacheConfigError(`max must be a positive integer, got ${options.max}`);
    if (
      options.pool === undefined &&
      options.connectionString === undefined &&
      options.poolConfig === undefined
    ) {
      throw new CacheConfigError(
        'PostgresStore needs a connection: pass connectionString (postgres://user:pass@host:5432/db), poolConfig or pool',
      );
    }
    if (options.connectionString === '') {
      throw new CacheConfigError(
        'connectionString must be a non-empty string such as postgres://user:pass@host:5432/db',
      );
    }
    const pool = options.pool ?? createPool(options, max, timeout);
    super(
      postgresSyntax(options.unlogged === true),
      new PostgresExecutor(pool, options.pool === undefined, timeout),
      options,
      {
        maxKeyBytes: 2000,
        forbiddenKeyChars: POSTGRES_FORBIDDEN_KEY_CHARS,
      },
    );
    // Not enumerable: spreading or walking the store's own properties never reaches the pool's options.
    Object.defineProperty(this, 'client', { value: pool, enumerable: false, writable: false });
  }
}

/** Creates a `PostgresStore`. */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}

function createPool(options: PostgresStoreOptions, max: number, timeout: number): pg.Pool {
  return new pg.Pool({
    max,
    connectionTimeoutMillis: timeout,
    statement_timeout: timeout,
    query_timeout: timeout + 500,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    // A cache must not keep the process alive: idle connections close when nothing else runs.
    allowExitOnIdle: true,
    application_name: 'larder',
    ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
    ...options.poolConfig,
  });
}

function isPoolLike(value: unknown): boolean {
  const candidate = value as { query?: unknown; connect?: unknown; on?: unknown } | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.query === 'function' &&
    typeof candidate.connect === 'function' &&
    typeof candidate.on === 'function'
  );
}

export { type PostgresBusConnection, type PostgresBusOptions, postgresBus } from './postgres-bus.js';
