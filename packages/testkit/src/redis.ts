import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { startContainer } from './container.js';
import { useEnvServer } from './external.js';
import { findServer } from './find-server.js';
import type { ServerHandle } from './handle.js';
import { LocalServer } from './process.js';
import { type RedisEndpoint, redisVersion } from './redis-client.js';
import { createTlsMaterial, type TlsMaterial } from './tls.js';

/** How to start a Redis server; any option but `useEnv` demands a private server. */
export interface RedisServerOptions {
  /** Password of the default user (`requirepass`). */
  requirepass?: string;
  /** ACL users, as `ACL SETUSER` arguments or aclfile lines (`alice on >pw ~* +@all`). */
  aclUsers?: string[];
  /** Serve TLS only, with a throwaway CA; the handle then carries `tls` and a `rediss://` url. @default false */
  tls?: boolean;
  /** With `tls`: this CA and certificate instead of new ones (servers that talk to each other share one). @default new ones */
  tlsMaterial?: TlsMaterial;
  /** `maxmemory`, e.g. `'2mb'`. */
  maxmemory?: string;
  /** `maxmemory-policy`, e.g. `'noeviction'`. */
  maxmemoryPolicy?: string;
  /** More `redis-server` arguments, e.g. `['--maxclients', '5']`. */
  extraArgs?: string[];
  /** Use `REDIS_URL` when set; fault tests pass false. @default true */
  useEnv?: boolean;
}

/** A Redis server; `tls` holds the CA and server certificate when started with `tls: true`. */
export interface RedisServerHandle extends ServerHandle {
  readonly tls: TlsMaterial | undefined;
}

const fix =
  'install Redis (apt-get install redis-server redis-tools), set REDIS_URL=redis://host:port, or start a Docker engine';

/** Finds a Redis for tests: `REDIS_URL`, else a local redis-server on a free port, else a container. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const needsPrivate =
    options.requirepass !== undefined ||
    (options.aclUsers?.length ?? 0) > 0 ||
    options.tls === true ||
    options.maxmemory !== undefined ||
    options.maxmemoryPolicy !== undefined ||
    (options.extraArgs?.length ?? 0) > 0;
  return findServer(
    'redis',
    fix,
    { variable: 'REDIS_URL', allowed: options.useEnv !== false && !needsPrivate, use: fromEnv },
    {
      path: findBinary('redis-server', ['/usr/bin', '/usr/local/bin']),
      missing: 'redis-server was not found in PATH, /usr/bin or /usr/local/bin',
      start: (binary) => startLocal(binary, options),
    },
    options.tls || options.aclUsers?.length ? undefined : () => startInContainer(options),
  );
}

async function fromEnv(url: string): Promise<RedisServerHandle> {
  const parsed = new URL(url);
  const endpoint: RedisEndpoint = {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    tls: parsed.protocol === 'rediss:' ? { rejectUnauthorized: false } : undefined,
    username: decodeURIComponent(parsed.username) || undefined,
    password: decodeURIComponent(parsed.password) || undefined,
  };
  const server = await useEnvServer('redis', 'REDIS_URL', url, endpoint, () => redisVersion(endpoint, 3_000));
  return Object.assign(server, { tls: undefined });
}

function configValue(value: string): string {
  return JSON.stringify(value); // redis.conf accepts double-quoted strings with \" and \\ escapes
}

async function startLocal(binary: string, options: RedisServerOptions): Promise<RedisServerHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'larder-redis-'));
  let tls: TlsMaterial | undefined;
  try {
    if (options.tls) tls = options.tlsMaterial ?? (await createTlsMaterial(dir));
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const lines = ['bind 127.0.0.1', `dir ${configValue(dir)}`, 'logfile ""'];
  if (options.requirepass !== undefined) lines.push(`requirepass ${configValue(options.requirepass)}`);
  for (const user of options.aclUsers ?? []) lines.push(user.startsWith('user ') ? user : `user ${user}`);
  if (options.maxmemory) lines.push(`maxmemory ${options.maxmemory}`);
  if (options.maxmemoryPolicy) lines.push(`maxmemory-policy ${options.maxmemoryPolicy}`);
  if (tls) {
    lines.push(
      `tls-cert-file ${configValue(tls.certPath)}`,
      `tls-key-file ${configValue(tls.keyPath)}`,
      `tls-ca-cert-file ${configValue(tls.caPath)}`,
      'tls-auth-clients no',
    );
  }
  const configFile = join(dir, 'redis.conf');
  writeFileSync(configFile, `${lines.join('\n')}\n`);

  const credentials = options.requirepass ? `:${encodeURIComponent(options.requirepass)}@` : '';
  const server = await LocalServer.start({
    kind: 'redis',
    binary,
    dir,
    args: (port) => [
      configFile,
      ...(tls ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)]),
      ...['--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      ...(options.extraArgs ?? []),
    ],
    url: (host, port) => `${tls ? 'rediss' : 'redis'}://${credentials}${host}:${port}`,
    probe: (port) =>
      probeVersion(
        { host: '127.0.0.1', port, tls: tls ? { ca: tls.ca } : undefined, password: options.requirepass },
        binary,
      ),
    readyTimeoutMs: 20_000,
    stopSignal: 'SIGTERM',
    fix,
  });
  return Object.assign(server, { tls });
}

/** INFO server's redis_version; when ACLs lock out the default user, the binary's own version. */
async function probeVersion(endpoint: RedisEndpoint, binary: string): Promise<string> {
  try {
    return await redisVersion(endpoint, 1_000);
  } catch (error) {
    // an error reply from the server (not a connection failure): the default user is locked out
    if (error instanceof Error && /^(NOAUTH|NOPERM|WRONGPASS)/.test(error.message)) {
      const output = execFileSync(binary, ['--version'], { encoding: 'utf8' });
      return /v=(\S+)/.exec(output)?.[1] ?? 'unknown';
    }
    throw error;
  }
}

async function startInContainer(options: RedisServerOptions): Promise<RedisServerHandle> {
  const args = ['--save', '', '--appendonly', 'no', ...(options.extraArgs ?? [])];
  if (options.requirepass !== undefined) args.push('--requirepass', options.requirepass);
  if (options.maxmemory) args.push('--maxmemory', options.maxmemory);
  if (options.maxmemoryPolicy) args.push('--maxmemory-policy', options.maxmemoryPolicy);
  const credentials = options.requirepass ? `:${encodeURIComponent(options.requirepass)}@` : '';
  const server = await startContainer({
    kind: 'redis',
    image: 'redis:7',
    port: 6379,
    command: ['redis-server', ...args],
    url: (host, port) => `redis://${credentials}${host}:${port}`,
    probe: (endpoint) => redisVersion({ ...endpoint, password: options.requirepass }, 5_000),
  });
  return Object.assign(server, { tls: undefined });
}
