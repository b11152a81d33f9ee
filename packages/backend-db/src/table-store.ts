import {
  CacheClosedError,
  CacheConfigError,
  NotIntegerError,
  ReadCoalescer,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  type StoreInfo,
  ValueTooLargeError,
} from '@larder/core';
import { asBuffer, chunks, compareKeys, type TableName, tableName } from './sql.js';

/** One SQL statement with a stable name, so a dialect can prepare it once and reuse it. */
export interface SqlStatement {
  readonly name: string;
  readonly text: string;
}

/** A result row, keyed by column name. */
export type SqlRow = Record<string, unknown>;

/**
 * The narrow seam between the table store and one database. The store writes all the SQL
 * with `$1`-style parameters; the dialect supplies the few fragments that differ, runs
 * statements, and turns driver errors into typed `StoreError`s before rejecting.
 */
export interface SqlDialect {
  /** Short backend name for errors and stats ('postgres', 'sqlite'). */
  readonly name: string;
  /** Whether the table name may be schema-qualified. */
  readonly schemas: boolean;
  /** Whether concurrent single-key reads should be batched into one statement. */
  readonly coalesceReads: boolean;
  /** Most keys bound into one statement's key list. */
  readonly maxKeysPerStatement: number;
  /** Schema script (one or more statements) that creates the table and its expiry index if missing. */
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
  /** Values to bind for `manyRows`. */
  manyRowsValues(keys: string[], values: Buffer[], expires: (number | null)[]): unknown[];
  /** Every row of a statement. */
  all(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow[]>;
  /** The first row of a statement, or undefined. */
  first(statement: SqlStatement, values: readonly unknown[]): Promise<SqlRow | undefined>;
  /** Runs a statement; resolves the number of rows it changed. */
  run(statement: SqlStatement, values: readonly unknown[]): Promise<number>;
  /** Runs a statement once per values list, in one transaction. */
  runEach(statement: SqlStatement, rows: readonly (readonly unknown[])[]): Promise<void>;
  /** Runs a schema script. */
  exec(script: string): Promise<void>;
  /** Size and version figures: `bytesUsed` (table + index), `serverVersion`, ... */
  info(table: TableName): Promise<StoreInfo>;
  /** Releases what the dialect owns. */
  close(): Promise<void>;
}

/** Options every table store accepts. */
export interface TableStoreOptions {
  /** Table name; Postgres also accepts `schema.table`. Validated and quoted. @default 'larder_cache' */
  table?: string;
  /** Create the table (and its index) on first use with `CREATE TABLE IF NOT EXISTS`; turn off where the app may not run DDL and call `createCacheTable()` from a migration instead. @default true */
  createTable?: boolean;
  /** Rows kept before culling: past this, the `cullFraction` of rows that expire soonest are deleted. `Infinity` turns culling off. @default 1_000_000 */
  maxEntries?: number;
  /** Share of rows a cull deletes (Django's 1 / CULL_FREQUENCY). @default 1/3 */
  cullFraction?: number;
  /** How often expired rows are pruned and the size checked, in ms; 0 turns the timer off. The timer never keeps the process alive. @default 60_000 */
  pruneInterval?: number;
  /** Rows deleted per pruning statement, so pruning never holds many locks at once. @default 1000 */
  pruneBatch?: number;
  /** Largest value accepted, in bytes. @default 64 MiB */
  maxValueBytes?: number;
  /** Clock for expiry, in ms since the epoch; the client's clock is the only one used. @default Date.now */
  now?: () => number;
}

/** What one housekeeping pass removed. */
export interface PruneResult {
  /** Expired rows deleted. */
  expired: number;
  /** Live rows deleted because the table held more than `maxEntries`. */
  culled: number;
}

/** Batches per housekeeping pass, so one pass stays short; the next pass continues. */
const MAX_PRUNE_BATCHES = 100;

/**
 * A cache table: key (text, primary key), value (bytes) and expires_at (integer ms since the
 * epoch by the client's clock; NULL only for entries stored without expiry). It owns every
 * rule the SQL backends share: TTL checks on every read, lazy `CREATE TABLE IF NOT EXISTS`,
 * sorted single-statement upserts, pruning in small batches and size-based culling.
 */
export abstract class TableStore implements Store {
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  /** The validated table name. */
  readonly table: TableName;
  readonly #d: SqlDialect;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #cullFraction: number;
  readonly #pruneBatch: number;
  readonly #cullCheckWrites: number;
  readonly #q: Record<
    | 'get'
    | 'getMany'
    | 'set'
    | 'add'
    | 'incr'
    | 'has'
    | 'ttl'
    | 'touch'
    | 'delete'
    | 'deleteMany'
    | 'clear'
    | 'prune'
    | 'cull'
    | 'count'
    | 'stats',
    SqlStatement
  >;
  readonly #setMany: SqlStatement | undefined;
  readonly #coalescer: ReadCoalescer<Uint8Array> | undefined;
  readonly #timer: NodeJS.Timeout | undefined;
  #tableReady: boolean;
  #creating: Promise<void> | undefined;
  #housekeeping: Promise<PruneResult> | undefined;
  #writes = 0;
  #evictions = 0;
  #housekeepingErrors = 0;
  #closed = false;

