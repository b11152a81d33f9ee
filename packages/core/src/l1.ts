import { type BusMessage, busOrigin, type CacheBus } from './bus.js';
import { CacheConfigError } from './errors.js';
import type { CacheLogger } from './logger.js';
import { MemoryStore } from './memory-store.js';
import { checkOptions } from './options.js';
import { parseTtl, type Ttl } from './ttl.js';

/** Settings of the in-process tier in front of the store. */
export interface L1Options {
  /** Most entries kept in process memory. @default 10_000 */
  maxEntries?: number;
  /** Most bytes kept in process memory. @default 32 MiB */
  maxBytes?: number;
  /**
   * Longest an entry stays in the L1 (never past the entry's own TTL). It bounds how stale
   * a value can be when a bus message is lost. @default '5s'
   */
  maxTtl?: Ttl;
}

/** How often a bus outage is logged (every failed publish is one write). */
const PUBLISH_WARNING_INTERVAL_MS = 60_000;

/** Header of a frame that states its expiry (see the codec's grace frame). */
const TIMED_HEADER = 0x00;

/**
 * The L1: a small MemoryStore of encoded entries in front of the store, kept coherent across
 * processes by a bus. Only frames that state their own expiry are kept (everything `set`,
 * `setMany`, `add` and `getOrSet` write when the cache has an L1), so the L1 never serves a
 * value past the entry's TTL; plain integers and tagged entries always go to the store.
 */
export class L1 {
  readonly #memory: MemoryStore;
  readonly #maxTtlMs: number;
  readonly #bus: CacheBus | undefined;
  readonly #origin = busOrigin();
  readonly #now: () => number;
  readonly #logger: CacheLogger;
  readonly #onHeard: (message: BusMessage) => void;
  /** When the last failed publish was logged: an outage logs once a minute, not once per write. */
  #warnedAt = Number.NEGATIVE_INFINITY;

  constructor(
    options: L1Options,
    bus: CacheBus | undefined,
    now: () => number,
    logger: CacheLogger,
    /** Told of every other process's change (the cache's running getOrSet factories listen). */
    onHeard: (message: BusMessage) => void = () => {},
  ) {
    checkOptions('createCache option l1', options, {
      maxEntries: 'number',
      maxBytes: 'number',
      maxTtl: ['number', 'string'],
    });
    const maxTtlMs = parseTtl(options.maxTtl ?? '5s', 'l1.maxTtl');
    if (!(maxTtlMs > 0 && Number.isFinite(maxTtlMs))) {
      throw new CacheConfigError(
        'l1.maxTtl must be a positive, finite TTL; it bounds how stale the L1 can be',
      );
    }
    const maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.#memory = new MemoryStore({
      maxEntries: options.maxEntries ?? 10_000,
      maxBytes,
      maxValueBytes: Math.min(maxBytes, 1024 * 1024),
      now,
    });
    this.#maxTtlMs = maxTtlMs;
    this.#bus = bus;
    this.#now = now;
    this.#logger = logger;
    this.#onHeard = onHeard;
  }

  /** Starts listening to the bus: other processes' writes evict entries; a reconnect empties the L1. */
  async start(): Promise<void> {
    await this.#bus?.subscribe({
      onMessage: (message) => this.#heard(message),
      onReconnect: () => this.#memory.dropSync('', true),
    });
  }

  read(key: string): Uint8Array | undefined {
    return this.#memory.readSync(key);
  }

  /** Keeps what the store returned, when its frame says until when it is fresh. */
  fill(key: string, bytes: Uint8Array | undefined): void {
    if (bytes === undefined || bytes[0] !== TIMED_HEADER || bytes.byteLength < 9) return;
    const freshUntil = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readDoubleBE(1);
    const ttl = Math.min(this.#maxTtlMs, freshUntil - this.#now());
    if (ttl > 0) this.#memory.writeSync(key, bytes, ttl);
  }

  /** Drops keys here, before a write. */
  drop(keys: readonly string[]): void {
    for (const key of keys) this.#memory.dropSync(key);
  }

  /** After a write: drops the keys (or the prefix) here again and tells every other process. */
  invalidate(change: { keys?: string[]; prefix?: string }): void {
    if (change.keys !== undefined) this.drop(change.keys);
    if (change.prefix !== undefined) this.#memory.dropSync(change.prefix, true);
    this.#bus?.publish({ origin: this.#origin, ...change }).catch((error: unknown) => {
      const now = performance.now();
      if (now - this.#warnedAt < PUBLISH_WARNING_INTERVAL_MS) return;
      this.#warnedAt = now;
      this.#logger.warn(
        { err: error },
        'the cache bus could not publish an invalidation; other L1s expire it within l1.maxTtl',
      );
    });
  }

  async close(): Promise<void> {
    await this.#bus?.close();
    await this.#memory.close();
  }

  #heard(message: BusMessage): void {
    if (message.origin === this.#origin) return;
    if (message.keys !== undefined) this.drop(message.keys);
    if (message.prefix !== undefined) this.#memory.dropSync(message.prefix, true);
    this.#onHeard(message);
  }
}
