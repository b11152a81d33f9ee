import {
  StoreAuthError,
  type StoreError,
  StoreFullError,
  StorePermissionError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '@larder/core';
import { redactUrl, type StoreInfo } from '@larder/core/store-kit';
import type pg from 'pg';
import type { SqlExecutor, SqlRow, SqlStatement } from './dialect.js';
import type { TableName } from './sql.js';

/** Runs statements on a `pg.Pool`, hot ones as named prepared statements, and maps pg errors to typed ones. */
export class PostgresExecutor implements SqlExecutor {
  readonly coalesceReads = true;
  readonly coalesceWrites = true;
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #timeout: number;
  readonly #onError = (): void => {
    // An idle client lost its connection (server restart, network); the pool drops it and
    // the next call reconnects. Without this listener pg's 'error' event kills the process.
    this.poolErrors++;
  };
  poolErrors = 0;

  constructor(pool: pg.Pool, ownsPool: boolean, timeout: number) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#timeout = timeout;
    pool.on('error', this.#onError);
  }

  rowFault(error: unknown): boolean {
    // Cardinality, data, integrity, transaction rollback (deadlock, serialization), limits, PL/pgSQL raise.
    const code = String((error as { cause?: { code?: unknown } })?.cause?.code ?? '');
    return /^(21|22|23|40|54|P0)/.test(code);
  }

  all(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow[]> {
    return this.#query<SqlRow>(statement, values).then(rowsOf, this.#fail);
  }

  first(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow | undefined> {
    return this.#query<SqlRow>(statement, values).then(firstRow, this.#fail);
  }

  value(statement: SqlStatement, values: readonly unknown[]): Promise<unknown> {
    return this.#query<unknown[]>(statement, values, 'array').then(firstCell, this.#fail);
  }

  arrays(statement: SqlStatement, values: readonly unknown[]): Promise<unknown[][]> {
    // Array rows: no row object built per row.
    return this.#query<unknown[]>(statement, values, 'array').then(rowsOf, this.#fail);
  }

  run(statement: SqlStatement, values: readonly unknown[]): Promise<number> {
    return this.#query<SqlRow>(statement, values).then(rowCountOf, this.#fail);
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
    const rows = await this.all(
      {
        name: '',
        text:
          "SELECT pg_total_relation_size($1::regclass) AS bytes, current_setting('server_version') AS version, " +
          "current_setting('max_connections') AS max_connections",
      },
      [table.quoted],
    );
    const row = rows[0] ?? {};
    const maxConnections = Number(row.max_connections);
    return {
      bytesUsed: Number(row.bytes),
      serverVersion: String(row.version),
      connections: this.#pool.totalCount,
      maxConnections: Number.isFinite(maxConnections) ? maxConnections : undefined,
      connectionWaiters: this.#pool.waitingCount,
      poolErrors: this.poolErrors,
      poolSize: this.#pool.totalCount,
      poolWaiting: this.#pool.waitingCount,
    };
  }

  describe(): string {
    return describePool(this.#pool);
  }

  async close(): Promise<void> {
    if (this.#ownsPool) {
      await this.#pool.end().catch(() => undefined);
    } else {
      this.#pool.off('error', this.#onError);
    }
  }

  /** One pool query (a named prepared statement unless the name is ''); one `.then` maps its result or error. */
  #query<R extends pg.QueryResultRow>(
    statement: SqlStatement,
    values: readonly unknown[],
    rowMode?: 'array',
  ): Promise<pg.QueryResult<R>> {
    // The values array is the store's own, made for this call: pg reads it without keeping it.
    const config: pg.QueryConfig & { rowMode?: 'array' } =
      statement.name === ''
        ? { text: statement.text, values: values as unknown[] }
        : { name: statement.name, text: statement.text, values: values as unknown[] };
    if (rowMode !== undefined) config.rowMode = rowMode;
    try {
      return this.#pool.query<R>(config);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Rethrows a pg error as the typed error the cache understands. */
  readonly #fail = (error: unknown): never => {
    throw this.#error(error);
  };

  #error(error: unknown): StoreError {
    return postgresError(error, this.#timeout);
  }
}

const rowsOf = <R extends pg.QueryResultRow>(result: pg.QueryResult<R>): R[] => result.rows;
const firstRow = <R extends pg.QueryResultRow>(result: pg.QueryResult<R>): R | undefined => result.rows[0];
const firstCell = (result: pg.QueryResult<unknown[]>): unknown => result.rows[0]?.[0];
const rowCountOf = (result: pg.QueryResult): number => result.rowCount ?? 0;

/** `postgres://host:port/database` of a pool, from its options: never the user's password. */
export function describePool(pool: pg.Pool): string {
  const options = (pool as { options?: pg.PoolConfig }).options ?? {};
  let host = options.host;
  let port = options.port === undefined ? undefined : String(options.port);
  let database = options.database;
  if (typeof options.connectionString === 'string') {
    try {
      const url = new URL(options.connectionString);
      host ??= decodeURIComponent(url.hostname) || undefined;
      port ??= url.port || undefined;
      database ??= decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined;
    } catch {
      // Not a URL (a libpq key/value string): show no part of it, it may hold the password.
    }
  }
  return `postgres://${host ?? 'localhost'}:${port ?? 5432}/${database ?? ''}`;
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
    return new StoreAuthError(
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
    return new StoreUnavailableError(
      `postgres: the cache table does not exist${state}; run createCacheTable() or leave createTable on`,
      context,
    );
  }
  const connection = CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P');
  return new StoreUnavailableError(
    connection ? `postgres cannot be reached${state}: ${detail}` : `postgres call failed${state}: ${detail}`,
    context,
  );
}
