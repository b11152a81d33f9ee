import { startIndex, type Workload } from './workload.js';

/** `get` of random keys that were loaded before the timer started. */
export const getHit: Workload = {
  id: 'get-hit',
  title: 'get (hit)',
  op(driver, data, worker) {
    const { keys, order, mask } = data;
    let i = startIndex(worker);
    return async () => (await driver.get(keys[order[i++ & mask]!]!)) !== undefined;
  },
};
