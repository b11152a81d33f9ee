import { createHash } from 'node:crypto';
import {
  type Cache,
  Cache as CacheClass,
  CacheConfigError,
  checkOptions,
  parseTtl,
  type Ttl,
} from '@larder/core';
import session from 'express-session';
import { SessionStoreError } from './errors.js';

type SessionData = session.SessionData;
type Callback<T = unknown> = (error?: unknown, value?: T) => void;

/** Options of `LarderSessionStore`. */
export interface LarderSessionStoreOptions {
  /**
   * Where sessions live. Give it a cache made with `ignoreErrors: false` so a read failure is an
   * error rather than a missing session; writes fail loudly either way. Required.
   */
  cache: Cache;
  /**
   * A second cache (e.g. on the Postgres store) written through on every change and read when
   * the first misses or fails, as Django's `cached_db` engine: a cache restart logs no one out.
   * @default none
   */
  durable?: Cache;
  /** Session lifetime when the cookie has neither `maxAge` nor `expires`. @default '1h' */
  ttl?: Ttl;
  /** Never extend a session's lifetime on reads (`touch` does nothing), as connect-redis's option. @default false */
  disableTouch?: boolean;
  /** Namespace of the session keys in both caches. @default 'sessions' */
  namespace?: string;
}

/** What is stored per session: the id (the key is its hash) and the data. */
interface Record {
  sid: string;
  data: SessionData;
}

/**
 * An express-session `Store` (works with @fastify/session too) over any Larder backend.
 * Keys are hashes of the session ids, so ids never reach a log line or an error; a failed
 * write reaches express-session's callback as a `SessionStoreError`, never a silent `false`.
 */
export class LarderSessionStore extends session.Store {
  readonly #cache: Cache;
  readonly #durable: Cache | undefined;
  readonly #ttlMs: number;
  readonly #disableTouch: boolean;

  constructor(options: LarderSessionStoreOptions) {
    super();
    const isCache = {
      accepts: 'a Larder Cache (createCache())',
      check: (value: unknown) => value instanceof CacheClass,
    };
    checkOptions('LarderSessionStore', options, {
      cache: isCache,
      durable: isCache,
      ttl: ['number', 'string'],
      disableTouch: 'boolean',
      namespace: 'string',
    });
    if (options?.cache === undefined) {
      throw new CacheConfigError(
        'LarderSessionStore option cache is required: pass { cache: createCache({ store }) }',
      );
    }
    const namespace = options.namespace ?? 'sessions';
    this.#cache = options.cache.namespace(namespace);
    this.#durable = options.durable?.namespace(namespace);
    this.#ttlMs = parseTtl(options.ttl ?? '1h', 'LarderSessionStore option ttl');
    if (this.#ttlMs === 0 || this.#ttlMs === Number.POSITIVE_INFINITY) {
      throw new CacheConfigError(
        "LarderSessionStore option ttl must be a positive, finite duration such as '1h'",
      );
    }
    this.#disableTouch = options.disableTouch ?? false;
  }

