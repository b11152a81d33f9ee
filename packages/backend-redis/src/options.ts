import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { CacheConfigError, type CacheLogger, consoleLogger } from '@larder/core';
import { checkOptions, type OptionSpec } from '@larder/core/store-kit';
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/** A pino-compatible sink for the store's one-off warnings (e.g. `maxmemory-policy noeviction`). */
export type RedisStoreLogger = Pick<CacheLogger, 'warn'>;

/** A Redis Sentinel's address. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/** Options for `RedisStore`. Give at most one of `url`, `cluster`, `sentinels` or `client`; with none, the store connects to `redis://127.0.0.1:6379`. */
export interface RedisStoreOptions {
  /**
   * `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS (verified against the
   * system CAs unless `tls.ca` is given). Percent-encode reserved characters of the password.
   * @default 'redis://127.0.0.1:6379'
   */
  url?: string;
  /** ioredis options, applied over the URL and over Larder's defaults (for a cluster: the options of every node). @default {} */
  redis?: RedisOptions;
  /** Seed nodes of a Redis Cluster; the store then creates a `Cluster` client. @default none */
  cluster?: ClusterNode[];
  /** ioredis Cluster options, applied over Larder's defaults. @default {} */
  clusterOptions?: ClusterOptions;
  /**
   * Sentinels watching the master named `name`; the store asks them where the master is and follows
   * failovers. The master's password goes in `redis.password`, the sentinels' in `redis.sentinelPassword`.
   * @default none
   */
  sentinels?: SentinelAddress[];
  /** The master group name the sentinels monitor (`sentinel monitor <name> ...`); required with `sentinels`. @default none */
  name?: string;
  /** An existing `Redis` or `Cluster` client. The store uses it as configured and never closes it. @default none */
  client?: Redis | Cluster;
  /** TLS options (e.g. `{ ca }`); turns TLS on (with `sentinels`: to the sentinels and the master). Certificates are always verified unless you say otherwise here. @default none (TLS only for rediss://) */
  tls?: ConnectionOptions;
  /** Bounds connecting and every command, in ms (ioredis `connectTimeout` and `commandTimeout`). @default 1000 */
  timeout?: number;
  /** A connection that receives nothing for this long while replies are due is dropped and reconnected (ioredis `socketTimeout`). @default 2 × timeout */
  socketTimeout?: number;
  /** Largest value accepted, in bytes (Redis' `proto-max-bulk-len`). @default 512 MiB */
  maxValueBytes?: number;
  /** Sends concurrent single-key reads issued in the same tick as one MGET (and `has` as one pipeline). @default true */
  coalesceReads?: boolean;
  /** Most keys in one coalesced read. @default 256 */
  maxBatchKeys?: number;
  /** Where the store's one-off warnings go. @default console (prefixed `[larder]`) */
  logger?: RedisStoreLogger;
}

/** The checked settings a store runs with, and its client. */
export interface RedisSettings {
  client: Redis | Cluster;
  owned: boolean;
  /** Where the client connects, without credentials, for messages. */
  endpoint: string;
  /** Whether ioredis queues commands while disconnected (only for clients the caller configured so). */
  queuesOffline: boolean;
  timeoutMs: number;
  maxValueBytes: number;
  maxBatchKeys: number;
  coalesceReads: boolean;
  logger: RedisStoreLogger;
}

/** Largest value Redis accepts (its largest bulk string). */
export const MAX_VALUE_BYTES = 512 * 1024 * 1024;

const STORE = 'redis';
const SPEC: OptionSpec = {
  url: 'string',
  redis: 'object',
  cluster: { accepts: 'an array of seed nodes', check: Array.isArray },
  clusterOptions: 'object',
  sentinels: { accepts: 'an array of { host, port } sentinel addresses', check: Array.isArray },
  name: 'string',
  client: { accepts: 'an ioredis Redis or Cluster client', check: isClient },
  tls: 'object',
  timeout: 'number',
  socketTimeout: 'number',
  maxValueBytes: 'number',
  coalesceReads: 'boolean',
  maxBatchKeys: 'number',
  logger: {
    accepts: 'an object with a warn(fields, message) method',
    check: (v) => typeof (v as { warn?: unknown })?.warn === 'function',
  },
};

