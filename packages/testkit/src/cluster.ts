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
  /** Master nodes. @default 3 */
  masters?: number;
  /** Replicas of each master (a replica takes over when its master fails). @default 0 */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a node may be unreachable before it is judged failing, in ms. @default 5000 */
  nodeTimeoutMs?: number;
}

/** One master and its replicas, as the cluster reports them now. */
export interface RedisClusterShard {
  master: RedisServerHandle;
  replicas: RedisServerHandle[];
  /** How many hash slots the master serves. */
  slots: number;
}

/** A local Redis Cluster whose slots are all assigned and which reports `cluster_state:ok`. */
export interface RedisClusterHandle {
  /** Seed nodes for a cluster client. */
  readonly nodes: { host: string; port: number }[];
  /** Each node's own handle, for fault injection on one node. */
  readonly servers: RedisServerHandle[];
  /** Masters and their replicas as a live node reports them (`CLUSTER NODES`); failed nodes are left out. */
  shards(): Promise<RedisClusterShard[]>;
  /**
   * Waits until one of `shard`'s replicas serves its slots in place of its master and every node
   * that answers reports `cluster_state:ok`; resolves the new shard. Take `shard` from `shards()`
   * before the fault.
   */
  waitForFailover(shard: RedisClusterShard, timeoutMs?: number): Promise<RedisClusterShard>;
  readonly version: string;
  readonly source: ServerSource;
  /** Stops every node and removes their dirs; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `masters × (1 + replicasPerMaster)` local redis-servers with cluster mode on, joins them
 * with `redis-cli --cluster create`, and resolves once every slot is served and every replica is in sync.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const replicasPerMaster = options.replicasPerMaster ?? 0;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 5000;
  if (!(Number.isInteger(replicasPerMaster) && replicasPerMaster >= 0)) {
    throw new Error(`replicasPerMaster ${replicasPerMaster} must be a non-negative integer`);
  }
  const cli = findBinary('redis-cli', ['/usr/bin', '/usr/local/bin']);
  if (!cli) {
    throw new ServerUnavailableError(
      'redis',
      'redis-cli is needed to create a cluster and was not found',
      'apt-get install redis-tools',
    );
  }
  const started = await Promise.allSettled(
    Array.from({ length: masters * (1 + replicasPerMaster) }, async () =>
      startRedis({
        useEnv: false,
        // an explicit bus port: the default (port + 10000) may be taken or above 65535
        extraArgs: [
          ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
          ...['--cluster-node-timeout', String(nodeTimeoutMs), '--cluster-port', String(await freePort())],
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
    await run(
      cli,
      ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      {
        timeout: 30_000,
      },
    );
    await waitForClusterOk(servers, 20_000);
    if (replicasPerMaster > 0) await waitForReplicas(servers, masters * replicasPerMaster, 20_000);
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
    shards: () => readShards(servers),
    async waitForFailover(before, timeoutMs = 30_000) {
      const server = before.master;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const shards = await readShards(servers);
          const live = servers.filter((node) => node !== server);
          const infos = await Promise.allSettled(
            live.map((node) => withRedis(node, (client) => client.cluster('INFO'), 1_000)),
          );
          const ok = infos.every(
            (result) => result.status === 'rejected' || result.value.includes('cluster_state:ok'),
          );
          const takeover = shards.find(
            (shard) =>
              shard.master !== server &&
              before.replicas.includes(shard.master) &&
              shard.slots === before.slots,
          );
          if (ok && takeover && !shards.some((shard) => shard.master === server)) return takeover;
        } catch {
          // a node is between states; ask again
        }
        if (Date.now() > deadline)
          throw new Error(`no replica took over from port ${server.port} within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    stop,
  };
}

/** Reads `CLUSTER NODES` from the first node that answers and maps it onto the handles. */
async function readShards(servers: RedisServerHandle[]): Promise<RedisClusterShard[]> {
  let text: string | undefined;
  let last: unknown;
  for (const server of servers) {
    try {
      text = String(await withRedis(server, (client) => client.cluster('NODES'), 1_000));
      break;
    } catch (error) {
      last = error;
    }
  }
  if (text === undefined) throw last instanceof Error ? last : new Error('no cluster node answered');
  const byPort = (address: string) => {
    const port = Number(/:(\d+)@/.exec(address)?.[1]);
    return servers.find((server) => server.port === port);
  };
  const rows = text
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  const shards = new Map<string, RedisClusterShard>();
  for (const [id, address, flags, , , , , , ...slots] of rows) {
    const server = byPort(address ?? '');
    if (!id || !server || !flags || /fail|noaddr|handshake/.test(flags) || !flags.includes('master'))
      continue;
    const count = slots
      .filter((range) => !range.startsWith('['))
      .reduce((total, range) => {
        const [from, to] = range.split('-').map(Number);
        return total + ((to ?? from ?? 0) - (from ?? 0) + 1);
      }, 0);
    if (count > 0) shards.set(id, { master: server, replicas: [], slots: count });
  }
  for (const [, address, flags, masterId] of rows) {
    const server = byPort(address ?? '');
    const shard = shards.get(masterId ?? '');
    if (server && shard && flags?.includes('slave') && !/fail|noaddr/.test(flags))
      shard.replicas.push(server);
  }
  return [...shards.values()];
}

/** Waits until `count` replicas report their link to their master up. */
async function waitForReplicas(
  servers: RedisServerHandle[],
  count: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(
      servers.map((server) => withRedis(server, (client) => client.info('replication'))),
    );
    const synced = infos.filter((info) => /^master_link_status:up$/m.test(info)).length;
    if (synced === count) return;
    if (Date.now() > deadline)
      throw new Error(`${synced} of ${count} replicas in sync after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
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
