import { CacheClosedError, CacheConfigError, NotIntegerError, ValueTooLargeError } from './errors.js';
import type { Store, StoreCapabilities, StoreEntry, StoreInfo } from './store.js';

/** Options for the in-process store. */
export interface MemoryStoreOptions {
  /** Most entries kept; the least recently used go first. @default 100_000 */
  maxEntries?: number;
  /** Most bytes of keys and values kept (UTF-16 key length × 2 + value bytes). @default 128 MiB */
  maxBytes?: number;
  /** Largest single value accepted. @default 16 MiB */
  maxValueBytes?: number;
  /** How often expired entries are swept, in ms; the timer never keeps the process alive. @default 60_000 */
  sweepInterval?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

interface Entry {
  value: Uint8Array;
  expiresAt: number;
  bytes: number;
  /** Read since eviction last passed it: it gets a second chance (CLOCK). */
  used: boolean;
}

const INTEGER = /^-?\d+$/;

/**
 * An in-process store with millisecond TTLs, bounded by entries and bytes: the embedded
 * default and the test double that is not a mock. Eviction approximates LRU with CLOCK
 * (second chance): a read only sets a flag, so reads never reorder the map.
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  readonly capabilities: StoreCapabilities;
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;
  /**
   * Where eviction left off. Map iterators are live (they skip deleted entries and reach new
   * ones), so keeping one makes eviction O(1) amortized; a fresh `entries()` per eviction
   * would walk every hole that earlier deletions left at the old end of the map.
   */
  #hand: MapIterator<[string, Entry]> | undefined;
  #bytes = 0;
  #evictions = 0;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxEntries = positive('maxEntries', options.maxEntries ?? 100_000);
    this.#maxBytes = positive('maxBytes', options.maxBytes ?? 128 * 1024 * 1024);
    const maxValueBytes = positive('maxValueBytes', options.maxValueBytes ?? 16 * 1024 * 1024);
    if (maxValueBytes > this.#maxBytes) {
      throw new CacheConfigError(
        `maxValueBytes (${maxValueBytes}) exceeds maxBytes (${this.#maxBytes}); lower it`,
      );
    }
    this.#now = options.now ?? Date.now;
    this.capabilities = {
      ttlGranularityMs: 1,
      maxKeyBytes: 64 * 1024,
      maxValueBytes,
      clearScope: 'prefix',
      atomicIncr: true,
      nativeTtl: true,
      inProcess: true,
      listKeys: true,
    };
    this.#sweeper = setInterval(
      () => this.sweep(),
      positive('sweepInterval', options.sweepInterval ?? 60_000),
    );
    this.#sweeper.unref();
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.#read(key)?.value;
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return keys.map((key) => this.#read(key)?.value);
  }

  async set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    this.#write(key, value, ttlMs);
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    // All or nothing: check every size before the first write.
    const limit = this.capabilities.maxValueBytes;
    if (entries.some(({ value }) => value.byteLength > limit)) {
      const largest = Math.max(...entries.map(({ value }) => value.byteLength));
      throw new ValueTooLargeError(
        `a value of ${largest} bytes exceeds this MemoryStore's maxValueBytes (${limit}); raise maxValueBytes or store less`,
        { store: this.name },
      );
    }
    for (const { key, value, ttlMs } of entries) this.#write(key, value, ttlMs);
  }

  async add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    if (this.#live(key) !== undefined) return false;
    this.#write(key, value, ttlMs);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.#remove(key);
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) if (this.#remove(key)) removed++;
    return removed;
  }

  async has(key: string): Promise<boolean> {
    return this.#live(key) !== undefined;
  }

  async incr(key: string, delta: number, ttlMs: number): Promise<number> {
    const entry = this.#live(key);
    if (entry === undefined) {
      this.#write(key, Buffer.from(String(delta), 'latin1'), ttlMs);
      return delta;
    }
    const text = Buffer.from(entry.value.buffer, entry.value.byteOffset, entry.value.byteLength).toString(
      'latin1',
    );
    const next = INTEGER.test(text) ? Number(text) + delta : Number.NaN;
    if (!Number.isSafeInteger(next)) {
      throw new NotIntegerError(
        `the value under this key is not an integer (or would overflow); incr needs one`,
        {
          store: this.name,
        },
      );
    }
    const value = Buffer.from(String(next), 'latin1');
    this.#account(entry, value);
    return next;
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    const entry = this.#live(key);
    if (entry === undefined) return false;
    entry.expiresAt = this.#now() + ttlMs;
    return true;
  }

  async ttl(key: string): Promise<number | undefined> {
    const entry = this.#live(key);
    if (entry === undefined) return undefined;
    return entry.expiresAt === Number.POSITIVE_INFINITY
      ? entry.expiresAt
      : Math.max(0, entry.expiresAt - this.#now());
  }

  async clear(prefix: string): Promise<void> {
    this.#assertOpen();
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#remove(key);
  }

  async *keys(prefix: string): AsyncIterable<string> {
    this.#assertOpen();
    const now = this.#now();
    // A snapshot: the caller may write or delete while it iterates.
    const found: string[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now && key.startsWith(prefix)) found.push(key);
    }
    yield* found;
  }

  async info(): Promise<StoreInfo> {
    return {
      bytesUsed: this.#bytes,
      byteLimit: this.#maxBytes,
      items: this.#entries.size,
      evictions: this.#evictions,
      evictionPolicy: 'lru',
      serverVersion: `node ${process.versions.node}`,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#entries.clear();
    this.#hand = undefined;
    this.#bytes = 0;
  }

  /** Synchronous read, for an in-process tier in front of another store (the cache's L1). */
  readSync(key: string): Uint8Array | undefined {
    return this.#read(key)?.value;
  }

  /** Synchronous write; a value over `maxValueBytes` is not kept (an L1 simply misses it). */
  writeSync(key: string, value: Uint8Array, ttlMs: number): void {
    if (value.byteLength <= this.capabilities.maxValueBytes && ttlMs > 0) this.#write(key, value, ttlMs);
  }

  /** Synchronous removal of one key, or of every key under a prefix (`''`: everything). */
  dropSync(key: string, prefix = false): void {
    if (!prefix) {
      this.#remove(key);
      return;
    }
    for (const stored of this.#entries.keys()) if (stored.startsWith(key)) this.#remove(stored);
  }

  /** Removes expired entries now; runs on the sweep interval. */
  sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#remove(key);
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError('this MemoryStore is closed', { store: this.name });
  }

  /** A live entry without touching recency. */
  #live(key: string): Entry | undefined {
    this.#assertOpen();
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#remove(key);
      return undefined;
    }
    return entry;
  }

  /** A live entry, marked as used for eviction. */
  #read(key: string): Entry | undefined {
    const entry = this.#live(key);
    if (entry !== undefined) entry.used = true;
    return entry;
  }

  #write(key: string, value: Uint8Array, ttlMs: number): void {
    this.#assertOpen();
    if (value.byteLength > this.capabilities.maxValueBytes) {
      throw new ValueTooLargeError(
        `value of ${value.byteLength} bytes exceeds this MemoryStore's maxValueBytes (${this.capabilities.maxValueBytes}); raise maxValueBytes or store less`,
        { store: this.name },
      );
    }
    // Copy: the caller may reuse its buffer, and a cache must hand back what was stored.
    const stored = Uint8Array.prototype.slice.call(value);
    const existing = this.#entries.get(key);
    if (existing !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= existing.bytes;
    }
    const entry: Entry = {
      value: stored,
      expiresAt: this.#now() + ttlMs,
      bytes: key.length * 2 + stored.byteLength,
      used: false,
    };
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    this.#evict();
  }

  #account(entry: Entry, value: Uint8Array): void {
    const bytes = entry.bytes - entry.value.byteLength + value.byteLength;
    this.#bytes += bytes - entry.bytes;
    entry.value = value;
    entry.bytes = bytes;
  }

  #remove(key: string): boolean {
    this.#assertOpen();
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    return entry.expiresAt > this.#now();
  }

  #evict(): void {
    const entries = this.#entries;
    while (entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      this.#hand ??= entries.entries();
      const oldest = this.#hand.next();
      if (oldest.done) {
        // Past the young end: start over from the (now) oldest entry.
        this.#hand = undefined;
        if (entries.size === 0) return;
        continue;
      }
      const [key, entry] = oldest.value;
      if (entry.used && entry.expiresAt > this.#now()) {
        // Second chance: move a recently read entry to the young end.
        entry.used = false;
        entries.delete(key);
        entries.set(key, entry);
        continue;
      }
      this.#remove(key);
      this.#evictions++;
    }
  }
}

/** Creates a `MemoryStore`. */
export function memoryStore(options?: MemoryStoreOptions): MemoryStore {
  return new MemoryStore(options);
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new CacheConfigError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}
