import type { BackendName, BenchOptions } from '../types.js';
import type { BenchBackend } from './backend.js';

/** What a backend needs to start. */
export interface LoadContext {
  options: BenchOptions;
  /** A private directory for database files, removed after the run. */
  tempDir: string;
}

/**
 * How each backend is created. Each module is imported only when its backend is wanted, and the
 * workspace packages behind it are imported at run time too, so a missing or broken package
 * makes that backend a skip, not a crash.
 */
export const BACKEND_LOADERS: Record<BackendName, (context: LoadContext) => Promise<BenchBackend>> = {
  memory: async () => (await import('./memory.js')).createMemoryBackend(),
  sqlite: async (context) => (await import('./sqlite.js')).createSqliteBackend(context.tempDir),
  redis: async (context) => (await import('./redis.js')).createRedisBackend(context),
  memcached: async (context) => (await import('./memcached.js')).createMemcachedBackend(context),
  postgres: async (context) => (await import('./postgres.js')).createPostgresBackend(context),
};
