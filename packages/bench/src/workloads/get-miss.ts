import { startIndex, type Workload } from './workload.js';

/** `get` of keys that were never written. */
export const getMiss: Workload = {
  id: 'get-miss',
  title: 'get (miss)',
  op(driver, data, worker) {
    const { missingKeys } = data;
    const wrap = missingKeys.length - 1;
    let i = startIndex(worker);
    // A swallowed error is a miss too; those are counted as the cache's errors beside the figure.
    return async () => (await driver.get(missingKeys[i++ & wrap]!)) === undefined;
  },
};
