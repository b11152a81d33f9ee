/** What a backend declares about itself; the cache reads these instead of guessing. */
export interface StoreCapabilities {
  /** Smallest TTL step the server honours, in ms (1 for Redis, 1000 for memcached). */
  readonly ttlGranularityMs: number;
  /** Longest key, in UTF-8 bytes, the store accepts. Longer keys are hashed by the cache. */
  readonly maxKeyBytes: number;
  /** Characters the store cannot hold in a key (memcached: whitespace and control characters). Such keys are hashed. */
  readonly forbiddenKeyChars?: RegExp;
  /** Largest value, in bytes, the store accepts (the framed bytes the cache hands over). */
  readonly maxValueBytes: number;
  /**
   * `'prefix'`: `clear(prefix)` removes exactly the keys under a prefix.
   * `'none'`: the server cannot enumerate keys; the cache clears by bumping a generation instead.
   */
  readonly clearScope: 'prefix' | 'none';
  /** `incr` is one atomic server-side operation (across processes, not only in this one). */
  readonly atomicIncr: boolean;
  /** `ttl()` is answered by the server itself rather than from data kept beside the value. */
  readonly nativeTtl: boolean;
  /**
   * Every call does its work synchronously in this process and settles without waiting for
   * I/O or timers (MemoryStore, SQLite). No timer could fire before such a call settles, so
   * the cache arms no deadline for it.
   * @default false
   */
  readonly inProcess?: boolean;
  /**
   * The store can list its live keys under a prefix (`keys()`): Redis SCAN, a SQL SELECT,
   * MemoryStore iteration. memcached cannot.
   * @default false
   */
  readonly listKeys?: boolean;
}

/** What `info()` reports; every field is optional because not every server knows every figure. */
export interface StoreInfo {
  /** Bytes the cache data uses on the server. */
  bytesUsed?: number;
  /** The server's memory or size limit in bytes, when it has one. */
  byteLimit?: number;
  /** Number of items stored. */
  items?: number;
  /** Items the server evicted to make room. */
  evictions?: number;
  /** The server's eviction policy (`allkeys-lru`, `lru`, `cull`, ...). */
  evictionPolicy?: string;
  /** Server version, read from the server. */
  serverVersion?: string;
  /** Connections this client holds open to the server (a pool's total). */
  connections?: number;
  /** The most connections the server (or this client's pool) accepts. */
  maxConnections?: number;
  /** Callers waiting for a pooled connection right now (pg pool `waitingCount`). */
  connectionWaiters?: number;
  /** Connections the server refused since it started (Redis `rejected_connections`, memcached `listen_disabled_num`). */
  rejectedConnections?: number;
  /** Reads the server answered with a value, since it started (Redis `keyspace_hits`, memcached `get_hits`). */
  serverHits?: number;
  /** Reads the server answered as a miss, since it started. */
  serverMisses?: number;
  /** Backend-specific extras. */
  [extra: string]: unknown;
}

/** One entry for `setMany`. `ttlMs` follows the same rules as `set`. */
export interface StoreEntry {
  key: string;
  value: Uint8Array;
  ttlMs: number;
}

/**
 * The wire contract every backend implements. Keys are final strings built by the cache;
 * values are bytes. TTLs are milliseconds, positive and finite, or `Infinity` for a key
 * without expiry (only ever sent when the cache was configured with `allowNoExpiry`).
 * A store never serializes, never swallows an error and never invents a TTL.
 */
export interface Store {
  /** Short backend name used in errors, logs and stats (`'redis'`, `'memory'`, ...). */
  readonly name: string;
  readonly capabilities: StoreCapabilities;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Values in the order of `keys`; `undefined` for a missing key. */
  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  set(key: string, value: Uint8Array, ttlMs: number): Promise<void>;
  setMany(entries: readonly StoreEntry[]): Promise<void>;
  /** Atomic set-if-absent (an expired entry counts as absent). Resolves whether it stored. */
  add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean>;
  /** Resolves whether a live entry was removed. */
  delete(key: string): Promise<boolean>;
  /** Resolves how many live entries were removed. */
  deleteMany(keys: readonly string[]): Promise<number>;
  has(key: string): Promise<boolean>;
  /**
   * Adds `delta` to the integer stored as ASCII decimal under `key` and resolves the new value.
   * A missing key starts at 0 and gets `ttlMs`; an existing key keeps its expiry.
   * A value that is not an integer rejects with `NotIntegerError`.
   */
  incr(key: string, delta: number, ttlMs: number): Promise<number>;
  /** Sets a new TTL on a live entry; resolves whether the entry existed. */
  touch(key: string, ttlMs: number): Promise<boolean>;
  /** Remaining life in ms, `Infinity` for no expiry, `undefined` when the key is missing. */
  ttl(key: string): Promise<number | undefined>;
  /** Removes every key that starts with `prefix` (and only those). */
  clear(prefix: string): Promise<void>;
  info(): Promise<StoreInfo>;
  /**
   * The live keys that start with `prefix`, in no particular order, as they are found (a
   * store pages through them; it never loads the whole key space at once). Present only
   * when `capabilities.listKeys` is true.
   */
  keys?(prefix: string): AsyncIterable<string>;
  /**
   * The hot calls without a promise, for a store whose calls finish in this process before they
   * return (`capabilities.inProcess`). The cache then answers a call with one promise.
   */
  readonly sync?: SyncStoreCalls;
  /** Releases connections and timers the store owns. Idempotent. */
  close(): Promise<void>;
}

/**
 * Synchronous forms of a store's hot calls: same meaning, but they return or throw where the
 * async calls resolve or reject. A key comes in two parts, its scope and its body (the key is
 * `scope + body`, and `scopeLength(scope + body) === scope.length`), so the cache never builds
 * it. A value comes back as a fresh copy of its bytes, or, when every byte is ASCII, as a
 * string of those bytes (one character per byte).
 */
export interface SyncStoreCalls {
  get(scope: string, body: string): Uint8Array | string | undefined;
  getMany(scope: string, bodies: readonly string[]): (Uint8Array | string | undefined)[];
  set(scope: string, body: string, value: Uint8Array, ttlMs: number): void;
  /** Stores `values[i]` under each of `bodies[i]`, all or nothing (every size is checked first). */
  setMany(scope: string, bodies: readonly string[], values: readonly Uint8Array[], ttlMs: number): void;
  /** Stores the value made of the byte `header` (when given) followed by `text` in UTF-8. */
  setText(scope: string, body: string, header: number | undefined, text: string, ttlMs: number): void;
  incr(scope: string, body: string, delta: number, ttlMs: number): number;
}
