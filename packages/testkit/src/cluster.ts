import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinary } from './binaries.js';
import { ServerUnavailableError } from './errors.js';
import type { ServerSource } from './handle.js';
import { freePort } from './ports.js';
import { type RedisServerHandle, startRedis } from './redis.js';
import { withRedis } from './redis-client.js';

const run = promisify(execFile);

/** How to start a Redis Cluster. */
export interface RedisClusterOptions {
  /** Master nodes (no replicas). @default 3 */
  masters?: number;
}

/** A local Redis Cluster whose slots are all assigned and which reports `cluster_state:ok`. */
export interface RedisClusterHandle {
  /** Seed nodes for a cluster client. */
  readonly nodes: { host: string; port: number }[];
  /** Each node's own handle, for fault injection on one node. */
  readonly servers: RedisServerHandle[];
  readonly version: string;
  readonly source: ServerSource;
  /** Stops every node and removes their dirs; idempotent. */
  stop(): Promise<void>;
}

/** Starts `masters` local redis-servers with cluster mode on and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const cli = findBinary('redis-cli', ['/usr/bin', '/usr/local/bin']);
  if (!cli) {
    throw new ServerUnavailableError(
      'redis',
      'redis-cli is needed to create a cluster and was not found',
      'apt-get install redis-tools',
    );
  }
  const started = await Promise.allSettled(
    Array.from({ length: masters }, async () =>
      startRedis({
        useEnv: false,
        // an explicit bus port: the default (port + 10000) may be taken or above 65535
        extraArgs: [
          ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
          ...['--cluster-node-timeout', '5000', '--cluster-port', String(await freePort())],
        ],
      }),
    ),
  );
  const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    const failure = started.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
    const addresses = servers.map((server) => `${server.host}:${server.port}`);
    await run(cli, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    await waitForClusterOk(servers, 20_000);
  } catch (error) {
    await stop();
    if (error instanceof ServerUnavailableError) throw error;
    const detail = error && typeof error === 'object' && 'stdout' in error ? `\n${String(error.stdout)}` : '';
    throw new ServerUnavailableError(
      'redis',
      `could not form a cluster: ${error instanceof Error ? error.message : String(error)}${detail}`,
      'check that redis-server supports cluster mode (Redis >= 7 for --cluster-port)',
      { cause: error },
    );
  }
  return {
    nodes: servers.map((server) => ({ host: server.host, port: server.port })),
    servers,
    version: servers[0]?.version ?? 'unknown',
    source: 'local',
    stop,
  };
}

async function waitForClusterOk(servers: RedisServerHandle[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(
      servers.map((server) => withRedis(server, (client) => client.cluster('INFO'))),
    );
    if (infos.every((info) => info.includes('cluster_state:ok'))) return;
    if (Date.now() > deadline) throw new Error(`cluster_state is not ok after ${timeoutMs} ms:\n${infos[0]}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
