import { redactUrl } from '@larder/core';
import type { ServerHandle } from '@larder/testkit';
import type { BenchBackend } from './backend.js';
import type { LoadContext } from './index.js';

/** A backend that cannot run here: why, and what to do. `fatal` when the user asked for it explicitly. */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';

  constructor(
    readonly reason: string,
    readonly fix: string,
    readonly fatal = false,
  ) {
    super(`${reason} ${fix}`);
  }
}

const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0];

/** Imports a workspace package at run time, so a missing or broken one becomes a skip reason, not a crash. */
export async function importPackage<T>(specifier: string): Promise<T> {
  try {
    return (await import(specifier)) as T;
  } catch (error) {
    throw new BackendUnavailableError(
      `${specifier} could not be loaded (${firstLine(error)}).`,
      'build the workspace with `pnpm -r build` (`pnpm bench` builds first).',
    );
  }
}

type Testkit = typeof import('@larder/testkit');
type ServerFields = 'server' | 'url' | 'timeoutMs' | 'faults' | 'faultsUnavailable';
const ENV_VARIABLES = { redis: 'REDIS_URL', memcached: 'MEMCACHED_URL', postgres: 'DATABASE_URL' } as const;

/**
 * Gets a server from the testkit (environment URL → local binary → Docker), then the backend's
 * package. A server that cannot be had becomes `BackendUnavailableError` with the testkit's
 * reason and fix, fatal when the environment names a URL that does not answer or the backend
 * was asked for. Only servers the bench started itself may be faulted.
 */
export async function openServer<M>(
  kind: keyof typeof ENV_VARIABLES,
  context: LoadContext,
  specifier: string,
  start: (testkit: Testkit) => Promise<ServerHandle>,
): Promise<{ handle: ServerHandle; pkg: M; common: Pick<BenchBackend, ServerFields> }> {
  const testkit = await importPackage<Testkit>('@larder/testkit');
  const variable = ENV_VARIABLES[kind];
  let handle: ServerHandle;
  try {
    handle = await start(testkit);
  } catch (error) {
    const fatal = Boolean(process.env[variable]) || context.options.backendsExplicit;
    const { reason, fix } = error as { reason?: string; fix?: string };
    throw new BackendUnavailableError(
      reason ?? `${kind} could not be started: ${firstLine(error)}`,
      fix ?? `set ${variable} to a running server, or install ${kind}`,
      fatal,
    );
  }
  // The server first: an environment URL that does not answer stops the run even if the package is missing.
  const pkg = await importPackage<M>(specifier).catch(async (error: unknown) => {
    await handle.stop();
    throw error;
  });
  const local = handle.source === 'local';
  const why =
    handle.source === 'env' ? 'the server comes from the environment URL' : 'the server runs in a container';
  return {
    handle,
    pkg,
    common: {
      server: { version: handle.version, source: handle.source, address: redactUrl(handle.url) },
      url: handle.url,
      timeoutMs: 1000,
      faults: local ? handle : undefined,
      faultsUnavailable: local ? undefined : `${why}; the bench only faults servers it started`,
    },
  };
}

/** A `.catch` for a backend's first step on its server: tears down what was opened (and the server), then rethrows. */
export const tearDownAndThrow = (teardown: () => Promise<void>) => async (error: unknown) => {
  await teardown().catch(() => {});
  throw error;
};

/** Closes a store or cache quietly (teardown is best effort). */
export async function closeQuietly(target: { close(): Promise<unknown> } | undefined): Promise<void> {
  await target?.close().catch(() => {});
}
