import type { Socket } from 'node:net';
import {
  CacheAuthError,
  CacheClosedError,
  CacheConfigError,
  type CacheError,
  CacheUnavailableError,
  InvalidKeyError,
  InvalidTtlError,
  NotIntegerError,
  ReadCoalescer,
  redactUrl,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
  StoreFullError,
  type StoreInfo,
  StoreTimeoutError,
  ValueTooLargeError,
} from '@larder/core';
import { Client, type Response, Server } from 'memjs';
import {
  encodeRequest,
  incrementExtras,
  MAX_KEY_BYTES,
  MAX_RELATIVE_EXPTIME,
  NO_CREATE,
  Opcode,
  requestBytes,
  Status,
  storageExtras,
  touchExtras,
  writeRequest,
} from './protocol.js';

/** A memjs client, whatever serializer it was built with (the store sends raw bytes itself). */
export type MemjsClient = Client<never, unknown>;

/** Options for `MemcachedStore`. Give `servers`, `url` or `client` (or nothing, for 127.0.0.1:11211). */
export interface MemcachedStoreOptions {
  /**
   * Servers as `host:port` (`[::1]:11211` for IPv6), in an array or a comma-separated string;
   * keys are spread over them with memjs's hash.
   * @default '127.0.0.1:11211'
   */
  servers?: string | readonly string[];
  /** Alternative to `servers`: `memcached://[user:password@]host:port[,host:port...]`. @default none */
  url?: string;
  /** SASL user name (the password is never logged nor put into an error). @default none */
  username?: string;
  /** SASL password. @default none */
  password?: string;
  /** An existing memjs client to use instead; `close()` then leaves it open. @default none */
  client?: MemjsClient;
  /**
   * Deadline of every call, connect included, in ms. A call past it fails with
   * `StoreTimeoutError`, and the connection it used is dropped and rebuilt.
   * @default 1000
   */
  timeout?: number;
  /** The servers' item size limit (memcached's `-I`), in bytes. @default 1_048_576 (memcached's default, 1 MiB) */
  itemSizeMax?: number;
  /**
   * Largest value accepted; larger ones are refused before anything is sent. memcached's item
   * limit also covers the key and a ~63-byte item header, so the default leaves 512 bytes.
   * @default itemSizeMax - 512
   */
  maxValueBytes?: number;
  /** Most keys in one coalesced multi-get. @default 128 */
  maxBatch?: number;
  /** Clock for the expiry kept in the item flags, for tests. @default Date.now */
  now?: () => number;
}

/** What a read returns: the value as stored, the item flags (which hold the expiry) and the CAS token. */
interface Hit {
  value: Buffer;
  flags: number;
  cas: Buffer;
}

/** memjs's Server with the internals the store touches. */
interface WireServer extends Server {
  _socket?: Socket;
  username: string | undefined;
  password: string | undefined;
}

type Handler<T> = (response: Response) => { value: T } | { error: unknown } | undefined;

