import { EventEmitter } from 'node:events';
import {
  Cache,
  type CacheOptions,
  checkOptions,
  createCache,
  type Store,
  type WriteOptions,
} from '@larder/core';

/** What a write without a TTL means. */
export type NoTtl = 'default' | 'never';

/** Options for `LarderKeyvStore`. */
export interface LarderKeyvStoreOptions {
  /**
   * A write without a TTL (Keyv's "forever", cache-manager's default): `'default'` gives it the
   * cache's `defaultTtl` (one hour unless you set another), so nothing lives forever by
   * accident; `'never'` stores it without expiry, which needs a cache with `allowNoExpiry: true`
   * (set for you when the adapter builds the cache from a `Store`). @default 'default'
   */
  noTtl?: NoTtl;
  /** Cache options used when the adapter is given a `Store` and builds the cache itself. @default {} */
  cache?: Omit<CacheOptions, 'store'>;
}

const spec = {
  noTtl: {
    accepts: "'default' or 'never'",
    check: (value: unknown) => value === 'default' || value === 'never',
  },
  cache: 'object',
} as const;

/** A value as Keyv hands it to a store: its serialized string, or the raw object. */
type StoredValue = unknown;

/**
 * A Keyv 5 storage adapter over a Larder `Cache` (or a `Store`, wrapped in a new cache), so
 * Keyv, cache-manager 7 and NestJS's CacheModule run on any Larder backend with Larder's keys,
 * TTL policy, error policy and stats. Keyv's namespace becomes a Larder namespace
 * (`prefix:version:@namespace:key`), so `clear()` clears that namespace only. Keys are passed
 * through unchanged: build the Keyv with `useKeyPrefix: false` (as `createKeyv` does) or Keyv
 * adds its own `namespace:` in front of every key as well.
 */
export class LarderKeyvStore extends EventEmitter {
  /** The options Keyv reads back (`noTtl`). */
  readonly opts: { noTtl: NoTtl };
  /** The cache writes go to, before Keyv's namespace is applied. */
  readonly cache: Cache;
  readonly #owned: boolean;
  #namespace: string | undefined;
  #target: Cache;

  constructor(cacheOrStore: Cache | Store, options: LarderKeyvStoreOptions = {}) {
    super();
    checkOptions('LarderKeyvStore', options, spec);
    const noTtl = options.noTtl ?? 'default';
    this.opts = { noTtl };
    if (cacheOrStore instanceof Cache) {
      this.cache = cacheOrStore;
      this.#owned = false;
    } else {
      const allowNoExpiry = noTtl === 'never' ? true : options.cache?.allowNoExpiry;
      this.cache = createCache({ ...options.cache, allowNoExpiry, store: cacheOrStore });
      this.#owned = true;
    }
    this.#target = this.cache;
  }

  /** Keyv sets this to its namespace; writes then go to the Larder namespace of that name. */
  get namespace(): string | undefined {
    return this.#namespace;
  }

  set namespace(name: string | undefined) {
    this.#namespace = name;
    this.#target = name ? this.cache.namespace(name) : this.cache;
  }

  get<Value>(key: string): Promise<Value | undefined> {
    return this.#target.get<Value>(key);
  }

  getMany<Value>(keys: string[]): Promise<(Value | undefined)[]> {
    return this.#target.getMany<Value>(keys);
  }

  /** `ttl` in ms from Keyv; undefined (or 0, which Keyv turns into undefined) follows `noTtl`. */
  set(key: string, value: StoredValue, ttl?: number): Promise<boolean> {
    return this.#target.set(key, value, this.#ttl(ttl));
  }

  delete(key: string): Promise<boolean> {
    return this.#target.delete(key);
  }

  /** True when at least one of the keys was removed. */
  async deleteMany(keys: string[]): Promise<boolean> {
    return (await this.#target.deleteMany(keys)) > 0;
  }

  has(key: string): Promise<boolean> {
    return this.#target.has(key);
  }

  hasMany(keys: string[]): Promise<boolean[]> {
    return Promise.all(keys.map((key) => this.#target.has(key)));
  }

  /** Clears Keyv's namespace; without one, everything under the cache's prefix. */
  async clear(): Promise<void> {
    await this.#target.clear();
  }

  /** Closes the cache the adapter built from a `Store`; a `Cache` you passed in stays open (yours to close). */
  async disconnect(): Promise<void> {
    if (this.#owned) await this.cache.close();
  }

  #ttl(ttl: number | undefined): WriteOptions | undefined {
    if (typeof ttl === 'number' && ttl > 0) return { ttl };
    return this.opts.noTtl === 'never' ? { ttl: 'never' } : undefined;
  }
}
