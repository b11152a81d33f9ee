import {
  buildShared,
  type CacheOptions,
  type CallOptions,
  type GetOrSetOptions,
  type Shared,
  type WriteOptions,
} from './cache-options.js';
import { FAILED, type Failed, runCall, runSync } from './call-policy.js';
import { withDeadline } from './deadline.js';
import type { CacheEventName, CacheListener } from './emitter.js';
import { CacheClosedError, CacheConfigError, NotIntegerError, StoreTimeoutError } from './errors.js';
import { Generation } from './generation.js';
import { type GetOrSetIo, getOrSet } from './get-or-set.js';
import { checkHealth, type HealthReport, type HealthThresholds } from './health.js';
import { checkScopeFits, joinKeyParts, namespaceSegment } from './keys.js';
import { listCallerKeys } from './list-keys.js';
import type { CacheStats } from './stats.js';
import type { Store, StoreEntry } from './store.js';
import { checkTags, currentVersions, TAG_TTL_MS, tagBody } from './tags.js';
import { graceOf, resolveTtl } from './ttl.js';
import { CacheView, frameBytes, isTagged, isTaggedFrame } from './view.js';
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
  readonly #v: CacheView;
  /** What `getOrSet` uses of this cache. */
  readonly #io: GetOrSetIo;

  constructor(options: CacheOptions | { parent: Cache; namespace: string }) {
    const parent =
      typeof options === 'object' &&
      options !== null &&
      'parent' in options &&
      options.parent instanceof Cache
        ? options.parent
        : undefined;
    const s = parent === undefined ? buildShared(options as CacheOptions) : parent.#s;
    const namespace =
      parent === undefined
        ? ''
        : parent.#v.namespace + namespaceSegment((options as { namespace: string }).namespace);
    const scope = `${s.prefix}:${s.version}:${namespace}`;
    checkScopeFits(scope, s.store.capabilities);
    let generations: readonly Generation[] = [];
    if (s.store.capabilities.clearScope === 'none') {
      const own = new Generation(s.store, `${scope}#gen`, s.generationRefreshMs, s.now);
      generations = parent === undefined ? [own] : [...parent.#v.generations, own];
    }
    this.#s = s;
    this.#v = new CacheView(s, namespace, scope, generations);
    this.#io = {
      s,
      v: this.#v,
      get: (key, options) => this.get(key, options),
      write: (key, value, options, pinned) => this.#write(key, value, options, pinned),
    };
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
      const body = this.#v.body(key);
      const sync = this.#s.sync;
      const stored = sync === undefined ? undefined : this.#v.syncBody(body, options);
      if (stored !== undefined) {
        const frame = runSync(this.#s, 'get', key, sync!.get, this.#v.scope, stored);
        if (frame === FAILED) return Promise.resolve(this.#v.decode<T>(key, undefined));
        if (isTaggedFrame(frame)) {
          return Promise.resolve(this.#v.screen(frameBytes(frame), this.#v.scope)).then((kept) =>
            this.#v.decode<T>(key, kept),
          );
        }
        return Promise.resolve(this.#v.decode<T>(key, frame));
      }
      const l1 = this.#s.l1;
      if (l1 !== undefined) {
        const near = this.#v.l1Read(l1, body, options);
        if (near !== undefined) return Promise.resolve(this.#v.decode<T>(key, near));
      }
      pending = runCall(
        this.#s,
        'get',
        key,
        this.#v.on(body, options, (k, scope) =>
          this.#s.store.get(k).then((bytes) => {
            if (isTagged(bytes)) return this.#v.screen(bytes, scope);
            l1?.fill(k, bytes);
            return bytes;
          }),
        ),
      );
    } catch (error) {
      return Promise.reject(error);
    }
    return pending.then((bytes) => this.#v.decode<T>(key, bytes === FAILED ? undefined : bytes));
  }

  /** Reads many values in one round trip; the result has one slot per key, in order. */
  async getMany<T = unknown>(keys: readonly string[], options?: CallOptions): Promise<(T | undefined)[]> {
    const v = this.#v;
    const sync = this.#s.sync;
    if (sync !== undefined && options?.version === undefined && v.generations.length === 0) {
      const stored = v.syncBodies(keys);
      if (stored.length === 0) return [];
      const scope = v.scope;
      let list = runSync(this.#s, 'getMany', undefined, sync.getMany, scope, stored);
      if (list === FAILED) return keys.map((key) => v.decode<T>(key, undefined));
      if (list.some(isTaggedFrame)) {
        list = await v.screenMany(list.map(frameBytes), scope);
      }
      const values = new Array<T | undefined>(keys.length);
      for (let i = 0; i < keys.length; i++) values[i] = v.decode<T>(keys[i]!, list[i]);
      return values;
    }
    const bodies = v.bodies(keys);
    if (bodies.length === 0) return [];
    const found = await runCall(this.#s, 'getMany', undefined, async () => {
      const scope = await this.#v.scopeFor(options);
      const list = await this.#s.store.getMany(this.#v.keysIn(scope, bodies));
      return list.some(isTagged) ? this.#v.screenMany(list, scope) : list;
    });
    return keys.map((key, i) => this.#v.decode<T>(key, found === FAILED ? undefined : found[i]));
  }

  /** Stores a value. Resolves `false` when it was not stored (ttl 0, or a swallowed store failure). */
  set(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    try {
      const s = this.#s;
      const sync = s.sync;
      if (
        sync !== undefined &&
        (options === undefined ||
          (options.grace === undefined && options.tags === undefined && options.version === undefined))
      ) {
        const body = this.#v.body(key);
        const ttlMs = resolveTtl(s.policy, options?.ttl);
        // Values that may exceed the store's limit take the path that measures them first.
        const frame = ttlMs === 0 ? undefined : s.codec.encodeText(value);
        if (frame !== undefined && frame[1].length * 3 + 1 <= s.store.capabilities.maxValueBytes) {
          const stored = this.#v.syncBody(body, options);
          if (stored !== undefined) {
            this.#v.supersede(key, options);
            const done = runSync(
              s,
              'set',
              key,
              (scope: string, b: string) => sync.setText(scope, b, frame[0], frame[1], ttlMs),
              this.#v.scope,
              stored,
            );
            return Promise.resolve(this.#v.wrote(key, done !== FAILED));
          }
        }
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#write(key, value, options, undefined);
  }

  /**
   * `set`, with tag versions read before a getOrSet factory ran (`pinned`) rather than now. Not
   * `async`: an untagged write, the common one, costs no async frame.
   */
  #write(
    key: string,
    value: unknown,
    options: WriteOptions | undefined,
    pinned: number[] | undefined,
  ): Promise<boolean> {
    const s = this.#s;
    let done: Promise<unknown>;
    try {
      const body = this.#v.body(key);
      const ttlMs = resolveTtl(s.policy, options?.ttl);
      if (ttlMs === 0) return this.delete(key, options).then(() => false);
      const graceMs = options?.grace === undefined ? 0 : graceOf(options.grace);
      const tags = options?.tags === undefined ? undefined : checkTags(options.tags);
      const bytes = this.#v.encode(key, value, this.#v.freshUntil(value, ttlMs, graceMs));
      if (bytes === FAILED) return Promise.resolve(false);
      this.#v.supersede(key, options);
      const storedMs = ttlMs + graceMs;
      const write =
        tags === undefined || tags.length === 0
          ? (k: string) => this.#v.l1Write([k], s.store.set(k, bytes, storedMs))
          : async (k: string, scope: string) => {
              const versions =
                pinned ?? (await currentVersions(s.store, this.#v.keysIn(scope, tags.map(tagBody)), s.now));
              const framed = s.codec.encodeTagged(
                bytes,
                tags.map((tag, i) => [tag, versions[i]!] as const),
              );
              return this.#v.l1Write([k], s.store.set(k, framed, storedMs));
            };
      done = runCall(s, 'set', key, this.#v.on(body, options, write));
    } catch (error) {
      return Promise.reject(error);
    }
    return done.then((result) => this.#v.wrote(key, result !== FAILED));
  }

  /** Stores many values in one round trip where the store allows it. */
  async setMany(
    entries: Iterable<readonly [string, unknown]> | Record<string, unknown>,
    options?: WriteOptions,
  ): Promise<boolean> {
    const pairs =
      Symbol.iterator in entries ? [...(entries as Iterable<[string, unknown]>)] : Object.entries(entries);
    const bodies = this.#v.bodies(pairs.map(([key]) => key));
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0) {
      await this.deleteMany(
        pairs.map(([key]) => key),
        options,
      );
      return false;
    }
    const values = pairs.map(([key, value]) =>
      this.#v.encode(key, value, this.#v.freshUntil(value, ttlMs, 0)),
    );
    if (values.includes(FAILED)) return false;
    if (pairs.length === 0) return true;
    this.#v.supersedeMany(
      pairs.map(([key]) => key),
      options,
    );
    const sync = this.#s.sync;
    if (sync !== undefined && options?.version === undefined && this.#v.generations.length === 0) {
      const stored = this.#v.syncBodies(pairs.map(([key]) => key));
      const done = runSync(
        this.#s,
        'setMany',
        undefined,
        (scope: string, list: string[]) => sync.setMany(scope, list, values as Uint8Array[], ttlMs),
        this.#v.scope,
        stored,
      );
      if (done === FAILED) return false;
      for (const [key] of pairs) this.#v.wrote(key, true);
      return true;
    }
    const done = await runCall(this.#s, 'setMany', undefined, async () => {
      const keys = await this.#v.keys(bodies, options);
      const batch: StoreEntry[] = keys.map((key, i) => ({ key, value: values[i] as Uint8Array, ttlMs }));
      return this.#v.l1Write(keys, this.#s.store.setMany(batch));
    });
    if (done === FAILED) return false;
    for (const [key] of pairs) this.#v.wrote(key, true);
    return true;
  }

  /** Stores only when the key holds no live value (atomic on the server). Resolves whether it stored. */
  async add(key: string, value: unknown, options?: WriteOptions): Promise<boolean> {
    const body = this.#v.body(key);
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0) return false;
    const bytes = this.#v.encode(key, value, this.#v.freshUntil(value, ttlMs, 0));
    if (bytes === FAILED) return false;
    this.#v.supersede(key, options);
    const added = await runCall(
      this.#s,
      'add',
      key,
      this.#v.on(body, options, (k) => this.#v.l1Write([k], this.#s.store.add(k, bytes, ttlMs))),
    );
    return this.#v.wrote(key, added === true);
  }

  /**
   * Returns the cached value, or runs `factory` once (however many callers miss at the same
   * time in this process), stores its result and hands it to every waiter. A factory error
   * reaches every waiter and is not cached. `undefined` from the factory is returned, not stored.
   */
  getOrSet<T>(
    key: string,
    factory: (signal: AbortSignal) => T | Promise<T>,
    options?: GetOrSetOptions,
  ): Promise<T> {
    return getOrSet(this.#io, key, factory, options);
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
    return listCallerKeys(this.#s.store, () => this.#v.scopeFor(options), this.#s.keyFunction !== undefined);
  }

  /** Removes a key. Resolves whether a live entry was removed. */
  async delete(key: string, options?: CallOptions): Promise<boolean> {
    const body = this.#v.body(key);
    this.#v.supersede(key, options);
    const removed = await runCall(
      this.#s,
      'delete',
      key,
      this.#v.on(body, options, (k) => this.#v.l1Write([k], this.#s.store.delete(k))),
    );
    if (removed === FAILED) return false;
    this.#v.deleted(key);
    return removed;
  }

  /** Removes keys in one round trip where the store allows it. Resolves how many were removed. */
  async deleteMany(keys: readonly string[], options?: CallOptions): Promise<number> {
    const bodies = this.#v.bodies(keys);
    if (bodies.length === 0) return 0;
    this.#v.supersedeMany(keys, options);
    const removed = await runCall(this.#s, 'deleteMany', undefined, async () => {
      const stored = await this.#v.keys(bodies, options);
      return this.#v.l1Write(stored, this.#s.store.deleteMany(stored));
    });
    if (removed === FAILED) return 0;
    for (const key of keys) this.#v.deleted(key);
    return removed;
  }

  /** Whether a live value exists (a store failure under ignoreErrors reads as `false`). */
  async has(key: string, options?: CallOptions): Promise<boolean> {
    const body = this.#v.body(key);
    const found = await runCall(
      this.#s,
      'has',
      key,
      this.#v.on(body, options, (k) => this.#s.store.has(k)),
    );
    return found === true;
  }

  /**
   * Adds `delta` atomically and resolves the new value. A missing key starts at 0 and gets the
   * call's TTL (or the default); an existing key keeps its expiry. Resolves `undefined` when a
   * store failure was swallowed. A non-integer value throws `NotIntegerError`.
   */
  async incr(key: string, delta = 1, options?: WriteOptions): Promise<number | undefined> {
    const body = this.#v.body(key);
    if (!Number.isSafeInteger(delta)) {
      throw new NotIntegerError(
        `incr delta must be a safe integer (a whole number within ±2^53), got ${String(delta)}`,
        { key },
      );
    }
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0)
      throw new CacheConfigError('incr with ttl 0 would store nothing; pass a positive ttl', { key });
    this.#v.supersede(key, options);
    const sync = this.#s.sync;
    const stored = sync === undefined ? undefined : this.#v.syncBody(body, options);
    if (stored !== undefined) {
      const value = runSync(
        this.#s,
        'incr',
        key,
        (scope: string, b: string) => sync!.incr(scope, b, delta, ttlMs),
        this.#v.scope,
        stored,
      );
      return value === FAILED ? undefined : value;
    }
    const value = await runCall(
      this.#s,
      'incr',
      key,
      this.#v.on(body, options, (k) => this.#v.l1Write([k], this.#s.store.incr(k, delta, ttlMs))),
    );
    return value === FAILED ? undefined : value;
  }

  /** `incr` with the delta negated. */
  async decr(key: string, delta = 1, options?: WriteOptions): Promise<number | undefined> {
    return this.incr(key, -delta, options);
  }

  /** Gives a live key a new TTL (the default when none is given). Resolves whether the key existed. */
  async touch(key: string, options?: WriteOptions): Promise<boolean> {
    const body = this.#v.body(key);
    const ttlMs = resolveTtl(this.#s.policy, options?.ttl);
    if (ttlMs === 0) return this.delete(key, options);
    const touched = await runCall(
      this.#s,
      'touch',
      key,
      this.#v.on(body, options, (k) => this.#v.l1Write([k], this.#s.store.touch(k, ttlMs))),
    );
    return touched === true;
  }

  /** Remaining life in ms, `Infinity` for a key without expiry, `undefined` when missing. */
  async ttl(key: string, options?: CallOptions): Promise<number | undefined> {
    const body = this.#v.body(key);
    const remaining = await runCall(
      this.#s,
      'ttl',
      key,
      this.#v.on(body, options, (k) => this.#s.store.ttl(k)),
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
    const prefix = this.#v.namespace === '' ? `${s.prefix}:` : this.#v.scope;
    s.guards.supersedeAll();
    const done = await runCall(this.#s, 'clear', undefined, async () => {
      const own = this.#v.generations.at(-1);
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
    s.guards.supersedeAll();
    const done = await runCall(s, 'incr', undefined, async () => {
      const keys = this.#v.keysIn(await this.#v.scopeFor(options), list.map(tagBody));
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
}
