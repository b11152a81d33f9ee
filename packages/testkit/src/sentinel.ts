import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findBinary } from './binaries.js';
import { ServerUnavailableError } from './errors.js';
import type { ServerHandle, ServerSource } from './handle.js';
import { LocalServer } from './process.js';
import { type RedisServerHandle, startRedis } from './redis.js';
import { type RedisEndpoint, redisVersion, withRedis } from './redis-client.js';
import { createTlsMaterial, type TlsMaterial } from './tls.js';

/** How to start a Sentinel-managed Redis: one master, its replicas, and the sentinels watching it. */
export interface RedisSentinelOptions {
  /** Replicas of the master. @default 1 */
  replicas?: number;
  /** Sentinel processes; the quorum is a majority of them. @default 3 */
  sentinels?: number;
  /** The master group name clients ask the sentinels for. @default 'mymaster' */
  name?: string;
  /** Sentinel `down-after-milliseconds`: how long the master may be silent before it is judged down. @default 1000 */
  downAfterMs?: number;
  /** Sentinel `failover-timeout`, in ms. @default 5000 */
  failoverTimeoutMs?: number;
  /** Password of the default user on the master and replicas (`requirepass`, `masterauth`, `sentinel auth-pass`). */
  requirepass?: string;
  /** Password the sentinels themselves require (`requirepass` in sentinel mode). */
  sentinelPassword?: string;
  /** Every process serves TLS only (replication and sentinel links too), with one throwaway CA. @default false */
  tls?: boolean;
}

/** A running Sentinel topology, with each process' handle for fault injection. */
export interface RedisSentinelHandle {
  /** The master group name. */
  readonly name: string;
  /** Where the sentinels listen: what a client is given. */
  readonly sentinels: { host: string; port: number }[];
  /** The master the topology started with (after a failover it may be a replica, or dead). */
  readonly master: RedisServerHandle;
  /** The replicas it started with. */
  readonly replicas: RedisServerHandle[];
  /** The sentinel processes. */
  readonly sentinelServers: ServerHandle[];
  readonly downAfterMs: number;
  /** The CA and certificate every process serves, when started with `tls: true`. */
  readonly tls: TlsMaterial | undefined;
  readonly version: string;
  readonly source: ServerSource;
  /** The master address the sentinels currently report (the first sentinel that answers). */
  masterAddress(): Promise<{ host: string; port: number }>;
  /** The data server (master or replica) listening on `port`, if the topology started it. */
  serverAt(port: number): RedisServerHandle | undefined;
  /**
   * Waits until every live sentinel reports a master other than `previousPort` and that server
   * says `role:master`; resolves its address. Rejects after `timeoutMs`.
   */
  waitForFailover(previousPort: number, timeoutMs?: number): Promise<{ host: string; port: number }>;
  /** Stops every process and removes their dirs; idempotent. */
  stop(): Promise<void>;
}

const fix =
  'install Redis with Sentinel (apt-get install redis-server redis-sentinel; `redis-server --sentinel` also works)';

