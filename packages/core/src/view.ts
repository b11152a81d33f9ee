import type { CallOptions, GetOrSetOptions, Shared, WriteOptions } from './cache-options.js';
import { FAILED, type Failed, fault, runCall } from './call-policy.js';
import { CORRUPT, GraceEntry, STALE_SCHEMA, TAGGED_HEADER, TaggedEntry } from './codec.js';
import { InvalidKeyError, StoreTimeoutError, ValueTooLargeError } from './errors.js';
import type { Generation } from './generation.js';
import { escapeBody, fitBody, fitKey, validateKeyPart } from './keys.js';
import type { L1 } from './l1.js';
import type { RefreshIo } from './refresh.js';
import { checkTags, currentVersions, stillValid, tagBody } from './tags.js';
import type { WriteGuard } from './write-guard.js';

/**
 * One view of the cache (the root or a namespace): how its keys are built and how bytes
 * become values and back, shared by the `Cache` methods. Internal: not exported from the
 * package.
 */
export class CacheView {
  /** The scope with its clear generations, as built last for calls without a version override. */
  #generated: { values: number[]; scope: string } | undefined;

  constructor(
    readonly s: Shared,
    /** Namespace segments below the version, e.g. '@users:'. */
    readonly namespace: string,
    /** `prefix:version:` + namespace, for calls without a version override. */
    readonly scope: string,
    /** Clear generations of this view and its ancestors, only for stores with clearScope 'none'. */
    readonly generations: readonly Generation[],
  ) {}

  /** What the refreshing `getOrSet` needs, bound to one key. */
  refreshIo(
    key: string,
    body: string,
    slot: string,
    options: GetOrSetOptions,
    write: (value: unknown, pinned: number[] | undefined) => Promise<boolean>,
    guard: WriteGuard,
  ): RefreshIo {
    const s = this.s;
    const leaseBody = `#lease:${body}`;
    return {
      peek: (counted) => this.peek(key, body, options, counted),
      pinTags: () => this.pinTags(options, s.timeoutMs),
      write,
      servedStale: () => {
        s.stats.stale++;
      },
      lease: {
        acquire: async (token, ttlMs) =>
          (await runCall(
            this.s,
            'add',
            key,
            this.on(leaseBody, options, (k) => s.store.add(k, Buffer.from(token), ttlMs)),
          )) === true,
        holder: async () => {
          const bytes = await runCall(
            this.s,
            'get',
            key,
            this.on(leaseBody, options, (k) => s.store.get(k)),
          );
          return bytes === FAILED || bytes === undefined ? undefined : Buffer.from(bytes).toString();
        },
        drop: async () => {
          await runCall(
            this.s,
            'delete',
            key,
            this.on(leaseBody, options, (k) => s.store.delete(k)),
          );
        },
      },
      retryAfter: s.retryAfter,
      guard,
      slot,
      now: s.now,
    };
  }

  /** Reads an entry fresh or stale (within its grace); counts a hit only when it is fresh. */
  async peek(
    key: string,
    body: string,
    options: CallOptions | undefined,
    counted = true,
  ): Promise<{ value: unknown; fresh: boolean } | undefined> {
    const s = this.s;
    const bytes = await runCall(
      this.s,
      'get',
      key,
      this.on(body, options, (k, scope) => s.store.get(k).then((found) => this.screen(found, scope))),
    );
    if (bytes === FAILED || bytes === undefined) return counted ? this.miss(key) : undefined;
    let decoded = s.codec.decode(bytes);
    if (decoded instanceof TaggedEntry) decoded = decoded.value;
    if (decoded instanceof GraceEntry && s.now() >= decoded.freshUntil) {
      if (counted) this.miss(key);
      return { value: decoded.value, fresh: false };
    }
    if (!counted) {
      const plain = decoded instanceof GraceEntry ? decoded.value : decoded;
      return plain === CORRUPT || plain === STALE_SCHEMA ? undefined : { value: plain, fresh: true };
    }
    const value = this.settle(key, decoded);
    return value === undefined ? undefined : { value, fresh: true };
  }

  /** The L1's copy of an entry, when the key can be built without a store round trip. */
  l1Read(l1: L1, body: string, options: CallOptions | undefined): Uint8Array | undefined {
    const key = this.keyNow(body, options);
    return key === undefined ? undefined : l1.read(key);
  }

  /** The stored key of `body`, when it can be built without I/O (no clear generation to read). */
  keyNow(body: string, options: CallOptions | undefined): string | undefined {
    const scope = this.scopeFor(options);
    return typeof scope === 'string' ? fitKey(scope, scope + body, this.s.store.capabilities) : undefined;
  }

  /** The single-flight slot of a caller's key: one per namespace, version and key. */
  slot(key: string, options: CallOptions | undefined): string {
    const version = options?.version === undefined ? this.s.version : String(options.version);
    return `${this.scope}${version === this.s.version ? '' : version}\u0000${key}`;
  }

