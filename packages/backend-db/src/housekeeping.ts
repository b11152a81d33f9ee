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
  ) {
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
    const { maxEntries, cullFraction, pruneBatch, now } = this.#settings;
    this.#writes = 0;
    const result: PruneResult = { expired: 0, culled: 0 };
    for (let i = 0; i < MAX_PRUNE_BATCHES && !this.#stopped; i++) {
      const removed = await this.#sql.run(this.#q.prune, [now(), pruneBatch]);
      result.expired += removed;
      if (removed < pruneBatch) break;
      await yieldToEventLoop();
    }
    if (!Number.isFinite(maxEntries) || this.#stopped) return result;
    const count = Number((await this.#sql.first(this.#q.count, []))?.n ?? 0);
    if (count <= maxEntries) return result;
    let remaining = Math.max(count - maxEntries, Math.ceil(count * cullFraction));
    const batch = pruneBatch * 10;
    while (remaining > 0 && !this.#stopped) {
      const removed = await this.#sql.run(this.#q.cull, [Math.min(remaining, batch)]);
      if (removed === 0) break;
      result.culled += removed;
      this.evictions += removed;
      remaining -= removed;
      await yieldToEventLoop();
    }
    return result;
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
