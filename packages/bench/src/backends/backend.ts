import { type Cache, type CacheLogger, createCache, type Store } from '@larder/core';
import { batchSize, makeValue, memoryKey } from '../data.js';
import type { PhaseHandle } from '../progress.js';
import type { BackendName, ServerInfo } from '../types.js';

/** The two sides the memory figure compares. */
export type MemorySideName = 'larder' | 'raw';

/**
 * The operations a workload runs, on either side. Reads resolve the decoded value or
 * `undefined` for a miss, so both sides can be checked the same way.
 */
export interface Driver {
  get(key: string): Promise<unknown>;
  /** Resolves whether the value was stored. */
  set(key: string, value: unknown): Promise<boolean>;
  /** Absent on peers, which are measured on get and set only. */
  getMany?(keys: readonly string[]): Promise<readonly unknown[]>;
  /** Resolves the new value, or undefined when it was not counted. Absent on peers. */
  incr?(key: string): Promise<number | undefined>;
}

/** The raw client doing what an app would write by hand: JSON.stringify / JSON.parse around the client's own calls. */
export interface RawDriver extends Driver {
  /** Writes many entries in bulk (pipelines, multi-row inserts); used to load data, never timed. */
  load(entries: readonly (readonly [string, unknown])[]): Promise<void>;
}

/** The faults the bench may inject into a server it started itself. */
export interface FaultTarget {
  kill(): Promise<void>;
  restart(): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
}

/** What one memory measurement found. */
export interface MemoryReading {
  bytes: number;
  method: string;
}

/** Loads `count` entries (key, value) for the memory figure; the backend measures around it. */
export interface MemoryLoad {
  count: number;
  valueSize: number;
  seed: number;
  phase: PhaseHandle;
}

/** A backend ready to measure: Larder over the store, the raw client beside it, and the server. */
export interface BenchBackend {
  readonly name: BackendName;
  /** What the raw rows use, e.g. "ioredis GET/SET". */
  readonly rawClient: string;
  readonly server: ServerInfo;
  /** The cache the workloads run through: the store's and the cache's defaults, as a user gets them. */
  readonly larder: Cache;
  /** The same store and prefix with errors thrown and a long deadline, for loading data (never timed). */
  readonly loader: Cache;
  readonly raw: RawDriver;
  /** The Larder cache's per-operation deadline, ms. */
  readonly timeoutMs: number;
  /** Present only for servers the bench started itself (source 'local'). */
  readonly faults: FaultTarget | undefined;
  /** Why faults cannot be injected, when `faults` is undefined. */
  readonly faultsUnavailable: string | undefined;
  /** The server's URL (password included), for peers that connect on their own; undefined when embedded. */
  readonly url: string | undefined;
  /**
   * The `set-full` workload's sides (memory only): Larder over a MemoryStore filled to its
   * `maxEntries` by `fill`, and the raw `Map` of `set`.
   */
  readonly fullStore?: { larder: Cache; fill(): Promise<void> };
  /**
   * Brings the server to a steady state, untimed, before each case (Postgres: VACUUM ANALYZE
   * and a CHECKPOINT), so that the dead rows and dirty pages left by the write cases are
   * cleared at a fixed point instead of by background work landing in some timed round.
   */
  settle?(): Promise<void>;
  /** Loads entries through one side and reports the bytes the server (or heap) needed for them. */
  measureMemory(side: MemorySideName, load: MemoryLoad): Promise<MemoryReading>;
  /** Deletes what the bench wrote, closes clients and stops servers it started. Idempotent. */
  teardown(): Promise<void>;
}

/** Makes a teardown step idempotent: the first call runs it, later calls resolve at once. */
export function once(step: () => Promise<void>): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    await step();
  };
}

/** The Larder side as a driver. */
export function larderDriver(cache: Cache): Driver {
  return {
    get: (key) => cache.get(key),
    set: (key, value) => cache.set(key, value),
    getMany: (keys) => cache.getMany(keys),
    incr: (key) => cache.incr(key),
  };
}

