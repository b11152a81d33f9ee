/** A small seeded PRNG (mulberry32): the same seed gives the same data on every run. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A JSON-able record like an app would cache: a few typed fields and padding. */
export type BenchValue = ReturnType<typeof makeValue>;

/** Builds a value whose `JSON.stringify` is exactly `size` bytes (size ≥ the bare record, about 80). */
export function makeValue(index: number, size: number) {
  const score = Math.round(((index * 7919) % 1000) * 1.5) / 10;
  const value = {
    id: index,
    name: `item-${index}`,
    active: index % 2 === 0,
    score,
    tags: ['bench', `t${index % 7}`],
    pad: '',
  };
  // Padding with a repeated letter pattern keeps values compressible the way real JSON is.
  const need = Math.max(0, size - JSON.stringify(value).length);
  value.pad = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(need / 36)).slice(0, need);
  return value;
}

/** Keys: the n-th loaded entry, memory-load entry, incr counter, and stability slot `j` of worker `w`. */
export const benchKey = (n: number) => `bench:${n}`;
export const memoryKey = (n: number) => `mem:${n}`;
export const counterKey = (n: number) => `bench:counter:${n}`;
export const stabilityKey = (w: number, j: number) => `stab:${w}:${j}`;

const COUNTERS = 1024;
/** Workers and keys per worker of the stability load. */
export const STABILITY_WORKERS = 4;
export const STABILITY_KEYS_PER_WORKER = 32;

/**
 * Every raw key a run with these sizes can write (workload keys, counters, stability keys; the
 * memory load deletes its own), so a shared server is cleaned by exact key, never by pattern.
 */
export function rawKeysWritten(keyCount: number): string[] {
  const keys = Array.from({ length: keyCount }, (_, n) => benchKey(n));
  for (let n = 0; n < COUNTERS; n++) keys.push(counterKey(n));
  for (let w = 0; w < STABILITY_WORKERS; w++) {
    for (let j = 0; j < STABILITY_KEYS_PER_WORKER; j++) keys.push(stabilityKey(w, j));
  }
  return keys;
}

/** Number of distinct values cycled through (values are re-serialized on every write anyway). */
const VALUE_POOL = 64;
/** Length of each pre-generated random index sequence; a power of two so `i & mask` wraps it. */
const SEQUENCE_LENGTH = 1 << 16;

/** Everything the workloads read, generated before any timer starts. */
export type Dataset = Readonly<ReturnType<typeof createDataset>>;

/** Generates the dataset for a run. */
export function createDataset(keyCount: number, valueSize: number, seed: number) {
  const random = createRandom(seed);
  const sequence = (draw: () => number) => Uint32Array.from({ length: SEQUENCE_LENGTH }, draw);
  const hot = hotKeys(keyCount);
  return {
    valueSize,
    /** Keys loaded before the workloads. */
    keys: Array.from({ length: keyCount }, (_, n) => benchKey(n)) as readonly string[],
    /** Keys never written (get-miss). */
    missingKeys: Array.from({ length: 4096 }, (_, n) => `bench:missing:${n}`) as readonly string[],
    /** Keys used by incr (a small set, so increments contend as counters do). */
    counterKeys: Array.from({ length: COUNTERS }, (_, n) => counterKey(n)) as readonly string[],
    values: Array.from({ length: VALUE_POOL }, (_, n) => makeValue(n, valueSize)) as readonly BenchValue[],
    /** Random indexes into `keys`, cycled with `& mask`. */
    order: sequence(() => Math.floor(random() * keyCount)),
    /** 1 where the mixed workload writes, 0 where it reads (10 % ones). */
    writes: Uint8Array.from({ length: SEQUENCE_LENGTH }, () => (random() < 0.1 ? 1 : 0)),
    /** Like `order`, but 90 % of the indexes fall in the first `hotKeys(keys.length)` keys (get-hot). */
    hotOrder: sequence(() =>
      random() < 0.9 ? Math.floor(random() * hot) : hot + Math.floor(random() * (keyCount - hot)),
    ),
    mask: SEQUENCE_LENGTH - 1,
  };
}

/** The hot tenth of the loaded keys that get 90 % of get-hot's reads. */
export const hotKeys = (keyCount: number): number => Math.max(1, Math.floor(keyCount / 10));

/** Splits `count` items into batches of about `targetBytes` of values (at least 1, at most `maxItems`). */
export const batchSize = (valueSize: number, targetBytes = 1024 * 1024, maxItems = 1000): number =>
  Math.max(1, Math.min(maxItems, Math.floor(targetBytes / valueSize)));

/** The working set as a load plan: every loaded key with its value, `batch` entries at a time. */
export const workingSet = (data: Dataset, batch = batchSize(data.valueSize)) => ({
  count: data.keys.length,
  keyAt: (i: number) => data.keys[i]!,
  valueAt: (i: number) => data.values[i % data.values.length],
  batch,
});
