import { startIndex, type Workload } from './workload.js';

/** `incr` by 1 of one of 1024 counters (created on first use). */
export const incr: Workload = {
  id: 'incr',
  title: 'incr',
  op(driver, data, worker) {
    const { counterKeys, order, mask } = data;
    const wrap = counterKeys.length - 1;
    let i = startIndex(worker);
    return async () => typeof (await driver.incr!(counterKeys[order[i++ & mask]! & wrap]!)) === 'number';
  },
};