/** Item flags: 0 = written by someone else (expiry unknown), 1 = no expiry, else the expiry in Unix seconds. */
const FLAGS_UNKNOWN = 0;
const FLAGS_NO_EXPIRY = 1;
const DEFAULT_ITEM_SIZE_MAX = 1024 * 1024;
const ITEM_OVERHEAD_BYTES = 512;
const CAS_ATTEMPTS = 16;
const INTEGER = /^-?\d{1,17}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const FORBIDDEN_KEY_CHARS = /[\x00-\x20\x7f]/;
const SILENT = { log(): void {} };
const NAME = 'memcached';

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
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #coalescer: ReadCoalescer<Hit>;
  readonly #watched = new WeakSet<Socket>();
  #closed = false;

  constructor(options: MemcachedStoreOptions | MemjsClient = {}) {
    const opts: MemcachedStoreOptions = isClient(options) ? { client: options } : options;
    this.#timeoutMs = positiveInteger('timeout', opts.timeout ?? 1000);
    const itemSizeMax = positiveInteger('itemSizeMax', opts.itemSizeMax ?? DEFAULT_ITEM_SIZE_MAX);
    if (itemSizeMax <= ITEM_OVERHEAD_BYTES * 2) {
      throw new CacheConfigError(
        `itemSizeMax ${itemSizeMax} is smaller than memcached allows (-I is at least 1k)`,
      );
    }
    const maxValueBytes = positiveInteger(
      'maxValueBytes',
      opts.maxValueBytes ?? itemSizeMax - ITEM_OVERHEAD_BYTES,
    );
    if (maxValueBytes > itemSizeMax - MAX_KEY_BYTES - 64) {
      throw new CacheConfigError(
        `maxValueBytes ${maxValueBytes} does not fit an item of itemSizeMax ${itemSizeMax} bytes with a 250-byte key and memcached's item header; lower it or raise itemSizeMax (and the server's -I)`,
      );
    }
    const maxBatch = positiveInteger('maxBatch', opts.maxBatch ?? 128);
    this.#now = opts.now ?? Date.now;
    this.capabilities = {
      ttlGranularityMs: 1000,
      maxKeyBytes: MAX_KEY_BYTES,
      forbiddenKeyChars: FORBIDDEN_KEY_CHARS,
      maxValueBytes,
      clearScope: 'none',
      atomicIncr: true,
      nativeTtl: false,
    };
    if (opts.client !== undefined) {
      if (opts.servers !== undefined || opts.url !== undefined || opts.username !== undefined) {
        throw new CacheConfigError('pass either client or servers/url/username/password, not both');
      }
      if (!isClient(opts.client) || opts.client.servers.length === 0) {
        throw new CacheConfigError('client must be a memjs Client with at least one server');
      }
      this.client = opts.client;
      this.#owned = false;
    } else {
      this.client = createClient(opts, this.#timeoutMs);
      this.#owned = true;
    }
    this.#coalescer = new ReadCoalescer<Hit>((keys) => this.#fetch(keys), maxBatch);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    this.#checkOpen();
    checkKey(key);
    const hit = await this.#coalescer.get(key);
    return hit === undefined ? undefined : decodeCounter(hit.value);
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen();
    for (const key of keys) checkKey(key);
    if (keys.length === 0) return [];
    return (await this.#fetch(keys)).map((hit) => (hit === undefined ? undefined : decodeCounter(hit.value)));
  }

  async set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    this.#checkValue(value, key);
    const { flags, exptime } = this.#expiry(ttlMs);
    await this.#simple(
      'set',
      key,
      encodeRequest(Opcode.set, keyBytes, 8, storageExtras(flags, exptime), value, 0),
      (status) => (status === Status.ok ? { value: undefined } : undefined),
    );
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    this.#checkOpen();
    const prepared = entries.map(({ key, value, ttlMs }) => {
      const keyBytes = encodeKey(key);
      this.#checkValue(value, key);
      return { key, keyBytes, value, ...this.#expiry(ttlMs) };
    });
    if (prepared.length === 0) return;
    if (prepared.length === 1) {
      const only = entries[0]!;
      return this.set(only.key, only.value, only.ttlMs);
    }
    await Promise.all(
      this.#byServer(prepared).map(([server, group]) => {
        const opaque = this.#opaque();
        let size = requestBytes(Buffer.alloc(0), 0, 0);
        for (const e of group) size += requestBytes(e.keyBytes, 8, e.value.byteLength);
        const blob = Buffer.allocUnsafe(size);
        let at = 0;
        for (const e of group) {
          at = writeRequest(
            blob,
            at,
            Opcode.setq,
            e.keyBytes,
            8,
            storageExtras(e.flags, e.exptime),
            e.value,
            opaque,
          );
        }
        writeRequest(blob, at, Opcode.noop, Buffer.alloc(0), 0, undefined, undefined, opaque);
        return this.#exchange<void>('setMany', undefined, server, opaque, blob, true, (response) => {
          if (response.header.opcode === Opcode.noop) return { value: undefined };
          return { error: this.#statusError('setMany', response, undefined) };
        });
      }),
    );
  }

  async add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    this.#checkValue(value, key);
    const { flags, exptime } = this.#expiry(ttlMs);
    return this.#add('add', key, keyBytes, value, flags, exptime);
  }

  async delete(key: string): Promise<boolean> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    return this.#simple(
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
    const counts = await Promise.all(
      this.#byServer(prepared).map(([server, group]) => {
        const opaque = this.#opaque();
        let size = requestBytes(Buffer.alloc(0), 0, 0);
        for (const e of group) size += requestBytes(e.keyBytes, 0, 0);
        const blob = Buffer.allocUnsafe(size);
        let at = 0;
        for (const e of group)
          at = writeRequest(blob, at, Opcode.deleteq, e.keyBytes, 0, undefined, undefined, opaque);
        writeRequest(blob, at, Opcode.noop, Buffer.alloc(0), 0, undefined, undefined, opaque);
        let missing = 0;
        // DELETEQ answers only misses and errors; the NOOP marks the end of the batch.
        return this.#exchange<number>('deleteMany', undefined, server, opaque, blob, true, (response) => {
          const { opcode, status } = response.header;
          if (opcode === Opcode.noop) return { value: group.length - missing };
          if (status === Status.notFound) {
            missing++;
            return undefined;
          }
          return { error: this.#statusError('deleteMany', response, undefined) };
        });
      }),
    );
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async has(key: string): Promise<boolean> {
    this.#checkOpen();
    checkKey(key);
    return (await this.#coalescer.get(key)) !== undefined;
  }

  /**
   * memcached's own `increment`: one round trip, atomic across processes, for any delta. A
   * negative delta is sent as its 64-bit two's complement, which memcached's wrapping unsigned
   * arithmetic turns into a subtraction; a counter below zero therefore sits on the server as
   * 2^64 - n, and reads turn it back into "-n". A missing key is created with `add`, so it
   * carries its expiry in the flags like every other item. Integers written by `set` as "-n"
   * (which memcached cannot increment) go through a compare-and-swap loop once.
   */
  async incr(key: string, delta: number, ttlMs: number): Promise<number> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    if (!Number.isSafeInteger(delta)) {
      throw new InvalidKeyError(`incr delta must be a safe integer, got ${delta}`, { key, store: NAME });
    }
    const expiry = this.#expiry(ttlMs);
    const amount = BigInt.asUintN(64, BigInt(delta));
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const outcome = await this.#simple<number | 'missing' | 'not-a-number'>(
        'incr',
        key,
        encodeRequest(Opcode.increment, keyBytes, 20, incrementExtras(amount, NO_CREATE), undefined, 0),
        (status, response) => {
          if (status === Status.ok) return { value: readCounter(response.val, key) };
          if (status === Status.notFound) return { value: 'missing' };
          if (status === Status.nonNumeric) return { value: 'not-a-number' };
          return undefined;
        },
      );
      if (typeof outcome === 'number') return outcome;
      if (outcome === 'not-a-number') return this.#incrByCas(key, keyBytes, delta, expiry);
      if (await this.#add('incr', key, keyBytes, encodeCounter(delta), expiry.flags, expiry.exptime))
        return delta;
      // Another caller created the key between our increment and add: increment it now.
    }
    throw raceLost('incr', key);
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    const keyBytes = encodeKey(key);
    const { flags, exptime } = this.#expiry(ttlMs);
    // memcached's TOUCH cannot update the flags that hold the expiry, so the item is rewritten
    // with compare-and-swap: a concurrent write is never overwritten with the older value.
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const hit = await this.#getOne('touch', key, keyBytes);
      if (hit === undefined) return false;
      const status = await this.#casSet('touch', key, keyBytes, hit.value, flags, exptime, hit.cas);
      if (status === Status.ok) return true;
      if (status === Status.notFound) return false;
    }
    // Under a storm of writes, fall back to the native TOUCH: the expiry is right, ttl() may lag.
    return this.#simple(
      'touch',
      key,
      encodeRequest(Opcode.touch, keyBytes, 4, touchExtras(exptime), undefined, 0),
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
  async ttl(key: string): Promise<number | undefined> {
    this.#checkOpen();
    checkKey(key);
    const hit = await this.#coalescer.get(key);
    if (hit === undefined) return undefined;
    if (hit.flags === FLAGS_NO_EXPIRY || hit.flags === FLAGS_UNKNOWN) return Number.POSITIVE_INFINITY;
    return Math.max(0, hit.flags * 1000 - this.#now());
  }

  /** memcached cannot list keys, so it cannot clear a prefix; the cache bumps a generation instead. */
  async clear(prefix: string): Promise<void> {
    throw new CacheConfigError(
      `memcached cannot clear by prefix ("${prefix}"): it cannot enumerate keys. The cache clears memcached by bumping a generation (clearScope 'none'); this store never flushes the server`,
      { store: NAME },
    );
  }

  async info(): Promise<StoreInfo> {
    this.#checkOpen();
    const perServer = await Promise.all(
      (this.client.servers as WireServer[]).map((server) => {
        const opaque = this.#opaque();
        const stats: Record<string, string> = {};
        const blob = encodeRequest(Opcode.stat, Buffer.alloc(0), 0, undefined, undefined, opaque);
        return this.#exchange<Record<string, string>>(
          'info',
          undefined,
          server,
          opaque,
          blob,
          true,
          (response) => {
            if (response.header.status !== Status.ok)
              return { error: this.#statusError('info', response, undefined) };
            if (response.header.keyLength === 0) return { value: stats };
            stats[response.key.toString('latin1')] = response.val.toString('latin1');
            return undefined;
          },
        );
      }),
    );
    const sum = (field: string) => perServer.reduce((total, stats) => total + Number(stats[field] ?? 0), 0);
    return {
      bytesUsed: sum('bytes'),
      byteLimit: sum('limit_maxbytes'),
      items: sum('curr_items'),
      evictions: sum('evictions'),
      evictionPolicy: 'lru',
      serverVersion: perServer[0]?.version ?? 'unknown',
      currConnections: sum('curr_connections'),
      servers: perServer.length,
    };
  }

  /** Drops the connections of a client this store created; a client passed in is left open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) return;
    for (const server of this.client.servers as WireServer[]) {
      server.error(new CacheClosedError('the memcached store was closed', { store: NAME }));
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

  /**
   * memcached's exptime and the flags that record it. exptime is whole seconds rounded up;
   * over 30 days it must be a Unix time, or memcached stores the item already expired.
   */
  #expiry(ttlMs: number): { flags: number; exptime: number } {
    if (ttlMs === Number.POSITIVE_INFINITY) return { flags: FLAGS_NO_EXPIRY, exptime: 0 };
    if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new InvalidTtlError(`ttl ${ttlMs} ms must be a positive number of ms or Infinity`, {
        store: NAME,
      });
    }
    const seconds = Math.ceil(ttlMs / 1000);
    const now = this.#now();
    // memcached counts a relative exptime from its own clock, which ticks in whole seconds.
    if (seconds <= MAX_RELATIVE_EXPTIME) return { flags: Math.floor(now / 1000 + seconds), exptime: seconds };
    const expiresAt = Math.ceil((now + ttlMs) / 1000);
    if (expiresAt > 0xffff_ffff) {
      throw new InvalidTtlError(`ttl ${ttlMs} ms ends after 2106, past memcached's 32-bit clock`, {
        store: NAME,
      });
    }
    return { flags: expiresAt, exptime: expiresAt };
  }

  /** The exptime that keeps the expiry recorded in `flags`, for rewrites that must not change it. */
  #keptExpiry(
    flags: number,
    fallback: { flags: number; exptime: number },
  ): { flags: number; exptime: number } {
    if (flags === FLAGS_NO_EXPIRY) return { flags, exptime: 0 };
    if (flags === FLAGS_UNKNOWN) return fallback;
    const remaining = Math.max(1, flags - Math.floor(this.#now() / 1000));
    return { flags, exptime: remaining <= MAX_RELATIVE_EXPTIME ? remaining : flags };
  }

  async #incrByCas(
    key: string,
    keyBytes: Buffer,
    delta: number,
    expiry: { flags: number; exptime: number },
  ): Promise<number> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const hit = await this.#getOne('incr', key, keyBytes);
      if (hit === undefined) {
        if (await this.#add('incr', key, keyBytes, encodeCounter(delta), expiry.flags, expiry.exptime))
          return delta;
        continue;
      }
      const text = decodeCounter(hit.value).toString('latin1');
      const next = INTEGER.test(text) ? Number(text) + delta : Number.NaN;
      if (!Number.isSafeInteger(next)) {
        throw new NotIntegerError(
          'the value under this key is not an integer (or would overflow); incr needs one',
          {
            key,
            store: NAME,
          },
        );
      }
      const kept = this.#keptExpiry(hit.flags, expiry);
      const status = await this.#casSet(
        'incr',
        key,
        keyBytes,
        encodeCounter(next),
        kept.flags,
        kept.exptime,
        hit.cas,
      );
      if (status === Status.ok) return next;
    }
    throw raceLost('incr', key);
  }

  async #add(
    operation: string,
    key: string,
    keyBytes: Buffer,
    value: Uint8Array,
    flags: number,
    exptime: number,
  ): Promise<boolean> {
    return this.#simple(
      operation,
      key,
      encodeRequest(Opcode.add, keyBytes, 8, storageExtras(flags, exptime), value, 0),
      (status) => {
        if (status === Status.ok) return { value: true };
        if (status === Status.exists || status === Status.notStored) return { value: false };
        return undefined;
      },
    );
  }

  /** A set that only succeeds while the item is unchanged; resolves the status (ok, exists, notFound). */
  async #casSet(
    operation: string,
    key: string,
    keyBytes: Buffer,
    value: Uint8Array,
    flags: number,
    exptime: number,
    cas: Buffer,
  ): Promise<number> {
    return this.#simple(
      operation,
      key,
      encodeRequest(Opcode.set, keyBytes, 8, storageExtras(flags, exptime), value, 0, cas),
      (status) =>
        status === Status.ok || status === Status.exists || status === Status.notFound
          ? { value: status }
          : undefined,
    );
  }

  async #getOne(operation: string, key: string, keyBytes: Buffer): Promise<Hit | undefined> {
    return this.#simple(
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

  /** Reads keys (from the coalescer or getMany): one GET for one key, else GETKQ… + NOOP per server. */
  async #fetch(keys: readonly string[]): Promise<(Hit | undefined)[]> {
    if (keys.length === 1) {
      const key = keys[0]!;
      return [await this.#getOne('get', key, Buffer.from(key))];
    }
    const found = new Map<string, Hit>();
    const prepared = keys.map((key) => ({ key, keyBytes: Buffer.from(key) }));
    await Promise.all(
      this.#byServer(prepared).map(([server, group]) => {
        const opaque = this.#opaque();
        let size = requestBytes(Buffer.alloc(0), 0, 0);
        for (const e of group) size += requestBytes(e.keyBytes, 0, 0);
        const blob = Buffer.allocUnsafe(size);
        let at = 0;
        for (const e of group)
          at = writeRequest(blob, at, Opcode.getkq, e.keyBytes, 0, undefined, undefined, opaque);
        writeRequest(blob, at, Opcode.noop, Buffer.alloc(0), 0, undefined, undefined, opaque);
        return this.#exchange<void>('getMany', undefined, server, opaque, blob, true, (response) => {
          const { opcode, status } = response.header;
          if (opcode === Opcode.noop) return { value: undefined };
          if (status !== Status.ok) return { error: this.#statusError('getMany', response, undefined) };
          found.set(response.key.toString('latin1'), toHit(response));
          return undefined;
        });
      }),
    );
    return prepared.map((e) => found.get(e.keyBytes.toString('latin1')));
  }

  /** Groups entries by the server memjs maps their key to, keeping the order within a group. */
  #byServer<E extends { key: string }>(entries: readonly E[]): [WireServer, E[]][] {
    const groups = new Map<WireServer, E[]>();
    for (const entry of entries) {
      const server = this.#serverFor(entry.key);
      const group = groups.get(server);
      if (group === undefined) groups.set(server, [entry]);
      else group.push(entry);
    }
    return [...groups];
  }

  #serverFor(key: string): WireServer {
    const servers = this.client.servers as WireServer[];
    const server =
      servers.length === 1 ? servers[0] : (this.client.server(key) as WireServer | null | undefined);
    if (server == null) {
      throw new CacheUnavailableError('no memcached server is available for this key', { key, store: NAME });
    }
    return server;
  }

  #opaque(): number {
    this.client.incrSeq();
    return this.client.seq;
  }

  /** One request with one answer; `accept` maps the statuses the operation expects, others become errors. */
  #simple<T>(
    operation: string,
    key: string,
    request: Buffer,
    accept: (status: number, response: Response) => { value: T } | undefined,
  ): Promise<T> {
    const server = this.#serverFor(key);
    const opaque = this.#opaque();
    request.writeUInt32BE(opaque >>> 0, 12);
    return this.#exchange(operation, key, server, opaque, request, false, (response) => {
      const accepted = accept(response.header.status, response);
      return accepted ?? { error: this.#statusError(operation, response, key) };
    });
  }

  /**
   * Sends `blob` on `server` and settles with what `handle` makes of the answers, within the
   * store's deadline. Past the deadline, or when the connection fails or closes, the server's
   * connection is dropped and replaced, so the next call starts on a clean one.
   */
  #exchange<T>(
    operation: string,
    key: string | undefined,
    server: WireServer,
    opaque: number,
    blob: Buffer,
    quiet: boolean,
    handle: Handler<T>,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(
          new StoreTimeoutError(
            `memcached ${operation} on ${endpoint(server)} did not answer within ${this.#timeoutMs} ms; the connection was dropped and will be rebuilt`,
            { key, store: NAME },
          ),
        );
        this.#discard(server, new Error(`no answer within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      const finish = (outcome: { value: T } | { error: unknown }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.value);
      };
      const onResponse = (response: Response) => {
        let outcome: ReturnType<Handler<T>>;
        try {
          outcome = handle(response);
        } catch (error) {
          outcome = { error };
        }
        if (outcome !== undefined) finish(outcome);
      };
      // memjs keeps a quiet callback for every answer until one with an empty body (the NOOP).
      (onResponse as { quiet?: boolean }).quiet = quiet;
      server.onResponse(opaque, onResponse);
      server.onError(opaque, (error: unknown) => {
        finish({ error: this.#connectionError(operation, key, server, error) });
        this.#discard(server, error);
      });
      try {
        server.write(blob);
        this.#watch(server);
      } catch (error) {
        finish({ error: this.#connectionError(operation, key, server, error) });
        this.#discard(server, error);
      }
    });
  }

  /**
   * memjs leaves callbacks pending when a connection closes without a socket error (memcached
   * at its connection limit writes a text "ERROR" and hangs up); fail them at once instead.
   */
  #watch(server: WireServer): void {
    const socket = server._socket;
    if (socket === undefined || this.#watched.has(socket)) return;
    this.#watched.add(socket);
    socket.once('close', () => {
      if (this.#closed) return;
      this.#discard(
        server,
        new Error('memcached closed the connection (it may be restarting or at its connection limit, -c)'),
      );
    });
  }

  /**
   * Replaces a server's memjs connection object with a fresh one and fails what was pending on
   * the old one. A fresh object also drops memjs's response buffer, which a half-read or
   * foreign reply would otherwise leave misaligned for every later call.
   */
  #discard(server: WireServer, reason: unknown): void {
    const servers = this.client.servers as WireServer[];
    const index = servers.indexOf(server);
    if (index === -1) return;
    if (!this.#closed) {
      const fresh = new Server(
        server.host,
        server.port,
        server.username,
        server.password,
        server.options,
      ) as WireServer;
      // memjs falls back to MEMCACHE_USERNAME/PASSWORD from the environment; keep exactly what was configured.
      fresh.username = server.username;
      fresh.password = server.password;
      servers[index] = fresh;
    }
    server.error(reason instanceof Error ? reason : new Error(String(reason)));
  }

  #connectionError(
    operation: string,
    key: string | undefined,
    server: WireServer,
    error: unknown,
  ): CacheError {
    if (error instanceof CacheClosedError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (/authentication failed/i.test(message)) {
      return new CacheAuthError(
        `memcached at ${endpoint(server)} rejected the SASL credentials; check username and password`,
        { key, store: NAME },
      );
    }
    return new CacheUnavailableError(
      `memcached ${operation} on ${endpoint(server)} failed: ${redactUrl(message)}`,
      {
        key,
        store: NAME,
        cause: error instanceof Error ? error : undefined,
      },
    );
  }

  #statusError(operation: string, response: Response, key: string | undefined): CacheError {
    const status = response.header.status;
    const text = response.val.toString('latin1').slice(0, 100);
    switch (status) {
      case Status.tooLarge:
        return new ValueTooLargeError(
          `memcached refused the value as too large for its item size limit; raise the server's -I or enable compression (and check the store's itemSizeMax)`,
          { key, store: NAME },
        );
      case Status.outOfMemory:
        return new StoreFullError(
          `memcached is out of memory (${text}); raise its -m or let it evict (no -M)`,
          {
            key,
            store: NAME,
          },
        );
      case Status.authError:
        return new CacheAuthError('memcached requires SASL authentication; set username and password', {
          key,
          store: NAME,
        });
      case Status.nonNumeric:
        return new NotIntegerError('the value under this key is not an integer; incr needs one', {
          key,
          store: NAME,
        });
      default:
        return new CacheUnavailableError(
          `memcached ${operation} failed with status 0x${status.toString(16)}: ${text}`,
          {
            key,
            store: NAME,
          },
        );
    }
  }
}

