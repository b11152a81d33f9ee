import type { CacheBus } from './bus.js';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { Codec, type CompressionOptions, DEFAULT_MAX_DECOMPRESSED_BYTES } from './codec.js';
import { DeadlineQueue } from './deadline.js';
import { CacheEmitter } from './emitter.js';
import { CacheConfigError, StoreTimeoutError } from './errors.js';
import { validateKeyPart } from './keys.js';
import { L1, type L1Options } from './l1.js';
import { type CacheLogger, consoleLogger, RateLimitedLog } from './logger.js';
import { MemoryStore } from './memory-store.js';
import { checkOptions, type OptionSpec } from './options.js';
import { jsonSerializer, type Serializer } from './serializer.js';
import { StatsRecorder } from './stats.js';
import type { Store, SyncStoreCalls } from './store.js';
import { createTtlPolicy, type Ttl, type TtlPolicy } from './ttl.js';
import { WriteGuards } from './write-guard.js';

/** Options for `createCache`. Every option has a default that is safe in production. */
export interface CacheOptions {
  /** The backend. @default a new `MemoryStore` */
  store?: Store;
  /** First part of every stored key; printable ASCII without ':', '@' or '#'. @default 'larder' */
  prefix?: string;
  /** Second part of every stored key; bump it to invalidate everything written under the old one. @default 1 */
  version?: number | string;
  /** Maps the caller's key to the key body; prefix, version and namespaces are still added around it. */
  keyFunction?: (key: string) => string;
  /** TTL when a call gives none. @default '1h' */
  defaultTtl?: Ttl;
  /** Upper bound for every TTL; longer ones are capped. @default none */
  maxTtl?: Ttl;
  /** Shortens each TTL by up to this fraction, at random, so keys written together do not expire together. @default 0 */
  ttlJitter?: number;
  /** Lets a call pass ttl 'never' (or defaultTtl 'never'). @default false */
  allowNoExpiry?: boolean;
  /** Value serializer. @default jsonSerializer */
  serializer?: Serializer;
  /** Compress values at or above a size threshold. @default false (off) */
  compression?: CompressionOptions | false;
  /**
   * Largest size a compressed value may inflate to when read. A bigger one (a decompression
   * bomb, or a value written by a cache with a higher limit) reads as a corrupt miss, and
   * this cache refuses to write a compressed value it could not read back.
   * @default 32 MiB
   */
  maxDecompressedBytes?: number;
  /** Stored with each value; a value of another schema version reads as a miss. @default none */
  schemaVersion?: number;
  /** Store failures become misses / `false` (counted, emitted, logged) instead of errors. @default true */
  ignoreErrors?: boolean;
  /** Deadline for every store call, in ms (at most 60 000). @default 1000 */
  timeout?: number;
  /** Skip the store for a while after consecutive failures; `false` turns it off. @default { failures: 5, cooldown: 1000 } */
  circuitBreaker?: CircuitBreakerOptions | false;
  /** Where failures are logged (pino-compatible). @default console, at most one line per store per `logInterval` */
  logger?: CacheLogger;
  /** Minimum ms between two log lines about the same kind of failure. @default 10_000 */
  logInterval?: number;
  /** For stores that cannot clear by prefix: how often a process re-reads the clear generation, in ms. @default 1000 */
  generationRefresh?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
  /**
   * An in-process tier in front of the store for `get` and `getOrSet`: hot keys are served
   * from process memory. Without a `bus`, another process's write is seen within
   * `l1.maxTtl`. @default none
   */
  l1?: L1Options;
  /** Tells every process's L1 about writes (`redisBus`, `postgresBus`); closed with the cache. @default none */
  bus?: CacheBus;
}

/** Options accepted by a single call. */
export interface CallOptions {
  /** Overrides the cache's `version` for this call. */
  version?: number | string;
}

/** Options accepted by calls that write. */
export interface WriteOptions extends CallOptions {
  /** TTL for this call; `0` means "do not store" and removes an existing entry. @default the cache's defaultTtl */
  ttl?: Ttl;
  /**
   * How long the value stays servable as stale after its TTL (`set` and `getOrSet`): a plain
   * read misses once the TTL passes, while `getOrSet` can still serve it (see `GetOrSetOptions`).
   * The store keeps the entry for ttl + grace. @default none
   */
  grace?: Ttl;
  /**
   * Tags of the entry (`set` and `getOrSet`): `invalidateTags([tag])` makes every entry
   * carrying the tag read as a miss. A tagged read costs one more round trip. @default none
   */
  tags?: readonly string[];
}

