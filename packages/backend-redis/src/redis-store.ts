import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import {
  CacheAuthError,
  CacheClosedError,
  CacheConfigError,
  type CacheError,
  type CacheLogger,
  CacheUnavailableError,
  consoleLogger,
  ReadCoalescer,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  type StoreInfo,
  StorePermissionError,
  StoreTimeoutError,
} from '@larder/core';
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { isWrongType, toStoreError } from './errors.js';
import { groupBySlot } from './slot.js';

/** A pino-compatible sink for the store's one-off warnings (e.g. `maxmemory-policy noeviction`). */
export type RedisStoreLogger = Pick<CacheLogger, 'warn'>;

/** Options for `RedisStore`. Give at most one of `url`, `cluster` or `client`; with none, the store connects to `redis://127.0.0.1:6379`. */
export interface RedisStoreOptions {
  /**
   * `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS (verified against the
   * system CAs unless `tls.ca` is given).
   * @default 'redis://127.0.0.1:6379'
   */
  url?: string;
  /** ioredis options, applied over the URL and over Larder's defaults (for a cluster: the options of every node). @default {} */
  redis?: RedisOptions;
  /** Seed nodes of a Redis Cluster; the store then creates a `Cluster` client. @default none */
  cluster?: ClusterNode[];
  /** ioredis Cluster options, applied over Larder's defaults. @default {} */
  clusterOptions?: ClusterOptions;
  /** An existing `Redis` or `Cluster` client. The store uses it as configured and never closes it. @default none */
  client?: Redis | Cluster;
  /** TLS options (e.g. `{ ca }`); turns TLS on. Certificates are always verified unless you say otherwise here. @default none (TLS only for rediss://) */
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

type Client = Redis | Cluster;
type Bytes = Buffer;

const MAX_VALUE_BYTES = 512 * 1024 * 1024;
/** Keys longer than this are hashed by the cache; long keys cost memory and CPU on every access. */
const MAX_KEY_BYTES = 1024;
/** Keys per MGET / UNLINK / pipeline when a caller hands over a big batch. */
const CHUNK = 1000;
/** SCAN page size for `clear`. */
const SCAN_COUNT = 500;

// Creates a missing key with its TTL in the same atomic step; an existing key keeps its expiry.
// EXISTS (not "result == delta and PTTL == -1") is the exact test: a key holding "0" without
// expiry must not gain one.
const INCR_SCRIPT = `local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`;
const INCR_SHA = createHash('sha1').update(INCR_SCRIPT).digest('hex');

const noop = () => {};

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * Larder's Redis backend over ioredis: standalone, TLS, ACL users and Cluster. One round
 * trip per operation, concurrent reads coalesced into MGET, typed errors without secrets,
 * and a client tuned so that outages degrade fast and recover within seconds.
 */
export class RedisStore implements Store {
  readonly name = 'redis';
  readonly capabilities: StoreCapabilities;
  /** The ioredis client (a `Redis` or a `Cluster`). */
  readonly client: Client;
  readonly #owned: boolean;
  readonly #cluster: Cluster | undefined;
  readonly #endpoint: string;
  readonly #timeoutMs: number;
  readonly #logger: RedisStoreLogger;
  /** Whether ioredis queues commands while disconnected (only for clients the caller configured so). */
  readonly #queuesOffline: boolean;
  readonly #gets: ReadCoalescer<Bytes> | undefined;
  readonly #exists: ReadCoalescer<boolean> | undefined;
  readonly #listeners: [string, (arg?: unknown) => void][] = [];
  #waiters = new Set<Waiter>();
  /** A connection attempt failed, or the connection was lost, since the last `ready`. */
  #failing = false;
  #lastError: CacheError | undefined;
  #warnedNoEviction = false;
  #checkedPolicy = false;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions | string | Client = {}) {
    const opts: RedisStoreOptions =
      typeof options === 'string' ? { url: options } : isClient(options) ? { client: options } : options;
    const sources = [opts.url, opts.cluster, opts.client].filter((source) => source !== undefined);
    if (sources.length > 1) {
      throw new CacheConfigError('RedisStore takes one of url, cluster or client; pass only one', {
        store: 'redis',
      });
    }
    this.#timeoutMs = checkMs('timeout', opts.timeout ?? 1000, 60_000);
    const socketTimeout = checkMs('socketTimeout', opts.socketTimeout ?? 2 * this.#timeoutMs, 600_000);
    const maxValueBytes = opts.maxValueBytes ?? MAX_VALUE_BYTES;
    if (!(Number.isInteger(maxValueBytes) && maxValueBytes > 0 && maxValueBytes <= MAX_VALUE_BYTES)) {
      throw new CacheConfigError(
        `maxValueBytes ${maxValueBytes} must be an integer between 1 and ${MAX_VALUE_BYTES} (512 MiB, Redis' largest bulk string)`,
        { store: 'redis' },
      );
    }
    const maxBatchKeys = opts.maxBatchKeys ?? 256;
    if (!(Number.isInteger(maxBatchKeys) && maxBatchKeys > 0)) {
      throw new CacheConfigError(`maxBatchKeys ${maxBatchKeys} must be a positive integer`, {
        store: 'redis',
      });
    }
    this.#logger = opts.logger ?? consoleLogger;
    this.capabilities = {
      ttlGranularityMs: 1,
      maxKeyBytes: MAX_KEY_BYTES,
      maxValueBytes,
      clearScope: 'prefix',
      atomicIncr: true,
      nativeTtl: true,
    };

    const timeouts: RedisOptions = {
      connectTimeout: this.#timeoutMs,
      commandTimeout: this.#timeoutMs,
      socketTimeout,
      // A command lost with its connection fails now instead of waiting for a reconnect,
      // and is never re-sent: a timed-out `set` must not land later.
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    };
    const backoff = (attempt: number) => Math.min(attempt * 50, 500);
    if (opts.client !== undefined) {
      this.client = opts.client;
      this.#owned = false;
      this.#endpoint = describeClient(opts.client);
      this.#queuesOffline = opts.client.options.enableOfflineQueue !== false;
    } else if (opts.cluster !== undefined) {
      if (opts.cluster.length === 0) {
        throw new CacheConfigError('cluster needs at least one seed node', { store: 'redis' });
      }
      const redisOptions: RedisOptions = { ...timeouts, ...opts.redis };
      if (opts.tls !== undefined) redisOptions.tls = { ...opts.tls, ...redisOptions.tls };
      this.client = new Cluster(opts.cluster, {
        clusterRetryStrategy: backoff,
        enableOfflineQueue: false,
        slotsRefreshTimeout: this.#timeoutMs,
        ...opts.clusterOptions,
        redisOptions: { ...redisOptions, ...opts.clusterOptions?.redisOptions },
      });
      this.#owned = true;
      this.#endpoint = `redis cluster (${opts.cluster.map(describeNode).join(', ')})`;
      this.#queuesOffline = opts.clusterOptions?.enableOfflineQueue === true;
    } else {
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
      this.client = new Redis(redisOptions);
      this.#endpoint = describeClient(this.client);
      this.#owned = true;
      this.#queuesOffline = redisOptions.enableOfflineQueue !== false;
    }
    this.#cluster = this.client.isCluster ? (this.client as Cluster) : undefined;

    if (opts.coalesceReads !== false) {
      this.#gets = new ReadCoalescer((keys) => this.#fetchValues(keys), maxBatchKeys);
      this.#exists = new ReadCoalescer((keys) => this.#fetchExists(keys), maxBatchKeys);
    }
    this.#listen('error', (error: unknown) => this.#onError(error));
    if (this.#cluster !== undefined) this.#listen('node error', (error: unknown) => this.#onNodeError(error));
    this.#listen('ready', () => this.#onReady());
    this.#listen('close', () => this.#onLost());
    this.#listen('end', () => this.#onLost());
    if (this.client.status === 'ready') this.#onReady();
  }

  /** The last connection or command failure the client reported (secret-free), for health checks. */
  get lastError(): CacheError | undefined {
    return this.#lastError;
  }

  /** The ioredis connection status (`'ready'` when commands go straight to the server). */
  get status(): string {
    return this.client.status;
  }

  /** Logs and crash reports show the endpoint, never the client (its options hold the password). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RedisStore { endpoint: '${this.#endpoint}', status: '${this.client.status}' }`;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, endpoint: this.#endpoint, status: this.client.status };
  }

  get(key: string): Promise<Uint8Array | undefined> {
    if (this.#gets !== undefined && !this.#closed) return this.#gets.get(key);
    return this.#run('get', key, () => this.#getOne(key));
  }

  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return this.#run('getMany', undefined, async () => []);
    return this.#run('getMany', undefined, () => this.#mget(keys));
  }

  set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    return this.#run('set', key, async () => {
      await this.#setOne(this.client, key, value, ttlMs);
    });
  }

  setMany(entries: readonly StoreEntry[]): Promise<void> {
    return this.#run('setMany', undefined, async () => {
      if (entries.length === 0) return;
      if (this.#cluster !== undefined) {
        // Each SET is single-key; ioredis routes it to the slot's master.
        await Promise.all(
          entries.map(({ key, value, ttlMs }) => this.#setOne(this.client, key, value, ttlMs)),
        );
        return;
      }
      const client = this.client as Redis;
      for (let start = 0; start < entries.length; start += CHUNK) {
        const pipeline = client.pipeline();
        for (const { key, value, ttlMs } of entries.slice(start, start + CHUNK)) {
          if (ttlMs === Number.POSITIVE_INFINITY) pipeline.set(key, toBuffer(value));
          else pipeline.set(key, toBuffer(value), 'PX', pxOf(ttlMs));
        }
        throwFirst(await pipeline.exec());
      }
    });
  }

  add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    return this.#run('add', key, async () => {
      const reply =
        ttlMs === Number.POSITIVE_INFINITY
          ? await this.client.set(key, toBuffer(value), 'NX')
          : await this.client.set(key, toBuffer(value), 'PX', pxOf(ttlMs), 'NX');
      return reply !== null;
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#run('delete', key, async () => (await this.client.unlink(key)) > 0);
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    return this.#run('deleteMany', undefined, async () => {
      if (keys.length === 0) return 0;
      const counts = await Promise.all(
        this.#multiKeyBatches(keys).map((batch) => this.client.unlink(...batch)),
      );
      return counts.reduce((sum, count) => sum + count, 0);
    });
  }

  has(key: string): Promise<boolean> {
    if (this.#exists !== undefined && !this.#closed)
      return this.#exists.get(key).then((found) => found === true);
    return this.#run('has', key, async () => (await this.client.exists(key)) > 0);
  }

  incr(key: string, delta: number, ttlMs: number): Promise<number> {
    return this.#run('incr', key, async () => {
      const ttl = ttlMs === Number.POSITIVE_INFINITY ? '' : String(pxOf(ttlMs));
      let reply: unknown;
      try {
        reply = await this.client.evalsha(INCR_SHA, 1, key, delta, ttl);
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error;
        reply = await this.client.eval(INCR_SCRIPT, 1, key, delta, ttl);
      }
      return Number(reply);
    });
  }

  touch(key: string, ttlMs: number): Promise<boolean> {
    return this.#run('touch', key, async () => {
      if (ttlMs !== Number.POSITIVE_INFINITY) return (await this.client.pexpire(key, pxOf(ttlMs))) === 1;
      // PERSIST says 0 both for a missing key and for one that already had no expiry.
      if ((await this.client.persist(key)) === 1) return true;
      return (await this.client.exists(key)) > 0;
    });
  }

  ttl(key: string): Promise<number | undefined> {
    return this.#run('ttl', key, async () => {
      const remaining = await this.client.pttl(key);
      if (remaining === -2) return undefined;
      if (remaining === -1) return Number.POSITIVE_INFINITY;
      return remaining;
    });
  }

  clear(prefix: string): Promise<void> {
    return this.#run('clear', undefined, async () => {
      const pattern = `${escapeGlob(prefix)}*`;
      // SCAN walks one server's keyspace; in a Cluster every master holds a share of the keys.
      const nodes = this.#cluster === undefined ? [this.client as Redis] : this.#cluster.nodes('master');
      await Promise.all(nodes.map((node) => this.#clearNode(node, pattern)));
    });
  }

  info(): Promise<StoreInfo> {
    return this.#run('info', undefined, async () => {
      const nodes = this.#cluster === undefined ? [this.client as Redis] : this.#cluster.nodes('master');
      const reports = await Promise.all(
        nodes.map(async (node) => {
          const [text, items] = await Promise.all([node.info(), node.dbsize()]);
          return { fields: parseInfo(String(text)), items };
        }),
      );
      const sum = (field: string) => {
        let total = 0;
        let seen = false;
        for (const { fields } of reports) {
          const value = Number(fields.get(field));
          if (fields.has(field) && Number.isFinite(value)) {
            total += value;
            seen = true;
          }
        }
        return seen ? total : undefined;
      };
      const first = reports[0]?.fields;
      const policy = first?.get('maxmemory_policy');
      if (policy !== undefined) this.#checkPolicy(policy);
      const maxmemory = sum('maxmemory');
      const info: StoreInfo = {
        bytesUsed: sum('used_memory'),
        byteLimit: maxmemory === 0 ? undefined : maxmemory,
        items: reports.reduce((total, report) => total + report.items, 0),
        evictions: sum('evicted_keys'),
        evictionPolicy: policy,
        serverVersion: first?.get('redis_version'),
        hits: sum('keyspace_hits'),
        misses: sum('keyspace_misses'),
        connectedClients: sum('connected_clients'),
        nodes: reports.length,
        endpoint: this.#endpoint,
        status: this.client.status,
        lastError: this.#lastError?.message,
      };
      return info;
    });
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#rejectWaiters(new CacheClosedError('the redis store is closed', { store: 'redis' }));
    this.#closing = this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    if (!this.#owned) {
      // Not ours: leave the client running, only take our listeners off it.
      for (const [event, listener] of this.#listeners) this.client.off(event, listener);
      return;
    }
    // Our 'error' listener stays attached so a late socket error cannot crash the app.
    if (this.client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.client.quit().catch(noop),
        new Promise((resolve) => {
          timer = setTimeout(resolve, this.#timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.client.disconnect();
  }

  // ---- commands -------------------------------------------------------------------------

  async #getOne(key: string): Promise<Bytes | undefined> {
    try {
      return (await this.client.getBuffer(key)) ?? undefined;
    } catch (error) {
      // MGET reads a hash or list as nil; GET says WRONGTYPE. Both are a miss for a cache.
      if (isWrongType(error)) return undefined;
      throw error;
    }
  }

  async #mget(keys: readonly string[]): Promise<(Bytes | undefined)[]> {
    const values = new Array<Bytes | undefined>(keys.length);
    const batches = this.#multiKeyBatchIndexes(keys);
    await Promise.all(
      batches.map(async (indexes) => {
        if (indexes.length === 1) {
          const index = indexes[0]!;
          values[index] = await this.#getOne(keys[index]!);
          return;
        }
        const found = await this.client.mgetBuffer(...indexes.map((index) => keys[index]!));
        for (let i = 0; i < indexes.length; i++) values[indexes[i]!] = found[i] ?? undefined;
      }),
    );
    return values;
  }

  #fetchValues(keys: string[]): Promise<(Bytes | undefined)[]> {
    return this.#run('get', keys.length === 1 ? keys[0] : undefined, () =>
      keys.length === 1 ? this.#getOne(keys[0]!).then((value) => [value]) : this.#mget(keys),
    );
  }

  #fetchExists(keys: string[]): Promise<boolean[]> {
    return this.#run('has', keys.length === 1 ? keys[0] : undefined, async () => {
      // Multi-key EXISTS answers a count, not which keys exist: one EXISTS per key, pipelined.
      if (keys.length === 1 || this.#cluster !== undefined) {
        return Promise.all(keys.map(async (key) => (await this.client.exists(key)) > 0));
      }
      const pipeline = (this.client as Redis).pipeline();
      for (const key of keys) pipeline.exists(key);
      return throwFirst(await pipeline.exec()).map((count) => Number(count) > 0);
    });
  }

  #setOne(client: Client, key: string, value: Uint8Array, ttlMs: number): Promise<unknown> {
    if (ttlMs === Number.POSITIVE_INFINITY) return client.set(key, toBuffer(value));
    return client.set(key, toBuffer(value), 'PX', pxOf(ttlMs));
  }

  /** Key batches for multi-key commands: chunks of CHUNK keys, and in a Cluster never across slots. */
  #multiKeyBatches<K extends string | Bytes>(keys: readonly K[]): K[][] {
    return this.#multiKeyBatchIndexes(keys).map((indexes) => indexes.map((index) => keys[index]!));
  }

