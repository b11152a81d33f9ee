import type { WorkloadId } from '../types.js';
import { getHit } from './get-hit.js';
import { getHot } from './get-hot.js';
import { getMany } from './get-many.js';
import { getMiss } from './get-miss.js';
import { incr } from './incr.js';
import { mixed } from './mixed.js';
import { set } from './set.js';
import { setFull } from './set-full.js';
import type { Workload } from './workload.js';

/** Every timed workload by id. */
export const WORKLOADS = Object.fromEntries(
  [getHit, getHot, getMiss, set, setFull, getMany, mixed, incr].map((w) => [w.id, w]),
) as Record<WorkloadId, Workload>;