/** Options of `getOrSet`: stale-while-revalidate, factory timeouts and a cross-process lease. */
export interface GetOrSetOptions extends WriteOptions {
  /**
   * With a stale value at hand (see `grace`), a factory slower than this many ms lets the
   * caller have the stale value while the factory finishes in the background. @default none
   */
  softTimeout?: number;
  /**
   * The factory is abandoned after this many ms (its `AbortSignal` fires); the caller gets
   * the stale value, or a `FactoryTimeoutError`. @default none
   */
  hardTimeout?: number;
  /**
   * After a factory failure with a stale value at hand, the stale value is served and the
   * factory is not tried again for this many ms. @default 5000
   */
  failureBackoff?: number;
  /**
   * One factory call across processes: a lease taken with the store's atomic `add`. Waiters
   * poll for the value (every 25–200 ms), take the lease over when its holder dies (the lease
   * expires after `ttl`), and call the factory themselves after `wait` ms. With a stale
   * value at hand, waiters serve it instead of waiting. @default false
   */
  lock?: boolean | { ttl?: Ttl; wait?: number };
}

/** State shared by a cache and all its namespaces. */
export interface Shared {
  readonly store: Store;
  readonly codec: Codec;
  readonly policy: TtlPolicy;
  readonly stats: StatsRecorder;
  readonly emitter: CacheEmitter;
  readonly breaker: CircuitBreaker | undefined;
  readonly log: RateLimitedLog;
  readonly ignoreErrors: boolean;
  readonly timeoutMs: number;
  readonly deadlines: DeadlineQueue;
  readonly inProcess: boolean;
  /** The store's synchronous calls, when the cache may use them (an in-process store, no L1). */
  readonly sync: SyncStoreCalls | undefined;
  readonly prefix: string;
  readonly version: string;
  readonly keyFunction: ((key: string) => string) | undefined;
  readonly generationRefreshMs: number;
  readonly now: () => number;
  readonly flights: Map<string, Promise<unknown>>;
  readonly l1: L1 | undefined;
  /** Running getOrSet factories, told when their key changes so they do not store an older value. */
  readonly guards: WriteGuards;
  /** getOrSet slots whose factory failed with a stale value at hand: not retried before this time. */
  readonly retryAfter: Map<string, number>;
  closed: boolean;
}

