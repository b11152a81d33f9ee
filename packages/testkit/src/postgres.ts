import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { findBinary, postgresBinDirs } from './binaries.js';
import { startContainer } from './container.js';
import { answerWithin, NoReplyError, ServerUnavailableError } from './errors.js';
import { useEnvServer } from './external.js';
import { findServer } from './find-server.js';
import type { Endpoint, ServerHandle } from './handle.js';
import { LocalServer } from './process.js';

const run = promisify(execFile);

/** How to start a Postgres; any option but `useEnv` demands a private server. */
export interface PostgresServerOptions {
  /** `max_connections`, e.g. 5 to test pool exhaustion. @default 100 */
  maxConnections?: number;
  /** Use `DATABASE_URL` when set; fault tests pass false. @default true */
  useEnv?: boolean;
}

const fix =
  'install Postgres (apt-get install postgresql), set DATABASE_URL=postgres://user:pass@host:port/db, or start a Docker engine';

/** Who logs in to probe a server. */
export interface PgLogin {
  user: string;
  database: string;
  password?: string | undefined;
}

const superuser: PgLogin = { user: 'postgres', database: 'postgres' };

/**
 * Runs `SHOW server_version` on one fresh pg connection. Rejects with pg's error (ECONNREFUSED,
 * 28P01, …) or a NoReplyError when the server does not answer within `timeoutMs`.
 */
export async function postgresVersion(
  endpoint: Endpoint,
  login: PgLogin = superuser,
  timeoutMs = 2_000,
): Promise<string> {
  const client = new pg.Client({
    host: endpoint.host,
    port: endpoint.port,
    ...login,
    // pg destroys the socket itself when the connection is not up in time
    connectionTimeoutMillis: timeoutMs,
  });
  client.on('error', () => {}); // the failure reaches the caller through the rejected call
  const ask = async () => {
    try {
      await client.connect();
    } catch (error) {
      if (error instanceof Error && /timeout/i.test(error.message)) {
        throw new NoReplyError(`no reply from ${endpoint.host}:${endpoint.port} within ${timeoutMs} ms`, {
          cause: error,
        });
      }
      throw error;
    }
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  };
  try {
    return await answerWithin(ask(), endpoint, timeoutMs + 500);
  } finally {
    // not awaited: ending waits for the server, which may be the one not answering
    client.end().catch(() => {});
  }
}

/** Finds a Postgres for tests: `DATABASE_URL`, else a local postgres on a free port, else a container. */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<ServerHandle> {
  const binary = findBinary('postgres', postgresBinDirs());
  const initdb = binary && join(dirname(binary), 'initdb');
  return findServer(
    'postgres',
    fix,
    {
      variable: 'DATABASE_URL',
      allowed: options.useEnv !== false && options.maxConnections === undefined,
      use: fromEnv,
    },
    {
      path: initdb && existsSync(initdb) ? binary : undefined,
      missing: `postgres and initdb were not found in PATH, ${postgresBinDirs().join(', ')}`,
      start: (path) => startLocal(path, join(dirname(path), 'initdb'), options),
    },
    () => startInContainer(options),
  );
}

function fromEnv(url: string): Promise<ServerHandle> {
  const parsed = new URL(url);
  const endpoint: Endpoint = { host: parsed.hostname, port: Number(parsed.port || 5432) };
  const login: PgLogin = {
    user: decodeURIComponent(parsed.username) || 'postgres',
    database: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
  };
  return useEnvServer('postgres', 'DATABASE_URL', url, endpoint, () =>
    postgresVersion(endpoint, login, 3_000),
  );
}

function startInContainer(options: PostgresServerOptions): Promise<ServerHandle> {
  return startContainer({
    kind: 'postgres',
    image: 'postgres:15',
    port: 5432,
    environment: { POSTGRES_HOST_AUTH_METHOD: 'trust' },
    command: ['postgres', '-c', 'fsync=off', ...maxConnectionsArgs(options)],
    url: (host, port) => `postgres://postgres@${host}:${port}/postgres`,
    probe: (endpoint) => waitForVersion(endpoint, 30_000),
  });
}

function maxConnectionsArgs(options: PostgresServerOptions): string[] {
  return options.maxConnections === undefined ? [] : ['-c', `max_connections=${options.maxConnections}`];
}

async function waitForVersion(endpoint: Endpoint, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await postgresVersion(endpoint);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The uid/gid of the `postgres` OS user, needed because Postgres refuses to run as root. */
function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new ServerUnavailableError(
      'postgres',
      'running as root, and there is no `postgres` OS user to run the server as (Postgres refuses root)',
      'apt-get install postgresql (creates the user), or run the tests as a non-root user',
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * An initdb'd data dir kept under os.tmpdir() per binary and user: copying it takes a fraction of
 * initdb's second. Built once, under a temporary name, then renamed into place atomically.
 */
async function dataTemplate(initdb: string, user: { uid: number; gid: number } | undefined): Promise<string> {
  const { mtimeMs, size } = statSync(initdb);
  const key = createHash('sha256').update(`${initdb}|${mtimeMs}|${size}|${user?.uid ?? process.getuid?.()}`);
  const root = join(tmpdir(), 'larder-testkit');
  const template = join(root, `pg-template-${key.digest('hex').slice(0, 12)}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  mkdirSync(root, { recursive: true });
  const building = mkdtempSync(join(root, 'pg-template-building-'));
  try {
    if (user) chownSync(building, user.uid, user.gid);
    await run(
      initdb,
      [
        '-D',
        join(building, 'data'),
        '-U',
        'postgres',
        '-A',
        'trust',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ],
      { ...(user ?? {}), cwd: building, timeout: 30_000, env: { ...process.env, LC_ALL: 'C' } },
    );
    try {
      renameSync(join(building, 'data'), template);
    } catch (error) {
      // another process finished first: use theirs
      if (!existsSync(join(template, 'PG_VERSION'))) throw error;
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
  return template;
}

async function startLocal(
  binary: string,
  initdb: string,
  options: PostgresServerOptions,
): Promise<ServerHandle> {
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'larder-postgres-'));
  const data = join(dir, 'data');
  try {
    if (user) chownSync(dir, user.uid, user.gid);
    const template = await dataTemplate(initdb, user);
    // cp -a keeps owner and the 0700 mode Postgres insists on
    await run('cp', ['-a', template, data], { timeout: 30_000 });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    if (error instanceof ServerUnavailableError) throw error;
    const output =
      error && typeof error === 'object' && 'stderr' in error ? String(error.stderr) : String(error);
    throw new ServerUnavailableError('postgres', `preparing the data dir failed: ${output.trim()}`, fix, {
      cause: error,
    });
  }
  return LocalServer.start({
    kind: 'postgres',
    binary,
    dir,
    user,
    args: (port) => [
      ...['-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir],
      // throwaway data: durability off for speed
      ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
      ...maxConnectionsArgs(options),
    ],
    url: (host, port) => `postgres://postgres@${host}:${port}/postgres`,
    probe: (port) => postgresVersion({ host: '127.0.0.1', port }, superuser, 1_000),
    readyTimeoutMs: 30_000,
    stopSignal: 'SIGINT', // fast shutdown
    fix,
  });
}