/** Checks the options (a URL, options or a client) and creates the client when the store owns it. */
export function redisSettings(options: RedisStoreOptions | string | Redis | Cluster): RedisSettings {
  const opts: RedisStoreOptions =
    typeof options === 'string' ? { url: options } : isClient(options) ? { client: options } : options;
  checkOptions('redisStore', opts, SPEC);
  const sources = [opts.url, opts.cluster, opts.sentinels, opts.client].filter(
    (source) => source !== undefined,
  );
  if (sources.length > 1) {
    throw new CacheConfigError('RedisStore takes one of url, cluster, sentinels or client; pass only one', {
      store: STORE,
    });
  }
  if (opts.name !== undefined && opts.sentinels === undefined) {
    throw new CacheConfigError(
      'name is the Sentinel master group name; it needs sentinels: [{ host, port }, ...]',
      {
        store: STORE,
      },
    );
  }
  const timeoutMs = checkMs('timeout', opts.timeout ?? 1000, 60_000);
  const socketTimeout = checkMs('socketTimeout', opts.socketTimeout ?? 2 * timeoutMs, 600_000);
  const maxValueBytes = opts.maxValueBytes ?? MAX_VALUE_BYTES;
  if (!(Number.isInteger(maxValueBytes) && maxValueBytes > 0 && maxValueBytes <= MAX_VALUE_BYTES)) {
    throw new CacheConfigError(
      `maxValueBytes ${maxValueBytes} must be an integer between 1 and ${MAX_VALUE_BYTES} (512 MiB, Redis' largest bulk string)`,
      { store: STORE },
    );
  }
  const maxBatchKeys = opts.maxBatchKeys ?? 256;
  if (!(Number.isInteger(maxBatchKeys) && maxBatchKeys > 0)) {
    throw new CacheConfigError(`maxBatchKeys ${maxBatchKeys} must be a positive integer`, { store: STORE });
  }
  const common = {
    timeoutMs,
    maxValueBytes,
    maxBatchKeys,
    coalesceReads: opts.coalesceReads !== false,
    logger: opts.logger ?? consoleLogger,
  };
  if (opts.client !== undefined) {
    return {
      ...common,
      client: opts.client,
      owned: false,
      endpoint: describeClient(opts.client),
      queuesOffline: opts.client.options.enableOfflineQueue !== false,
    };
  }
  const timeouts: RedisOptions = {
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    socketTimeout,
    // A command lost with its connection fails now instead of waiting for a reconnect,
    // and is never re-sent: a timed-out `set` must not land later.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
  };
  const backoff = (attempt: number) => Math.min(attempt * 50, 500);
  if (opts.cluster !== undefined) {
    if (opts.cluster.length === 0) {
      throw new CacheConfigError('cluster needs at least one seed node', { store: STORE });
    }
    const redisOptions: RedisOptions = { ...timeouts, ...opts.redis };
    if (opts.tls !== undefined) redisOptions.tls = { ...opts.tls, ...redisOptions.tls };
    const client = new Cluster(opts.cluster, {
      clusterRetryStrategy: backoff,
      enableOfflineQueue: false,
      slotsRefreshTimeout: timeoutMs,
      ...opts.clusterOptions,
      redisOptions: { ...redisOptions, ...opts.clusterOptions?.redisOptions },
    });
    return {
      ...common,
      client,
      owned: true,
      endpoint: `redis cluster (${opts.cluster.map(describeNode).join(', ')})`,
      queuesOffline: opts.clusterOptions?.enableOfflineQueue === true,
    };
  }
  if (opts.sentinels !== undefined) {
    const sentinels = checkSentinels(opts.sentinels, opts.name);
    if (opts.redis?.role === 'slave') {
      throw new CacheConfigError(
        "redis.role 'slave' points the store at a replica, which refuses writes; leave role unset (the master)",
        { store: STORE },
      );
    }
    const client = new Redis({
      ...timeouts,
      retryStrategy: backoff,
      enableOfflineQueue: false,
      sentinels,
      name: opts.name,
      sentinelRetryStrategy: backoff,
      sentinelCommandTimeout: timeoutMs,
      // Drop the connection as soon as a sentinel announces a new master (+switch-master),
      // instead of waiting for the old one to fail a command.
      failoverDetector: true,
      // A master demoted while we were connected (it came back after a failover) refuses writes
      // with READONLY: reconnect, and the sentinels name the new master. The write is not re-sent.
      reconnectOnError: (error) => error.message.startsWith('READONLY'),
      ...(opts.tls === undefined
        ? {}
        : { tls: { ...opts.tls }, sentinelTLS: { ...opts.tls }, enableTLSForSentinelMode: true }),
      ...opts.redis,
    });
    return {
      ...common,
      client,
      owned: true,
      endpoint: describeClient(client),
      queuesOffline: client.options.enableOfflineQueue !== false,
    };
  }
  const parsed = parseRedisUrl(opts.url ?? 'redis://127.0.0.1:6379');
  const host = parsed.options.host ?? '127.0.0.1';
  const tls = opts.tls ?? (parsed.tls ? {} : undefined);
  const redisOptions: RedisOptions = {
    ...timeouts,
    retryStrategy: backoff,
    enableOfflineQueue: false,
    ...parsed.options,
    // SNI carries host names only; Node warns when it is given an IP address.
    ...(tls === undefined ? {} : { tls: isIP(host) ? { ...tls } : { servername: host, ...tls } }),
    ...opts.redis,
  };
  const client = new Redis(redisOptions);
  return {
    ...common,
    client,
    owned: true,
    endpoint: describeClient(client),
    queuesOffline: redisOptions.enableOfflineQueue !== false,
  };
}

