import type { SqlStatement, SqlSyntax } from './dialect.js';
import type { TableName } from './sql.js';

/** Every statement a table store runs, built once per store. */
export interface TableStatements {
  get: SqlStatement;
  getMany: SqlStatement;
  set: SqlStatement;
  /** One upsert of a whole batch, where the database has a multi-row source. */
  setMany: SqlStatement | undefined;
  add: SqlStatement;
  incr: SqlStatement;
  /** `incr` of a batch of distinct keys in one statement, returning each counted key's value. */
  incrMany: SqlStatement | undefined;
  has: SqlStatement;
  ttl: SqlStatement;
  touch: SqlStatement;
  delete: SqlStatement;
  deleteMany: SqlStatement;
  clear: SqlStatement;
  keys: SqlStatement;
  /** Deletes up to `$2` expired rows (tables with an expiry index). */
  prune: SqlStatement;
  /** Deletes the `$1` rows that expire soonest (tables with an expiry index). */
  cull: SqlStatement;
  /** The last key and the row count of the next `$2` rows after key `$1`: one slice of a walk in key order. */
  slice: SqlStatement;
  /** Deletes the expired rows (at `$3`) of the slice of keys in (`$1`, `$2`]. */
  pruneSlice: SqlStatement;
  /** Deletes the `$3` rows of the slice (`$1`, `$2`] that expire soonest. */
  cullSlice: SqlStatement;
  count: SqlStatement;
  stats: SqlStatement;
}

/**
 * The shared SQL of the table design, with the few fragments that differ taken from the
 * syntax. Parameters are `$1`-style; statement names carry the table's tag so two tables
 * never share a prepared statement.
 */
export function buildStatements(table: TableName, d: SqlSyntax): TableStatements {
  const t = table.quoted;
  const live = (param: string) => `(expires_at IS NULL OR expires_at > ${param})`;
  const upsert = 'ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at';
  const sql = (name: string, text: string): SqlStatement => ({ name: `larder_${table.tag}_${name}`, text });
  // One atomic upsert: insert at delta, restart an expired row, or add to a live integer (keeping
  // its expiry). A live non-integer, or a sum past 2^53, matches no branch: no row comes back.
  // The inserted value is the delta as ASCII decimal; `$4` is now.
  const incrUpsert = (delta: string) =>
    'ON CONFLICT (key) DO UPDATE SET ' +
    `value = CASE WHEN c.expires_at <= $4 THEN EXCLUDED.value ELSE ${d.increment('c.value', delta)} END, ` +
    'expires_at = CASE WHEN c.expires_at <= $4 THEN EXCLUDED.expires_at ELSE c.expires_at END ' +
    `WHERE c.expires_at <= $4 OR ${d.incrementable('c.value', delta)}`;
  return {
    get: sql('get', `SELECT value FROM ${t} WHERE key = $1 AND ${live('$2')}`),
    getMany: sql('get_many', `SELECT key, value FROM ${t} WHERE key ${d.keyIn('$1')} AND ${live('$2')}`),
    set: sql('set', `INSERT INTO ${t} AS c (key, value, expires_at) VALUES ($1, $2, $3) ${upsert}`),
    setMany:
      d.manyRows === undefined
        ? undefined
        : sql('set_many', `INSERT INTO ${t} AS c (key, value, expires_at) ${d.manyRows} ${upsert}`),
    // An expired row counts as absent: the conflict branch replaces it, and only it.
    add: sql(
      'add',
      `INSERT INTO ${t} AS c (key, value, expires_at) VALUES ($1, $2, $3) ${upsert} WHERE c.expires_at <= $4`,
    ),
    // One atomic statement: insert at delta, restart an expired row, or add to a live integer
    // (keeping its expiry). A live non-integer, or a sum past 2^53, matches no branch: no row comes back.
    incr: sql(
      'incr',
      `INSERT INTO ${t} AS c (key, value, expires_at) VALUES ($1, $2, $3) ${incrUpsert('$5')} RETURNING value`,
    ),
    incrMany:
      d.manyRows === undefined || d.batchDelta === undefined
        ? undefined
        : sql(
            'incr_many',
            `INSERT INTO ${t} AS c (key, value, expires_at) ${d.manyRows} ${incrUpsert(d.batchDelta)} RETURNING key, value`,
          ),
    has: sql('has', `SELECT 1 AS found FROM ${t} WHERE key = $1 AND ${live('$2')}`),
    ttl: sql('ttl', `SELECT expires_at FROM ${t} WHERE key = $1 AND ${live('$2')}`),
    touch: sql('touch', `UPDATE ${t} SET expires_at = $3 WHERE key = $1 AND ${live('$2')}`),
    // Expired rows are deleted too; only live ones count as removed.
    delete: sql('delete', `DELETE FROM ${t} WHERE key = $1 RETURNING expires_at`),
    deleteMany: sql(
      'delete_many',
      `DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE key ${d.keyIn('$1')}${d.lockInKeyOrder}) RETURNING expires_at`,
    ),
    clear: sql(
      'clear',
      `DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE ${d.prefixMatch('$1')}${d.lockInKeyOrder})`,
    ),
    // One page of live keys under a prefix, after the last key of the previous page (keyset paging).
    keys: sql(
      'keys',
      `SELECT key FROM ${t} WHERE ${d.prefixMatch('$1')} AND key > $2 AND ${live('$3')} ORDER BY key LIMIT $4`,
    ),
    prune: sql(
      'prune',
      `DELETE FROM ${t} WHERE ${d.rowLocator} IN (SELECT ${d.rowLocator} FROM ${t} WHERE expires_at <= $1 LIMIT $2${d.skipLocked})`,
    ),
    cull: sql(
      'cull',
      `DELETE FROM ${t} WHERE ${d.rowLocator} IN (SELECT ${d.rowLocator} FROM ${t} ORDER BY expires_at ASC NULLS LAST LIMIT $1${d.skipLocked})`,
    ),
    slice: sql(
      'slice',
      `SELECT max(key) AS last, count(*) AS n FROM (SELECT key FROM ${t} WHERE key > $1 ORDER BY key LIMIT $2)`,
    ),
    pruneSlice: sql('prune_slice', `DELETE FROM ${t} WHERE key > $1 AND key <= $2 AND expires_at <= $3`),
    cullSlice: sql(
      'cull_slice',
      `DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE key > $1 AND key <= $2 ORDER BY expires_at ASC NULLS LAST LIMIT $3)`,
    ),
    count: sql('count', `SELECT count(*) AS n FROM ${t}`),
    stats: sql(
      'stats',
      `SELECT count(*) AS items, count(CASE WHEN expires_at <= $1 THEN 1 END) AS expired FROM ${t}`,
    ),
  };
}
