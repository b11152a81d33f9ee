import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { CORRUPT, Codec, type CompressionOptions, STALE_SCHEMA } from './codec.js';
import { DeadlineQueue, withDeadline } from './deadline.js';
import { CacheEmitter, type CacheEventName, type CacheListener } from './emitter.js';
import {
  CacheClosedError,
  CacheConfigError,
  type CacheError,
  CacheUnavailableError,
  CircuitOpenError,
  InvalidKeyError,
  isStoreFault,
  StoreError,
  StoreTimeoutError,
  ValueTooLargeError,
} from './errors.js';
import { Generation } from './generation.js';
import {
  checkScopeFits,
  escapeBody,
  fitKey,
  joinKeyParts,
  namespaceSegment,
  validateKeyPart,
} from './keys.js';
import { listCallerKeys } from './list-keys.js';
import { type CacheLogger, consoleLogger, RateLimitedLog } from './logger.js';
import { MemoryStore } from './memory-store.js';
import { jsonSerializer, type Serializer } from './serializer.js';
import { type CacheOperation, type CacheStats, StatsRecorder } from './stats.js';
import type { Store, StoreEntry } from './store.js';
import { createTtlPolicy, resolveTtl, type Ttl, type TtlPolicy } from './ttl.js';
import { type WarmEntry, type WarmOptions, type WarmResult, warmCache } from './warm.js';
import { type WrapOptions, type WrappedFunction, wrapFunction } from './wrap.js';

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
}

const FAILED: unique symbol = Symbol('failed');
type Failed = typeof FAILED;

/** State shared by a cache and all its namespaces. */
interface Shared {
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
  readonly prefix: string;
  readonly version: string;
  readonly keyFunction: ((key: string) => string) | undefined;
  readonly generationRefreshMs: number;
  readonly now: () => number;
  readonly flights: Map<string, Promise<unknown>>;
  closed: boolean;
}

/** Builds a cache; every option is checked here, so bad configuration fails now, not on the first request. */
export function createCache(options: CacheOptions = {}): Cache {
  return new Cache(options);
}

/**
 * The typed cache: Django's cache API in JavaScript idiom. It owns every policy (keys,
 * TTLs, codecs, deadline, error policy, stats); the store only moves bytes.
 */
export class Cache {
  readonly #s: Shared;
  /** Namespace segments below the version, e.g. '@users:'. */
  readonly #namespace: string;
  /** `prefix:version:` + namespace, for calls without a version override. */
  readonly #scope: string;
  /** Clear generations of this view and its ancestors, only for stores with clearScope 'none'. */
  readonly #generations: readonly Generation[];

