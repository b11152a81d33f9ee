import { type CacheError, NotIntegerError, ValueTooLargeError } from '@larder/core';
import {
  ReadCoalescer,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  type StoreInfo,
} from '@larder/core/store-kit';
import type { Cluster, Redis } from 'ioredis';
import { batchIndexes, CHUNK, keyNodes } from './cluster.js';
import { ConnectionState } from './connection-state.js';
import { isWrongType } from './errors.js';
import { type RedisStoreLogger, type RedisStoreOptions, redisSettings } from './options.js';
import { WriteCoalescer } from './write-coalescer.js';

export type { RedisStoreLogger, RedisStoreOptions } from './options.js';

type Client = Redis | Cluster;
type Bytes = Buffer;

/** Keys longer than this are hashed by the cache; long keys cost memory and CPU on every access. */
const MAX_KEY_BYTES = 1024;
/** SCAN page size for `clear` and `keys`. */
const SCAN_COUNT = 500;

const noop = () => {};

/**
 * Larder's Redis backend over ioredis: standalone, TLS, ACL users and Cluster. One round
 * trip per operation, concurrent reads coalesced into MGET, concurrent writes into one
 * script call and concurrent `incr`s into another, typed errors without secrets,
 * and a client tuned so that outages degrade fast and recover within seconds.
 */
export class RedisStore implements Store {
  readonly name = 'redis';
  readonly capabilities: StoreCapabilities;
  /** The ioredis client (a `Redis` or a `Cluster`). Its options hold the password: do not log it. */
  readonly client: Client;
  readonly #owned: boolean;
  readonly #cluster: boolean;
  readonly #endpoint: string;
  readonly #timeoutMs: number;
  readonly #logger: RedisStoreLogger;
  readonly #state: ConnectionState;
  readonly #gets: ReadCoalescer<Bytes> | undefined;
  readonly #exists: ReadCoalescer<boolean> | undefined;
  readonly #writes: WriteCoalescer;
  #warnedNoEviction = false;
  #configDenied = false;
  #closing: Promise<void> | undefined;

