import type { LarderServers } from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's shared Redis, Memcached and Postgres (or why each is missing), from the testkit's global setup. */
    larderServers: LarderServers;
  }
}

export type { LarderServers };