  constructor(options: CacheOptions | { parent: Cache; namespace: string }) {
    if ('parent' in options) {
      const parent = options.parent;
      this.#s = parent.#s;
      this.#namespace = parent.#namespace + namespaceSegment(options.namespace);
    } else {
      this.#s = buildShared(options);
      this.#namespace = '';
    }
    const s = this.#s;
    this.#scope = `${s.prefix}:${s.version}:${this.#namespace}`;
    checkScopeFits(this.#scope, s.store.capabilities);
    if (s.store.capabilities.clearScope === 'none') {
      const own = new Generation(s.store, `${this.#scope}#gen`, s.generationRefreshMs, s.now);
      this.#generations = 'parent' in options ? [...options.parent.#generations, own] : [own];
    } else {
      this.#generations = [];
    }
  }

  /** The backend, for its own extras (`cache.store.client`). */
  get store(): Store {
    return this.#s.store;
  }

  /** Reads a value; a miss, a corrupt value or (under ignoreErrors) a store failure is `undefined`. */
  get<T = unknown>(key: string, options?: CallOptions): Promise<T | undefined> {
    // Not `async`: the hot path saves a promise and a microtask hop per call.
    let pending: Promise<Uint8Array | undefined | Failed>;
    try {
      const body = this.#body(key);
      pending = this.#run(
        'get',
        key,
        this.#on(body, options, (k) => this.#s.store.get(k)),
      );
    } catch (error) {
      return Promise.reject(error);
    }
    return pending.then((bytes) => this.#decode<T>(key, bytes === FAILED ? undefined : bytes));
  }

  /** Reads many values in one round trip; the result has one slot per key, in order. */
  async getMany<T = unknown>(keys: readonly string[], options?: CallOptions): Promise<(T | undefined)[]> {
    const bodies = this.#bodies(keys);
    if (bodies.length === 0) return [];
    const found = await this.#run('getMany', undefined, async () =>
      this.#s.store.getMany(await this.#keys(bodies, options)),
    );
    return keys.map((key, i) => this.#decode<T>(key, found === FAILED ? undefined : found[i]));
  }

  /** Stores a value. Resolves `false` when it was not stored (ttl 0, or a swallowed store failure). */
  async set(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    const body = this.#body(key);
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0) {
      await this.delete(key, options);
      return false;
    }
    const bytes = this.#encode(key, value);
    if (bytes === FAILED) return false;
    const done = await this.#run(
      'set',
      key,
      this.#on(body, options, (k) => this.#s.store.set(k, bytes, ttlMs)),
    );
    return this.#wrote(key, done !== FAILED);
  }

  /** Stores many values in one round trip where the store allows it. */
  async setMany(
    entries: Iterable<readonly [string, unknown]> | Record<string, unknown>,
    options?: WriteOptions,
  ): Promise<boolean> {
    const pairs =
      Symbol.iterator in entries ? [...(entries as Iterable<[string, unknown]>)] : Object.entries(entries);
    const bodies = this.#bodies(pairs.map(([key]) => key));
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0) {
      await this.deleteMany(
        pairs.map(([key]) => key),
        options,
      );
      return false;
    }
    const values = pairs.map(([key, value]) => this.#encode(key, value));
    if (values.includes(FAILED)) return false;
    if (pairs.length === 0) return true;
    const done = await this.#run('setMany', undefined, async () => {
      const keys = await this.#keys(bodies, options);
      const batch: StoreEntry[] = keys.map((key, i) => ({ key, value: values[i] as Uint8Array, ttlMs }));
      return this.#s.store.setMany(batch);
    });
    if (done === FAILED) return false;
    for (const [key] of pairs) this.#wrote(key, true);
    return true;
  }

  /** Stores only when the key holds no live value (atomic on the server). Resolves whether it stored. */
  async add(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    const body = this.#body(key);
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0) return false;
    const bytes = this.#encode(key, value);
    if (bytes === FAILED) return false;
    const added = await this.#run(
      'add',
      key,
      this.#on(body, options, (k) => this.#s.store.add(k, bytes, ttlMs)),
    );
    return this.#wrote(key, added === true);
  }

  /**
   * Returns the cached value, or runs `factory` once (however many callers miss at the same
   * time in this process), stores its result and hands it to every waiter. A factory error
   * reaches every waiter and is not cached. `undefined` from the factory is returned, not stored.
   */
  async getOrSet<T>(key: string, factory: () => T | Promise<T>, options?: WriteOptions): Promise<T> {
    const slot = `${this.#scope}${options?.version ?? ''}\u0000${key}`;
    const flights = this.#s.flights;
    const running = flights.get(slot);
    if (running !== undefined) return running as Promise<T>;
    const flight = (async () => {
      const cached = await this.get<T>(key, options);
      if (cached !== undefined) return cached;
      const value = await factory();
      if (value !== undefined) await this.set(key, value, options);
      return value;
    })();
    flights.set(slot, flight);
    const release = () => {
      if (flights.get(slot) === flight) flights.delete(slot);
    };
    flight.then(release, release);
    return flight;
  }

  /**
   * Memoizes an async function: results keyed by `key('fn', name, ...args)` (or `options.key`),
   * one call per key at a time (see `getOrSet`). See `WrapOptions`.
   */
  wrap<A extends unknown[], R>(
    fn: (...args: A) => R | Promise<R>,
    options?: WrapOptions<A>,
  ): WrappedFunction<A, R> {
    return wrapFunction(this, fn, options);
  }

  /**
   * Loads and stores `[key, loader]` entries with bounded concurrency; failures are counted, and
   * the run stops early (saying so) when the circuit breaker opens. See `WarmOptions`.
   */
  warm(
    entries: Iterable<WarmEntry> | AsyncIterable<WarmEntry>,
    options: WarmOptions = {},
  ): Promise<WarmResult> {
    return warmCache(this, entries, options, () => this.#s.breaker?.isOpen === true);
  }

  /**
   * The keys of this cache (this namespace, this version) as the caller wrote them, for stores
   * that can list keys (`capabilities.listKeys`); throws `CacheConfigError` on others. Hashed
   * keys (too long for the store) cannot be reversed and are not listed. Failures always throw.
   */
  keys(options?: CallOptions): AsyncIterable<string> {
    if (this.#s.closed) throw new CacheClosedError(undefined, { store: this.#s.store.name });
    return listCallerKeys(this.#s.store, () => this.#scopeFor(options), this.#s.keyFunction !== undefined);
  }

  /** Removes a key. Resolves whether a live entry was removed. */
  async delete(key: string, options?: CallOptions): Promise<boolean> {
    const body = this.#body(key);
    const removed = await this.#run(
      'delete',
      key,
      this.#on(body, options, (k) => this.#s.store.delete(k)),
    );
    if (removed === FAILED) return false;
    this.#deleted(key);
    return removed;
  }

  /** Removes keys in one round trip where the store allows it. Resolves how many were removed. */
  async deleteMany(keys: readonly string[], options?: CallOptions): Promise<number> {
    const bodies = this.#bodies(keys);
    if (bodies.length === 0) return 0;
    const removed = await this.#run('deleteMany', undefined, async () =>
      this.#s.store.deleteMany(await this.#keys(bodies, options)),
    );
    if (removed === FAILED) return 0;
    for (const key of keys) this.#deleted(key);
    return removed;
  }

  /** Whether a live value exists (a store failure under ignoreErrors reads as `false`). */
  async has(key: string, options?: CallOptions): Promise<boolean> {
    const body = this.#body(key);
    const found = await this.#run(
      'has',
      key,
      this.#on(body, options, (k) => this.#s.store.has(k)),
    );
    return found === true;
  }

  /**
   * Adds `delta` atomically and resolves the new value. A missing key starts at 0 and gets the
   * call's TTL (or the default); an existing key keeps its expiry. Resolves `undefined` when a
   * store failure was swallowed. A non-integer value throws `NotIntegerError`.
   */
  async incr(key: string, delta = 1, options?: WriteOptions): Promise<number | undefined> {
    const body = this.#body(key);
    if (!Number.isSafeInteger(delta)) {
      throw new InvalidKeyError(`incr delta must be a safe integer, got ${delta}`, { key });
    }
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0)
      throw new CacheConfigError('incr with ttl 0 would store nothing; pass a positive ttl', { key });
    const value = await this.#run(
      'incr',
      key,
      this.#on(body, options, (k) => this.#s.store.incr(k, delta, ttlMs)),
    );
    return value === FAILED ? undefined : value;
  }

  /** `incr` with the delta negated. */
  async decr(key: string, delta = 1, options?: WriteOptions): Promise<number | undefined> {
    return this.incr(key, -delta, options);
  }

  /** Gives a live key a new TTL (the default when none is given). Resolves whether the key existed. */
  async touch(key: string, options?: WriteOptions): Promise<boolean> {
    const body = this.#body(key);
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0) return this.delete(key, options);
    const touched = await this.#run(
      'touch',
      key,
      this.#on(body, options, (k) => this.#s.store.touch(k, ttlMs)),
    );
    return touched === true;
  }

  /** Remaining life in ms, `Infinity` for a key without expiry, `undefined` when missing. */
  async ttl(key: string, options?: CallOptions): Promise<number | undefined> {
    const body = this.#body(key);
    const remaining = await this.#run(
      'ttl',
      key,
      this.#on(body, options, (k) => this.#s.store.ttl(k)),
    );
    return remaining === FAILED ? undefined : remaining;
  }

  /**
   * Removes every entry of this cache: the root cache clears its whole prefix (all versions),
   * a namespace clears its own keys under the current version. Other prefixes are untouched.
   * Resolves `false` when a store failure was swallowed.
   */
  async clear(): Promise<boolean> {
    const s = this.#s;
    const done = await this.#run('clear', undefined, async () => {
      const own = this.#generations.at(-1);
      if (own !== undefined) return own.bump();
      return s.store.clear(this.#namespace === '' ? `${s.prefix}:` : this.#scope);
    });
    return done !== FAILED;
  }

  /** A view whose keys live in their own namespace; it shares the store, stats and events. */
  namespace(name: string): Cache {
    return new Cache({ parent: this, namespace: name });
  }

  /** Joins parts into one collision-safe key: `key('a:b', 'c') !== key('a', 'b:c')`. */
  key(...parts: (string | number)[]): string {
    return joinKeyParts(parts);
  }

  /** Counters and latency since creation or the last `resetStats()`. */
  stats(): CacheStats {
    return this.#s.stats.snapshot();
  }

  resetStats(): void {
    this.#s.stats.reset();
  }

  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#s.emitter.on(event, listener);
    return this;
  }

  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): this {
    this.#s.emitter.off(event, listener);
    return this;
  }

  /** Closes the store (bounded by the deadline). Later calls throw `CacheClosedError`. Idempotent. */
  async close(): Promise<void> {
    const s = this.#s;
    if (s.closed) return;
    s.closed = true;
    try {
      await withDeadline(
        s.store.close(),
        s.timeoutMs,
        () =>
          new StoreTimeoutError(`closing the ${s.store.name} store took over ${s.timeoutMs} ms`, {
            store: s.store.name,
          }),
      );
    } catch (error) {
      s.log.warn('close', { err: error, store: s.store.name }, `closing the ${s.store.name} store failed`);
    }
  }

  #body(key: string): string {
    const escaped = escapeBody(key);
    const custom = this.#s.keyFunction;
    return custom === undefined ? escaped : escapeBody(custom(escaped));
  }

  #bodies(keys: readonly string[]): string[] {
    if (!Array.isArray(keys)) throw new InvalidKeyError('keys must be an array of strings');
    return keys.map((key) => this.#body(key));
  }

  /**
   * A store call on the stored key of `body`. The key is built when the call runs (inside
   * the deadline), synchronously unless a clear generation must be read first.
   */
  #on<T>(
    body: string,
    options: CallOptions | undefined,
    call: (key: string) => Promise<T>,
  ): () => Promise<T> {
    return () => {
      const scope = this.#scopeFor(options);
      const capabilities = this.#s.store.capabilities;
      if (typeof scope === 'string') return call(fitKey(scope, scope + body, capabilities));
      return scope.then((resolved) => call(fitKey(resolved, resolved + body, capabilities)));
    };
  }

  async #keys(bodies: readonly string[], options: CallOptions | undefined): Promise<string[]> {
    const scope = await this.#scopeFor(options);
    const capabilities = this.#s.store.capabilities;
    return bodies.map((body) => fitKey(scope, scope + body, capabilities));
  }

  #scopeFor(options: CallOptions | undefined): string | Promise<string> {
    const s = this.#s;
    let scope = this.#scope;
    if (options?.version !== undefined) {
      scope = `${s.prefix}:${validateKeyPart('version', String(options.version))}:${this.#namespace}`;
    }
    if (this.#generations.length === 0) return scope;
    const generations = this.#generations.map((generation) => generation.current());
    // Base 36 keeps a clock-seeded generation to 8 characters of every key.
    const segment = (values: number[]) => `${scope}g${values.map((g) => g.toString(36)).join('.')}:`;
    if (generations.every((g) => typeof g === 'number')) return segment(generations as number[]);
    return Promise.all(generations).then(segment);
  }

  #encode(key: string, value: unknown): Uint8Array | Failed {
    const bytes = this.#s.codec.encode(value);
    const { maxValueBytes } = this.#s.store.capabilities;
    if (bytes.byteLength > maxValueBytes) {
      const error = new ValueTooLargeError(
        `value of ${bytes.byteLength} bytes exceeds the ${this.#s.store.name} store's limit of ${maxValueBytes} bytes; enable compression, store less, or raise the store's maxValueBytes`,
        { key, store: this.#s.store.name },
      );
      return this.#fault('set', key, error);
    }
    return bytes;
  }

  #decode<T>(key: string, bytes: Uint8Array | undefined): T | undefined {
    const s = this.#s;
    if (bytes === undefined) return this.#miss(key);
    const value = s.codec.decode(bytes);
    if (value === CORRUPT) {
      s.stats.corrupt++;
      s.log.warn(
        'corrupt',
        { key, store: s.store.name },
        'a stored value could not be decoded; treated as a miss',
      );
      return this.#miss(key);
    }
    if (value === STALE_SCHEMA) return this.#miss(key);
    s.stats.hits++;
    if (s.emitter.listeners.hit.length > 0) s.emitter.emit('hit', { key });
    return value as T;
  }

  #miss(key: string): undefined {
    const s = this.#s;
    s.stats.misses++;
    if (s.emitter.listeners.miss.length > 0) s.emitter.emit('miss', { key });
    return undefined;
  }

  #wrote(key: string, stored: boolean): boolean {
    if (!stored) return false;
    const s = this.#s;
    s.stats.sets++;
    if (s.emitter.listeners.set.length > 0) s.emitter.emit('set', { key });
    return true;
  }

  #deleted(key: string): void {
    const s = this.#s;
    s.stats.deletes++;
    if (s.emitter.listeners.delete.length > 0) s.emitter.emit('delete', { key });
  }

  /**
   * Runs one store call under the deadline and the circuit breaker, and applies the error
   * policy in this one place: a backend fault is counted, emitted, logged and then either
   * swallowed (FAILED) or thrown; a programmer error is always thrown.
   */
  #run<T>(operation: CacheOperation, key: string | undefined, call: () => Promise<T>): Promise<T | Failed> {
    const s = this.#s;
    if (s.closed) throw new CacheClosedError(undefined, { key, store: s.store.name });
    if (s.breaker !== undefined && !s.breaker.allow()) {
      return Promise.resolve(
        this.#fault(
          operation,
          key,
          new CircuitOpenError(
            `the ${s.store.name} store failed repeatedly; calls skip it until the circuit breaker's cooldown ends`,
            { key, store: s.store.name },
          ),
        ),
      );
    }
    const started = performance.now();
    let pending: Promise<T>;
    try {
      pending = call();
    } catch (error) {
      pending = Promise.reject(error);
    }
    // An in-process store has finished its work when it returns: no deadline can cut it short.
    if (!s.inProcess) pending = s.deadlines.run(pending, operation, key);
    return pending.then(
      (result) => {
        if (s.breaker?.success()) {
          s.log.warn('recovered', { store: s.store.name }, `the ${s.store.name} store answers again`);
        }
        s.stats.recordLatency(operation, performance.now() - started);
        return result;
      },
      (error: unknown) => this.#failed(operation, key, error),
    );
  }

  #failed(operation: CacheOperation, key: string | undefined, error: unknown): Failed {
    if (!isStoreFault(error)) throw error;
    const s = this.#s;
    const wrapped =
      error instanceof StoreError
        ? error
        : new CacheUnavailableError(
            `${s.store.name} ${operation} failed: ${(error as Error)?.message ?? error}`,
            {
              key,
              store: s.store.name,
              cause: error,
            },
          );
    if (!(wrapped instanceof ValueTooLargeError)) s.breaker?.failure();
    return this.#fault(operation, key, wrapped);
  }

  #fault(operation: CacheOperation, key: string | undefined, error: StoreError): Failed {
    this.#report(operation, key, error);
    if (!this.#s.ignoreErrors) throw error;
    return FAILED;
  }

  #report(operation: CacheOperation, key: string | undefined, error: CacheError): void {
    const s = this.#s;
    s.stats.errors++;
    if (s.emitter.listeners.error.length > 0) s.emitter.emit('error', { error, operation, key });
    s.log.warn(
      'failure',
      { err: error, store: s.store.name, operation },
      `${s.store.name} ${operation} failed (${error.code})${s.ignoreErrors ? '; served as a miss' : ''}`,
    );
  }
}

function buildShared(options: CacheOptions): Shared {
  const now = options.now ?? Date.now;
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
  return {
    deadlines,
    inProcess: store.capabilities.inProcess === true,
    store,
    codec: new Codec({
      serializer: options.serializer ?? jsonSerializer,
      compression: options.compression ?? false,
      schemaVersion: options.schemaVersion,
    }),
    policy: createTtlPolicy(options),
    stats: new StatsRecorder(),
    emitter: new CacheEmitter(),
    breaker,
    log: new RateLimitedLog(options.logger ?? consoleLogger, logInterval, now),
    ignoreErrors: options.ignoreErrors ?? true,
    timeoutMs,
    prefix,
    version,
    keyFunction: options.keyFunction,
    generationRefreshMs,
    now,
    flights: new Map(),
    closed: false,
  };
}
