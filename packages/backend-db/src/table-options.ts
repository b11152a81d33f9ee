import { CacheConfigError } from '@larder/core';
import type { OptionSpec } from '@larder/core/store-kit';

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

/** The types of the table options, for `checkOptions` (each backend adds its own). */
export const TABLE_OPTION_SPEC: OptionSpec = {
  table: 'string',
  createTable: 'boolean',
  maxEntries: 'number',
  cullFraction: 'number',
  pruneInterval: 'number',
  pruneBatch: 'number',
  maxValueBytes: 'number',
  now: 'function',
};

/** Table options with their defaults, checked. */
export interface TableSettings {
  table: string;
  createTable: boolean;
  maxEntries: number;
  cullFraction: number;
  pruneInterval: number;
  pruneBatch: number;
  maxValueBytes: number;
  now: () => number;
}

/** Applies defaults and checks the ranges of the table options (their types were checked by `checkOptions`). */
export function tableSettings(options: TableStoreOptions): TableSettings {
  const maxEntries = options.maxEntries ?? 1_000_000;
  if (!(maxEntries >= 1))
    throw new CacheConfigError(`maxEntries must be at least 1 (or Infinity), got ${options.maxEntries}`);
  const cullFraction = options.cullFraction ?? 1 / 3;
  if (!(cullFraction > 0 && cullFraction <= 1)) {
    throw new CacheConfigError(`cullFraction must be in (0, 1], got ${options.cullFraction}`);
  }
  const pruneBatch = options.pruneBatch ?? 1000;
  if (!(Number.isInteger(pruneBatch) && pruneBatch > 0)) {
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
  return {
    table: options.table ?? 'larder_cache',
    createTable: options.createTable !== false,
    maxEntries,
    cullFraction,
    pruneInterval,
    pruneBatch,
    maxValueBytes,
    now: options.now ?? Date.now,
  };
}
