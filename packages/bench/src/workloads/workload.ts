import type { Driver } from '../backends/backend.js';
import type { Dataset } from '../data.js';
import type { BackendName, WorkloadId } from '../types.js';

/**
 * One operation. Resolves whether it did what the workload expects (a hit in get-hit, a miss
 * in get-miss, a stored value in set, a number from incr): only those count as throughput, so
 * errors swallowed into fast misses (an open circuit breaker) never inflate ops/s.
 */
export type Op = () => Promise<boolean>;

/** A timed workload: how one worker performs one operation. */
export interface Workload {
  readonly id: WorkloadId;
  readonly title: string;
  /** Keys read or written by one operation. @default 1 */
  readonly keysPerOp?: number;
  /** The only backends it runs on; every backend when absent. */
  readonly backends?: readonly BackendName[];
  /**
   * Returns the operation of worker `worker`; every call uses the next pre-generated index,
   * so no random numbers or keys are made while the timer runs.
   */
  op(driver: Driver, data: Dataset, worker: number): Op;
}

/** Where worker `worker` starts in the pre-generated sequences, so workers do not read in lockstep. */
export const startIndex = (worker: number): number => (worker * 7919) >>> 0;