  override get(sid: string, callback: Callback<SessionData | null>): void {
    settle(this.#get(sid), 'read', callback);
  }

  override set(sid: string, data: SessionData, callback?: Callback): void {
    settle(this.#set(sid, data), 'write', callback);
  }

  override destroy(sid: string, callback?: Callback): void {
    settle(this.#destroy(sid), 'delete', callback);
  }

  override touch(sid: string, data: SessionData, callback?: Callback): void {
    if (this.#disableTouch) {
      callback?.();
      return;
    }
    settle(this.#touch(sid, data), 'touch', callback);
  }

  /** Every live session by id; needs a store that can list keys (not memcached). */
  override all(callback: Callback<{ [sid: string]: SessionData }>): void {
    settle(this.#all(), 'list', callback);
  }

  /** How many live sessions there are; needs a store that can list keys. */
  override length(callback: Callback<number>): void {
    settle(
      this.#records().then((records) => records.length),
      'list',
      callback,
    );
  }

  /** The ids of the live sessions; needs a store that can list keys. */
  ids(callback: Callback<string[]>): void {
    settle(
      this.#records().then((records) => records.map((record) => record.sid)),
      'list',
      callback,
    );
  }

  /** Removes every session (both caches). */
  override clear(callback?: Callback): void {
    settle(
      (async () => {
        await Promise.all([
          clearOrThrow(this.#cache),
          this.#durable ? clearOrThrow(this.#durable) : undefined,
        ]);
      })(),
      'clear',
      callback,
    );
  }

  async #get(sid: string): Promise<SessionData | null> {
    const key = keyOf(sid);
    let record: Record | undefined;
    let failure: unknown;
    try {
      record = asRecord(await this.#cache.get(key), sid);
    } catch (error) {
      if (this.#durable === undefined) throw error;
      failure = error;
    }
    if (record === undefined && this.#durable !== undefined) {
      record = asRecord(await this.#durable.get(key), sid);
      if (record !== undefined && failure === undefined) {
        // Refill the first cache after its restart; best effort, the durable copy answers anyway.
        const ttlMs = this.#ttlFor(record.data);
        if (ttlMs > 0) await this.#cache.set(key, record, { ttl: ttlMs }).catch(() => false);
      }
    }
    if (record === undefined) return null;
    if (this.#ttlFor(record.data) <= 0) return null;
    return record.data;
  }

  async #set(sid: string, data: SessionData): Promise<void> {
    const key = keyOf(sid);
    const ttlMs = this.#ttlFor(data);
    if (ttlMs <= 0) {
      await this.#destroy(sid);
      return;
    }
    // A JSON round trip turns the Session and Cookie instances into plain data.
    const record: Record = { sid, data: JSON.parse(JSON.stringify(data)) };
    if (this.#durable === undefined) {
      await setOrThrow(this.#cache, key, record, ttlMs);
      return;
    }
    // The durable copy is the one that must hold; the first cache is refilled on the next read.
    const [first, durable] = await Promise.allSettled([
      setOrThrow(this.#cache, key, record, ttlMs),
      setOrThrow(this.#durable, key, record, ttlMs),
    ]);
    if (durable.status === 'rejected') throw durable.reason;
    if (first.status === 'rejected') await this.#cache.delete(key).catch(() => false);
  }

  async #destroy(sid: string): Promise<void> {
    const key = keyOf(sid);
    // Both deletes must reach their server: a logout that silently left a live copy would not be one.
    await Promise.all([
      deleteOrThrow(this.#cache, key),
      this.#durable ? deleteOrThrow(this.#durable, key) : undefined,
    ]);
  }

  async #touch(sid: string, data: SessionData): Promise<void> {
    const key = keyOf(sid);
    const ttlMs = this.#ttlFor(data);
    if (ttlMs <= 0) return this.#destroy(sid);
    const touched = await this.#cache.touch(key, { ttl: ttlMs });
    // Gone from the first cache (a restart) but still in use: write it back whole.
    if (!touched) return this.#set(sid, data);
    if (this.#durable !== undefined && !(await this.#durable.touch(key, { ttl: ttlMs }))) {
      await this.#set(sid, data);
    }
  }

  async #all(): Promise<{ [sid: string]: SessionData }> {
    const out: { [sid: string]: SessionData } = {};
    for (const record of await this.#records()) out[record.sid] = record.data;
    return out;
  }

  async #records(): Promise<Record[]> {
    const source = this.#durable ?? this.#cache;
    const keys: string[] = [];
    for await (const key of source.keys()) keys.push(key);
    const records: Record[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      const values = await source.getMany(keys.slice(i, i + 100));
      for (const value of values) {
        const record = asRecord(value, undefined);
        if (record !== undefined && this.#ttlFor(record.data) > 0) records.push(record);
      }
    }
    return records;
  }

  /** Remaining life from the cookie (`expires`, else `maxAge`), else the store's ttl. */
  #ttlFor(data: SessionData | undefined): number {
    const cookie = data?.cookie as { expires?: Date | string | null; maxAge?: number | null } | undefined;
    if (cookie?.expires) {
      const expires = new Date(cookie.expires).getTime();
      if (Number.isFinite(expires)) return Math.max(0, Math.ceil(expires - Date.now()));
    }
    if (typeof cookie?.maxAge === 'number') return Math.max(0, Math.ceil(cookie.maxAge));
    return this.#ttlMs;
  }
}

/** The cache key of a session: a hash, so the id itself never reaches the cache, its logs or its errors. */
function keyOf(sid: string): string {
  if (typeof sid !== 'string' || sid === '')
    throw new CacheConfigError('a session id must be a non-empty string');
  return createHash('sha256').update(sid).digest('base64url');
}

function asRecord(value: unknown, sid: string | undefined): Record | undefined {
  const record = value as Record | undefined;
  if (typeof record !== 'object' || record === null || typeof record.sid !== 'string') return undefined;
  if (typeof record.data !== 'object' || record.data === null) return undefined;
  // A hash collision is out of reach, but a record for another id is never handed out.
  if (sid !== undefined && record.sid !== sid) return undefined;
  return record;
}

async function setOrThrow(cache: Cache, key: string, record: Record, ttlMs: number): Promise<void> {
  if (!(await cache.set(key, record, { ttl: ttlMs }))) {
    throw new SessionStoreError('write', undefined);
  }
}

async function deleteOrThrow(cache: Cache, key: string): Promise<void> {
  const before = cache.stats().errors;
  await cache.delete(key);
  // Under ignoreErrors a failed delete reads as "nothing removed"; the error counter tells them apart.
  if (cache.stats().errors > before) throw new SessionStoreError('delete', undefined);
}

async function clearOrThrow(cache: Cache): Promise<void> {
  if (!(await cache.clear())) throw new SessionStoreError('clear', undefined);
}

/** Hands a result to a callback; every failure becomes a `SessionStoreError` without the session id. */
function settle<T>(work: Promise<T>, operation: string, callback: Callback<T> | undefined): void {
  work.then(
    (value) => callback?.(null, value),
    (error: unknown) => {
      const wrapped =
        error instanceof SessionStoreError || error instanceof CacheConfigError
          ? error
          : new SessionStoreError(operation, error);
      if (callback) callback(wrapped);
      else
        queueMicrotask(() => {
          throw wrapped;
        });
    },
  );
}