/** Creates a `MemcachedStore` from options or an existing memjs client. */
export function memcachedStore(options?: MemcachedStoreOptions | MemjsClient): MemcachedStore {
  return new MemcachedStore(options);
}

/** Checks a key the cache hands over; an invalid key is never sent (M16: it hangs the connection). */
function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidKeyError('a memcached key must be a non-empty string', { store: NAME });
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short keys skip the byte count.
  const size = key.length * 3 <= MAX_KEY_BYTES ? 0 : Buffer.byteLength(key);
  if (size > MAX_KEY_BYTES) {
    throw new InvalidKeyError(
      `key of ${size} bytes is over memcached's 250-byte limit (the cache hashes such keys; this one came past it)`,
      { store: NAME },
    );
  }
  if (FORBIDDEN_KEY_CHARS.test(key)) {
    throw new InvalidKeyError('memcached keys may not contain whitespace or control characters', {
      store: NAME,
    });
  }
}

/** A checked key as the bytes that go on the wire. */
function encodeKey(key: string): Buffer {
  checkKey(key);
  return Buffer.from(key);
}

function toHit(response: Response): Hit {
  const extras = response.extras;
  return {
    value: response.val,
    flags: extras.length >= 4 ? extras.readUInt32BE(0) : FLAGS_UNKNOWN,
    // memjs hands out slices of a buffer it never writes to again, so no copy is needed.
    cas: response.header.cas,
  };
}

