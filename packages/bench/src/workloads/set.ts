import { startIndex, type Workload } from './workload.js';

/** `set` of a pre-generated value over a random loaded key (the default TTL on both sides). */
export const set: Workload = {
  id: 'set',
  title: 'set',
  op(driver, data, worker) {
    const { keys, order, mask, values } = data;
    const pool = values.length;
    let i = startIndex(worker);
    return async () => {
      const n = i++;
      return driver.set(keys[order[n & mask]!]!, values[n % pool]);
    };
  },
};