  #multiKeyBatchIndexes(keys: readonly (string | Bytes)[]): number[][] {
    // Redis Cluster multi-key commands must stay in one slot (else CROSSSLOT).
    const groups =
      this.#cluster === undefined
        ? [keys.map((_, index) => index)]
        : [...groupBySlot(keys, (key) => key).values()];
    const batches: number[][] = [];
    for (const group of groups) {
      for (let start = 0; start < group.length; start += CHUNK)
        batches.push(group.slice(start, start + CHUNK));
    }
    return batches;
  }

  async #clearNode(node: Redis, pattern: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await node.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next.toString();
      if (keys.length > 0) {
        await Promise.all(this.#multiKeyBatches(keys).map((batch) => this.client.unlink(...batch)));
      }
    } while (cursor !== '0');
  }

  // ---- connection state -----------------------------------------------------------------

  /**
   * Runs a command once the client can take it, and maps whatever it throws. While the first
   * connection is being made, commands wait for it (up to `timeout`); after a failure they fail
   * at once until the client is ready again, so an outage costs the app no waiting.
   */
  #run<T>(operation: string, key: string | undefined, command: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    if (this.#closed) {
      pending = Promise.reject(new CacheClosedError('the redis store is closed', { key, store: 'redis' }));
    } else if (this.client.status === 'ready') {
      try {
        pending = command();
      } catch (error) {
        pending = Promise.reject(error);
      }
    } else {
      pending = this.#whenReady(operation, key).then(command);
    }
    return pending.catch((error: unknown) => {
      throw toStoreError(error, { endpoint: this.#endpoint, timeoutMs: this.#timeoutMs, operation, key });
    });
  }

  #whenReady(operation: string, key: string | undefined): Promise<void> {
    const status = this.client.status;
    if (status === 'ready' || this.#queuesOffline) return Promise.resolve();
    if (status === 'end') {
      return Promise.reject(
        new CacheUnavailableError(`the redis client for ${this.#endpoint} was closed; create a new store`, {
          key,
          store: 'redis',
        }),
      );
    }
    if (this.#failing) return Promise.reject(this.#unavailable(key));
    if (status === 'wait') this.client.connect().catch(noop);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(
            new StoreTimeoutError(
              `redis at ${this.#endpoint} was not ready within ${this.#timeoutMs} ms for ${operation}; check the server or raise the store's timeout`,
              { key, store: 'redis' },
            ),
          );
        }, this.#timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  #unavailable(key: string | undefined): CacheError {
    const last = this.#lastError;
    // The server told us why it refuses us: say so on every call, not "unreachable".
    if (last instanceof CacheAuthError || last instanceof StorePermissionError) return last;
    const reason = last?.cause instanceof Error ? last.cause.message : 'connection lost';
    return new CacheUnavailableError(`redis at ${this.#endpoint} is unreachable (${reason}); reconnecting`, {
      key,
      store: 'redis',
      cause: last?.cause ?? last,
    });
  }

  #listen(event: string, listener: (arg?: unknown) => void): void {
    this.#listeners.push([event, listener]);
    this.client.on(event, listener);
  }

  #onError(error: unknown): void {
    this.#lastError = toStoreError(error, {
      endpoint: this.#endpoint,
      timeoutMs: this.#timeoutMs,
      operation: 'connect',
    });
    if (this.client.status !== 'ready') {
      this.#failing = true;
      this.#rejectWaiters(this.#unavailable(undefined));
    }
  }

  #onNodeError(error: unknown): void {
    this.#lastError = toStoreError(error, {
      endpoint: this.#endpoint,
      timeoutMs: this.#timeoutMs,
      operation: 'connect',
    });
  }

  #onLost(): void {
    if (this.#closed) return;
    this.#failing = true;
    this.#rejectWaiters(this.#unavailable(undefined));
  }

  #onReady(): void {
    this.#failing = false;
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    if (!this.#checkedPolicy) {
      this.#checkedPolicy = true;
      // One look at the eviction policy, so a misconfigured server is reported before it fills up.
      const nodes = this.#cluster === undefined ? [this.client as Redis] : this.#cluster.nodes('master');
      const node = nodes[0];
      node
        ?.info('memory')
        .then((text) => {
          const policy = parseInfo(String(text)).get('maxmemory_policy');
          if (policy !== undefined) this.#checkPolicy(policy);
        })
        .catch(noop);
    }
  }

  #rejectWaiters(error: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }

  #checkPolicy(policy: string): void {
    if (policy !== 'noeviction' || this.#warnedNoEviction) return;
    this.#warnedNoEviction = true;
    this.#logger.warn(
      { store: 'redis', endpoint: this.#endpoint, maxmemoryPolicy: policy },
      'redis maxmemory-policy is noeviction: once memory is full every cache write fails; set maxmemory and maxmemory-policy allkeys-lru',
    );
  }
}

