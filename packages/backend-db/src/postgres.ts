import {
  CacheAuthError,
  CacheConfigError,
  CacheUnavailableError,
  redactUrl,
  type StoreError,
  StoreFullError,
  type StoreInfo,
  StorePermissionError,
  StoreTimeoutError,
} from '@larder/core';
import pg from 'pg';
import type { TableName } from './sql.js';
import {
  type SqlDialect,
  type SqlRow,
  type SqlStatement,
  TableStore,
  type TableStoreOptions,
} from './table-store.js';

/** Options for `PostgresStore`: a connection (URL, pool settings or an existing pool) plus the table settings. */
export interface PostgresStoreOptions extends TableStoreOptions {
  /** Connection URL, e.g. `postgres://app:secret@db:5432/app`. One of `connectionString`, `poolConfig` or `pool` is required. */
  connectionString?: string;
  /** Further `pg.Pool` settings (host, user, ssl, ...); the store's own timeout settings win unless set here. @default {} */
  poolConfig?: pg.PoolConfig;
  /** An existing pool to use instead of creating one; the store adds an `'error'` listener but never ends it. */
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

/**
 * A cache table in Postgres over a `pg.Pool`. Single-key reads issued in the same tick are
 * coalesced into one `= ANY($1)` query; hot statements are named prepared statements; every
 * call is bounded by `timeout`. See `TableStore` for the table design.
 */
export class PostgresStore extends TableStore {
  /** The pool (created by the store, or the one passed as `pool`). */
  readonly client: pg.Pool;

  constructor(options: PostgresStoreOptions) {
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
    if (
      options.connectionString !== undefined &&
      (typeof options.connectionString !== 'string' || options.connectionString === '')
    ) {
      throw new CacheConfigError(
        'connectionString must be a non-empty string such as postgres://user:pass@host:5432/db',
      );
    }
    const ownsPool = options.pool === undefined;
    const pool =
      options.pool ??
      new pg.Pool({
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
    const dialect = new PostgresDialect(pool, ownsPool, options.unlogged === true, timeout);
    super(dialect, options, { maxKeyBytes: 2000, forbiddenKeyChars: POSTGRES_FORBIDDEN_KEY_CHARS });
    this.client = pool;
  }
}

/** Creates a `PostgresStore`. */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}

class PostgresDialect implements SqlDialect {
  readonly name = 'postgres';
  readonly schemas = true;
  readonly coalesceReads = true;
  readonly maxKeysPerStatement = 1000;
  readonly rowLocator = 'ctid';
  // The pruner never waits for a row a writer holds, and writers never wait for it.
  readonly skipLocked = ' FOR UPDATE SKIP LOCKED';
  readonly lockInKeyOrder = ' ORDER BY key FOR UPDATE';
  // One statement per batch; unnest keeps the (sorted) array order, so locks are taken in key order.
  readonly manyRows = 'SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])';
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #unlogged: boolean;
  readonly #timeout: number;
  readonly #onError = (): void => {
    // An idle client lost its connection (server restart, network); the pool drops it and
    // the next call reconnects. Without this listener pg's 'error' event kills the process.
    this.poolErrors++;
  };
  poolErrors = 0;

  constructor(pool: pg.Pool, ownsPool: boolean, unlogged: boolean, timeout: number) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#unlogged = unlogged;
    this.#timeout = timeout;
    pool.on('error', this.#onError);
  }

  createTableSql(table: TableName): string {
    // COLLATE "C": byte order, so LIKE 'prefix%' can use the primary key and lock order matches compareKeys.
    return (
      `CREATE ${this.#unlogged ? 'UNLOGGED ' : ''}TABLE IF NOT EXISTS ${table.quoted} ` +
      '(key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL, expires_at bigint); ' +
      `CREATE INDEX IF NOT EXISTS ${table.index} ON ${table.quoted} (expires_at)`
    );
  }

  keyIn(param: string): string {
    return `= ANY(${param}::text[])`;
  }

  keyList(keys: readonly string[]): unknown {
    return keys;
  }

  prefixMatch(param: string): string {
    return `key LIKE ${param} ESCAPE '\\'`;
  }

