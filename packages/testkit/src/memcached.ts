import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary } from './binaries.js';
import { startContainer } from './container.js';
import { answerWithin } from './errors.js';
import { useEnvServer } from './external.js';
import { findServer } from './find-server.js';
import type { Endpoint, ServerHandle } from './handle.js';
import { LocalServer } from './process.js';

/** How to start a memcached; any option but `useEnv` demands a private server. */
export interface MemcachedServerOptions {
  /** Cache memory in megabytes (`-m`). @default 64 */
  memoryMb?: number;
  /** Largest item (`-I`), e.g. `'2m'`. @default '1m' */
  itemSizeMax?: string;
  /** Connection limit (`-c`). @default 1024 */
  maxConnections?: number;
  /** Worker threads (`-t`). @default 4 */
  threads?: number;
  /** Use `MEMCACHED_URL` when set; fault tests pass false. @default true */
  useEnv?: boolean;
}

const fix =
  'install memcached (apt-get install memcached), set MEMCACHED_URL=host:port, or start a Docker engine';

/**
 * Sends the text-protocol `version` command on one fresh connection and returns what follows
 * `VERSION` (memcached's text protocol is one line each way: no client library needed).
 * Rejects with the socket error (ECONNREFUSED, …) or a NoReplyError after `timeoutMs`.
 */
export async function memcachedVersion(endpoint: Endpoint, timeoutMs = 2_000): Promise<string> {
  const socket = connect({ host: endpoint.host, port: endpoint.port });
  const reply = new Promise<string>((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end === -1) return;
      const line = text.slice(0, end);
      if (line.startsWith('VERSION ')) resolve(line.slice('VERSION '.length));
      else reject(new Error(`unexpected reply to version: ${line}`));
    });
    socket.once('error', reject);
    socket.once('close', () =>
      reject(new Error(`${endpoint.host}:${endpoint.port} closed the connection before answering`)),
    );
  });
  socket.write('version\r\n');
  try {
    return await answerWithin(reply, endpoint, timeoutMs);
  } finally {
    socket.destroy();
  }
}

/** Finds a memcached for tests: `MEMCACHED_URL`, else a local memcached on a free port, else a container. */
export async function startMemcached(options: MemcachedServerOptions = {}): Promise<ServerHandle> {
  const needsPrivate =
    options.memoryMb !== undefined ||
    options.itemSizeMax !== undefined ||
    options.maxConnections !== undefined ||
    options.threads !== undefined;
  const args = [
    ...(options.memoryMb !== undefined ? ['-m', String(options.memoryMb)] : []),
    ...(options.itemSizeMax !== undefined ? ['-I', options.itemSizeMax] : []),
    ...(options.maxConnections !== undefined ? ['-c', String(options.maxConnections)] : []),
    ...(options.threads !== undefined ? ['-t', String(options.threads)] : []),
  ];
  return findServer(
    'memcached',
    fix,
    { variable: 'MEMCACHED_URL', allowed: options.useEnv !== false && !needsPrivate, use: fromEnv },
    {
      path: findBinary('memcached', ['/usr/bin', '/usr/local/bin']),
      missing: 'memcached was not found in PATH, /usr/bin or /usr/local/bin',
      start: (binary) => startLocal(binary, args),
    },
    () => startInContainer(args),
  );
}

function fromEnv(url: string): Promise<ServerHandle> {
  // memjs style: 'host:port', 'user:pass@host:port' or a comma-separated list; the first server is probed
  const first = (url.split(',')[0] ?? '').replace(/^memcached:\/\//, '').replace(/^.*@/, '');
  const [host = '127.0.0.1', port = '11211'] = first.split(':');
  const target = { host, port: Number(port) };
  return useEnvServer('memcached', 'MEMCACHED_URL', url, target, () => memcachedVersion(target, 3_000));
}

function startLocal(binary: string, args: string[]): Promise<ServerHandle> {
  return LocalServer.start({
    kind: 'memcached',
    binary,
    dir: mkdtempSync(join(tmpdir(), 'larder-memcached-')),
    // memcached refuses to run as root unless told which user to be
    args: (port) => [
      ...['-l', '127.0.0.1', '-p', String(port), '-U', '0'],
      ...(process.getuid?.() === 0 ? ['-u', 'root'] : []),
      ...args,
    ],
    url: (host, port) => `${host}:${port}`,
    probe: (port) => memcachedVersion({ host: '127.0.0.1', port }, 1_000),
    readyTimeoutMs: 20_000,
    // SIGTERM waits for memcached's one-second clock tick; nothing is persisted, so SIGKILL loses nothing
    stopSignal: 'SIGKILL',
    fix,
  });
}

function startInContainer(args: string[]): Promise<ServerHandle> {
  return startContainer({
    kind: 'memcached',
    image: 'memcached:1.6',
    port: 11211,
    command: ['memcached', ...args],
    url: (host, port) => `${host}:${port}`,
    probe: (endpoint) => memcachedVersion(endpoint, 5_000),
  });
}