  protected constructor(
    dialect: SqlDialect,
    options: TableStoreOptions,
    limits: { maxKeyBytes: number; forbiddenKeyChars?: RegExp; inProcess?: boolean },
  ) {
    this.#d = dialect;
    this.name = dialect.name;
    this.table = tableName(options.table ?? 'larder_cache', dialect.schemas);
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 1_000_000;
    if (!(this.#maxEntries >= 1))
      throw new CacheConfigError(`maxEntries must be at least 1 (or Infinity), got ${options.maxEntries}`);
    this.#cullFraction = options.cullFraction ?? 1 / 3;
    if (!(this.#cullFraction > 0 && this.#cullFraction <= 1)) {
      throw new CacheConfigError(`cullFraction must be in (0, 1], got ${options.cullFraction}`);
    }
    this.#pruneBatch = options.pruneBatch ?? 1000;
    if (!(Number.isInteger(this.#pruneBatch) && this.#pruneBatch > 0)) {
      throw new CacheConfigError(`pruneBatch must be a positive integer, got ${options.pruneBatch}`);
    }
    const pruneInterval = options.pruneInterval ?? 60_000;
    if (!(Number.isFinite(pruneInterval) && pruneInterval >= 0)) {
      throw new CacheConfigError(
        `pruneInterval must be a number of ms >= 0 (0 = off), got ${options.pruneInterval}`,
      );
    }
    const maxValueBytes = options.maxValueBytes ?? 64 * 1024 * 1024;
    if (!(Number.isInteger(maxValueBytes) && maxValueBytes > 0 && maxValueBytes <= 1_000_000_000)) {
      throw new CacheConfigError(
        `maxValueBytes must be a positive integer up to 1e9, got ${options.maxValueBytes}`,
      );
    }
    // Count rows at most once per this many writes (plus once per prune interval), never per write.
    this.#cullCheckWrites = Number.isFinite(this.#maxEntries)
      ? Math.max(1000, Math.ceil(this.#maxEntries / 100))
      : Number.POSITIVE_INFINITY;
    this.#tableReady = options.createTable === false;
    this.capabilities = {
      ttlGranularityMs: 1,
      maxKeyBytes: limits.maxKeyBytes,
      ...(limits.forbiddenKeyChars ? { forbiddenKeyChars: limits.forbiddenKeyChars } : {}),
      maxValueBytes,
      clearScope: 'prefix',
      atomicIncr: true,
      nativeTtl: true,
      inProcess: limits.inProcess === true,
    };

    const t = this.table.quoted;
    const d = dialect;
    const live = '(expires_at IS NULL OR expires_at > $2)';
    const upsert = 'ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at';
    const sql = (name: string, text: string): SqlStatement => ({
      name: `larder_${this.table.tag}_${name}`,
      text,
    });
    this.#q = {
      get: sql('get', `SELECT value FROM ${t} WHERE key = $1 AND ${live}`),
      getMany: sql('get_many', `SELECT key, value FROM ${t} WHERE key ${d.keyIn('$1')} AND ${live}`),
      set: sql('set', `INSERT INTO ${t} AS c (key, value, expires_at) VALUES ($1, $2, $3) ${upsert}`),
      // An expired row counts as absent: the conflict branch replaces it, and only it.
      add: sql(
        'add',
        `INSERT INTO ${t} AS c (key, value, expires_at) VALUES ($1, $2, $3) ${upsert} WHERE c.expires_at <= $4`,
      ),
      // One atomic statement: insert at delta, restart an expired row, or add to a live integer
      // (keeping its expiry). A live non-integer matches no branch: no row comes back.
      incr: sql(
        'incr',
        `INSERT INTO ${t} AS c (key, value, expires_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET ` +
          `value = CASE WHEN c.expires_at <= $4 THEN EXCLUDED.value ELSE ${d.increment('c.value', '$5')} END, ` +
          'expires_at = CASE WHEN c.expires_at <= $4 THEN EXCLUDED.expires_at ELSE c.expires_at END ' +
          `WHERE c.expires_at <= $4 OR ${d.incrementable('c.value', '$5')} RETURNING value`,
      ),
      has: sql('has', `SELECT 1 AS found FROM ${t} WHERE key = $1 AND ${live}`),
      ttl: sql('ttl', `SELECT expires_at FROM ${t} WHERE key = $1 AND ${live}`),
      touch: sql('touch', `UPDATE ${t} SET expires_at = $3 WHERE key = $1 AND ${live}`),
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
      prune: sql(
        'prune',
        `DELETE FROM ${t} WHERE ${d.rowLocator} IN (SELECT ${d.rowLocator} FROM ${t} WHERE expires_at <= $1 LIMIT $2${d.skipLocked})`,
      ),
      cull: sql(
        'cull',
        `DELETE FROM ${t} WHERE ${d.rowLocator} IN (SELECT ${d.rowLocator} FROM ${t} ORDER BY expires_at ASC NULLS LAST LIMIT $1${d.skipLocked})`,
      ),
      count: sql('count', `SELECT count(*) AS n FROM ${t}`),
      stats: sql(
        'stats',
        `SELECT count(*) AS items, count(CASE WHEN expires_at <= $1 THEN 1 END) AS expired FROM ${t}`,
      ),
    };
    this.#setMany =
      d.manyRows === undefined
        ? undefined
        : sql('set_many', `INSERT INTO ${t} AS c (key, value, expires_at) ${d.manyRows} ${upsert}`);
    this.#coalescer = d.coalesceReads
      ? new ReadCoalescer<Uint8Array>((keys) => this.#fetch(keys), d.maxKeysPerStatement)
      : undefined;
    if (pruneInterval > 0) {
      this.#timer = setInterval(() => this.#background(), pruneInterval);
      this.#timer.unref();
    }
  }

  /**
   * Creates the table and its expiry index if they do not exist (Django's `createcachetable`).
   * Safe to run from a migration, concurrently and repeatedly.
   */
  async createCacheTable(): Promise<void> {
    this.#assertOpen();
    await this.#d.exec(this.#d.createTableSql(this.table));
    this.#tableReady = true;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    if (this.#coalescer !== undefined) {
      this.#assertOpen();
      return this.#coalescer.get(key);
    }
    const creating = this.#ready();
    if (creating !== undefined) await creating;
    const row = await this.#d.first(this.#q.get, [key, this.#now()]);
    return row === undefined ? undefined : (row.value as Uint8Array);
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return [];
    const found = await this.#fetch([...new Set(keys)]);
    return found.length === keys.length ? found : this.#byKey(keys, found);
  }

  async set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    const creating = this.#ready();
    if (creating !== undefined) await creating;
    await this.#d.run(this.#q.set, [key, this.#bytes(value, key), this.#expiresAt(ttlMs)]);
    this.#wrote(1);
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#ready();
    // The last entry for a key wins; keys go out sorted, so concurrent batches lock rows in one order.
    const latest = new Map<string, StoreEntry>();
    for (const entry of entries) latest.set(entry.key, entry);
    const sorted = [...latest.values()].sort((a, b) => compareKeys(a.key, b.key));
    const now = this.#now();
    for (const batch of chunks(sorted, this.#d.maxKeysPerStatement)) {
      const keys = batch.map((e) => e.key);
      const values = batch.map((e) => this.#bytes(e.value, e.key));
      const expires = batch.map((e) => this.#expiresAt(e.ttlMs, now));
      if (this.#setMany !== undefined) {
        await this.#d.run(this.#setMany, this.#d.manyRowsValues(keys, values, expires));
      } else {
        await this.#d.runEach(
          this.#q.set,
          keys.map((k, i) => [k, values[i], expires[i]]),
        );
      }
    }
    this.#wrote(latest.size);
  }

  async add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    await this.#ready();
    const now = this.#now();
    const changed = await this.#d.run(this.#q.add, [
      key,
      this.#bytes(value, key),
      this.#expiresAt(ttlMs, now),
      now,
    ]);
    if (changed > 0) this.#wrote(1);
    return changed > 0;
  }

  async delete(key: string): Promise<boolean> {
    await this.#ready();
    const rows = await this.#d.all(this.#q.delete, [key]);
    const now = this.#now();
    return rows.some((row) => isLive(row.expires_at, now));
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0;
    await this.#ready();
    const sorted = [...new Set(keys)].sort(compareKeys);
    let removed = 0;
    for (const batch of chunks(sorted, this.#d.maxKeysPerStatement)) {
      const rows = await this.#d.all(this.#q.deleteMany, [this.#d.keyList(batch)]);
      const now = this.#now();
      for (const row of rows) if (isLive(row.expires_at, now)) removed++;
    }
    return removed;
  }

  async has(key: string): Promise<boolean> {
    await this.#ready();
    return (await this.#d.first(this.#q.has, [key, this.#now()])) !== undefined;
  }

  async incr(key: string, delta: number, ttlMs: number): Promise<number> {
    if (!Number.isSafeInteger(delta)) {
      throw new NotIntegerError(`incr delta must be a safe integer, got ${delta}`, { store: this.name });
    }
    await this.#ready();
    const now = this.#now();
    const rows = await this.#d.all(this.#q.incr, [
      key,
      Buffer.from(String(delta), 'latin1'),
      this.#expiresAt(ttlMs, now),
      now,
      delta,
    ]);
    const value = rows[0]?.value as Uint8Array | undefined;
    if (value === undefined) {
      throw new NotIntegerError(
        'the value under this key is not an integer (or would pass 2^53); incr needs one',
        {
          store: this.name,
        },
      );
    }
    this.#wrote(1);
    return Number(asBuffer(value).toString('latin1'));
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    await this.#ready();
    const now = this.#now();
    return (await this.#d.run(this.#q.touch, [key, now, this.#expiresAt(ttlMs, now)])) > 0;
  }

  async ttl(key: string): Promise<number | undefined> {
    await this.#ready();
    const now = this.#now();
    const row = await this.#d.first(this.#q.ttl, [key, now]);
    if (row === undefined) return undefined;
    if (row.expires_at === null) return Number.POSITIVE_INFINITY;
    return Math.max(0, Number(row.expires_at) - now);
  }

  async clear(prefix: string): Promise<void> {
    await this.#ready();
    await this.#d.run(this.#q.clear, [this.#d.prefixPattern(prefix)]);
  }

  async info(): Promise<StoreInfo> {
    await this.#ready();
    const [stats, extra] = await Promise.all([
      this.#d.first(this.#q.stats, [this.#now()]),
      this.#d.info(this.table),
    ]);
    return {
      ...extra,
      items: Number(stats?.items ?? 0),
      expiredItems: Number(stats?.expired ?? 0),
      evictions: this.#evictions,
      evictionPolicy: 'cull',
      maxEntries: this.#maxEntries,
      table: this.table.raw,
      housekeepingErrors: this.#housekeepingErrors,
    };
  }

  /**
   * One housekeeping pass, as the timer runs it: deletes expired rows in batches of
   * `pruneBatch`, then, when the table holds more than `maxEntries` rows, culls the
   * `cullFraction` that expire soonest. Concurrent calls share one pass.
   */
  prune(): Promise<PruneResult> {
    if (this.#housekeeping !== undefined) return this.#housekeeping;
    const pass = this.#housekeep().finally(() => {
      this.#housekeeping = undefined;
    });
    this.#housekeeping = pass;
    return pass;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#housekeeping?.catch(() => undefined);
    await this.#d.close();
  }

  async #housekeep(): Promise<PruneResult> {
    await this.#ready();
    this.#writes = 0;
    const result: PruneResult = { expired: 0, culled: 0 };
    for (let i = 0; i < MAX_PRUNE_BATCHES && !this.#closed; i++) {
      const removed = await this.#d.run(this.#q.prune, [this.#now(), this.#pruneBatch]);
      result.expired += removed;
      if (removed < this.#pruneBatch) break;
      await yieldToEventLoop();
    }
    if (!Number.isFinite(this.#maxEntries) || this.#closed) return result;
    const count = Number((await this.#d.first(this.#q.count, []))?.n ?? 0);
    if (count <= this.#maxEntries) return result;
    let remaining = Math.max(count - this.#maxEntries, Math.ceil(count * this.#cullFraction));
    const batch = this.#pruneBatch * 10;
    while (remaining > 0 && !this.#closed) {
      const removed = await this.#d.run(this.#q.cull, [Math.min(remaining, batch)]);
      if (removed === 0) break;
      result.culled += removed;
      this.#evictions += removed;
      remaining -= removed;
      await yieldToEventLoop();
    }
    return result;
  }

  /** Runs housekeeping in the background: failures are counted, never thrown or left unhandled. */
  #background(): void {
    if (this.#closed) return;
    this.prune().catch(() => {
      this.#housekeepingErrors++;
    });
  }

  #wrote(count: number): void {
    this.#writes += count;
    if (this.#writes >= this.#cullCheckWrites) {
      this.#writes = 0;
      this.#background();
    }
  }

  /** Reads live values for distinct keys, in their order. */
  async #fetch(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    const creating = this.#ready();
    if (creating !== undefined) await creating;
    const now = this.#now();
    if (keys.length === 1) {
      // A lone read (no concurrent gets to coalesce) takes the plain primary-key lookup.
      const row = await this.#d.first(this.#q.get, [keys[0], now]);
      return [row === undefined ? undefined : (row.value as Uint8Array)];
    }
    const found = new Map<string, Uint8Array>();
    for (const batch of chunks(keys, this.#d.maxKeysPerStatement)) {
      const rows = await this.#d.all(this.#q.getMany, [this.#d.keyList(batch), now]);
      for (const row of rows) found.set(row.key as string, row.value as Uint8Array);
    }
    return keys.map((key) => found.get(key));
  }

  #byKey(keys: readonly string[], distinctValues: (Uint8Array | undefined)[]): (Uint8Array | undefined)[] {
    const distinct = [...new Set(keys)];
    const byKey = new Map(distinct.map((key, i) => [key, distinctValues[i]]));
    return keys.map((key) => byKey.get(key));
  }

  /** Resolves once the table exists (creating it on first use unless `createTable: false`). */
  #ready(): Promise<void> | undefined {
    this.#assertOpen();
    if (this.#tableReady) return undefined;
    this.#creating ??= this.createCacheTable().finally(() => {
      this.#creating = undefined;
    });
    return this.#creating;
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError(`this ${this.name} store is closed`, { store: this.name });
  }

  #expiresAt(ttlMs: number, now = this.#now()): number | null {
    return ttlMs === Number.POSITIVE_INFINITY ? null : now + ttlMs;
  }

  #bytes(value: Uint8Array, key: string): Buffer {
    if (value.byteLength > this.capabilities.maxValueBytes) {
      throw new ValueTooLargeError(
        `value of ${value.byteLength} bytes exceeds the ${this.name} store's maxValueBytes (${this.capabilities.maxValueBytes}); raise maxValueBytes or enable compression`,
        { key, store: this.name },
      );
    }
    return asBuffer(value);
  }
}

/** Lets I/O run between batches (a synchronous driver would otherwise hold the event loop for the whole pass). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function isLive(expiresAt: unknown, now: number): boolean {
  return expiresAt === null || Number(expiresAt) > now;
}
