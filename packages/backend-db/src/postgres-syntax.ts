import type { SqlSyntax } from './dialect.js';
import type { TableName } from './sql.js';

/** Builds Postgres's fragments of the shared table SQL; `unlogged` creates the table without WAL. */
export function postgresSyntax(unlogged: boolean): SqlSyntax {
  return {
    name: 'postgres',
    schemas: true,
    maxKeysPerStatement: 1000,
    rowLocator: 'ctid',
    // The pruner never waits for a row a writer holds, and writers never wait for it.
    skipLocked: ' FOR UPDATE SKIP LOCKED',
    lockInKeyOrder: ' ORDER BY key FOR UPDATE',
    // One statement per batch; unnest keeps the (sorted) array order, so locks are taken in key order.
    manyRows: 'SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])',
    // The pruner finds expired rows through the index and skips the ones writers hold.
    expiryIndex: true,
    // EXCLUDED.value holds the row's delta as the store wrote it: ASCII decimal, so the cast cannot fail.
    batchDelta: "(encode(EXCLUDED.value, 'escape')::numeric)",

    createTableSql(table: TableName): string {
      // COLLATE "C": byte order, so LIKE 'prefix%' can use the primary key and lock order matches compareKeys.
      // fillfactor 100: a write's expiry is its time plus its TTL, so new index entries land at the
      // right edge, where a split's default 10 % spare room on the left page would never be used.
      return (
        `CREATE ${unlogged ? 'UNLOGGED ' : ''}TABLE IF NOT EXISTS ${table.quoted} ` +
        '(key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL, expires_at bigint); ' +
        `CREATE INDEX IF NOT EXISTS ${table.index} ON ${table.quoted} (expires_at) WITH (fillfactor = 100)`
      );
    },

    keyIn(param: string): string {
      return `= ANY(${param}::text[])`;
    },

    keyList(keys: readonly string[]): unknown {
      return keys;
    },

    prefixMatch(param: string): string {
      return `key LIKE ${param} ESCAPE '\\'`;
    },

    prefixPattern(prefix: string): string {
      return `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
    },

    incrementable(value: string, delta: string): string {
      // encode(…, 'escape') never fails, whatever the bytes; CASE keeps the cast behind the test.
      const text = `encode(${value}, 'escape')`;
      return `CASE WHEN ${text} ~ '^-?[0-9]{1,16}$' THEN abs(${text}::numeric + ${delta}) <= ${Number.MAX_SAFE_INTEGER} ELSE false END`;
    },

    increment(value: string, delta: string): string {
      return `decode((encode(${value}, 'escape')::numeric + ${delta})::text, 'escape')`;
    },

    manyRowsValues(keys: string[], values: Buffer[], expires: (number | null)[]): unknown[] {
      return [keys, values, expires];
    },
  };
}