/** Types of every `createCache` option; unknown names fail naming the nearest one. */
const CACHE_OPTION_SPEC: OptionSpec = {
  store: { accepts: 'a Store (e.g. redisStore(options), called)', check: isStore },
  prefix: 'string',
  version: ['number', 'string'],
  keyFunction: 'function',
  defaultTtl: ['number', 'string'],
  maxTtl: ['number', 'string'],
  ttlJitter: 'number',
  allowNoExpiry: 'boolean',
  serializer: 'object',
  compression: {
    accepts: 'false or { algorithm, threshold }',
    check: (v) => v === false || isPlainObject(v),
  },
  maxDecompressedBytes: 'number',
  schemaVersion: 'number',
  ignoreErrors: 'boolean',
  timeout: 'number',
  circuitBreaker: {
    accepts: 'false or { failures, cooldown }',
    check: (v) => v === false || isPlainObject(v),
  },
  logger: { accepts: 'a logger with warn() and error()', check: isLogger },
  logInterval: 'number',
  generationRefresh: 'number',
  now: 'function',
  l1: 'object',
  bus: {
    accepts: 'a bus such as redisBus({ url }) or postgresBus({ connectionString })',
    check: (v) =>
      isPlainObject(v) &&
      ['publish', 'subscribe', 'close'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
  },
};

/** Checks every option and builds the state a cache and its namespaces share. */
export function buildShared(options: CacheOptions): Shared {
  if (typeof (options as { store?: unknown } | undefined)?.store === 'function') {
    throw new CacheConfigError(
      'createCache option store is a function; call the factory: store: redisStore({ ... })',
    );
  }
  checkOptions('createCache', options, CACHE_OPTION_SPEC);
  const now = options.now ?? Date.now;
  const logger = options.logger ?? consoleLogger;
  const timeoutMs = options.timeout ?? 1000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0 && timeoutMs <= 60_000)) {
    throw new CacheConfigError(`timeout ${timeoutMs} must be a number of ms between 1 and 60000`);
  }
  const breakerOptions = options.circuitBreaker ?? {};
  let breaker: CircuitBreaker | undefined;
  if (breakerOptions !== false) {
    const failures = breakerOptions.failures ?? 5;
    const cooldown = breakerOptions.cooldown ?? 1000;
    if (!(Number.isInteger(failures) && failures > 0)) {
      throw new CacheConfigError(`circuitBreaker.failures ${failures} must be a positive integer`);
    }
    if (!(Number.isFinite(cooldown) && cooldown > 0)) {
      throw new CacheConfigError(`circuitBreaker.cooldown ${cooldown} must be a positive number of ms`);
    }
    breaker = new CircuitBreaker({ failures, cooldown }, now);
  }
  const prefix = validateKeyPart('prefix', options.prefix ?? 'larder');
  const version = validateKeyPart('version', String(options.version ?? 1));
  for (const [what, value] of [
    ['prefix', prefix],
    ['version', version],
  ] as const) {
    if (/[@#]/.test(value)) throw new CacheConfigError(`${what} "${value}" may not contain '@' or '#'`);
  }
  const logInterval = options.logInterval ?? 10_000;
  if (!(Number.isFinite(logInterval) && logInterval >= 0)) {
    throw new CacheConfigError(`logInterval ${logInterval} must be a number of ms, 0 or more`);
  }
  const generationRefreshMs = options.generationRefresh ?? 1000;
  if (!(generationRefreshMs >= 0)) throw new CacheConfigError('generationRefresh must be >= 0 ms');
  const store = options.store ?? new MemoryStore();
  const deadlines = new DeadlineQueue(
    timeoutMs,
    (operation, key) =>
      new StoreTimeoutError(
        `${store.name} ${operation} did not answer within ${timeoutMs} ms; check the server or raise the cache's timeout`,
        { key, store: store.name },
      ),
  );
  const guards = new WriteGuards();
  const inProcess = store.capabilities.inProcess === true;
  const l1 = buildL1(options, now, logger, guards);
  return {
    deadlines,
    inProcess,
    // An L1 wraps every read and write of the store, so its calls stay on the async path.
    sync: inProcess && l1 === undefined ? store.sync : undefined,
    store,
    codec: new Codec({
      serializer: options.serializer ?? jsonSerializer,
      compression: options.compression ?? false,
      schemaVersion: options.schemaVersion,
      maxDecompressedBytes: options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
    }),
    policy: createTtlPolicy(options),
    stats: new StatsRecorder(),
    emitter: new CacheEmitter(),
    breaker,
    log: new RateLimitedLog(logger, logInterval, now),
    ignoreErrors: options.ignoreErrors ?? true,
    timeoutMs,
    prefix,
    version,
    keyFunction: options.keyFunction,
    generationRefreshMs,
    now,
    flights: new Map(),
    guards,
    l1,
    retryAfter: new Map(),
    closed: false,
  };
}

const STORE_METHODS = [
  'get',
  'getMany',
  'set',
  'setMany',
  'add',
  'delete',
  'deleteMany',
  'has',
  'incr',
  'touch',
  'ttl',
  'clear',
  'info',
  'close',
] as const;

function isStore(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.name === 'string' &&
    typeof candidate.capabilities === 'object' &&
    candidate.capabilities !== null &&
    STORE_METHODS.every((method) => typeof candidate[method] === 'function')
  );
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLogger(value: unknown): boolean {
  const logger = value as { warn?: unknown; error?: unknown } | null;
  return (
    typeof logger === 'object' &&
    logger !== null &&
    typeof logger.warn === 'function' &&
    typeof logger.error === 'function'
  );
}

function buildL1(
  options: CacheOptions,
  now: () => number,
  logger: CacheLogger,
  guards: WriteGuards,
): L1 | undefined {
  if (options.l1 === undefined) {
    if (options.bus !== undefined)
      throw new CacheConfigError('createCache option bus needs l1: the bus keeps L1s coherent');
    return undefined;
  }
  const l1 = new L1(options.l1, options.bus, now, logger, (message) => guards.heard(message));
  l1.start().catch((error: unknown) => {
    logger.warn({ err: error }, 'the cache bus could not subscribe; L1 entries expire within l1.maxTtl');
  });
  return l1;
}