/**
 * Starts a master, `replicas` replicas of it and `sentinels` sentinels, all local on free ports,
 * and resolves once the replicas are in sync and every sentinel knows every replica and every
 * other sentinel (so a failover can start as soon as the master goes down).
 */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelHandle> {
  const replicaCount = options.replicas ?? 1;
  const sentinelCount = options.sentinels ?? 3;
  const name = options.name ?? 'mymaster';
  const downAfterMs = options.downAfterMs ?? 1000;
  const failoverTimeoutMs = options.failoverTimeoutMs ?? 5000;
  if (!(Number.isInteger(replicaCount) && replicaCount >= 1)) {
    throw new Error(
      `replicas ${replicaCount} must be an integer >= 1: a failover needs a replica to promote`,
    );
  }
  if (!(Number.isInteger(sentinelCount) && sentinelCount >= 1)) {
    throw new Error(`sentinels ${sentinelCount} must be an integer >= 1`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(name))
    throw new Error(`name ${JSON.stringify(name)} must match [A-Za-z0-9_.-]+`);
  const sentinelBinary = findBinary('redis-sentinel', ['/usr/bin', '/usr/local/bin']);
  const serverBinary = findBinary('redis-server', ['/usr/bin', '/usr/local/bin']);
  if (!sentinelBinary && !serverBinary) {
    throw new ServerUnavailableError('redis', 'neither redis-sentinel nor redis-server was found', fix);
  }

  const auth = options.requirepass;
  const started: { stop(): Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= Promise.all(started.map((server) => server.stop())).then(() => {});
    return stopping;
  };
  try {
    let tls: TlsMaterial | undefined;
    if (options.tls) {
      const tlsDir = mkdtempSync(join(tmpdir(), 'larder-sentinel-tls-'));
      started.push({ stop: () => rm(tlsDir, { recursive: true, force: true }) });
      tls = await createTlsMaterial(tlsDir);
    }
    const dataOptions = {
      useEnv: false,
      ...(auth === undefined ? {} : { requirepass: auth }),
      ...(tls === undefined ? {} : { tls: true, tlsMaterial: tls }),
    };
    const dataArgs = [
      ...(auth === undefined ? [] : ['--masterauth', auth]),
      ...(tls === undefined ? [] : ['--tls-replication', 'yes']),
    ];
    const endpoint = (
      server: { host: string; port: number },
      password: string | undefined,
    ): RedisEndpoint => ({
      host: server.host,
      port: server.port,
      password,
      tls: tls === undefined ? undefined : { ca: tls.ca },
    });
    const master = await startRedis({ ...dataOptions, extraArgs: dataArgs });
    started.push(master);
    const replicas = await Promise.all(
      Array.from({ length: replicaCount }, async () => {
        const replica = await startRedis({
          ...dataOptions,
          extraArgs: [...dataArgs, '--replicaof', master.host, String(master.port)],
        });
        started.push(replica);
        return replica;
      }),
    );
    await waitUntil(
      'the replicas to finish their first sync',
      () =>
        Promise.all(replicas.map((replica) => info(endpoint(replica, auth), 'replication'))).then((infos) =>
          infos.every((text) => /^master_link_status:up$/m.test(text)),
        ),
      20_000,
    );
    const quorum = Math.floor(sentinelCount / 2) + 1;
    const sentinelServers: LocalServer[] = [];
    for (let index = 0; index < sentinelCount; index++) {
      const server = await startSentinel(sentinelBinary ?? serverBinary!, sentinelBinary === undefined, {
        name,
        master,
        quorum,
        downAfterMs,
        failoverTimeoutMs,
        auth,
        sentinelPassword: options.sentinelPassword,
        tls,
      });
      started.push(server);
      sentinelServers.push(server);
    }
    const sentinelEndpoints = sentinelServers.map((server) => endpoint(server, options.sentinelPassword));
    // Sentinels find each other through hello messages every 2 s, and replicas through INFO.
    await waitUntil(
      'every sentinel to know every replica and every other sentinel',
      async () => {
        const views = await Promise.all(sentinelEndpoints.map((sentinel) => masterView(sentinel, name)));
        return views.every(
          (view) =>
            view.get('num-slaves') === String(replicaCount) &&
            view.get('num-other-sentinels') === String(sentinelCount - 1) &&
            view.get('flags') === 'master',
        );
      },
      20_000,
    );
    const servers = [master, ...replicas];
    const masterAddress = () => firstAnswer(sentinelEndpoints, (sentinel) => askMaster(sentinel, name));
    return {
      name,
      sentinels: sentinelServers.map((server) => ({ host: server.host, port: server.port })),
      master,
      replicas,
      sentinelServers,
      downAfterMs,
      tls,
      version: master.version,
      source: 'local',
      masterAddress,
      serverAt: (port) => servers.find((server) => server.port === port),
      async waitForFailover(previousPort, timeoutMs = 30_000) {
        let found: { host: string; port: number } | undefined;
        await waitUntil(
          `a master other than port ${previousPort}`,
          async () => {
            const answers = await Promise.allSettled(
              sentinelEndpoints.map((sentinel) => askMaster(sentinel, name)),
            );
            // a sentinel that was killed or paused does not answer; a majority must agree
            const ports = answers.flatMap((answer) =>
              answer.status === 'fulfilled' ? [answer.value.port] : [],
            );
            const port = ports[0];
            if (ports.length < quorum || new Set(ports).size !== 1 || port === undefined) return false;
            if (port === previousPort) return false;
            const role = await info(endpoint({ host: '127.0.0.1', port }, auth), 'replication');
            if (!/^role:master$/m.test(role)) return false;
            found = { host: '127.0.0.1', port };
            return true;
          },
          timeoutMs,
        );
        return found!;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface SentinelConfig {
  name: string;
  master: RedisServerHandle;
  quorum: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  auth: string | undefined;
  sentinelPassword: string | undefined;
  tls: TlsMaterial | undefined;
}

async function startSentinel(
  binary: string,
  viaServer: boolean,
  config: SentinelConfig,
): Promise<LocalServer> {
  const dir = mkdtempSync(join(tmpdir(), 'larder-sentinel-'));
  const { name } = config;
  const lines = [
    'bind 127.0.0.1',
    `dir ${JSON.stringify(dir)}`,
    'logfile ""',
    `sentinel monitor ${name} ${config.master.host} ${config.master.port} ${config.quorum}`,
    `sentinel down-after-milliseconds ${name} ${config.downAfterMs}`,
    `sentinel failover-timeout ${name} ${config.failoverTimeoutMs}`,
    `sentinel parallel-syncs ${name} 1`,
  ];
  if (config.auth !== undefined) lines.push(`sentinel auth-pass ${name} ${JSON.stringify(config.auth)}`);
  if (config.sentinelPassword !== undefined)
    lines.push(`requirepass ${JSON.stringify(config.sentinelPassword)}`);
  const { tls } = config;
  if (tls) {
    lines.push(
      `tls-cert-file ${JSON.stringify(tls.certPath)}`,
      `tls-key-file ${JSON.stringify(tls.keyPath)}`,
      `tls-ca-cert-file ${JSON.stringify(tls.caPath)}`,
      // sentinel reaches the master and replicas over TLS too
      'tls-replication yes',
      'tls-auth-clients no',
    );
  }
  // Sentinel rewrites its config file (it records what it learns), so the file lives in its own dir.
  const configFile = join(dir, 'sentinel.conf');
  try {
    writeFileSync(configFile, `${lines.join('\n')}\n`);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return LocalServer.start({
    kind: 'redis',
    binary,
    dir,
    args: (port) => [
      configFile,
      ...(viaServer ? ['--sentinel'] : []),
      ...(tls ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)]),
    ],
    url: (host, port) => `${tls ? 'rediss' : 'redis'}://${host}:${port}`,
    probe: (port) =>
      redisVersion(
        { host: '127.0.0.1', port, password: config.sentinelPassword, tls: tls ? { ca: tls.ca } : undefined },
        1_000,
      ),
    readyTimeoutMs: 20_000,
    stopSignal: 'SIGTERM',
    fix,
  });
}

function info(target: RedisEndpoint, section: string): Promise<string> {
  return withRedis(target, (client) => client.info(section), 1_000);
}

/** `SENTINEL MASTER <name>` as a field map. */
async function masterView(sentinel: RedisEndpoint, name: string): Promise<Map<string, string>> {
  const reply = (await withRedis(
    sentinel,
    (client) => client.call('SENTINEL', 'MASTER', name),
    1_000,
  )) as string[];
  const fields = new Map<string, string>();
  for (let index = 0; index + 1 < reply.length; index += 2) fields.set(reply[index]!, reply[index + 1]!);
  return fields;
}

async function askMaster(sentinel: RedisEndpoint, name: string): Promise<{ host: string; port: number }> {
  const reply = (await withRedis(
    sentinel,
    (client) => client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name),
    1_000,
  )) as [string, string] | null;
  if (reply === null) throw new Error(`sentinel ${sentinel.port} does not know master ${name}`);
  return { host: reply[0], port: Number(reply[1]) };
}

async function firstAnswer<T>(
  targets: RedisEndpoint[],
  ask: (target: RedisEndpoint) => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (const target of targets) {
    try {
      return await ask(target);
    } catch (error) {
      last = error;
    }
  }
  throw last instanceof Error ? last : new Error('no sentinel answered');
}

/** Polls `check` every 100 ms until it resolves true; check errors count as "not yet". */
async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? ` (last error: ${last.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(100);
  }
}
