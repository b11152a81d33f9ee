import { dockerAnswers } from './container.js';
import { ServerUnavailableError } from './errors.js';
import type { ServerKind } from './handle.js';

/** Step 1: a server named by an environment URL. */
export interface EnvStep<H> {
  /** The variable, e.g. `REDIS_URL`. */
  variable: string;
  /** False when the caller needs a private server (options the shared one lacks, or `useEnv: false`). */
  allowed: boolean;
  use(url: string): Promise<H>;
}

/** Step 2: a local binary started on a free port. */
export interface BinaryStep<H> {
  /** The binary found, or undefined. */
  path: string | undefined;
  /** Why it was not found, e.g. "redis-server was not found in PATH, /usr/bin or /usr/local/bin". */
  missing: string;
  start(path: string): Promise<H>;
}

/** Step 3: a container, or undefined when the options cannot run in one. */
export type DockerStep<H> = (() => Promise<H>) | undefined;

/**
 * The one way every kind of server is found: the environment URL when allowed and set, else
 * the local binary, else a container when a Docker engine answers; else a ServerUnavailableError
 * that says what was tried and `fix`.
 */
export async function findServer<H>(
  kind: ServerKind,
  fix: string,
  env: EnvStep<H>,
  binary: BinaryStep<H>,
  docker: DockerStep<H>,
): Promise<H> {
  const url = process.env[env.variable];
  if (env.allowed && url) return env.use(url);
  if (binary.path) return binary.start(binary.path);
  if (docker && (await dockerAnswers())) return docker();
  const unset = url ? '' : `, ${env.variable} is not set`;
  const noDocker = docker ? 'no Docker engine answers' : 'these options cannot run in a container';
  throw new ServerUnavailableError(kind, `${binary.missing}${unset}, and ${noDocker}`, fix);
}
