import { type Cache, type CacheLogger, createCache, type Store } from '@larder/core';
import type { ServerHandle } from '@larder/testkit';
import type { BackendName, ServerInfo } from '../types.js';

/** The two sides the memory figure compares. */
export type MemorySideName = 'larder' | 'raw';

/** What a workload calls, on any side; reads resolve the decoded value or `undefined` for a miss. */
export interface Driver {
  get(key: string): Promise<unknown>;
  /** Resolves whether the value was stored. */
  set(key: string, value: unknown): Promise<boolean>;
  /** Absent on peers, which are measured on get and set only. */
  getMany?(keys: readonly string[]): Promise<readonly unknown[]>;
  /** Resolves the new value, or undefined when it was not counted. Absent on peers. */
  incr?(key: string): Promise<number | undefined>;
}

/** The raw client doing what an app would write by hand: JSON around the client's own calls. */
export interface RawDriver extends Driver {
  /** Writes many entries in bulk (pipelines, multi-row inserts); used to load data, never timed. */
  load(entries: Entries): Promise<void>;
}

/** The faults the bench may inject into a server it started itself. */
export type FaultTarget = Pick<ServerHandle, 'kill' | 'restart' | 'pause' | 'resume'>;

/** One side's place for the memory load, empty when opened: how to write to it and what it holds. */
export interface MemoryTarget {
  /** Writes a batch: through a loader cache on Larder's side, in bulk on the raw side. */
  write(entries: Entries): Promise<void>;
  /** Bytes the server, file or heap holds now; the figure is their growth over the load. */
  bytes(): Promise<number>;
  /** Removes what the load wrote (`keys`, where the server is shared) and closes what was opened. */
  close(keys: readonly string[]): Promise<void>;
  /** Batches written at once; 1 where writes are synchronous. @default 4 */
  parallel?: number;
}

/** How a backend measures memory: the method in words per side, and each side's target. */
export interface MemoryProbe {
  readonly methods: Record<MemorySideName, string>;
  open(side: MemorySideName): Promise<MemoryTarget>;
}

/** A backend ready to measure: Larder over the store, the raw client beside it, and the server. */
export interface BenchBackend {
  readonly name: BackendName;
  /** What the raw rows use, e.g. "ioredis GET/SET". */
  readonly rawClient: string;
  readonly server: ServerInfo;
  /** The cache the workloads run through, with the store's and the cache's defaults. */
  readonly larder: Cache;
  readonly raw: RawDriver;
  /** The Larder cache's per-operation deadline, ms. */
  readonly timeoutMs: number;
  /** Present only for servers the bench started itself; else `faultsUnavailable` says why. */
  readonly faults: FaultTarget | undefined;
  readonly faultsUnavailable: string | undefined;
  /** The server's URL (password included), for peers that connect on their own. */
  readonly url: string | undefined;
  /** The set-full workload's cache (memory only): a MemoryStore that `fill` fills to its `maxEntries`. */
  readonly fullStore?: { larder: Cache; fill(): Promise<void> };
  /** Clears dead rows and dirty pages before each case, so no background work lands in a round. */
  settle?(): Promise<void>;
  /** Where each side's memory load goes and how its bytes are read (memory.ts runs it). */
  readonly memory: MemoryProbe;
  /** Deletes what the bench wrote, closes clients and stops servers it started. Idempotent. */
  teardown(): Promise<void>;
}

/** Makes a teardown step idempotent: the first call runs it, later calls get the same promise. */
export function once(step: () => Promise<void>): () => Promise<void> {
  let run: Promise<void> | undefined;
  return () => (run ??= step());
}

/** The fields every embedded backend (no server) shares. */
export const EMBEDDED = {
  url: undefined,
  timeoutMs: 1000,
  faults: undefined,
  faultsUnavailable: 'embedded in the process: nothing to kill',
} as const;

/** The Larder side as a driver. */
export const larderDriver = (cache: Cache): Driver => ({
  get: (key) => cache.get(key),
  set: (key, value) => cache.set(key, value),
  getMany: (keys) => cache.getMany(keys),
  incr: (key) => cache.incr(key),
});

/** A Larder cache as a side of a case: its driver, and the errors it swallowed (ignoreErrors turns them into misses). */
export const larderSide = (cache: Cache) => ({
  driver: larderDriver(cache),
  swallowed: () => cache.stats().errors,
});

/** Keeps the caches quiet during the bench: what they would log is counted in their stats anyway. */
export const QUIET: CacheLogger = { warn() {}, error() {} };

/** Prefix of the workload caches (the memory load uses Larder's default prefix, to show its real key length). */
export const BENCH_CACHE_PREFIX = 'lb';

/** A cache for loading data: errors thrown, no deadline or breaker (loading is never timed); Larder's default prefix. */
export const loaderCache = (store: Store, prefix = 'larder'): Cache =>
  createCache({ store, prefix, ignoreErrors: false, timeout: 60_000, circuitBreaker: false, logger: QUIET });

/** The workload cache: the store's and the cache's defaults, as a user gets them. */
export const benchCache = (store: Store): Cache =>
  createCache({ store, prefix: BENCH_CACHE_PREFIX, logger: QUIET });

/** The TTL, in seconds, raw writes use: Larder's default TTL, so both sides expire the same way. */
export const RAW_TTL_SECONDS = 3600;

/** JSON text of a value, as raw clients store it. */
export const encodeRaw = (value: unknown): string => JSON.stringify(value);

/** Parses what a raw client read back; null / undefined (a miss) stays undefined. */
export function decodeRaw(bytes: string | Buffer | Uint8Array | null | undefined): unknown {
  if (bytes === null || bytes === undefined) return undefined;
  return JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
}

/** `[key, value]` pairs to write in one batch. */
export type Entries = (readonly [string, unknown])[];

/** What to load: `count` entries, the key and value at each index, entries per batch, where to report progress. */
export interface LoadPlan {
  count: number;
  keyAt: (index: number) => string;
  valueAt: (index: number) => unknown;
  batch: number;
  onProgress?: (done: number) => void;
}

/** Runs `write` over batches of `[key, value]` pairs, keeping `parallel` batches in flight. */
export async function loadBatches(plan: LoadPlan, write: (entries: Entries) => Promise<void>, parallel = 4) {
  const { count, keyAt, valueAt, batch, onProgress } = plan;
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < count) {
      const start = next;
      next = Math.min(count, next + batch);
      const entries: Entries = [];
      for (let i = start; i < next; i++) entries.push([keyAt(i), valueAt(i)]);
      await write(entries);
      done += entries.length;
      onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Runs `step` over `keys` 1,000 at a time (deleting what the bench wrote on a shared server). */
export async function inChunks(keys: readonly string[], step: (chunk: string[]) => Promise<unknown>) {
  for (let i = 0; i < keys.length; i += 1000) await step(keys.slice(i, i + 1000));
}

/** Writes batches through a loader cache and fails loudly when one was not stored. */
export function larderLoader(cache: Cache): (entries: Entries) => Promise<void> {
  return async (entries) => {
    if (await cache.setMany(entries)) return;
    throw new Error(`loading ${entries.length} entries through Larder (${cache.store.name}) stored nothing`);
  };
}

/** A loader cache over a fresh SQL store with its table and index made, so a size delta is the data alone. */
export async function primedLoader(store: Store): Promise<Cache> {
  const cache = loaderCache(store);
  await cache.set('probe', 1);
  await cache.delete('probe');
  return cache;
}
