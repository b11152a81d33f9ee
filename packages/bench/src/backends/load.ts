import type { Store } from '@larder/core';
import { redactUrl } from '@larder/core';
import type { ServerInfo } from '../types.js';
import type { FaultTarget } from './backend.js';

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

/**
 * Imports a workspace package at run time, so the bench still builds and runs when a backend
 * package is missing or broken; the failure becomes a skip reason.
 */
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

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}

/** The handle `@larder/testkit` gives for a server (the part the bench uses). */
export interface ServerHandleLike extends FaultTarget {
  readonly url: string;
  readonly version: string;
  readonly source: 'env' | 'local' | 'container';
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** The part of `@larder/testkit` the bench uses. */
export interface TestkitModule {
  startRedis(options?: { useEnv?: boolean }): Promise<ServerHandleLike>;
  startMemcached(options?: { useEnv?: boolean; memoryMb?: number }): Promise<ServerHandleLike>;
  startPostgres(options?: { useEnv?: boolean }): Promise<ServerHandleLike>;
}

const ENV_VARIABLES = { redis: 'REDIS_URL', memcached: 'MEMCACHED_URL', postgres: 'DATABASE_URL' } as const;

/** Which server kinds the testkit starts, keyed like its start functions. */
export type ServerKind = keyof typeof ENV_VARIABLES;

/**
 * Gets a server from the testkit (environment URL → local binary → Docker). A server that
 * cannot be had becomes `BackendUnavailableError` with the testkit's reason and fix; it is
 * fatal when the environment names a URL that does not answer, or the backend was asked for.
 */
export async function startServer(
  kind: ServerKind,
  explicit: boolean,
  start: (testkit: TestkitModule) => Promise<ServerHandleLike>,
): Promise<ServerHandleLike> {
  const testkit = await importPackage<TestkitModule>('@larder/testkit');
  const variable = ENV_VARIABLES[kind];
  try {
    return await start(testkit);
  } catch (error) {
    const fromEnv = process.env[variable] !== undefined && process.env[variable] !== '';
    if (error instanceof Error && error.name === 'ServerUnavailableError') {
      const { reason, fix } = error as Error & { reason?: string; fix?: string };
      throw new BackendUnavailableError(
        reason ?? error.message,
        fix ?? `set ${variable} or install ${kind}`,
        fromEnv || explicit,
      );
    }
    throw new BackendUnavailableError(
      `${kind} could not be started: ${firstLine(error)}`,
      `set ${variable} to a running server, or install ${kind}`,
      fromEnv || explicit,
    );
  }
}

/** The server description for the results (password hidden). */
export function serverInfo(handle: ServerHandleLike): ServerInfo {
  return { version: handle.version, source: handle.source, address: redactUrl(handle.url) };
}

/** Fault target and the reason when there is none: only servers the bench started may be killed. */
export function faultsFor(handle: ServerHandleLike): {
  faults: FaultTarget | undefined;
  why: string | undefined;
} {
  if (handle.source === 'local') return { faults: handle, why: undefined };
  return {
    faults: undefined,
    why:
      handle.source === 'env'
        ? 'the server comes from the environment URL; the bench only faults servers it started'
        : 'the server runs in a container; the bench only faults local servers it started',
  };
}

/** Closes a store quietly (used on teardown paths). */
export async function closeQuietly(target: { close(): Promise<void> } | Store | undefined): Promise<void> {
  try {
    await target?.close();
  } catch {
    // teardown is best effort
  }
}
