import { CacheClosedError, NotIntegerError, ValueTooLargeError } from '@larder/core';
import {
  ReadCoalescer,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  type StoreInfo,
} from '@larder/core/store-kit';
import type { SqlExecutor, SqlRow, SqlSyntax } from './dialect.js';
import { Housekeeping, type PruneResult } from './housekeeping.js';
import { asBuffer, chunks, compareKeys, type TableName, tableName } from './sql.js';
import { buildStatements, type TableStatements } from './statements.js';
import { type TableStoreOptions, tableSettings } from './table-options.js';
import { type BatchedIncr, type BatchedSet, IncrBatcher, SetBatcher } from './write-batchers.js';

/** Live keys per page of `keys()`. */
const KEYS_PAGE = 500;

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
  readonly #syntax: SqlSyntax;
  readonly #sql: SqlExecutor;
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #q: TableStatements;
  readonly #coalescer: ReadCoalescer<Uint8Array> | undefined;
  readonly #sets: SetBatcher | undefined;
  readonly #incrs: IncrBatcher | undefined;
  readonly #housekeeping: Housekeeping;
  #tableReady: boolean;
  #creating: Promise<void> | undefined;
  #closed = false;

  protected constructor(
    syntax: SqlSyntax,
    executor: SqlExecutor,
    options: TableStoreOptions,
    limits: { maxKeyBytes: number; forbiddenKeyChars?: RegExp; inProcess?: boolean },
  ) {
    const settings = tableSettings(options);
    this.#syntax = syntax;
    this.#sql = executor;
    this.name = syntax.name;
    this.table = tableName(settings.table, syntax.schemas);
    this.#now = settings.now;
    this.#maxEntries = settings.maxEntries;
    this.#tableReady = !settings.createTable;
    this.capabilities = {
      ttlGranularityMs: 1,
      maxKeyBytes: limits.maxKeyBytes,
      ...(limits.forbiddenKeyChars ? { forbiddenKeyChars: limits.forbiddenKeyChars } : {}),
      maxValueBytes: settings.maxValueBytes,
      clearScope: 'prefix',
      atomicIncr: true,
      nativeTtl: true,
      inProcess: limits.inProcess === true,
      listKeys: true,
    };
    this.#q = buildStatements(this.table, syntax);
    this.#coalescer = executor.coalesceReads
      ? new ReadCoalescer<Uint8Array>((keys) => this.#fetch(keys), syntax.maxKeysPerStatement)
      : undefined;
    this.#sets =
      executor.coalesceWrites && this.#q.setMany !== undefined
        ? new SetBatcher(
            (batch) => this.#writeSets(batch),
            (key, value, expiresAt) => this.#sql.run(this.#q.set, [key, value, expiresAt]),
            syntax.maxKeysPerStatement,
          )
        : undefined;
    this.#incrs =
      executor.coalesceWrites && this.#q.incrMany !== undefined
        ? new IncrBatcher(
            (batch) => this.#writeIncrs(batch),
            (key, delta, expiresAt) => this.#incrOne(key, delta, expiresAt),
            syntax.maxKeysPerStatement,
          )
        : undefined;
    this.#housekeeping = new Housekeeping(
      executor,
      this.#q,
      settings,
      () => this.#ready(),
      syntax.expiryIndex,
    );
  }

  /** Logs and crash reports show where the table lives, never the client (its options may hold a password). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `${this.constructor.name} { endpoint: '${this.#sql.describe()}', table: '${this.table.raw}', closed: ${this.#closed} }`;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, endpoint: this.#sql.describe(), table: this.table.raw, closed: this.#closed };
  }

  toString(): string {
    return `${this.constructor.name}(${this.#sql.describe()}, ${this.table.raw})`;
  }

  /**
   * Creates the table and its expiry index if they do not exist (Django's `createcachetable`).
   * Safe to run from a migration, concurrently and repeatedly.
   */
  async createCacheTable(): Promise<void> {
    this.#assertOpen();
    await this.#sql.exec(this.#syntax.createTableSql(this.table));
    this.#tableReady = true;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    // Not `async`: a read on the hot path is one promise, the executor's.
    let creating: Promise<void> | undefined;
    try {
      if (this.#coalescer !== undefined) {
        this.#assertOpen();
        return this.#coalescer.get(key);
      }
      creating = this.#ready();
    } catch (error) {
      return Promise.reject(error);
    }
    if (creating !== undefined) return creating.then(() => this.get(key));
    return this.#sql.value(this.#q.get, [key, this.#now()]) as Promise<Uint8Array | undefined>;
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#assertOpen();
    if (keys.length === 0) return [];
    const unique = new Set(keys);
    if (unique.size === keys.length) return this.#fetch(keys);
    const distinct = [...unique];
    const found = await this.#fetch(distinct);
    const byKey = new Map(distinct.map((key, i) => [key, found[i]]));
    return keys.map((key) => byKey.get(key));
  }

  set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    // Not `async`: a lone write on the hot path is the executor's promise and one step after it.
    let written: Promise<unknown>;
    try {
      const creating = this.#ready();
      if (creating !== undefined) return creating.then(() => this.set(key, value, ttlMs));
      const bytes = this.#bytes(value, key);
      const expiresAt = this.#expiresAt(ttlMs);
      written =
        this.#sets !== undefined
          ? this.#sets.set(key, bytes, expiresAt)
          : this.#sql.run(this.#q.set, [key, bytes, expiresAt]);
    } catch (error) {
      return Promise.reject(error);
    }
    return written.then(this.#wroteOne);
  }

  readonly #wroteOne = (): void => {
    this.#housekeeping.wrote(1);
  };

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    this.#assertOpen();
    if (entries.length === 0) return;
    await this.#ready();
    // The last entry for a key wins; keys go out sorted, so concurrent batches lock rows in one order.
    const latest = new Map<string, StoreEntry>();
    for (const entry of entries) latest.set(entry.key, entry);
    const sorted = [...latest.values()].sort((a, b) => compareKeys(a.key, b.key));
    const now = this.#now();
    for (const batch of chunks(sorted, this.#syntax.maxKeysPerStatement)) {
      const keys = batch.map((e) => e.key);
      const values = batch.map((e) => this.#bytes(e.value, e.key));
      const expires = batch.map((e) => this.#expiresAt(e.ttlMs, now));
      if (this.#q.setMany !== undefined) {
        await this.#sql.run(this.#q.setMany, this.#syntax.manyRowsValues(keys, values, expires));
      } else {
        await this.#sql.runEach(
          this.#q.set,
          keys.map((k, i) => [k, values[i], expires[i]]),
        );
      }
    }
    this.#housekeeping.wrote(latest.size);
  }

  async add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    await this.#ready();
    const now = this.#now();
    const changed = await this.#sql.run(this.#q.add, [
      key,
      this.#bytes(value, key),
      this.#expiresAt(ttlMs, now),
      now,
    ]);
    if (changed > 0) this.#housekeeping.wrote(1);
    return changed > 0;
  }

  async delete(key: string): Promise<boolean> {
    await this.#ready();
    const rows = await this.#sql.all(this.#q.delete, [key]);
    const now = this.#now();
    return rows.some((row) => isLive(row.expires_at, now));
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    this.#assertOpen();
    if (keys.length === 0) return 0;
    await this.#ready();
    const sorted = [...new Set(keys)].sort(compareKeys);
    let removed = 0;
    for (const batch of chunks(sorted, this.#syntax.maxKeysPerStatement)) {
      const rows = await this.#sql.all(this.#q.deleteMany, [this.#syntax.keyList(batch)]);
      const now = this.#now();
      for (const row of rows) if (isLive(row.expires_at, now)) removed++;
    }
    return removed;
  }

  async has(key: string): Promise<boolean> {
    await this.#ready();
    return (await this.#sql.first(this.#q.has, [key, this.#now()])) !== undefined;
  }

  async incr(key: string, delta: number, ttlMs: number): Promise<number> {
    if (!Number.isSafeInteger(delta)) {
      throw new NotIntegerError(`incr delta must be a safe integer, got ${delta}`, { key, store: this.name });
    }
    const creating = this.#ready();
    if (creating !== undefined) await creating;
    const value =
      this.#incrs !== undefined
        ? await this.#incrs.incr(key, delta, this.#expiresAt(ttlMs))
        : await this.#incrOne(key, delta, this.#expiresAt(ttlMs));
    if (value === undefined) {
      throw new NotIntegerError(
        'the value under this key is not an integer, or incr would take it past ±(2^53 - 1) (Number.MAX_SAFE_INTEGER), out of the safe-integer range; the stored value is unchanged',
        { key, store: this.name },
      );
    }
    this.#housekeeping.wrote(1);
    return Number(asBuffer(value).toString('latin1'));
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    await this.#ready();
    const now = this.#now();
    return (await this.#sql.run(this.#q.touch, [key, now, this.#expiresAt(ttlMs, now)])) > 0;
  }

  async ttl(key: string): Promise<number | undefined> {
    await this.#ready();
    const now = this.#now();
    const row = await this.#sql.first(this.#q.ttl, [key, now]);
    if (row === undefined) return undefined;
    if (row.expires_at === null) return Number.POSITIVE_INFINITY;
    return Math.max(0, Number(row.expires_at) - now);
  }

  async clear(prefix: string): Promise<void> {
    await this.#ready();
    await this.#sql.run(this.#q.clear, [this.#syntax.prefixPattern(prefix)]);
  }

  /** The live keys under `prefix`, in key order, a page of 500 at a time (never the whole table at once). */
  async *keys(prefix: string): AsyncIterable<string> {
    const creating = this.#ready();
    if (creating !== undefined) await creating;
    const pattern = this.#syntax.prefixPattern(prefix);
    let after = '';
    for (;;) {
      this.#assertOpen();
      const rows = await this.#sql.all(this.#q.keys, [pattern, after, this.#now(), KEYS_PAGE]);
      for (const row of rows) yield row.key as string;
      if (rows.length < KEYS_PAGE) return;
      after = rows[rows.length - 1]!.key as string;
    }
  }

  async info(): Promise<StoreInfo> {
    await this.#ready();
    const [stats, extra] = await Promise.all([
      this.#sql.first(this.#q.stats, [this.#now()]),
      this.#sql.info(this.table),
    ]);
    return {
      ...extra,
      items: Number(stats?.items ?? 0),
      expiredItems: Number(stats?.expired ?? 0),
      evictions: this.#housekeeping.evictions,
      evictionPolicy: 'cull',
      maxEntries: this.#maxEntries,
      table: this.table.raw,
      housekeepingErrors: this.#housekeeping.errors,
    };
  }

  /**
   * One housekeeping pass, as the timer runs it: deletes expired rows in batches of
   * `pruneBatch`, then, when the table holds more than `maxEntries` rows, culls the
   * `cullFraction` that expire soonest. Concurrent calls share one pass.
   */
  prune(): Promise<PruneResult> {
    return this.#housekeeping.prune();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Sets already accepted are written (or fail) before the connection goes.
    await Promise.all([this.#sets?.drain(), this.#incrs?.drain()]);
    await this.#housekeeping.stop();
    await this.#sql.close();
  }

  /**
   * Writes one tick's sets (distinct keys, sorted) as one upsert and settles every caller. When a
   * row spoils the statement (which then wrote nothing), each row is written alone, so only the
   * callers of a bad row get an error.
   */
  async #writeSets(batch: BatchedSet[]): Promise<void> {
    try {
      if (batch.length === 1) {
        const entry = batch[0]!;
        await this.#sql.run(this.#q.set, [entry.key, entry.value, entry.expiresAt]);
      } else {
        const values = this.#syntax.manyRowsValues(
          batch.map((e) => e.key),
          batch.map((e) => e.value),
          batch.map((e) => e.expiresAt),
        );
        await this.#sql.run(this.#q.setMany!, values);
      }
    } catch (error) {
      if (batch.length > 1 && this.#sql.rowFault(error)) {
        await Promise.all(batch.map((entry) => this.#writeSets([entry])));
        return;
      }
      for (const entry of batch) for (const waiter of entry.waiters) waiter.reject(error);
      return;
    }
    for (const entry of batch) for (const waiter of entry.waiters) waiter.resolve();
  }

  /** One increment in one statement: the counter's bytes after it, or undefined when it was not counted. */
  async #incrOne(key: string, delta: number, expiresAt: number | null): Promise<Uint8Array | undefined> {
    return (await this.#sql.value(this.#q.incr, [key, deltaBytes(delta), expiresAt, this.#now(), delta])) as
      | Uint8Array
      | undefined;
  }

  /** Runs one round of a tick's increments (distinct keys, sorted) as one upsert and settles every caller. */
  async #writeIncrs(batch: BatchedIncr[]): Promise<void> {
    if (batch.length === 1) {
      const entry = batch[0]!;
      await this.#incrOne(entry.key, entry.delta, entry.expiresAt).then(entry.resolve, entry.reject);
      return;
    }
    let rows: SqlRow[];
    try {
      const values = this.#syntax.manyRowsValues(
        batch.map((e) => e.key),
        batch.map((e) => deltaBytes(e.delta)),
        batch.map((e) => e.expiresAt),
      );
      rows = await this.#sql.all(this.#q.incrMany!, [...values, this.#now()]);
    } catch (error) {
      if (this.#sql.rowFault(error)) {
        await Promise.all(batch.map((entry) => this.#writeIncrs([entry])));
      } else {
        for (const entry of batch) entry.reject(error);
      }
      return;
    }
    const counted = new Map<string, Uint8Array>();
    for (const row of rows) counted.set(row.key as string, row.value as Uint8Array);
    for (const entry of batch) entry.resolve(counted.get(entry.key));
  }

  /** Reads live values for distinct keys, in their order. */
  async #fetch(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    const creating = this.#ready();
    if (creating !== undefined) await creating;
    const now = this.#now();
    if (keys.length === 1) {
      // A lone read (no concurrent gets to coalesce) takes the plain primary-key lookup.
      return [(await this.#sql.value(this.#q.get, [keys[0], now])) as Uint8Array | undefined];
    }
    const found = new Map<string, Uint8Array>();
    const max = this.#syntax.maxKeysPerStatement;
    for (const batch of keys.length <= max ? [keys] : chunks(keys, max)) {
      const rows = await this.#sql.arrays(this.#q.getMany, [this.#syntax.keyList(batch), now]);
      for (const row of rows) found.set(row[0] as string, row[1] as Uint8Array);
    }
    return keys.map((key) => found.get(key));
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

/** The delta as the ASCII decimal a new counter starts from. */
function deltaBytes(delta: number): Buffer {
  return Buffer.from(String(delta), 'latin1');
}

function isLive(expiresAt: unknown, now: number): boolean {
  return expiresAt === null || Number(expiresAt) > now;
}