  constructor(options: RedisStoreOptions | string | Client = {}) {
    const settings = redisSettings(options);
    this.client = settings.client;
    this.#owned = settings.owned;
    this.#endpoint = settings.endpoint;
    this.#timeoutMs = settings.timeoutMs;
    this.#logger = settings.logger;
    this.#cluster = settings.client.isCluster;
    this.capabilities = {
      ttlGranularityMs: 1,
      maxKeyBytes: MAX_KEY_BYTES,
      maxValueBytes: settings.maxValueBytes,
      clearScope: 'prefix',
      atomicIncr: true,
      nativeTtl: true,
      listKeys: true,
    };
    if (settings.coalesceReads) {
      this.#gets = new ReadCoalescer((keys) => this.#fetchValues(keys), settings.maxBatchKeys);
      this.#exists = new ReadCoalescer((keys) => this.#fetchExists(keys), settings.maxBatchKeys);
    }
    this.#writes = new WriteCoalescer(
      this.client,
      settings.maxBatchKeys,
      () => this.#state.closed,
      (error, operation, key) => this.#state.toError(error, operation, key),
    );
    this.#state = new ConnectionState(
      this.client,
      this.#endpoint,
      this.#timeoutMs,
      settings.queuesOffline,
      (first) => {
        this.#writes.forgetScripts();
        if (first) this.#lookAtPolicy();
      },
    );
  }

  /** The last connection or command failure the client reported (secret-free), for health checks. */
  get lastError(): CacheError | undefined {
    return this.#state.lastError;
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

  toString(): string {
    return `RedisStore(${this.#endpoint})`;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    if (this.#gets !== undefined && !this.#state.closed) return this.#gets.get(key);
    return this.#run('get', key, () => this.#getOne(key));
  }

  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return this.#run('getMany', undefined, async () => []);
    return this.#run('getMany', undefined, () => this.#mget(keys));
  }

  set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    // The hot path: straight to this tick's batch, which types its own errors.
    if (this.#state.ready && value.byteLength <= this.capabilities.maxValueBytes) {
      return this.#writes.set(key, toBuffer(value), ttlOf(ttlMs));
    }
    return this.#queue('set', key, () => {
      this.#checkValue(value, key);
      return this.#writes.set(key, toBuffer(value), ttlOf(ttlMs));
    });
  }

  setMany(entries: readonly StoreEntry[]): Promise<void> {
    return this.#run('setMany', undefined, async () => {
      for (const { key, value } of entries) this.#checkValue(value, key);
      // The write coalescer sends them as set-script calls of up to maxBatchKeys keys (per slot
      // in a Cluster): one command per call instead of one per key.
      await Promise.all(entries.map(({ key, value, ttlMs }) => this.#setOne(key, value, ttlMs)));
    });
  }

  add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    if (this.#state.ready && value.byteLength <= this.capabilities.maxValueBytes) {
      return this.#writes.add(key, toBuffer(value), ttlOf(ttlMs));
    }
    return this.#queue('add', key, () => {
      this.#checkValue(value, key);
      return this.#writes.add(key, toBuffer(value), ttlOf(ttlMs));
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#run('delete', key, async () => (await this.client.unlink(key)) > 0);
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    return this.#run('deleteMany', undefined, async () => {
      if (keys.length === 0) return 0;
      const counts = await Promise.all(this.#batches(keys).map((batch) => this.client.unlink(...batch)));
      return counts.reduce((sum, count) => sum + count, 0);
    });
  }

  has(key: string): Promise<boolean> {
    if (this.#exists !== undefined && !this.#state.closed)
      return this.#exists.get(key).then((found) => found === true);
    return this.#run('has', key, async () => (await this.client.exists(key)) > 0);
  }

  incr(key: string, delta: number, ttlMs: number): Promise<number> {
    if (this.#state.ready && Number.isSafeInteger(delta)) return this.#writes.incr(key, delta, ttlOf(ttlMs));
    return this.#queue('incr', key, () => {
      if (!Number.isSafeInteger(delta)) {
        throw new NotIntegerError(`incr delta must be a safe integer, got ${String(delta)}`, {
          key,
          store: 'redis',
        });
      }
      return this.#writes.incr(key, delta, ttlOf(ttlMs));
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
      await Promise.all(keyNodes(this.client).map((node) => this.#clearNode(node, pattern)));
    });
  }

  /**
   * The live keys under `prefix`: SCAN MATCH (the prefix's glob characters escaped) with
   * COUNT 500 on the server, or on every master of a Cluster, one page per round trip. SCAN
   * may return a key twice while the server rehashes; each key is given once.
   */
  async *keys(prefix: string): AsyncIterable<string> {
    const pattern = `${escapeGlob(prefix)}*`;
    const seen = new Set<string>();
    const nodes = await this.#run('keys', undefined, async () => keyNodes(this.client));
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await this.#run('keys', undefined, () =>
          node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT),
        );
        cursor = next;
        for (const key of keys) {
          if (seen.has(key)) continue;
          seen.add(key);
          yield key;
        }
      } while (cursor !== '0');
    }
  }

  info(): Promise<StoreInfo> {
    return this.#run('info', undefined, async () => {
      const reports = await Promise.all(
        keyNodes(this.client).map(async (node) => {
          const [text, items] = await Promise.all([node.info(), node.dbsize()]);
          const fields = parseInfo(String(text));
          // Redis 7 reports maxclients in INFO; older servers only through CONFIG, which an ACL
          // user may be denied (then the figure stays unknown, and is not asked for again).
          if (!fields.has('maxclients') && !this.#configDenied) {
            const reply = await node.config('GET', 'maxclients').catch(() => {
              this.#configDenied = true;
              return [];
            });
            const value = (reply as string[])[1];
            if (value !== undefined) fields.set('maxclients', value);
          }
          return { fields, items };
        }),
      );
      const sum = (field: string) => {
        let total: number | undefined;
        for (const { fields } of reports) {
          const value = Number(fields.get(field));
          if (fields.has(field) && Number.isFinite(value)) total = (total ?? 0) + value;
        }
        return total;
      };
      const first = reports[0]?.fields;
      const policy = first?.get('maxmemory_policy');
      if (policy !== undefined) this.#checkPolicy(policy);
      const maxmemory = sum('maxmemory');
      return {
        bytesUsed: sum('used_memory'),
        byteLimit: maxmemory === 0 ? undefined : maxmemory,
        items: reports.reduce((total, report) => total + report.items, 0),
        evictions: sum('evicted_keys'),
        evictionPolicy: policy,
        serverVersion: first?.get('redis_version'),
        connections: sum('connected_clients'),
        maxConnections: reports.every(({ fields }) => fields.has('maxclients'))
          ? sum('maxclients')
          : undefined,
        rejectedConnections: sum('rejected_connections'),
        serverHits: sum('keyspace_hits'),
        serverMisses: sum('keyspace_misses'),
        hits: sum('keyspace_hits'),
        misses: sum('keyspace_misses'),
        connectedClients: sum('connected_clients'),
        nodes: reports.length,
        endpoint: this.#endpoint,
        status: this.client.status,
        lastError: this.#state.lastError?.message,
      };
    });
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    // Writes accepted before close go out ahead of QUIT, as lone commands would have.
    this.#writes.flush();
    this.#state.close(!this.#owned);
    this.#closing = this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    // Not ours: leave the client running (the state took our listeners off it).
    if (!this.#owned) return;
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

  /** A value over `maxValueBytes` is refused before a byte is sent. */
  #checkValue(value: Uint8Array, key: string): void {
    const max = this.capabilities.maxValueBytes;
    if (value.byteLength > max) {
      throw new ValueTooLargeError(
        `value of ${value.byteLength} bytes exceeds the redis store's maxValueBytes (${max}); raise maxValueBytes (up to Redis' proto-max-bulk-len) or enable compression`,
        { key, store: 'redis' },
      );
    }
  }

  /** Runs a command once the client can take it, after the writes queued before it (so a read sees them). */
  #run<T>(operation: string, key: string | undefined, command: () => Promise<T>): Promise<T> {
    return this.#state.run(operation, key, () => {
      this.#writes.flush();
      return command();
    });
  }

  /** Runs a command that queues its write in this tick's batch. */
  #queue<T>(operation: string, key: string | undefined, command: () => Promise<T>): Promise<T> {
    return this.#state.run(operation, key, command);
  }

  #getOne(key: string): Promise<Bytes | undefined> {
    return this.client.getBuffer(key).then(orMiss, missOnWrongType);
  }

  async #mget(keys: readonly string[]): Promise<(Bytes | undefined)[]> {
    if (!this.#cluster && keys.length <= CHUNK) {
      // The common case: one MGET, its reply array reused as the result (a nil is a miss).
      const found: (Bytes | null | undefined)[] = await this.client.mgetBuffer(keys as string[]);
      for (let i = 0; i < found.length; i++) if (found[i] === null) found[i] = undefined;
      return found as (Bytes | undefined)[];
    }
    const values = new Array<Bytes | undefined>(keys.length);
    await Promise.all(
      batchIndexes(keys, this.#cluster).map(async (indexes) => {
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

  /** The coalescer's batch read: one GET for one key, else MGET (per slot in a Cluster). */
  #fetchValues(keys: string[]): Promise<(Bytes | undefined)[]> {
    if (keys.length === 1 && this.#state.ready) {
      // The lone read (every call at concurrency 1), with no step it does not need.
      const key = keys[0]!;
      this.#writes.flush();
      return this.client.getBuffer(key).then(
        (value) => [value ?? undefined],
        (error: unknown) => {
          if (isWrongType(error)) return [undefined];
          throw this.#state.toError(error, 'get', key);
        },
      );
    }
    return this.#run('get', keys.length === 1 ? keys[0] : undefined, () =>
      keys.length === 1 ? this.#getOne(keys[0]!).then((value) => [value]) : this.#mget(keys),
    );
  }

  /** The coalescer's batch `has`: multi-key EXISTS answers a count, not which keys exist, so one EXISTS per key, pipelined. */
  #fetchExists(keys: string[]): Promise<boolean[]> {
    return this.#run('has', keys.length === 1 ? keys[0] : undefined, async () => {
      if (keys.length === 1 || this.#cluster) {
        return Promise.all(keys.map(async (key) => (await this.client.exists(key)) > 0));
      }
      const pipeline = (this.client as Redis).pipeline();
      for (const key of keys) pipeline.exists(key);
      return throwFirst(await pipeline.exec()).map((count) => Number(count) > 0);
    });
  }

  /** One SET, sent with the other writes of this tick in one call. */
  #setOne(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    return this.#writes.set(key, toBuffer(value), ttlOf(ttlMs));
  }

  #batches<K extends string | Bytes>(keys: readonly K[]): K[][] {
    return batchIndexes(keys, this.#cluster).map((indexes) => indexes.map((index) => keys[index]!));
  }

  async #clearNode(node: Redis, pattern: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await node.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
      cursor = next.toString();
      if (keys.length > 0) {
        await Promise.all(this.#batches(keys).map((batch) => this.client.unlink(...batch)));
      }
    } while (cursor !== '0');
  }

  /** One look at the eviction policy once connected, so a misconfigured server is reported before it fills up. */
  #lookAtPolicy(): void {
    keyNodes(this.client)[0]
      ?.info('memory')
      .then((text) => {
        const policy = parseInfo(String(text)).get('maxmemory_policy');
        if (policy !== undefined) this.#checkPolicy(policy);
      })
      .catch(noop);
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

const orMiss = (value: Bytes | null): Bytes | undefined => value ?? undefined;

/** MGET reads a hash or list as nil; GET says WRONGTYPE. Both are a miss for a cache. */
function missOnWrongType(error: unknown): undefined {
  if (isWrongType(error)) return undefined;
  throw error;
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** PX as decimal text, or '' for no expiry (ttl Infinity). */
function ttlOf(ttlMs: number): string {
  return ttlMs === Number.POSITIVE_INFINITY ? '' : String(pxOf(ttlMs));
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
