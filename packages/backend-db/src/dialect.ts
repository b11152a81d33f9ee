import type { StoreInfo } from '@larder/core';
import type { TableName } from './sql.js';

/** One SQL statement with a stable name, so an executor can prepare it once and reuse it. */
export interface SqlStatement {
  readonly name: string;
  readonly text: string;
}

/** A result row, keyed by column name. */
export type SqlRow = Record<string, unknown>;

/**
 * The SQL that differs between databases: fragments the shared statements are built from.
 * Pure text and bound values; it never runs anything.
 */
export interface SqlSyntax {
  /** Short backend name for errors and stats ('postgres', 'sqlite'). */
  readonly name: string;
  /** Whether the table name may be schema-qualified. */
  readonly schemas: boolean;
  /** Most keys bound into one statement's key list. */
  readonly maxKeysPerStatement: number;
  /**
   * Whether the table has an index on `expires_at`. With one, pruning and culling find rows by
   * expiry; without (SQLite: the index doubled the cost of every write and a third of the
   * storage), they walk the table in key order, a bounded slice per statement.
   */
  readonly expiryIndex: boolean;
  /** Schema script (one or more statements) that creates the table (and its expiry index, if any) if missing. */
  createTableSql(table: TableName): string;
  /** A condition that `key` is one of the keys bound (via `keyList`) at `param`. */
  keyIn(param: string): string;
  /** The value to bind for `keyIn`. */
  keyList(keys: readonly string[]): unknown;
  /** A condition that `key` starts with the pattern bound (via `prefixPattern`) at `param`; metacharacters escaped. */
  prefixMatch(param: string): string;
  /** The pattern to bind for `prefixMatch`. */
  prefixPattern(prefix: string): string;
  /**
   * A condition that `value` holds an ASCII decimal integer and that adding the integer bound
   * at `delta` stays within ±(2^53 − 1); it must never fail on other bytes.
   */
  incrementable(value: string, delta: string): string;
  /** The bytes of `value` + `delta` as ASCII decimal, for a value `incrementable` accepted. */
  increment(value: string, delta: string): string;
  /** The column that locates a row for batched deletes ('ctid' on Postgres, the key elsewhere). */
  readonly rowLocator: string;
  /** Appended to the row-selecting subquery of batched deletes, e.g. ' FOR UPDATE SKIP LOCKED'. */
  readonly skipLocked: string;
  /** Appended to the subquery of multi-key deletes so rows are locked in key order, e.g. ' ORDER BY key FOR UPDATE'. */
  readonly lockInKeyOrder: string;
  /** A multi-row source `(key, value, expires_at)` for one upsert of a whole batch, or undefined to run one upsert per row in a transaction. */
  readonly manyRows: string | undefined;
  /**
   * An incr batch's delta for one row, read back from the inserted value `EXCLUDED.value` (the
   * delta as ASCII decimal), or undefined where increments are not batched in one statement.
   */
  readonly batchDelta: string | undefined;
  /** Values to bind for `manyRows`. */
  manyRowsValues(keys: string[], values: Buffer[], expires: (number | null)[]): unknown[];
}

/**
 * Runs statements on one database and turns driver errors into typed `StoreError`s before
 * rejecting. `$1`-style parameters throughout.
 */
export interface SqlExecutor {
  /** Whether concurrent single-key reads should be batched into one statement. */
  readonly coalesceReads: boolean;
  /** Whether the sets of one tick should be written as one multi-row upsert (the executor may batch writes itself instead). */
  readonly coalesceWrites: boolean;
  /**
   * Whether a multi-row write failed because of one of its rows (bad data, a constraint, a
   * trigger): the statement wrote nothing, and each row alone may still succeed.
   */
  rowFault(error: unknown): boolean;
  /** Every row of a statement. */
  all(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow[]>;
  /** The first row of a statement, or undefined. */
  first(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow | undefined>;
  /**
   * The first column of a statement's first row, or undefined when it returns no row: `first`
   * without a row object, for the hot one-value reads (get, incr's RETURNING).
   */
  value(statement: SqlStatement, values: readonly unknown[]): Promise<unknown>;
  /** Every row of a read as an array of its columns, in the statement's order: `all` without row objects. */
  arrays(statement: SqlStatement, values: readonly unknown[]): Promise<unknown[][]>;
  /** Runs a statement; resolves the number of rows it changed. */
  run(statement: SqlStatement, values: readonly unknown[]): Promise<number>;
  /** Runs a statement once per values list, in one transaction. */
  runEach(statement: SqlStatement, rows: readonly (readonly unknown[])[]): Promise<void>;
  /** Runs a schema script. */
  exec(script: string): Promise<void>;
  /** Size, version and connection figures: `bytesUsed` (table + index), `serverVersion`, ... */
  info(table: TableName): Promise<StoreInfo>;
  /** Where the data lives, for logs and `inspect`: never a password. */
  describe(): string;
  /** Releases what the executor owns. */
  close(): Promise<void>;
}