/** A logger that keeps the cache quiet during the bench and only counts what it would have said. */
export class CountingLogger implements CacheLogger {
  warnings = 0;
  errors = 0;
  last: string | undefined;

  warn(_object: Record<string, unknown>, message: string): void {
    this.warnings++;
    this.last = message;
  }

  error(_object: Record<string, unknown>, message: string): void {
    this.errors++;
    this.last = message;
  }
}

/** Prefix of the workload caches (the memory load uses Larder's default prefix, to show its real key length). */
export const BENCH_CACHE_PREFIX = 'lb';

/**
 * A cache for loading data: the errors of a bulk write are thrown (not swallowed), and its
 * deadline and breaker are out of the way, since loading is never timed.
 */
export function loaderCache(store: Store, logger: CacheLogger, prefix?: string): Cache {
  return createCache({
    store,
    ...(prefix === undefined ? {} : { prefix }),
    ignoreErrors: false,
    timeout: 60_000,
    circuitBreaker: false,
    logger,
  });
}

/** The workload cache and the loader over one store. */
export function benchCaches(store: Store, logger: CacheLogger): { larder: Cache; loader: Cache } {
  return {
    larder: createCache({ store, prefix: BENCH_CACHE_PREFIX, logger }),
    loader: loaderCache(store, logger, BENCH_CACHE_PREFIX),
  };
}

/** The TTL, in seconds, raw writes use: Larder's default TTL, so both sides expire the same way. */
export const RAW_TTL_SECONDS = 3600;

/** JSON text of a value, as raw clients store it. */
export function encodeRaw(value: unknown): string {
  return JSON.stringify(value);
}

/** Parses what a raw client read back; null / undefined (a miss) stays undefined. */
export function decodeRaw(bytes: string | Buffer | Uint8Array | null | undefined): unknown {
  if (bytes === null || bytes === undefined) return undefined;
  return JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
}

/** Runs `write` over batches of `[key, value]` pairs, keeping `parallel` batches in flight. */
export async function loadBatches(
  keys: readonly string[],
  valueAt: (index: number) => unknown,
  batch: number,
  write: (entries: (readonly [string, unknown])[]) => Promise<void>,
  onProgress?: (done: number) => void,
  parallel = 4,
): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < keys.length) {
      const start = next;
      next = Math.min(keys.length, next + batch);
      const entries: (readonly [string, unknown])[] = [];
      for (let i = start; i < next; i++) entries.push([keys[i]!, valueAt(i)]);
      await write(entries);
      done += entries.length;
      onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** What every memory load writes: the keys, the value of each, the batch size, and progress reporting. */
export interface MemoryPlan {
  keys: string[];
  valueAt: (index: number) => unknown;
  batch: number;
  onProgress: (done: number) => void;
}

/**
 * The entries of a memory load: `mem:<n>` keys and the run's values, in ~1 MiB batches. The raw
 * side writes the very key Larder stores (`larder:1:mem:<n>`, Larder's default layout), so the
 * difference between the two is what Larder adds per entry: its frame byte and expiry
 * bookkeeping (plus, on memcached, the clear generation in the key), not a longer key name.
 */
export function memoryPlan(side: MemorySideName, load: MemoryLoad): MemoryPlan {
  const pool = Array.from({ length: 64 }, (_, n) => makeValue(n, load.valueSize));
  const rawPrefix = side === 'raw' ? 'larder:1:' : '';
  return {
    keys: Array.from({ length: load.count }, (_, i) => rawPrefix + memoryKey(i)),
    valueAt: (i) => pool[i & 63],
    batch: batchSize(load.valueSize),
    onProgress: (done) => load.phase.update(`${side}: ${done.toLocaleString('en-US')} keys`),
  };
}

/** Writes batches through a loader cache (see `loaderCache`: failures throw) and fails loudly when one was not stored. */
export function larderLoader(cache: Cache): (entries: (readonly [string, unknown])[]) => Promise<void> {
  return async (entries) => {
    if (!(await cache.setMany(entries))) {
      throw new Error(
        `loading ${entries.length} entries through Larder (${cache.store.name}) stored nothing`,
      );
    }
  };
}
