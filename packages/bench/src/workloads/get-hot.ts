import { startIndex, type Workload } from './workload.js';

/**
 * `get` of loaded keys, 90 % of them from the hottest tenth (Redis only): the skew an L1 in
 * front of the store is for. Plain Larder and raw read the same keys beside the L1 variant.
 */
export const getHot: Workload = {
  id: 'get-hot',
  title: 'get (90 % on 10 % of keys)',
  backends: ['redis'],
  op(driver, data, worker) {
    const { keys, hotOrder, mask } = data;
    let i = startIndex(worker);
    return async () => (await driver.get(keys[hotOrder[i++ & mask]!]!)) !== undefined;
  },
};
