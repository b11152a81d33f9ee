import type { Cache, StoreInfo } from '@larder/core';

/**
 * Reads a cache's `store.info()` for exporters: one call serves every instrument read in the
 * same scrape (concurrent reads share it, a result is reused for `maxAgeMs`), and a slow or
 * failing store yields `undefined` within `timeoutMs` instead of holding the scrape.
 */
export class StoreInfoReader {
  readonly #cache: Cache;
  readonly #timeoutMs: number;
  readonly #maxAgeMs: number;
  #pending: Promise<StoreInfo | undefined> | undefined;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(cache: Cache, timeoutMs: number, maxAgeMs = 1000) {
    this.#cache = cache;
    this.#timeoutMs = timeoutMs;
    this.#maxAgeMs = maxAgeMs;
  }

  read(): Promise<StoreInfo | undefined> {
    const now = performance.now();
    if (this.#pending !== undefined && now - this.#readAt < this.#maxAgeMs) return this.#pending;
    this.#readAt = now;
    this.#pending = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), this.#timeoutMs);
      this.#cache.store.info().then(
        (info) => {
          clearTimeout(timer);
          resolve(info);
        },
        () => {
          clearTimeout(timer);
          resolve(undefined);
        },
      );
    });
    return this.#pending;
  }
}

/** A figure from `info()` as a number, or `undefined` when the store does not report it. */
export function figure(info: StoreInfo | undefined, name: keyof StoreInfo): number | undefined {
  const value = info?.[name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The store figures both exporters publish, in one place so they cannot drift apart. */
export const STORE_GAUGES = [
  { field: 'bytesUsed', name: 'store_memory_used_bytes', help: 'Bytes the store reports in use.' },
  { field: 'byteLimit', name: 'store_memory_limit_bytes', help: "The store's memory limit in bytes." },
  { field: 'items', name: 'store_items', help: 'Items the store holds.' },
  {
    field: 'connections',
    name: 'store_connections',
    help: 'Connections this client holds open to the store.',
  },
  {
    field: 'maxConnections',
    name: 'store_connections_max',
    help: 'The most connections the store or the pool accepts.',
  },
  {
    field: 'connectionWaiters',
    name: 'store_connection_waiters',
    help: 'Callers waiting for a pooled connection.',
  },
] as const satisfies readonly { field: keyof StoreInfo; name: string; help: string }[];

/** Cache counters both exporters publish (read from `cache.stats()`). */
export const CACHE_COUNTERS = [
  { stat: 'hits', name: 'hits', help: 'Reads that found a value.' },
  { stat: 'misses', name: 'misses', help: 'Reads that found nothing (corrupt reads included).' },
  { stat: 'sets', name: 'sets', help: 'Values stored.' },
  { stat: 'deletes', name: 'deletes', help: 'Keys deleted.' },
  { stat: 'corrupt', name: 'corrupt_reads', help: 'Reads of bytes that could not be decoded.' },
] as const;

/** Store figures that only grow while the server runs (they restart with it). */
export const STORE_COUNTERS = [
  {
    field: 'evictions',
    name: 'store_evictions',
    help: 'Items the store evicted to make room, since it started.',
  },
  {
    field: 'rejectedConnections',
    name: 'store_rejected_connections',
    help: 'Connections the server refused, since it started.',
  },
] as const satisfies readonly { field: keyof StoreInfo; name: string; help: string }[];
