import { CacheError } from './errors.js';
import type { Store } from './store.js';

/** A generation key lives this long and is renewed whenever a process re-reads it. */
const GENERATION_TTL_MS = 30 * 86_400_000;

/**
 * For stores that cannot enumerate keys (memcached), a clear bumps a generation number
 * stored on the server, and every key carries its scope's generation, so old keys become
 * unreachable and age out. A missing generation (never set, evicted or expired) is
 * recreated from the clock, so it can never fall back to a value old keys were written under.
 * Each process re-reads the generation at most every `refreshMs`: a clear in another
 * process is seen within that time.
 */
export class Generation {
  readonly #store: Store;
  readonly #key: string;
  readonly #refreshMs: number;
  readonly #now: () => number;
  #value: number | undefined;
  #readAt = 0;
  #pending: Promise<number> | undefined;

  constructor(store: Store, key: string, refreshMs: number, now: () => number) {
    this.#store = store;
    this.#key = key;
    this.#refreshMs = refreshMs;
    this.#now = now;
  }

  /**
   * The current generation: synchronous while fresh, one store round trip otherwise. When the
   * re-read fails on one server of several (the store spreads keys over servers, and the
   * generation key lives on the one that failed), the value read last stays in use until the
   * next refresh: that server's death must not fail the keys the others hold. A scope whose
   * generation was never read, or whose only server failed, fails with the store.
   */
  current(): number | Promise<number> {
    if (this.#value !== undefined && this.#now() - this.#readAt < this.#refreshMs) return this.#value;
    this.#pending ??= this.#read()
      .catch((error: unknown) => {
        if (this.#value === undefined || !(error instanceof CacheError && error.server !== undefined)) {
          throw error;
        }
        return this.#remember(this.#value);
      })
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  /** Moves every key of the scope out of reach. */
  async bump(): Promise<void> {
    await this.#store.add(this.#key, encode(this.#now()), GENERATION_TTL_MS);
    this.#remember(await this.#store.incr(this.#key, 1, GENERATION_TTL_MS));
  }

  async #read(): Promise<number> {
    const bytes = await this.#store.get(this.#key);
    let value = bytes === undefined ? Number.NaN : Number(Buffer.from(bytes).toString('latin1'));
    if (!Number.isSafeInteger(value)) {
      const seed = this.#now();
      value = (await this.#store.add(this.#key, encode(seed), GENERATION_TTL_MS))
        ? seed
        : await this.#reread();
    } else {
      await this.#store.touch(this.#key, GENERATION_TTL_MS);
    }
    return this.#remember(value);
  }

  async #reread(): Promise<number> {
    const bytes = await this.#store.get(this.#key);
    const value = bytes === undefined ? Number.NaN : Number(Buffer.from(bytes).toString('latin1'));
    return Number.isSafeInteger(value) ? value : this.#now();
  }

  #remember(value: number): number {
    this.#value = value;
    this.#readAt = this.#now();
    return value;
  }
}

function encode(value: number): Uint8Array {
  return Buffer.from(String(value), 'latin1');
}
