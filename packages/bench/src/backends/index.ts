import { onInterrupt } from '../lifecycle.js';
import type { Progress } from '../progress.js';
import type { BackendName, BenchOptions, Skipped } from '../types.js';
import type { BenchBackend } from './backend.js';
import { BackendUnavailableError } from './load.js';

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

/** Thrown before any long phase when a server the user asked for cannot be used. */
export class FatalSetupError extends Error {
  override readonly name = 'FatalSetupError';
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Starts every wanted backend at once. Unavailable ones become skips with a reason and a fix;
 * an unanswering environment URL or a backend named with --backends that cannot run stops here.
 */
export async function startBackends(context: LoadContext, progress: Progress) {
  const { backends: names, backendsExplicit } = context.options;
  const phase = progress.phase('starting backends', names.join(', '));
  const start = async (name: BackendName) => {
    const backend = await BACKEND_LOADERS[name](context);
    onInterrupt(() => backend.teardown());
    return backend;
  };
  const settled = await Promise.allSettled(names.map(start));
  const ready = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const skipped: Skipped[] = [];
  const fatal: string[] = [];
  for (const [i, outcome] of settled.entries()) {
    if (outcome.status === 'fulfilled') continue;
    const name = names[i]!;
    const e = outcome.reason;
    const known = e instanceof BackendUnavailableError;
    const reason = known ? e.reason : `${name} failed to start: ${message(e)}`;
    const fix = known ? e.fix : 'see the message above; run with --backends to isolate it';
    if ((known && e.fatal) || backendsExplicit) fatal.push(`${name}: ${reason}\n  Fix: ${fix}`);
    else skipped.push({ name, reason, fix });
  }
  phase.done(ready.map((b) => `${b.name} (${b.server.version})`).join(', '));
  if (fatal.length > 0) {
    await Promise.allSettled(ready.map((b) => b.teardown()));
    throw new FatalSetupError(fatal.join('\n'));
  }
  return { ready, skipped };
}