  /**
   * The versions of a getOrSet's tags, read before its factory runs: the value is written under
   * them, so a tag invalidated while the factory ran (in any process) makes it read as a miss.
   * `undefined` without tags, or when the read failed or did not answer within `ms` (the write
   * then reads the versions itself, as `set` does).
   */
  async pinTags(options: WriteOptions | undefined, ms: number): Promise<number[] | undefined> {
    if (options?.tags === undefined || ms <= 0) return undefined;
    const s = this.s;
    const tags = checkTags(options.tags);
    const read = runCall(s, 'getMany', undefined, async () => {
      const keys = this.keysIn(await this.scopeFor(options), tags.map(tagBody));
      return currentVersions(s.store, keys, s.now);
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Failed>((resolve) => {
      timer = setTimeout(() => resolve(FAILED), ms);
    });
    const versions = await Promise.race([read, late]);
    clearTimeout(timer);
    return versions === FAILED ? undefined : versions;
  }

  /** A write or delete of `key` is starting: a getOrSet factory running for it must not store after it. */
  supersede(key: string, options: CallOptions | undefined): void {
    const guards = this.s.guards;
    if (guards.size > 0) guards.supersede(this.slot(key, options));
  }

  supersedeMany(keys: readonly string[], options: CallOptions | undefined): void {
    if (this.s.guards.size > 0) for (const key of keys) this.supersede(key, options);
  }

  /** Around a store write: the L1 forgets the keys now, and every L1 once the write is done. */
  l1Write<T>(keys: string[], write: Promise<T>): Promise<T> {
    const l1 = this.s.l1;
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
  freshUntil(value: unknown, ttlMs: number, graceMs: number): number | undefined {
    const s = this.s;
    if (graceMs > 0) return s.now() + ttlMs;
    if (s.l1 === undefined || ttlMs === Number.POSITIVE_INFINITY) return undefined;
    return typeof value === 'number' && Number.isSafeInteger(value) ? undefined : s.now() + ttlMs;
  }

  /**
   * Waits for a write at most `ms` (what is left of the call's deadline). Past it the write
   * goes on in the background under its own deadline, and the caller gets `false` (or a
   * `StoreTimeoutError` when errors are not ignored).
   */
  within(ms: number, write: Promise<boolean>, key: string): Promise<boolean> {
    const s = this.s;
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

  body(key: string): string {
    const escaped = escapeBody(key);
    const custom = this.s.keyFunction;
    return custom === undefined ? escaped : escapeBody(custom(escaped));
  }

  bodies(keys: readonly string[]): string[] {
    if (!Array.isArray(keys)) throw new InvalidKeyError('keys must be an array of strings');
    return keys.map((key) => this.body(key));
  }

  /**
   * A store call on the stored key of `body`. The key is built when the call runs (inside
   * the deadline), synchronously unless a clear generation must be read first.
   */
  on<T>(
    body: string,
    options: CallOptions | undefined,
    call: (key: string, scope: string) => Promise<T>,
  ): () => Promise<T> {
    return () => {
      const scope = this.scopeFor(options);
      const capabilities = this.s.store.capabilities;
      if (typeof scope === 'string') return call(fitKey(scope, scope + body, capabilities), scope);
      return scope.then((resolved) => call(fitKey(resolved, resolved + body, capabilities), resolved));
    };
  }

  /**
   * The stored key of `body` less this view's scope, when the store can be called
   * synchronously for it (`Store.sync`, no version override, no clear generation to read
   * first); else `undefined`.
   */
  syncBody(body: string, options: CallOptions | undefined): string | undefined {
    if ((options !== undefined && options.version !== undefined) || this.generations.length !== 0) {
      return undefined;
    }
    return fitBody(this.scope, body, this.s.store.capabilities);
  }

  /**
   * The stored keys of a caller's `keys` less this view's scope, for a synchronous call (the
   * caller has checked there is no version override and no clear generation): `body` and
   * `syncBody` in one pass.
   */
  syncBodies(keys: readonly string[]): string[] {
    if (!Array.isArray(keys)) throw new InvalidKeyError('keys must be an array of strings');
    const scope = this.scope;
    const capabilities = this.s.store.capabilities;
    const fitted = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) fitted[i] = fitBody(scope, this.body(keys[i]!), capabilities);
    return fitted;
  }

  keysIn(scope: string, bodies: readonly string[]): string[] {
    const capabilities = this.s.store.capabilities;
    return bodies.map((body) => fitKey(scope, scope + body, capabilities));
  }

  /** A tagged entry whose tags were invalidated since it was written reads as missing. */
  screen(
    bytes: Uint8Array | undefined,
    scope: string,
  ): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    if (!isTagged(bytes)) return bytes;
    return this.screenMany([bytes], scope).then(([kept]) => kept);
  }

  async screenMany(list: (Uint8Array | undefined)[], scope: string): Promise<(Uint8Array | undefined)[]> {
    const s = this.s;
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
      (tag) => this.keysIn(scope, [tagBody(tag)])[0]!,
    );
    const kept = [...list];
    tagged.forEach(({ index }, i) => {
      if (!valid[i]) kept[index] = undefined;
    });
    return kept;
  }

  async keys(bodies: readonly string[], options: CallOptions | undefined): Promise<string[]> {
    return this.keysIn(await this.scopeFor(options), bodies);
  }

  scopeFor(options: CallOptions | undefined): string | Promise<string> {
    const s = this.s;
    let scope = this.scope;
    if (options?.version !== undefined) {
      scope = `${s.prefix}:${validateKeyPart('version', String(options.version))}:${this.namespace}`;
    }
    if (this.generations.length === 0) return scope;
    const generations = this.generations.map((generation) => generation.current());
    if (!generations.every((g) => typeof g === 'number')) {
      return Promise.all(generations).then((values) => withGenerations(scope, values));
    }
    const values = generations as number[];
    if (scope !== this.scope) return withGenerations(scope, values);
    // Generations change only on a clear: the scope built last serves until one does.
    const last = this.#generated;
    if (last?.values.every((value, i) => value === values[i])) return last.scope;
    const built = withGenerations(scope, values);
    this.#generated = { values, scope: built };
    return built;
  }

  encode(key: string, value: unknown, freshUntil?: number): Uint8Array | Failed {
    const codec = this.s.codec;
    const bytes = freshUntil === undefined ? codec.encode(value) : codec.encodeGrace(value, freshUntil);
    const { maxValueBytes } = this.s.store.capabilities;
    if (bytes.byteLength > maxValueBytes) {
      const error = new ValueTooLargeError(
        `value of ${bytes.byteLength} bytes exceeds the ${this.s.store.name} store's limit of ${maxValueBytes} bytes; enable compression, store less, or raise the store's maxValueBytes`,
        { key, store: this.s.store.name },
      );
      return fault(this.s, 'set', key, error);
    }
    return bytes;
  }

  /** A stored value (bytes, or an ASCII frame as a string of its bytes) as the caller gets it; counts the hit or miss. */
  decode<T>(key: string, bytes: Uint8Array | string | undefined): T | undefined {
    if (bytes === undefined) return this.miss(key);
    const codec = this.s.codec;
    return this.settle(key, typeof bytes === 'string' ? codec.decodeText(bytes) : codec.decode(bytes));
  }

  /** What a decoded frame means to a plain read: a value (a hit), or a miss. */
  settle<T>(key: string, decoded: unknown): T | undefined {
    const s = this.s;
    let value = decoded;
    // Reads screen tagged entries before they get here: one that arrives is still valid.
    if (value instanceof TaggedEntry) value = value.value;
    if (value instanceof GraceEntry) {
      // Past its TTL, a value kept for its grace period is a miss to a plain read.
      if (s.now() >= value.freshUntil) return this.miss(key);
      value = value.value;
    }
    if (value === CORRUPT) {
      s.stats.corrupt++;
      s.log.warn(
        'corrupt',
        { key, store: s.store.name },
        'a stored value could not be decoded; treated as a miss',
      );
      return this.miss(key);
    }
    if (value === STALE_SCHEMA) return this.miss(key);
    s.stats.hits++;
    if (s.emitter.listeners.hit.length > 0) s.emitter.emit('hit', { key });
    return value as T;
  }

  miss(key: string): undefined {
    const s = this.s;
    s.stats.misses++;
    if (s.emitter.listeners.miss.length > 0) s.emitter.emit('miss', { key });
    return undefined;
  }

  wrote(key: string, stored: boolean): boolean {
    if (!stored) return false;
    const s = this.s;
    s.stats.sets++;
    if (s.emitter.listeners.set.length > 0) s.emitter.emit('set', { key });
    return true;
  }

  deleted(key: string): void {
    const s = this.s;
    s.stats.deletes++;
    if (s.emitter.listeners.delete.length > 0) s.emitter.emit('delete', { key });
  }
}

/** `scope` followed by its clear generations' segment: 'g', the generations joined by '.', ':'. */
function withGenerations(scope: string, values: readonly number[]): string {
  return `${scope}g${values.map(generationToken).join('.')}:`;
}

const TOKEN_DIGITS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_~';

/**
 * A generation in base 64: a clock-seeded one (milliseconds) takes 7 characters of every key,
 * one fewer than base 36, which on memcached keeps a small item in its slab class. A negative
 * one (only from a tampered generation key) takes a '-' in front.
 */
export function generationToken(value: number): string {
  if (value < 0) return `-${generationToken(-value)}`;
  let rest = value;
  let token = '';
  do {
    token = TOKEN_DIGITS[rest % 64] + token;
    rest = Math.floor(rest / 64);
  } while (rest > 0);
  return token;
}

export function isTagged(bytes: Uint8Array | undefined): bytes is Uint8Array {
  return bytes !== undefined && bytes[0] === TAGGED_HEADER;
}

/** `isTagged` for a frame from `Store.sync`, which may come as a string of its bytes. */
export function isTaggedFrame(frame: Uint8Array | string | undefined): boolean {
  return typeof frame === 'string' ? frame.charCodeAt(0) === TAGGED_HEADER : isTagged(frame);
}

/** A frame from `Store.sync` as bytes: an ASCII frame comes as a string of its bytes. */
export function frameBytes(frame: Uint8Array | string | undefined): Uint8Array | undefined {
  return typeof frame === 'string' ? Buffer.from(frame, 'latin1') : frame;
}
