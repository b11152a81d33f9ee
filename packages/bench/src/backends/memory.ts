import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { memoryStore } from '@larder/core';
import { makeValue } from '../data.js';
import type { BenchBackend, MemoryProbe, RawDriver } from './backend.js';
import * as kit from './backend.js';

/** MemoryStore's default `maxEntries`: the set-full workload writes into a store this full. */
export const FULL_STORE_ENTRIES = 100_000;

/** A bare `Map` of JSON strings, as an app would cache in-process by hand. */
function mapDriver(map: Map<string, string>): RawDriver {
  return {
    get: async (key) => kit.decodeRaw(map.get(key)),
    set: async (key, value) => {
      map.set(key, kit.encodeRaw(value));
      return true;
    },
    getMany: async (keys) => keys.map((key) => kit.decodeRaw(map.get(key))),
    incr: async (key) => {
      const next = Number(map.get(key) ?? 0) + 1;
      map.set(key, String(next));
      return next;
    },
    load: async (entries) => {
      for (const [key, value] of entries) map.set(key, kit.encodeRaw(value));
    },
  };
}

// The bench's own heap holds other data; a full collection before each reading makes the delta
// the entries alone (--expose-gc, turned on here rather than on the command line).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function heapBytes(): Promise<number> {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Large limits: the bench measures speed and bytes per entry, not the LRU's eviction. */
const unbounded = () => memoryStore({ maxEntries: 10_000_000, maxBytes: 2 ** 46, maxValueBytes: 2 ** 30 });

/** Heap + external bytes added by the entries, in a fresh MemoryStore or a fresh Map of JSON strings. */
const memory: MemoryProbe = {
  methods: { larder: 'V8 heap + external bytes delta (after full GCs)', raw: 'same, for a Map' },
  async open(side) {
    if (side === 'raw') {
      const map = new Map<string, string>();
      return { write: mapDriver(map).load, bytes: heapBytes, close: async () => map.clear() };
    }
    const cache = kit.loaderCache(unbounded());
    return { write: kit.larderLoader(cache), bytes: heapBytes, close: () => cache.close() };
  },
};

/** MemoryStore through Larder beside a bare `Map` of the same JSON strings. */
export async function createMemoryBackend(): Promise<BenchBackend> {
  const larder = kit.benchCache(unbounded());
  const map = new Map<string, string>();
  // The set-full workload's store: MemoryStore's default size, filled before its case.
  const full = kit.benchCache(memoryStore({ maxEntries: FULL_STORE_ENTRIES }));
  const fill = async () => {
    const value = makeValue(0, 100);
    const keyAt = (n: number) => `fill:${n}`;
    const plan = { count: FULL_STORE_ENTRIES, keyAt, valueAt: () => value, batch: 1000 };
    await kit.loadBatches(plan, kit.larderLoader(kit.loaderCache(full.store, kit.BENCH_CACHE_PREFIX)));
  };
  return {
    name: 'memory',
    rawClient: 'Map of JSON strings',
    server: { version: process.version, source: 'embedded', address: 'in-process' },
    ...kit.EMBEDDED,
    fullStore: { larder: full, fill },
    larder,
    raw: mapDriver(map),
    memory,
    teardown: kit.once(async () => {
      map.clear();
      await larder.close();
      await full.close();
    }),
  };
}