/** Whether a value is an ioredis client. */
export function isClient(value: unknown): value is Redis | Cluster {
  return (
    value instanceof Redis ||
    value instanceof Cluster ||
    (typeof value === 'object' && value !== null && 'isCluster' in value && 'status' in value)
  );
}

function checkSentinels(sentinels: SentinelAddress[], name: string | undefined): SentinelAddress[] {
  if (sentinels.length === 0) {
    throw new CacheConfigError('sentinels needs at least one { host, port } address', { store: STORE });
  }
  for (const [index, sentinel] of sentinels.entries()) {
    const { host, port } = (sentinel ?? {}) as Partial<SentinelAddress>;
    if (!(typeof host === 'string' && host !== '' && Number.isInteger(port) && port! > 0 && port! < 65_536)) {
      throw new CacheConfigError(
        `sentinels[${index}] must be { host: string, port: 1-65535 }, e.g. { host: '10.0.0.5', port: 26379 }`,
        { store: STORE },
      );
    }
  }
  if (name === undefined || name === '') {
    throw new CacheConfigError(
      "sentinels needs name: the master group name the sentinels monitor (e.g. 'mymaster')",
      { store: STORE },
    );
  }
  return sentinels.map(({ host, port }) => ({ host, port }));
}

function checkMs(name: string, value: number, max: number): number {
  if (!(Number.isFinite(value) && value > 0 && value <= max)) {
    throw new CacheConfigError(`${name} ${value} must be a number of ms between 1 and ${max}`, {
      store: STORE,
    });
  }
  return value;
}

function parseRedisUrl(url: string): { options: RedisOptions; tls: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CacheConfigError('url is not a valid URL; expected redis://[user:password@]host[:port][/db]', {
      store: STORE,
    });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new CacheConfigError(`url scheme ${parsed.protocol} is not redis: or rediss:`, { store: STORE });
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const path = parsed.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!(Number.isInteger(db) && db >= 0)) {
    throw new CacheConfigError('url path must be a database number (/0, /1, ...)', { store: STORE });
  }
  const options: RedisOptions = { host, port, db };
  try {
    if (parsed.username !== '') options.username = decodeURIComponent(parsed.username);
    if (parsed.password !== '') options.password = decodeURIComponent(parsed.password);
  } catch {
    throw new CacheConfigError(
      'url has a user name or password that is not valid percent-encoding; encode it with encodeURIComponent',
      { store: STORE },
    );
  }
  return { options, tls: parsed.protocol === 'rediss:' };
}

function describeNode(node: ClusterNode): string {
  if (typeof node === 'number') return `127.0.0.1:${node}`;
  if (typeof node === 'string') {
    try {
      const parsed = new URL(node.includes('://') ? node : `redis://${node}`);
      return parsed.host;
    } catch {
      return 'invalid node';
    }
  }
  return `${node.host ?? '127.0.0.1'}:${node.port ?? 6379}`;
}

function describeClient(client: Redis | Cluster): string {
  if (client.isCluster) {
    const startup = (client as unknown as { startupNodes?: ClusterNode[] }).startupNodes ?? [];
    return `redis cluster (${startup.map(describeNode).join(', ')})`;
  }
  const options = (client as Redis).options;
  if (options.sentinels) {
    const sentinels = options.sentinels.map((sentinel) => describeNode(sentinel as ClusterNode));
    return `redis sentinel ${options.name ?? '(no name)'} (${sentinels.join(', ')})`;
  }
  const scheme = options.tls ? 'rediss' : 'redis';
  const db = options.db ? `/${options.db}` : '';
  return options.path
    ? `redis+unix://${options.path}${db}`
    : `${scheme}://${options.host}:${options.port}${db}`;
}
