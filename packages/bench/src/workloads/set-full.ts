import { startIndex, type Workload } from './workload.js';

/** Distinct keys the full-store workload cycles through: more than the store holds, so every set evicts. */
const FRESH_KEYS = 1 << 18;
let keys: string[] | undefined;

/**
 * `set` of a key the store does not hold, on a MemoryStore filled to its `maxEntries` (memory
 * only): every write evicts. Read beside the `set` row, which writes into a store with room.
 * The raw side is the same unbounded `Map` as in `set`.
 */
export const setFull: Workload = {
  id: 'set-full',
  title: 'set (full store)',
  backends: ['memory'],
  op(driver, data, worker) {
    const { values } = data;
    // One key list for every worker: 64 lists of 262,144 keys would fill the heap for later cases.
    keys ??= Array.from({ length: FRESH_KEYS }, (_, n) => `full:${n}`);
    const mine = keys;
    let i = startIndex(worker);
    return async () => {
      const n = i++;
      return driver.set(mine[n & (FRESH_KEYS - 1)]!, values[n % values.length]);
    };
  },
};
