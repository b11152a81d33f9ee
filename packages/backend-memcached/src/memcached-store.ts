import { CacheClosedError, CacheConfigError, NotIntegerError, ValueTooLargeError } from '@larder/core';
import type { Store, StoreCapabilities, StoreEntry, StoreInfo } from '@larder/core/store-kit';
import { Connection, type MemjsClient } from './connection.js';
import {
  decodeCounter,
  encodeCounter,
  parseCounter,
  readCounter,
  sumIsSafe,
  unsafeCounter,
} from './counters.js';
import { CAS_ATTEMPTS, NAME, raceLost, statusError } from './errors.js';
import { type Expiry, expiryOf, keptExpiry, remainingMs } from './expiry.js';
import { GetBatcher, type Hit, toHit } from './get-batch.js';
import { checkKey, encodeKey, FORBIDDEN_KEY_CHARS } from './keys.js';
import { type MemcachedStoreOptions, memcachedSettings } from './options.js';
import {
  encodeRequest,
  incrementExtras,
  MAX_KEY_BYTES,
  NO_CREATE,
  Opcode,
  Status,
  storageExtras,
  touchExtras,
} from './protocol.js';
import { SetBatcher } from './set-batch.js';

export type { MemjsClient } from './connection.js';
export type { MemcachedStoreOptions } from './options.js';

/**
 * Larder's memcached backend over memjs (binary protocol). Keys must fit memcached (≤ 250
 * bytes, no whitespace or control characters: the cache hashes those that do not); values
 * over `maxValueBytes` are refused before any byte is sent. The expiry of every item is kept in
 * its flags so `ttl()` can answer; memcached cannot enumerate keys, so the cache clears by
 * bumping a generation and `clear(prefix)` throws.
 */
export class MemcachedStore implements Store {
  readonly name = NAME;
  readonly capabilities: StoreCapabilities;
  /** The memjs client. The store may replace entries of `client.servers` when a connection is rebuilt. */
  readonly client: MemjsClient;
  readonly #owned: boolean;
  readonly #now: () => number;
  readonly #wire: Connection;
  /** Reads of one tick, batched per server, so a batch never waits on, or fails with, another server. */
  readonly #gets: GetBatcher;
  readonly #sets: SetBatcher;
  #closed = false;

  constructor(options: MemcachedStoreOptions | MemjsClient = {}) {
    const settings = memcachedSettings(options);
    this.#now = settings.now;
    this.capabilities = {
      ttlGranularityMs: 1000,
      maxKeyBytes: MAX_KEY_BYTES,
      forbiddenKeyChars: FORBIDDEN_KEY_CHARS,
      maxValueBytes: settings.maxValueBytes,
      clearScope: 'none',
      atomicIncr: true,
      nativeTtl: false,
      listKeys: false,
    };
    this.client = settings.client;
    this.#owned = settings.owned;
    this.#wire = new Connection(settings.client, settings.timeoutMs);
    this.#sets = new SetBatcher(this.#wire, settings.maxBatch);
    this.#gets = new GetBatcher(this.#wire, settings.maxBatch);
  }

  /** Logs and crash reports show the servers, never the client (its servers hold the SASL password). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `MemcachedStore { servers: '${this.#wire.endpoints.join(',')}', closed: ${this.#closed} }`;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, servers: this.#wire.endpoints, closed: this.#closed };
  }

  toString(): string {
    return `MemcachedStore(${this.#wire.endpoints.join(',')})`;
  }

  // get, has and ttl are not `async`: a promise and its hops fewer per read, on the hottest path.
  get(key: string): Promise<Uint8Array | undefined> {
    return this.#read(key, bytesOf);
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen();
    for (const key of keys) checkKey(key);
    this.#sets.before(keys);
    if (keys.length === 0) return [];
    return (await this.#fetch(keys)).map((hit) => (hit === undefined ? undefined : decodeCounter(hit.value)));
  }

  /** Sets issued in the same tick go to each server as one quiet multi-set; each caller gets its own result. */
  set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    try {
      this.#checkOpen();
      const keyBytes = encodeKey(key);
      this.#checkValue(value, key);
      const { flags, exptime } = this.#expiry(ttlMs);
      return this.#sets.set({ key, keyBytes, value, flags, exptime });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    this.#checkOpen();
    const prepared = entries.map(({ key, value, ttlMs }) => {
      const keyBytes = encodeKey(key);
      this.#checkValue(value, key);
      return { key, keyBytes, value, ...this.#expiry(ttlMs) };
    });
    if (prepared.length === 0) return;
    this.#sets.before(entries.map((e) => e.key));
    if (prepared.length === 1) {
      const only = entries[0]!;
      return this.set(only.key, only.value, only.ttlMs);
    }
    await this.#wire.pipeline(
      prepared,
      {
        opcode: Opcode.setq,
        extrasBytes: 8,
        extras: (e) => storageExtras(e.flags, e.exptime),
        value: (e) => e.value,
      },
      () => (response) =>
        response.header.opcode === Opcode.noop
          ? { value: undefined }
          : { error: statusError('setMany', response, undefined) },
    );
  }

