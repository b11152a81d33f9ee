import type { SqlExecutor } from './dialect.js';
import type { TableStatements } from './statements.js';

/** What one housekeeping pass removed. */
export interface PruneResult {
  /** Expired rows deleted. */
  expired: number;
  /** Live rows deleted because the table held more than `maxEntries`. */
  culled: number;
}

/** The settings housekeeping runs with (checked by the table options). */
export interface HousekeepingSettings {
  maxEntries: number;
  cullFraction: number;
  pruneBatch: number;
  pruneInterval: number;
  now: () => number;
}

/** Batches per housekeeping pass, so one pass stays short; the next pass continues. */
const MAX_PRUNE_BATCHES = 100;
/** Rows a slice of a key-order walk covers per `pruneBatch` (tables without an expiry index). */
const SLICE_PER_BATCH = 10;

/**
 * Pruning and culling of one cache table: a timer that never keeps the process alive, a pass
 * after every so many writes, expired rows deleted in small batches, and, past `maxEntries`,
 * the rows that expire soonest culled. Failures in the background are counted, never thrown.
 */
export class Housekeeping {
  readonly #sql: SqlExecutor;
  readonly #q: TableStatements;
  readonly #settings: HousekeepingSettings;
  readonly #ready: () => Promise<void> | undefined;
  readonly #cullCheckWrites: number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #walk: boolean;
  /** Where the next pruning walk starts (tables without an expiry index); '' is the start of the table. */
  #pruneCursor = '';
  #pass: Promise<PruneResult> | undefined;
  #writes = 0;
  #stopped = false;
  /** Live rows culled since the store was created. */
  evictions = 0;
  /** Background passes that failed. */
  errors = 0;

  constructor(
    sql: SqlExecutor,
    statements: TableStatements,
    settings: HousekeepingSettings,
    ready: () => Promise<void> | undefined,
    expiryIndex: boolean,
  ) {
    this.#walk = !expiryIndex;
    this.#sql = sql;
    this.#q = statements;
    this.#settings = settings;
    this.#ready = ready;
    // Count rows at most once per this many writes (plus once per prune interval), never per write.
    this.#cullCheckWrites = Number.isFinite(settings.maxEntries)
      ? Math.max(1000, Math.ceil(settings.maxEntries / 100))
      : Number.POSITIVE_INFINITY;
    if (settings.pruneInterval > 0) {
      this.#timer = setInterval(() => this.#background(), settings.pruneInterval);
      this.#timer.unref();
    }
  }

  /** One pass; concurrent calls share it. */
  prune(): Promise<PruneResult> {
    if (this.#pass !== undefined) return this.#pass;
    const pass = this.#run().finally(() => {
      this.#pass = undefined;
    });
    this.#pass = pass;
    return pass;
  }

  /** Counts written rows; past the threshold, a pass runs in the background. */
  wrote(count: number): void {
    this.#writes += count;
    if (this.#writes >= this.#cullCheckWrites) {
      this.#writes = 0;
      this.#background();
    }
  }

  /** Stops the timer and waits for a running pass to end. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#pass?.catch(() => undefined);
  }

  async #run(): Promise<PruneResult> {
    const creating = this.#ready();
    if (creating !== undefined) await creating;
    const { maxEntries } = this.#settings;
    this.#writes = 0;
    const result: PruneResult = { expired: 0, culled: 0 };
    result.expired = this.#walk ? await this.#pruneWalk() : await this.#pruneByIndex();
    if (!Number.isFinite(maxEntries) || this.#stopped) return result;
    const count = Number((await this.#sql.first(this.#q.count, []))?.n ?? 0);
    if (count <= maxEntries) return result;
    const excess = Math.max(count - maxEntries, Math.ceil(count * this.#settings.cullFraction));
    result.culled = this.#walk ? await this.#cullWalk(excess, count) : await this.#cullByIndex(excess);
    this.evictions += result.culled;
    return result;
  }

  /** Deletes expired rows found through the expiry index, `pruneBatch` at a time. */
  async #pruneByIndex(): Promise<number> {
    const { pruneBatch, now } = this.#settings;
    let expired = 0;
    for (let i = 0; i < MAX_PRUNE_BATCHES && !this.#stopped; i++) {
      const removed = await this.#sql.run(this.#q.prune, [now(), pruneBatch]);
      expired += removed;
      if (removed < pruneBatch) break;
      await yieldToEventLoop();
    }
    return expired;
  }

  /**
   * Walks the table in key order from where the last pass stopped, one slice of
   * `pruneBatch × 10` rows per statement, deleting the expired rows of each slice.
   */
  async #pruneWalk(): Promise<number> {
    const { pruneBatch, now } = this.#settings;
    let expired = 0;
    for (let i = 0; i < MAX_PRUNE_BATCHES && !this.#stopped; i++) {
      const from = this.#pruneCursor;
      const slice = await this.#slice(from, pruneBatch * SLICE_PER_BATCH);
      if (slice === undefined) {
        this.#pruneCursor = '';
        break;
      }
      expired += await this.#sql.run(this.#q.pruneSlice, [from, slice.last, now()]);
      // A short slice is the end of the table: the next pass starts again from the beginning.
      this.#pruneCursor = slice.full ? slice.last : '';
      if (!slice.full) break;
      await yieldToEventLoop();
    }
    return expired;
  }

  /** Deletes the `excess` rows that expire soonest, found through the expiry index. */
  async #cullByIndex(excess: number): Promise<number> {
    const batch = this.#settings.pruneBatch * 10;
    let culled = 0;
    while (culled < excess && !this.#stopped) {
      const removed = await this.#sql.run(this.#q.cull, [Math.min(excess - culled, batch)]);
      if (removed === 0) break;
      culled += removed;
      await yieldToEventLoop();
    }
    return culled;
  }

  /**
   * Without an expiry index: walks the whole table in key order and deletes, in each slice, the
   * same share of rows (`excess ÷ count`), those of the slice that expire soonest.
   */
  async #cullWalk(excess: number, count: number): Promise<number> {
    const size = this.#settings.pruneBatch * SLICE_PER_BATCH;
    const share = excess / count;
    let culled = 0;
    let from = '';
    while (culled < excess && !this.#stopped) {
      const slice = await this.#slice(from, size);
      if (slice === undefined) break;
      const quota = Math.min(excess - culled, Math.ceil(slice.rows * share));
      culled += await this.#sql.run(this.#q.cullSlice, [from, slice.last, quota]);
      if (!slice.full) break;
      from = slice.last;
      await yieldToEventLoop();
    }
    return culled;
  }

  /** The next `size` rows after key `from`: their last key and count, or undefined past the end. */
  async #slice(
    from: string,
    size: number,
  ): Promise<{ last: string; rows: number; full: boolean } | undefined> {
    const row = await this.#sql.first(this.#q.slice, [from, size]);
    const rows = Number(row?.n ?? 0);
    if (rows === 0 || typeof row?.last !== 'string') return undefined;
    return { last: row.last, rows, full: rows >= size };
  }

  #background(): void {
    if (this.#stopped) return;
    this.prune().catch(() => {
      this.errors++;
    });
  }
}

/** Lets I/O run between batches (a synchronous driver would otherwise hold the event loop for the whole pass). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
