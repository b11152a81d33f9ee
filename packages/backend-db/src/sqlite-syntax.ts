import type { SqlSyntax } from './dialect.js';
import type { TableName } from './sql.js';

/** SQLite's fragments of the shared table SQL. */
export const sqliteSyntax: SqlSyntax = {
  name: 'sqlite',
  schemas: false,
  maxKeysPerStatement: 1000,
  rowLocator: 'key',
  skipLocked: '',
  lockInKeyOrder: '',
  manyRows: undefined,
  expiryIndex: false,
  batchDelta: undefined,

  createTableSql(table: TableName): string {
    // WITHOUT ROWID: the row lives in the primary-key b-tree, so the key is stored once. No
    // expiry index: it copied every key and rewrote a second b-tree page on every write.
    // Tables made by earlier versions lose theirs here; the columns are unchanged.
    return (
      `CREATE TABLE IF NOT EXISTS ${table.quoted} (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, expires_at INTEGER) WITHOUT ROWID; ` +
      `DROP INDEX IF EXISTS ${table.index};`
    );
  },

  keyIn(param: string): string {
    return `IN (SELECT value FROM json_each(${param}))`;
  },

  keyList(keys: readonly string[]): unknown {
    return JSON.stringify(keys);
  },

  prefixMatch(param: string): string {
    // GLOB, not LIKE: SQLite's LIKE ignores ASCII case, so 'A%' would match 'a…' keys.
    return `key GLOB ${param}`;
  },

  prefixPattern(prefix: string): string {
    return `${prefix.replace(/[*?[]/g, '[$&]')}*`;
  },

  incrementable(value: string, delta: string): string {
    const text = `CAST(${value} AS TEXT)`;
    // ASCII only (byte length = character length), an optional '-', then 1–16 digits.
    const integer =
      `length(${value}) BETWEEN 1 AND 17 AND length(${value}) = length(${text}) ` +
      `AND (${text} GLOB '[0-9]*' OR ${text} GLOB '-[0-9]*') AND substr(${text}, 2) NOT GLOB '*[^0-9]*'`;
    return `CASE WHEN ${integer} THEN abs(CAST(${text} AS INTEGER) + CAST(${delta} AS INTEGER)) <= ${Number.MAX_SAFE_INTEGER} ELSE 0 END`;
  },

  increment(value: string, delta: string): string {
    return `CAST(CAST(CAST(CAST(${value} AS TEXT) AS INTEGER) + CAST(${delta} AS INTEGER) AS TEXT) AS BLOB)`;
  },

  manyRowsValues(): unknown[] {
    return [];
  },
};