  async add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    this.#sets.before(key);
    this.#checkValue(value, key);
    return this.#add('add', key, keyBytes, value, this.#expiry(ttlMs));
  }

  async delete(key: string): Promise<boolean> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    this.#sets.before(key);
    return this.#wire.request(
      'delete',
      key,
      encodeRequest(Opcode.delete, keyBytes, 0, undefined, undefined, 0),
      (status) => {
        if (status === Status.ok) return { value: true };
        if (status === Status.notFound) return { value: false };
        return undefined;
      },
    );
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    this.#checkOpen();
    const prepared = keys.map((key) => ({ key, keyBytes: encodeKey(key) }));
    if (prepared.length === 0) return 0;
    this.#sets.before(keys);
    const counts = await this.#wire.pipeline<{ key: string; keyBytes: Buffer }, number>(
      prepared,
      { opcode: Opcode.deleteq, extrasBytes: 0 },
      (group) => {
        let missing = 0;
        // DELETEQ answers only misses and errors; the NOOP marks the end of the batch.
        return (response) => {
          const { opcode, status } = response.header;
          if (opcode === Opcode.noop) return { value: group.length - missing };
          if (status === Status.notFound) {
            missing++;
            return undefined;
          }
          return { error: statusError('deleteMany', response, undefined) };
        };
      },
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  has(key: string): Promise<boolean> {
    return this.#read(key, isHit);
  }

  /**
   * memcached's own `increment`: one round trip, atomic across processes, for any delta. A
   * negative delta is sent as its 64-bit two's complement, which memcached's wrapping unsigned
   * arithmetic turns into a subtraction; a counter below zero therefore sits on the server as
   * 2^64 - n, and reads turn it back into "-n". A missing key is created with `add`, so it
   * carries its expiry in the flags like every other item. Integers written by `set` as "-n"
   * (which memcached cannot increment) go through a compare-and-swap loop once. A result
   * past ±(2^53 - 1) is taken back at once (the opposite increment) and rejected, so the
   * stored counter is left as it was and stays readable.
   */
  async incr(key: string, delta: number, ttlMs: number): Promise<number> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    this.#sets.before(key);
    if (!Number.isSafeInteger(delta)) {
      throw new NotIntegerError(`incr delta must be a safe integer, got ${delta}`, { key, store: NAME });
    }
    const expiry = this.#expiry(ttlMs);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const outcome = await this.#increment(key, keyBytes, delta);
      if (typeof outcome === 'bigint') {
        if (sumIsSafe(outcome, 0)) return Number(outcome);
        await this.#increment(key, keyBytes, -delta);
        throw unsafeCounter(key);
      }
      if (outcome === 'not-a-number') return this.#incrByCas(key, keyBytes, delta, expiry);
      if (await this.#add('incr', key, keyBytes, encodeCounter(delta), expiry)) return delta;
      // Another caller created the key between our increment and add: increment it now.
    }
    throw raceLost('incr', key);
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    this.#sets.before(key);
    const expiry = this.#expiry(ttlMs);
    // memcached's TOUCH cannot update the flags that hold the expiry, so the item is rewritten
    // with compare-and-swap: a concurrent write is never overwritten with the older value.
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const hit = await this.#getOne('touch', key, keyBytes);
      if (hit === undefined) return false;
      const status = await this.#casSet('touch', key, keyBytes, hit.value, expiry, hit.cas);
      if (status === Status.ok) return true;
      if (status === Status.notFound) return false;
    }
    // Under a storm of writes, fall back to the native TOUCH: the expiry is right, ttl() may lag.
    return this.#wire.request(
      'touch',
      key,
      encodeRequest(Opcode.touch, keyBytes, 4, touchExtras(expiry.exptime), undefined, 0),
      (status) => {
        if (status === Status.ok) return { value: true };
        if (status === Status.notFound) return { value: false };
        return undefined;
      },
    );
  }

  /**
   * Remaining life from the expiry this store keeps in the item flags. An item written by
   * another client (flags 0) has no known expiry and reports `Infinity`.
   */
  ttl(key: string): Promise<number | undefined> {
    return this.#read(key, (hit) => (hit === undefined ? undefined : remainingMs(hit.flags, this.#now())));
  }

  /** memcached cannot list keys, so it cannot clear a prefix; the cache bumps a generation instead. */
  async clear(prefix: string): Promise<void> {
    throw new CacheConfigError(
      `memcached cannot clear by prefix ("${prefix}"): it cannot enumerate keys. The cache clears memcached by bumping a generation (clearScope 'none'); this store never flushes the server`,
      { store: NAME },
    );
  }

  /** Sums the servers' `stats`; figures a server does not report stay undefined. */
  async info(): Promise<StoreInfo> {
    this.#checkOpen();
    const perServer = await this.#wire.stats();
    const sum = (field: string): number | undefined => {
      let total: number | undefined;
      for (const stats of perServer) {
        const value = Number(stats[field]);
        if (stats[field] !== undefined && Number.isFinite(value)) total = (total ?? 0) + value;
      }
      return total;
    };
    return {
      bytesUsed: sum('bytes'),
      byteLimit: sum('limit_maxbytes'),
      items: sum('curr_items'),
      evictions: sum('evictions'),
      evictionPolicy: 'lru',
      serverVersion: perServer[0]?.version ?? 'unknown',
      connections: sum('curr_connections'),
      maxConnections: sum('max_connections'),
      rejectedConnections: sum('listen_disabled_num'),
      serverHits: sum('get_hits'),
      serverMisses: sum('get_misses'),
      currConnections: sum('curr_connections'),
      servers: perServer.length,
    };
  }

  /** Drops the connections of a client this store created; a client passed in is left open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#gets.close(new CacheClosedError('the memcached store was closed', { store: NAME }));
    this.#wire.close(this.#owned);
  }

  /** A read in this tick's batch; what the caller gets is `pick` of the hit or miss. */
  #read<T>(key: string, pick: (hit: Hit | undefined) => T): Promise<T> {
    try {
      this.#checkOpen();
      checkKey(key);
      this.#sets.before(key);
      return this.#gets.get(key, this.#wire.indexFor(key), pick);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new CacheClosedError('this MemcachedStore is closed', { store: NAME });
  }

  #checkValue(value: Uint8Array, key: string): void {
    const max = this.capabilities.maxValueBytes;
    if (value.byteLength > max) {
      throw new ValueTooLargeError(
        `value of ${value.byteLength} bytes exceeds memcached's item size limit (this store takes at most ${max} bytes per value); raise the server's -I and the store's itemSizeMax, or enable compression`,
        { key, store: NAME },
      );
    }
  }

  #expiry(ttlMs: number): Expiry {
    return expiryOf(ttlMs, this.#now());
  }

  /** The native increment: the new value, or why there is none. */
  #increment(key: string, keyBytes: Buffer, delta: number): Promise<bigint | 'missing' | 'not-a-number'> {
    const amount = BigInt.asUintN(64, BigInt(delta));
    return this.#wire.request<bigint | 'missing' | 'not-a-number'>(
      'incr',
      key,
      encodeRequest(Opcode.increment, keyBytes, 20, incrementExtras(amount, NO_CREATE), undefined, 0),
      (status, response) => {
        if (status === Status.ok) return { value: readCounter(response.val) };
        if (status === Status.notFound) return { value: 'missing' };
        if (status === Status.nonNumeric) return { value: 'not-a-number' };
        return undefined;
      },
    );
  }

  async #incrByCas(key: string, keyBytes: Buffer, delta: number, expiry: Expiry): Promise<number> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const hit = await this.#getOne('incr', key, keyBytes);
      if (hit === undefined) {
        if (await this.#add('incr', key, keyBytes, encodeCounter(delta), expiry)) return delta;
        continue;
      }
      const counter = parseCounter(hit.value);
      if (counter === undefined) {
        throw new NotIntegerError('the value under this key is not an integer; incr needs one', {
          key,
          store: NAME,
        });
      }
      if (!sumIsSafe(counter, delta)) throw unsafeCounter(key);
      const next = Number(counter) + delta;
      const kept = keptExpiry(hit.flags, expiry, this.#now());
      const status = await this.#casSet('incr', key, keyBytes, encodeCounter(next), kept, hit.cas);
      if (status === Status.ok) return next;
    }
    throw raceLost('incr', key);
  }

  #add(
    operation: string,
    key: string,
    keyBytes: Buffer,
    value: Uint8Array,
    expiry: Expiry,
  ): Promise<boolean> {
    return this.#wire.request(
      operation,
      key,
      encodeRequest(Opcode.add, keyBytes, 8, storageExtras(expiry.flags, expiry.exptime), value, 0),
      (status) => {
        if (status === Status.ok) return { value: true };
        if (status === Status.exists || status === Status.notStored) return { value: false };
        return undefined;
      },
    );
  }

  /** A set that only succeeds while the item is unchanged; resolves the status (ok, exists, notFound). */
  #casSet(
    operation: string,
    key: string,
    keyBytes: Buffer,
    value: Uint8Array,
    expiry: Expiry,
    cas: Buffer,
  ): Promise<number> {
    return this.#wire.request(
      operation,
      key,
      encodeRequest(Opcode.set, keyBytes, 8, storageExtras(expiry.flags, expiry.exptime), value, 0, cas),
      (status) =>
        status === Status.ok || status === Status.exists || status === Status.notFound
          ? { value: status }
          : undefined,
    );
  }

  #getOne(operation: string, key: string, keyBytes: Buffer): Promise<Hit | undefined> {
    return this.#wire.request(
      operation,
      key,
      encodeRequest(Opcode.get, keyBytes, 0, undefined, undefined, 0),
      (status, response) => {
        if (status === Status.ok) return { value: toHit(response) };
        if (status === Status.notFound) return { value: undefined };
        return undefined;
      },
    );
  }

  /** Reads keys for getMany: one GET for one key, else GETKQ… + NOOP per server. */
  async #fetch(keys: readonly string[]): Promise<(Hit | undefined)[]> {
    if (keys.length === 1) {
      const key = keys[0]!;
      return [await this.#getOne('get', key, Buffer.from(key))];
    }
    const found = new Map<string, Hit>();
    const prepared = keys.map((key) => ({ key, keyBytes: Buffer.from(key) }));
    await this.#wire.pipeline(prepared, { opcode: Opcode.getkq, extrasBytes: 0 }, () => (response) => {
      const { opcode, status } = response.header;
      if (opcode === Opcode.noop) return { value: undefined };
      if (status !== Status.ok) return { error: statusError('getMany', response, undefined) };
      found.set(response.key.toString('latin1'), toHit(response));
      return undefined;
    });
    return prepared.map((e) => found.get(e.keyBytes.toString('latin1')));
  }
}

/** Creates a `MemcachedStore` from options or an existing memjs client. */
export function memcachedStore(options?: MemcachedStoreOptions | MemjsClient): MemcachedStore {
  return new MemcachedStore(options);
}

const bytesOf = (hit: Hit | undefined): Uint8Array | undefined =>
  hit === undefined ? undefined : decodeCounter(hit.value);

const isHit = (hit: Hit | undefined): boolean => hit !== undefined;
