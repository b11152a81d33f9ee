import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Cache, memoryStore } from '@larder/core';
import { makeValue, memoryKey } from '../data.js';
import type { BenchBackend, MemoryLoad, MemoryReading, MemorySideName, RawDriver } from './backend.js';
import * as kit from './backend.js';

/** MemoryStore's default `maxEntries`: the set-full workload writes into a store this full. */
export const FULL_STORE_ENTRIES = 100_000;

/** MemoryStore through Larder beside a bare `Map` of the same JSON strings. */
export async function createMemoryBackend(): Promise<BenchBackend> {
  // Large limits: the bench measures speed, not the LRU's eviction.
  const store = memoryStore({ maxEntries: 10_000_000, maxBytes: 2 ** 40, maxValueBytes: 2 ** 30 });
  const larder = kit.benchCache(store);
  const map = new Map<string, string>();
  const raw: RawDriver = {
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
  // The set-full workload's store: MemoryStore's default size, filled before its case.
  const full = kit.benchCache(memoryStore({ maxEntries: FULL_STORE_ENTRIES }));
  const fill = async () => {
    const keys = Array.from({ length: FULL_STORE_ENTRIES }, (_, n) => `fill:${n}`);
    const value = makeValue(0, 100);
    await kit.loadBatches(
      { keys, valueAt: () => value, batch: 1000 },
      kit.larderLoader(kit.loaderCache(full.store, kit.BENCH_CACHE_PREFIX)),
    );
  };
  const teardown = kit.once(async () => {
    map.clear();
    await larder.close();
    await full.close();
  });
  return {
    name: 'memory',
    rawClient: 'Map of JSON strings',
    server: { version: process.version, source: 'embedded', address: 'in-process' },
    ...kit.EMBEDDED,
    fullStore: { larder: full, fill },
    larder,
    raw,
    measureMemory: measureHeap,
    teardown,
  };
}

// The bench's own heap holds other data; a full collection before and after each load makes the
// delta the entries alone (--expose-gc, turned on here rather than on the command line).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapBytes(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Heap + external bytes added by `load.count` entries in a fresh MemoryStore (or a bare Map of JSON strings). */
async function measureHeap(side: MemorySideName, load: MemoryLoad): Promise<MemoryReading> {
  const plan = kit.memoryPlan(side, load);
  const before = heapBytes();
  let kept: Cache | Map<string, string>;
  if (side === 'larder') {
    const store = memoryStore({ maxEntries: load.count + 1000, maxBytes: 2 ** 46, maxValueBytes: 2 ** 30 });
    kept = kit.loaderCache(store);
    await kit.loadBatches(plan, kit.larderLoader(kept));
  } else {
    // Keys built in the loop, not taken from the plan (made before the first reading), so they count.
    kept = new Map<string, string>();
    for (let i = 0; i < load.count; i++)
      kept.set(`larder:1:${memoryKey(i)}`, JSON.stringify(plan.valueAt(i)));
  }
  const bytes = heapBytes() - before;
  if (kept instanceof Map) kept.clear();
  else await kept.close();
  return {
    bytes,
    method:
      side === 'larder'
        ? 'V8 heap + external bytes delta (after full GCs)'
        : 'same, for a Map<string, string>',
  };
}
