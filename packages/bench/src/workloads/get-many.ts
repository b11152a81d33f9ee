import { startIndex, type Workload } from './workload.js';

/** Keys read by one getMany. */
export const GET_MANY_SIZE = 100;
const BATCHES = 256;

/** `getMany` of 100 random loaded keys (one round trip where the client allows it). */
export const getMany: Workload = {
  id: 'get-many',
  title: `getMany (${GET_MANY_SIZE})`,
  keysPerOp: GET_MANY_SIZE,
  op(driver, data, worker) {
    const { keys, order, mask } = data;
    // The key lists are built here, before the timer, and reused.
    const batches: string[][] = [];
    let k = startIndex(worker);
    for (let b = 0; b < BATCHES; b++) {
      batches.push(Array.from({ length: GET_MANY_SIZE }, () => keys[order[k++ & mask]!]!));
    }
    let i = 0;
    return async () => {
      const found = await driver.getMany!(batches[i++ % BATCHES]!);
      return found.length === GET_MANY_SIZE && found.every((value) => value !== undefined);
    };
  },
};
