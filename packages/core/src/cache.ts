import {
  buildShared,
  type CacheOptions,
  type CallOptions,
  type GetOrSetOptions,
  type Shared,
  type WriteOptions,
} from './cache-options.js';
import { FAILED, type Failed, fault, runCall } from './call-policy.js';
import { CORRUPT, GraceEntry, STALE_SCHEMA, TAGGED_HEADER, TaggedEntry } from './codec.js';
import { withDeadline } from './deadline.js';
import type { CacheEventName, CacheListener } from './emitter.js';
import {
  CacheClosedError,
  CacheConfigError,
  InvalidKeyError,
  NotIntegerError,
  StoreTimeoutError,
  ValueTooLargeError,
} from './errors.js';
import { Generation } from './generation.js';
import { checkHealth, type HealthReport, type HealthThresholds } from './health.js';
import {
  checkScopeFits,
  escapeBody,
  fitKey,
  joinKeyParts,
  namespaceSegment,
  validateKeyPart,
} from './keys.js';
import type { L1 } from './l1.js';
import { listCallerKeys } from './list-keys.js';
import { type RefreshIo, refreshingGetOrSet, refreshSettings } from './refresh.js';
import type { CacheStats } from './stats.js';
import type { Store, StoreEntry } from './store.js';
import { checkTags, currentVersions, stillValid, TAG_TTL_MS, tagBody } from './tags.js';
import { parseTtl, resolveTtl } from './ttl.js';
import { type WarmEntry, type WarmOptions, type WarmResult, warmCache } from './warm.js';
import { type WrapOptions, type WrappedFunction, wrapFunction } from './wrap.js';