  prefixPattern(prefix: string): string {
    return `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
  }

  incrementable(value: string, delta: string): string {
    // encode(…, 'escape') never fails, whatever the bytes; CASE keeps the cast behind the test.
    const text = `encode(${value}, 'escape')`;
    return `CASE WHEN ${text} ~ '^-?[0-9]{1,16}$' THEN abs(${text}::numeric + ${delta}) <= ${Number.MAX_SAFE_INTEGER} ELSE false END`;
  }

  increment(value: string, delta: string): string {
    return `decode((encode(${value}, 'escape')::numeric + ${delta})::text, 'escape')`;
  }

  manyRowsValues(keys: string[], values: Buffer[], expires: (number | null)[]): unknown[] {
    return [keys, values, expires];
  }

  async all(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow[]> {
    return (await this.#query(statement, values)).rows;
  }

  async first(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow | undefined> {
    return (await this.#query(statement, values)).rows[0];
  }

  async run(statement: SqlStatement, values: readonly unknown[]): Promise<number> {
    return (await this.#query(statement, values)).rowCount ?? 0;
  }

  async runEach(statement: SqlStatement, rows: readonly (readonly unknown[])[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#error(error);
    }
    let failure: unknown;
    try {
      await client.query('BEGIN');
      for (const values of rows)
        await client.query({ name: statement.name, text: statement.text, values: [...values] });
      await client.query('COMMIT');
    } catch (error) {
      failure = error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw this.#error(error);
    } finally {
      client.release(failure instanceof Error ? failure : undefined);
    }
  }

  async exec(script: string): Promise<void> {
    try {
      await this.#pool.query(script);
    } catch (error) {
      // Two processes creating the table at once: the loser sees a duplicate; the table exists.
      const code = (error as { code?: unknown }).code;
      if (code === '23505' || code === '42P07') return;
      throw this.#error(error);
    }
  }

  async info(table: TableName): Promise<StoreInfo> {
    const { rows } = await this.#query(
      {
        name: '',
        text: "SELECT pg_total_relation_size($1::regclass) AS bytes, current_setting('server_version') AS version",
      },
      [table.quoted],
    );
    const row = rows[0] ?? {};
    return {
      bytesUsed: Number(row.bytes),
      serverVersion: String(row.version),
      poolErrors: this.poolErrors,
      poolSize: this.#pool.totalCount,
      poolWaiting: this.#pool.waitingCount,
    };
  }

  async close(): Promise<void> {
    if (this.#ownsPool) {
      await this.#pool.end().catch(() => undefined);
    } else {
      this.#pool.off('error', this.#onError);
    }
  }

  async #query(statement: SqlStatement, values: readonly unknown[]): Promise<pg.QueryResult<SqlRow>> {
    try {
      return await this.#pool.query<SqlRow>(
        statement.name === ''
          ? { text: statement.text, values: [...values] }
          : { name: statement.name, text: statement.text, values: [...values] },
      );
    } catch (error) {
      throw this.#error(error);
    }
  }

  #error(error: unknown): StoreError {
    return postgresError(error, this.#timeout);
  }
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

/** Maps a pg error to the typed error the cache understands; the SQLSTATE stays on the sanitized cause. */
function postgresError(error: unknown, timeoutMs: number): StoreError {
  const code = String((error as { code?: unknown })?.code ?? '');
  const detail = redactUrl(error instanceof Error ? error.message : String(error));
  const context = { store: 'postgres', cause: error };
  const state = code === '' ? '' : ` (${code})`;
  if (code === '28P01' || code === '28000') {
    return new CacheAuthError(
      `postgres rejected the login${state}: ${detail}; check the user and password`,
      context,
    );
  }
  if (code === '42501') {
    return new StorePermissionError(
      `postgres denied a privilege${state}: ${detail}; GRANT SELECT, INSERT, UPDATE, DELETE on the cache table (and CREATE, or run createCacheTable() as its owner)`,
      context,
    );
  }
  if (code === '53100' || code === '53200' || code === '54000') {
    return new StoreFullError(`postgres is out of space or past a limit${state}: ${detail}`, context);
  }
  if (code === '57014' || code === '55P03' || /timeout|timed out/i.test(detail)) {
    return new StoreTimeoutError(
      `postgres did not answer within ${timeoutMs} ms${state}: ${detail}; check the server, locks on the table, or raise timeout`,
      context,
    );
  }
  if (code === '42P01') {
    return new CacheUnavailableError(
      `postgres: the cache table does not exist${state}; run createCacheTable() or leave createTable on`,
      context,
    );
  }
  const connection = CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P');
  return new CacheUnavailableError(
    connection ? `postgres cannot be reached${state}: ${detail}` : `postgres call failed${state}: ${detail}`,
    context,
  );
}
