import { startIndex, type Workload } from './workload.js';

/** 90 % `get` / 10 % `set` on random loaded keys, in a pre-generated order. */
export const mixed: Workload = {
  id: 'mixed',
  title: 'mixed 90/10',
  op(driver, data, worker) {
    const { keys, order, writes, mask, values } = data;
    const pool = values.length;
    let i = startIndex(worker);
    return async () => {
      const n = i++ & mask;
      const key = keys[order[n]!]!;
      if (writes[n] === 1) return driver.set(key, values[n % pool]);
      return (await driver.get(key)) !== undefined;
    };
  },
};