/** Creates a `RedisStore` from options, a `redis://` / `rediss://` URL, or an existing ioredis client. */
export function redisStore(options?: RedisStoreOptions | string | Redis | Cluster): RedisStore {
  return new RedisStore(options);
}

// ---- helpers ------------------------------------------------------------------------------

function isClient(value: unknown): value is Client {
  return (
    value instanceof Redis ||
    value instanceof Cluster ||
    (typeof value === 'object' && value !== null && 'isCluster' in value && 'status' in value)
  );
}

function checkMs(name: string, value: number, max: number): number {
  if (!(Number.isFinite(value) && value > 0 && value <= max)) {
    throw new CacheConfigError(`${name} ${value} must be a number of ms between 1 and ${max}`, {
      store: 'redis',
    });
  }
  return value;
}

interface ParsedUrl {
  options: RedisOptions;
  tls: boolean;
}

function parseRedisUrl(url: string): ParsedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CacheConfigError('url is not a valid URL; expected redis://[user:password@]host[:port][/db]', {
      store: 'redis',
    });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new CacheConfigError(`url scheme ${parsed.protocol} is not redis: or rediss:`, { store: 'redis' });
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const path = parsed.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!(Number.isInteger(db) && db >= 0)) {
    throw new CacheConfigError(`url path /${path} must be a database number`, { store: 'redis' });
  }
  const options: RedisOptions = { host, port, db };
  if (parsed.username !== '') options.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') options.password = decodeURIComponent(parsed.password);
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

function describeClient(client: Client): string {
  if (client.isCluster) {
    const startup = (client as unknown as { startupNodes?: ClusterNode[] }).startupNodes ?? [];
    return `redis cluster (${startup.map(describeNode).join(', ')})`;
  }
  const options = (client as Redis).options;
  const scheme = options.tls ? 'rediss' : 'redis';
  const db = options.db ? `/${options.db}` : '';
  return options.path
    ? `redis+unix://${options.path}${db}`
    : `${scheme}://${options.host}:${options.port}${db}`;
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** PX takes a positive integer; the cache already hands over whole ms, this only guards the wire. */
function pxOf(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs));
}

/** Makes `*?[]\` literal in a SCAN MATCH pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function throwFirst(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error('the pipeline was aborted');
  const values: unknown[] = [];
  for (const [error, value] of results) {
    if (error) throw error;
    values.push(value);
  }
  return values;
}

function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}