const TWO_POW_63 = 2n ** 63n;

/** A counter as memcached returns it (unsigned 64-bit), read as two's complement. */
function readCounter(value: Buffer, key: string): number {
  const counter = BigInt.asIntN(64, value.readBigUInt64BE(0));
  if (counter > BigInt(Number.MAX_SAFE_INTEGER) || counter < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new NotIntegerError(
      'the counter went past ±(2^53 - 1), beyond what a JavaScript number holds exactly',
      {
        key,
        store: NAME,
      },
    );
  }
  return Number(counter);
}

/** How a counter is stored: plain decimal, and below zero the decimal of its 64-bit two's complement. */
function encodeCounter(value: number): Buffer {
  return Buffer.from(BigInt.asUintN(64, BigInt(value)).toString(), 'latin1');
}

/**
 * A counter as `incr` left it, in canonical decimal: memcached pads a counter that got shorter
 * in place with trailing spaces, and one below zero is kept as its two's complement (at least
 * 2^63), which becomes "-n" again. Anything that does not start with a digit is returned as is:
 * the cache frames every value but a safe integer behind a header byte below '0'.
 */
function decodeCounter(value: Buffer): Buffer {
  const length = value.byteLength;
  const first = value[0];
  if (first === undefined || first < 0x30 || first > 0x39) return value;
  let digits = 1;
  while (digits < length && value[digits]! >= 0x30 && value[digits]! <= 0x39) digits++;
  for (let i = digits; i < length; i++) if (value[i] !== 0x20) return value;
  if (digits >= 19 && digits <= 20) {
    const counter = BigInt(value.toString('latin1', 0, digits));
    if (counter >= TWO_POW_63 && counter < 2n ** 64n) {
      return Buffer.from(BigInt.asIntN(64, counter).toString(), 'latin1');
    }
  }
  return digits === length ? value : value.subarray(0, digits);
}

