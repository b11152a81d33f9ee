import { ServerUnavailableError } from './errors.js';
import type { ServerHandle, ServerKind, ServerSource } from './handle.js';
import { startMemcached } from './memcached.js';
import { startPostgres } from './postgres.js';
import { startRedis } from './redis.js';

/** What a test needs to know about a shared server, or why there is none. */
export type ServerInfo = { url: string; version: string; source: ServerSource } | { unavailable: string };

/** One entry per kind: the shared servers of a test run. */
export type LarderServers = Record<ServerKind, ServerInfo>;

/** The kinds, in the order they are reported. */
export const serverKinds: readonly ServerKind[] = ['redis', 'memcached', 'postgres'];

const starters: Record<ServerKind, () => Promise<ServerHandle>> = {
  redis: () => startRedis(),
  memcached: () => startMemcached(),
  postgres: () => startPostgres(),
};

/** Starts one server of each kind in parallel; a kind that cannot be had is reported, not thrown. */
export async function startSharedServers(): Promise<{ handles: ServerHandle[]; servers: LarderServers }> {
  const results = await Promise.allSettled(serverKinds.map((kind) => starters[kind]()));
  const handles: ServerHandle[] = [];
  const servers = {} as LarderServers;
  results.forEach((result, index) => {
    const kind = serverKinds[index]!;
    if (result.status === 'fulfilled') {
      handles.push(result.value);
      servers[kind] = { url: result.value.url, version: result.value.version, source: result.value.source };
    } else {
      const error = result.reason;
      servers[kind] = {
        unavailable:
          error instanceof ServerUnavailableError
            ? `${error.reason} — ${error.fix}`
            : `${kind} could not be started: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  });
  return { handles, servers };
}