export type { CacheOptions, CallOptions, GetOrSetOptions, WriteOptions };

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
    const parent =
      typeof options === 'object' &&
      options !== null &&
      'parent' in options &&
      options.parent instanceof Cache
        ? options.parent
        : undefined;
    if (parent !== undefined) {
      this.#s = parent.#s;
      this.#namespace = parent.#namespace + namespaceSegment((options as { namespace: string }).namespace);
    } else {
      this.#s = buildShared(options as CacheOptions);
      this.#namespace = '';
    }
    const s = this.#s;
    this.#scope = `${s.prefix}:${s.version}:${this.#namespace}`;
    checkScopeFits(this.#scope, s.store.capabilities);
    if (s.store.capabilities.clearScope === 'none') {
      const own = new Generation(s.store, `${this.#scope}#gen`, s.generationRefreshMs, s.now);
      this.#generations = parent === undefined ? [own] : [...parent.#generations, own];
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
      const l1 = this.#s.l1;
      if (l1 !== undefined) {
        const near = this.#l1Read(l1, body, options);
        if (near !== undefined) return Promise.resolve(this.#decode<T>(key, near));
      }
      pending = runCall(
        this.#s,
        'get',
        key,
        this.#on(body, options, (k, scope) =>
          this.#s.store.get(k).then((bytes) => {
            if (isTagged(bytes)) return this.#screen(bytes, scope);
            l1?.fill(k, bytes);
            return bytes;
          }),
        ),
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
    const found = await runCall(this.#s, 'getMany', undefined, async () => {
      const scope = await this.#scopeFor(options);
      const list = await this.#s.store.getMany(this.#keysIn(scope, bodies));
      return list.some(isTagged) ? this.#screenMany(list, scope) : list;
    });
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
    const graceMs = options?.grace === undefined ? 0 : graceOf(options.grace);
    const tags = options?.tags === undefined ? undefined : checkTags(options.tags);
    const bytes = this.#encode(key, value, this.#freshUntil(value, ttlMs, graceMs));
    if (bytes === FAILED) return false;
    const s = this.#s;
    const done = await runCall(
      s,
      'set',
      key,
      this.#on(body, options, async (k, scope) => {
        if (tags === undefined || tags.length === 0) {
          return this.#l1Write([k], s.store.set(k, bytes, ttlMs + graceMs));
        }
        const versions = await currentVersions(s.store, this.#keysIn(scope, tags.map(tagBody)), s.now);
        const framed = s.codec.encodeTagged(
          bytes,
          tags.map((tag, i) => [tag, versions[i]!] as const),
        );
        return this.#l1Write([k], s.store.set(k, framed, ttlMs + graceMs));
      }),
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
    const values = pairs.map(([key, value]) => this.#encode(key, value, this.#freshUntil(value, ttlMs, 0)));
    if (values.includes(FAILED)) return false;
    if (pairs.length === 0) return true;
    const done = await runCall(this.#s, 'setMany', undefined, async () => {
      const keys = await this.#keys(bodies, options);
      const batch: StoreEntry[] = keys.map((key, i) => ({ key, value: values[i] as Uint8Array, ttlMs }));
      return this.#l1Write(keys, this.#s.store.setMany(batch));
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
    const bytes = this.#encode(key, value, this.#freshUntil(value, ttlMs, 0));
    if (bytes === FAILED) return false;
    const added = await runCall(
      this.#s,
      'add',
      key,
      this.#on(body, options, (k) => this.#l1Write([k], this.#s.store.add(k, bytes, ttlMs))),
    );
    return this.#wrote(key, added === true);
  }

  /**
   * Returns the cached value, or runs `factory` once (however many callers miss at the same
   * time in this process), stores its result and hands it to every waiter. A factory error
   * reaches every waiter and is not cached. `undefined` from the factory is returned, not stored.
   */
  async getOrSet<T>(
    key: string,
    factory: (signal: AbortSignal) => T | Promise<T>,
    options?: GetOrSetOptions,
  ): Promise<T> {
    const s = this.#s;
    const body = this.#body(key);
    // Bad input fails now, not after the store read and the factory.
    resolveTtl(s.policy, options?.ttl);
    if (options?.grace !== undefined) graceOf(options.grace);
    const refreshing =
      options !== undefined &&
      (options.grace !== undefined ||
        options.softTimeout !== undefined ||
        options.hardTimeout !== undefined ||
        (options.lock !== undefined && options.lock !== false))
        ? refreshSettings(options)
        : undefined;
    if (typeof factory !== 'function') {
      throw new CacheConfigError(`getOrSet needs a factory function, got ${typeof factory}`, { key });
    }
    const version = options?.version === undefined ? s.version : String(options.version);
    const slot = `${this.#scope}${version === s.version ? '' : version}\u0000${key}`;
    const flights = s.flights;
    const running = flights.get(slot);
    if (running !== undefined) return running as Promise<T>;
    const flight =
      refreshing === undefined
        ? (async () => {
            const started = performance.now();
            const cached = await this.get<T>(key, options);
            if (cached !== undefined) return cached;
            // One deadline for the whole call: the write gets what the read left of it.
            const left = s.timeoutMs - (performance.now() - started);
            const value = await factory(NEVER_ABORTED);
            if (value !== undefined) await this.#within(left, this.set(key, value, options), key);
            return value;
          })()
        : refreshingGetOrSet(this.#refreshIo(key, body, slot, options!), factory, refreshing);
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
    const removed = await runCall(
      this.#s,
      'delete',
      key,
      this.#on(body, options, (k) => this.#l1Write([k], this.#s.store.delete(k))),
    );
    if (removed === FAILED) return false;
    this.#deleted(key);
    return removed;
  }

  /** Removes keys in one round trip where the store allows it. Resolves how many were removed. */
  async deleteMany(keys: readonly string[], options?: CallOptions): Promise<number> {
    const bodies = this.#bodies(keys);
    if (bodies.length === 0) return 0;
    const removed = await runCall(this.#s, 'deleteMany', undefined, async () => {
      const stored = await this.#keys(bodies, options);
      return this.#l1Write(stored, this.#s.store.deleteMany(stored));
    });
    if (removed === FAILED) return 0;
    for (const key of keys) this.#deleted(key);
    return removed;
  }

  /** Whether a live value exists (a store failure under ignoreErrors reads as `false`). */
  async has(key: string, options?: CallOptions): Promise<boolean> {
    const body = this.#body(key);
    const found = await runCall(
      this.#s,
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
      throw new NotIntegerError(
        `incr delta must be a safe integer (a whole number within ±2^53), got ${String(delta)}`,
        { key },
      );
    }
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0)
      throw new CacheConfigError('incr with ttl 0 would store nothing; pass a positive ttl', { key });
    const value = await runCall(
      this.#s,
      'incr',
      key,
      this.#on(body, options, (k) => this.#l1Write([k], this.#s.store.incr(k, delta, ttlMs))),
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
    const touched = await runCall(
      this.#s,
      'touch',
      key,
      this.#on(body, options, (k) => this.#l1Write([k], this.#s.store.touch(k, ttlMs))),
    );
    return touched === true;
  }

  /** Remaining life in ms, `Infinity` for a key without expiry, `undefined` when missing. */
  async ttl(key: string, options?: CallOptions): Promise<number | undefined> {
    const body = this.#body(key);
    const remaining = await runCall(
      this.#s,
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
    const prefix = this.#namespace === '' ? `${s.prefix}:` : this.#scope;
    const done = await runCall(this.#s, 'clear', undefined, async () => {
      const own = this.#generations.at(-1);
      if (own !== undefined) await own.bump();
      else await s.store.clear(prefix);
    });
    if (done !== FAILED) s.l1?.invalidate({ prefix });
    return done !== FAILED;
  }

  /**
   * Every entry of this cache view written with one of `tags` reads as a miss from now on, in
   * every process (each tag's counter in the store is bumped). Resolves `false` when a store
   * failure was swallowed.
   */
  async invalidateTags(tags: readonly string[], options?: CallOptions): Promise<boolean> {
    const s = this.#s;
    const list = checkTags(tags);
    const done = await runCall(s, 'incr', undefined, async () => {
      const keys = this.#keysIn(await this.#scopeFor(options), list.map(tagBody));
      await Promise.all(keys.map((key) => s.store.incr(key, 1, TAG_TTL_MS)));
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

  /**
   * Checks the cache against the operator's thresholds (hit rate, memory, hit latency, store
   * errors since the last call, eviction policy, connection pool), reading the store's `info()`.
   */
  health(thresholds?: HealthThresholds): Promise<HealthReport> {
    return checkHealth(this.#s.stats, this.#s.store, this.#s.timeoutMs, thresholds);
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
        Promise.all([s.store.close(), s.l1?.close()]),
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

  /** What the refreshing `getOrSet` needs, bound to one key. */
  #refreshIo(key: string, body: string, slot: string, options: GetOrSetOptions): RefreshIo {
    const s = this.#s;
    const leaseBody = `#lease:${body}`;
    return {
      peek: () => this.#peek(key, body, options),
      write: (value) => this.set(key, value, options),
      servedStale: () => {
        s.stats.stale++;
      },
      lease: {
        acquire: async (token, ttlMs) =>
          (await runCall(
            this.#s,
            'add',
            key,
            this.#on(leaseBody, options, (k) => s.store.add(k, Buffer.from(token), ttlMs)),
          )) === true,
        holder: async () => {
          const bytes = await runCall(
            this.#s,
            'get',
            key,
            this.#on(leaseBody, options, (k) => s.store.get(k)),
          );
          return bytes === FAILED || bytes === undefined ? undefined : Buffer.from(bytes).toString();
        },
        drop: async () => {
          await runCall(
            this.#s,
            'delete',
            key,
            this.#on(leaseBody, options, (k) => s.store.delete(k)),
          );
        },
      },
      retryAfter: s.retryAfter,
      slot,
      now: s.now,
    };
  }

  /** Reads an entry fresh or stale (within its grace); counts a hit only when it is fresh. */
  async #peek(
    key: string,
    body: string,
    options: CallOptions | undefined,
  ): Promise<{ value: unknown; fresh: boolean } | undefined> {
    const s = this.#s;
    const bytes = await runCall(
      this.#s,
      'get',
      key,
      this.#on(body, options, (k, scope) => s.store.get(k).then((found) => this.#screen(found, scope))),
    );
    if (bytes === FAILED || bytes === undefined) return this.#miss(key);
    let decoded = s.codec.decode(bytes);
    if (decoded instanceof TaggedEntry) decoded = decoded.value;
    if (decoded instanceof GraceEntry && s.now() >= decoded.freshUntil) {
      this.#miss(key);
      return { value: decoded.value, fresh: false };
    }
    const value = this.#decode(key, bytes, decoded);
    return value === undefined ? undefined : { value, fresh: true };
  }

  /** The L1's copy of an entry, when the key can be built without a store round trip. */
  #l1Read(l1: L1, body: string, options: CallOptions | undefined): Uint8Array | undefined {
    const scope = this.#scopeFor(options);
    if (typeof scope !== 'string') return undefined;
    return l1.read(fitKey(scope, scope + body, this.#s.store.capabilities));
  }

  /** Around a store write: the L1 forgets the keys now, and every L1 once the write is done. */
  #l1Write<T>(keys: string[], write: Promise<T>): Promise<T> {
    const l1 = this.#s.l1;
    if (l1 === undefined) return write;
    l1.drop(keys);
    return write.then((result) => {
      l1.invalidate({ keys });
      return result;
    });
  }

  /**
   * Until when a written value is fresh, when its frame must say so: with a grace period, or
   * for the L1 (plain integers excepted: they stay ASCII decimal for server-side INCR).
   */
  #freshUntil(value: unknown, ttlMs: number, graceMs: number): number | undefined {
    const s = this.#s;
    if (graceMs > 0) return s.now() + ttlMs;
    if (s.l1 === undefined || ttlMs === Number.POSITIVE_INFINITY) return undefined;
    return typeof value === 'number' && Number.isSafeInteger(value) ? undefined : s.now() + ttlMs;
  }

  /**
   * Waits for a write at most `ms` (what is left of the call's deadline). Past it the write
   * goes on in the background under its own deadline, and the caller gets `false` (or a
   * `StoreTimeoutError` when errors are not ignored).
   */
  #within(ms: number, write: Promise<boolean>, key: string): Promise<boolean> {
    const s = this.#s;
    if (s.inProcess) return write;
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          write.catch(() => {});
          if (s.ignoreErrors) return resolve(false);
          reject(
            new StoreTimeoutError(
              `${s.store.name} getOrSet did not finish within ${s.timeoutMs} ms; check the server or raise the cache's timeout`,
              { key, store: s.store.name },
            ),
          );
        },
        Math.max(0, ms),
      );
      write.then(
        (stored) => {
          clearTimeout(timer);
          resolve(stored);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
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
    call: (key: string, scope: string) => Promise<T>,
  ): () => Promise<T> {
    return () => {
      const scope = this.#scopeFor(options);
      const capabilities = this.#s.store.capabilities;
      if (typeof scope === 'string') return call(fitKey(scope, scope + body, capabilities), scope);
      return scope.then((resolved) => call(fitKey(resolved, resolved + body, capabilities), resolved));
    };
  }

  #keysIn(scope: string, bodies: readonly string[]): string[] {
    const capabilities = this.#s.store.capabilities;
    return bodies.map((body) => fitKey(scope, scope + body, capabilities));
  }

  /** A tagged entry whose tags were invalidated since it was written reads as missing. */
  #screen(
    bytes: Uint8Array | undefined,
    scope: string,
  ): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    if (!isTagged(bytes)) return bytes;
    return this.#screenMany([bytes], scope).then(([kept]) => kept);
  }

  async #screenMany(list: (Uint8Array | undefined)[], scope: string): Promise<(Uint8Array | undefined)[]> {
    const s = this.#s;
    const tagged: { index: number; entry: TaggedEntry }[] = [];
    list.forEach((bytes, index) => {
      if (!isTagged(bytes)) return;
      const entry = s.codec.decode(bytes);
      if (entry instanceof TaggedEntry) tagged.push({ index, entry });
    });
    if (tagged.length === 0) return list;
    const valid = await stillValid(
      s.store,
      tagged.map(({ entry }) => entry),
      (tag) => this.#keysIn(scope, [tagBody(tag)])[0]!,
    );
    const kept = [...list];
    tagged.forEach(({ index }, i) => {
      if (!valid[i]) kept[index] = undefined;
    });
    return kept;
  }

  async #keys(bodies: readonly string[], options: CallOptions | undefined): Promise<string[]> {
    return this.#keysIn(await this.#scopeFor(options), bodies);
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

  #encode(key: string, value: unknown, freshUntil?: number): Uint8Array | Failed {
    const codec = this.#s.codec;
    const bytes = freshUntil === undefined ? codec.encode(value) : codec.encodeGrace(value, freshUntil);
    const { maxValueBytes } = this.#s.store.capabilities;
    if (bytes.byteLength > maxValueBytes) {
      const error = new ValueTooLargeError(
        `value of ${bytes.byteLength} bytes exceeds the ${this.#s.store.name} store's limit of ${maxValueBytes} bytes; enable compression, store less, or raise the store's maxValueBytes`,
        { key, store: this.#s.store.name },
      );
      return fault(this.#s, 'set', key, error);
    }
    return bytes;
  }

  #decode<T>(key: string, bytes: Uint8Array | undefined, decoded?: unknown): T | undefined {
    const s = this.#s;
    if (bytes === undefined) return this.#miss(key);
    let value = decoded ?? s.codec.decode(bytes);
    // Reads screen tagged entries before they get here: one that arrives is still valid.
    if (value instanceof TaggedEntry) value = value.value;
    if (value instanceof GraceEntry) {
      // Past its TTL, a value kept for its grace period is a miss to a plain read.
      if (s.now() >= value.freshUntil) return this.#miss(key);
      value = value.value;
    }
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
}

/** A signal for factories of the plain `getOrSet`, which are never abandoned. */
const NEVER_ABORTED = new AbortController().signal;

/** A grace period in ms: finite, 0 or more. */
function graceOf(grace: WriteOptions['grace']): number {
  const ms = parseTtl(grace!, 'grace');
  if (!Number.isFinite(ms)) throw new CacheConfigError("grace must be finite; 'never' is not a grace period");
  return ms;
}

function isTagged(bytes: Uint8Array | undefined): bytes is Uint8Array {
  return bytes !== undefined && bytes[0] === TAGGED_HEADER;
}