function raceLost(operation: string, key: string): CacheUnavailableError {
  return new CacheUnavailableError(
    `memcached ${operation} lost ${CAS_ATTEMPTS} compare-and-swap races in a row on this key; try again`,
    { key, store: NAME },
  );
}

function endpoint(server: Server): string {
  return `${server.host}:${server.port}`;
}

function isClient(value: unknown): value is MemjsClient {
  const candidate = value as { servers?: unknown; server?: unknown; incrSeq?: unknown } | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    Array.isArray(candidate.servers) &&
    typeof candidate.server === 'function' &&
    typeof candidate.incrSeq === 'function'
  );
}

function positiveInteger(name: string, value: number): number {
  if (!(Number.isSafeInteger(value) && value > 0)) {
    throw new CacheConfigError(`${name} must be a positive integer, got ${value}`, { store: NAME });
  }
  return value;
}

interface Address {
  host: string;
  port: number;
}

/** Builds the memjs client for `servers` / `url` / credentials, with memjs's own retries and logging off. */
function createClient(options: MemcachedStoreOptions, timeoutMs: number): MemjsClient {
  if (options.url !== undefined && options.servers !== undefined) {
    throw new CacheConfigError('pass either url or servers, not both', { store: NAME });
  }
  let username = options.username;
  let password = options.password;
  let addresses: Address[];
  if (options.url !== undefined) {
    const parsed = parseUrl(options.url);
    addresses = parsed.addresses;
    if (parsed.username !== undefined) {
      if (username !== undefined) {
        throw new CacheConfigError('credentials are given both in url and in username/password; keep one', {
          store: NAME,
        });
      }
      username = parsed.username;
      password = parsed.password;
    }
  } else {
    const list = options.servers ?? '127.0.0.1:11211';
    const entries = typeof list === 'string' ? list.split(',') : [...list];
    addresses = entries.map((entry) => parseAddress(entry.trim(), entry));
  }
  if (addresses.length === 0) throw new CacheConfigError('no memcached server was given', { store: NAME });
  if ((username === undefined) !== (password === undefined) || username === '') {
    throw new CacheConfigError('SASL needs both username and password', { store: NAME });
  }
  const seconds = timeoutMs / 1000;
  const servers = addresses.map(({ host, port }) => {
    const server = new Server(host, port, username, password, {
      timeout: seconds,
      conntimeout: seconds,
      keepAlive: true,
      keepAliveDelay: 30,
    }) as WireServer;
    server.username = username;
    server.password = password;
    return server;
  });
  return new Client(servers, { retries: 0, failover: false, logger: SILENT }) as unknown as MemjsClient;
}

function parseUrl(url: string): { addresses: Address[]; username?: string; password?: string } {
  const match = /^memcached?:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#@]+)\/?$/i.exec(url);
  if (!match) {
    throw new CacheConfigError(
      `url "${redactUrl(url)}" is not memcached://[user:password@]host:port[,host:port...] (memjs has no TLS)`,
      { store: NAME },
    );
  }
  const [, user, pass, hosts] = match;
  const addresses = hosts!.split(',').map((entry) => parseAddress(entry.trim(), redactUrl(url)));
  if (user === undefined || user === '') return { addresses };
  return { addresses, username: decodeURIComponent(user), password: decodeURIComponent(pass ?? '') };
}

function parseAddress(entry: string, shown: string): Address {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:@\s[\]]+))(?::(\d{1,5}))?$/.exec(entry);
  const port = Number(match?.[3] ?? 11211);
  if (!match || !(port > 0 && port < 65536)) {
    throw new CacheConfigError(
      `memcached server "${entry.includes('@') ? '(with credentials)' : shown}" is not host:port; put credentials in username/password or url`,
      { store: NAME },
    );
  }
  return { host: match[1] ?? match[2]!, port };
}
