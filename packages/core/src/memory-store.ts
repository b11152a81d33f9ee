import { isAscii } from 'node:buffer';
import { CacheClosedError, CacheConfigError, NotIntegerError, ValueTooLargeError } from './errors.js';
import { scopeLength } from './keys.js';
import {
  bytesOf,
  Counter,
  detach,
  type Entry,
  expiryOf,
  frameOf,
  HEAD,
  integerAt,
  isAsciiEntry,
  latin1Slice,
  pack,
  room,
  settled,
  sizeOf,
  utf8Write,
  writeHead,
} from './memory-entry.js';
import type { Store, StoreCapabilities, StoreEntry, StoreInfo, SyncStoreCalls } from './store.js';

/** Options for the in-process store. */
export interface MemoryStoreOptions {
  /** Most entries kept; the least recently used go first. @default 100_000 */
  maxEntries?: number;
  /** Most bytes of keys and values kept (UTF-16 key length × 2 + value bytes). @default 128 MiB */
  maxBytes?: number;
  /** Largest single value accepted. @default 16 MiB */
  maxValueBytes?: number;
  /** How often expired entries are swept, in ms; the timer never keeps the process alive. @default 60_000 */
  sweepInterval?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** The entries of one scope (see `scopeLength`), by key body, and where eviction is in them. */
class Scope {
  readonly entries = new Map<string, Entry>();
  /** Bodies read (or rewritten) since eviction last passed them: they get a second chance. */
  readonly used = new Set<string>();
  /**
   * Where eviction left off. Map iterators are live (they skip deleted entries and reach new
   * ones), so keeping one makes eviction O(1) amortized; a fresh `entries()` per eviction
   * would walk every hole that earlier deletions left at the old end of the map.
   */
  hand: MapIterator<[string, Entry]> | undefined;

  constructor(readonly name: string) {}
}

/**
 * An in-process store with millisecond TTLs, bounded by entries and bytes: the embedded
 * default and the test double that is not a mock. Eviction approximates LRU with CLOCK
 * (second chance): a read only marks the key, so reads never reorder the map.
 *
 * Entries are kept per scope (`prefix:version:` and namespaces, see `scopeLength`), by key
 * body: the cache's synchronous calls pass the scope and the caller's own key string, so a
 * read looks up strings whose hashes V8 has already computed instead of building, hashing and
 * comparing the full key on every call. A full key is always the scope followed by the body.
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  readonly capabilities: StoreCapabilities;
  /** The calls the cache makes without a promise (see `SyncStoreCalls`). */
  readonly sync: SyncStoreCalls;
  readonly #scopes = new Map<string, Scope>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxValueBytes: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;
  /** Which scope eviction visits next: one step per scope in turn. */
  #turn: MapIterator<Scope> | undefined;
  #count = 0;
  #bytes = 0;
  #evictions = 0;
  #closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.#maxEntries = positive('maxEntries', options.maxEntries ?? 100_000);
    this.#maxBytes = positive('maxBytes', options.maxBytes ?? 128 * 1024 * 1024);
    const maxValueBytes = positive('maxValueBytes', options.maxValueBytes ?? 16 * 1024 * 1024);
    if (maxValueBytes > this.#maxBytes) {
      throw new CacheConfigError(
        `maxValueBytes (${maxValueBytes}) exceeds maxBytes (${this.#maxBytes}); lower it`,
      );
    }
    this.#maxValueBytes = maxValueBytes;
    this.#now = options.now ?? Date.now;
    this.capabilities = {
      ttlGranularityMs: 1,
      maxKeyBytes: 64 * 1024,
      maxValueBytes,
      clearScope: 'prefix',
      atomicIncr: true,
      nativeTtl: true,
      inProcess: true,
      listKeys: true,
    };
    this.sync = {
      get: (scope, body) => {
        const entry = this.#read(scope, body);
        return entry === undefined ? undefined : frameOf(entry);
      },
      getMany: (scope, bodies) => this.#readMany(scope, bodies),
      set: (scope, body, value, ttlMs) => this.#write(scope, body, value, ttlMs),
      setMany: (scope, bodies, values, ttlMs) => {
        this.#checkSizes(values);
        for (let i = 0; i < bodies.length; i++) this.#write(scope, bodies[i]!, values[i]!, ttlMs);
      },
      setText: (scope, body, header, text, ttlMs) => this.#writeText(scope, body, header, text, ttlMs),
      incr: (scope, body, delta, ttlMs) => this.#incr(scope, body, delta, ttlMs),
    };
    this.#sweeper = setInterval(
      () => this.sweep(),
      positive('sweepInterval', options.sweepInterval ?? 60_000),
    );
    this.#sweeper.unref();
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.readSync(key);
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return keys.map((key) => this.readSync(key));
  }

  async set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    const at = scopeLength(key);
    this.#write(key.slice(0, at), detach(key.slice(at)), value, ttlMs);
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    this.#checkSizes(entries.map(({ value }) => value));
    for (const { key, value, ttlMs } of entries) await this.set(key, value, ttlMs);
  }

  async add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    const at = scopeLength(key);
    const scope = key.slice(0, at);
    const body = detach(key.slice(at));
    if (this.#live(scope, body) !== undefined) return false;
    this.#write(scope, body, value, ttlMs);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    const at = scopeLength(key);
    return this.#remove(key.slice(0, at), key.slice(at));
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) if (await this.delete(key)) removed++;
    return removed;
  }

  async has(key: string): Promise<boolean> {
    const at = scopeLength(key);
    return this.#live(key.slice(0, at), key.slice(at)) !== undefined;
  }

  async incr(key: string, delta: number, ttlMs: number): Promise<number> {
    const at = scopeLength(key);
    return this.#incr(key.slice(0, at), detach(key.slice(at)), delta, ttlMs);
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    const at = scopeLength(key);
    const name = key.slice(0, at);
    const body = key.slice(at);
    const entry = this.#live(name, body);
    if (entry === undefined) return false;
    const expiresAt = this.#now() + ttlMs;
    const touched =
      typeof entry === 'string'
        ? pack(expiresAt, isAsciiEntry(entry), entry.slice(HEAD))
        : new Counter(entry.value, settled(expiresAt));
    this.#store(this.#scopes.get(name)!, body, entry, touched);
    return true;
  }

  async ttl(key: string): Promise<number | undefined> {
    const at = scopeLength(key);
    const entry = this.#live(key.slice(0, at), key.slice(at));
    if (entry === undefined) return undefined;
    const expiresAt = expiryOf(entry);
    return expiresAt === Number.POSITIVE_INFINITY ? expiresAt : Math.max(0, expiresAt - this.#now());
  }

  async clear(prefix: string): Promise<void> {
    this.#assertOpen();
    this.#dropPrefix(prefix);
  }

  async *keys(prefix: string): AsyncIterable<string> {
    this.#assertOpen();
    const now = this.#now();
    // A snapshot: the caller may write or delete while it iterates.
    const found: string[] = [];
    for (const scope of this.#scopes.values()) {
      const rest = under(scope.name, prefix);
      if (rest === undefined) continue;
      for (const [body, entry] of scope.entries) {
        if (expiryOf(entry) > now && body.startsWith(rest)) found.push(scope.name + body);
      }
    }
    yield* found;
  }

  async info(): Promise<StoreInfo> {
    return {
      bytesUsed: this.#bytes,
      byteLimit: this.#maxBytes,
      items: this.#count,
      evictions: this.#evictions,
      evictionPolicy: 'lru',
      serverVersion: `node ${process.versions.node}`,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#scopes.clear();
    this.#turn = undefined;
    this.#count = 0;
    this.#bytes = 0;
  }

  /** Synchronous read, for an in-process tier in front of another store (the cache's L1). */
  readSync(key: string): Uint8Array | undefined {
    const at = scopeLength(key);
    const entry = this.#read(key.slice(0, at), key.slice(at));
    return entry === undefined ? undefined : bytesOf(entry);
  }

  /** Synchronous write; a value over `maxValueBytes` is not kept (an L1 simply misses it). */
  writeSync(key: string, value: Uint8Array, ttlMs: number): void {
    if (value.byteLength <= this.#maxValueBytes && ttlMs > 0) {
      const at = scopeLength(key);
      this.#write(key.slice(0, at), detach(key.slice(at)), value, ttlMs);
    }
  }

  /** Synchronous removal of one key, or of every key under a prefix (`''`: everything). */
  dropSync(key: string, prefix = false): void {
    this.#assertOpen();
    if (prefix) {
      this.#dropPrefix(key);
      return;
    }
    const at = scopeLength(key);
    this.#remove(key.slice(0, at), key.slice(at));
  }

  /** Removes expired entries now; runs on the sweep interval. */
  sweep(): void {
    const now = this.#now();
    for (const scope of this.#scopes.values()) {
      for (const [body, entry] of scope.entries) if (expiryOf(entry) <= now) this.#drop(scope, body, entry);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError('this MemoryStore is closed', { store: this.name });
  }

  /** Removes every key that starts with `prefix`: whole scopes under it, or the bodies under it in one scope. */
  #dropPrefix(prefix: string): void {
    for (const scope of this.#scopes.values()) {
      const rest = under(scope.name, prefix);
      if (rest === undefined) continue;
      for (const [body, entry] of scope.entries) if (body.startsWith(rest)) this.#drop(scope, body, entry);
    }
  }

  /** A live entry without touching recency. */
  #live(name: string, body: string): Entry | undefined {
    if (this.#closed) this.#assertOpen();
    const scope = this.#scopes.get(name);
    if (scope === undefined) return undefined;
    const entry = scope.entries.get(body);
    if (entry === undefined) return undefined;
    if (expiryOf(entry) <= this.#now()) {
      this.#drop(scope, body, entry);
      return undefined;
    }
    return entry;
  }

  /** A live entry, marked as used for eviction. */
  #read(name: string, body: string): Entry | undefined {
    const entry = this.#live(name, body);
    if (entry !== undefined && this.#filling()) this.#scopes.get(name)!.used.add(body);
    return entry;
  }

  /** `#read` of many bodies in one scope, as frames: the scope is found, and the clock read, once. */
  #readMany(name: string, bodies: readonly string[]): (Uint8Array | string | undefined)[] {
    if (this.#closed) this.#assertOpen();
    const found = new Array<Uint8Array | string | undefined>(bodies.length).fill(undefined);
    const scope = this.#scopes.get(name);
    if (scope === undefined) return found;
    const entries = scope.entries;
    const now = this.#now();
    const filling = this.#filling();
    for (let i = 0; i < bodies.length; i++) {
      const body = bodies[i]!;
      const entry = entries.get(body);
      if (entry === undefined) continue;
      if (expiryOf(entry) <= now) {
        this.#drop(scope, body, entry);
        continue;
      }
      if (filling) scope.used.add(body);
      found[i] = frameOf(entry);
    }
    return found;
  }

  /** The scope named `name`, made when it is missing (its name a copy of its own). */
  #scope(name: string): Scope {
    let scope = this.#scopes.get(name);
    if (scope === undefined) {
      scope = new Scope(detach(name));
      this.#scopes.set(scope.name, scope);
    }
    return scope;
  }

  /**
   * Whether the store is past half its bounds, where recency starts to matter: eviction
   * comes only when it is full, and a mark made while it was less than half full is at
   * least half a store of writes old by then. Below it, reads skip the bookkeeping.
   */
  #filling(): boolean {
    return this.#count > this.#maxEntries / 2 || this.#bytes > this.#maxBytes / 2;
  }

  /** All or nothing: a batch is checked before its first write. */
  #checkSizes(values: readonly Uint8Array[]): void {
    const limit = this.#maxValueBytes;
    if (values.some((value) => value.byteLength > limit)) {
      throw this.#tooLarge(Math.max(...values.map((value) => value.byteLength)));
    }
  }

  #tooLarge(bytes: number): ValueTooLargeError {
    return new ValueTooLargeError(
      `value of ${bytes} bytes exceeds this MemoryStore's maxValueBytes (${this.#maxValueBytes}); raise maxValueBytes or store less`,
      { store: this.name },
    );
  }

  #write(name: string, body: string, value: Uint8Array, ttlMs: number): void {
    this.#assertOpen();
    const length = value.byteLength;
    if (length > this.#maxValueBytes) throw this.#tooLarge(length);
    // The entry is a copy: the caller may reuse its buffer, and a cache must hand back what was stored.
    const out = room(HEAD + length);
    writeHead(out, this.#now() + ttlMs, isAscii(value));
    out.set(value, HEAD);
    const scope = this.#scope(name);
    this.#store(scope, body, scope.entries.get(body), latin1Slice(out, HEAD + length));
  }

  /** Writes the value made of `header` (one byte, when given) and `text` in UTF-8. */
  #writeText(name: string, body: string, header: number | undefined, text: string, ttlMs: number): void {
    this.#assertOpen();
    const start = header === undefined ? HEAD : HEAD + 1;
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    const out = room(start + text.length * 3);
    if (header !== undefined) out[HEAD] = header;
    const written = utf8Write(out, text, start);
    const length = start - HEAD + written;
    if (length > this.#maxValueBytes) throw this.#tooLarge(length);
    // Each character took one byte only when all of them are ASCII.
    writeHead(out, this.#now() + ttlMs, written === text.length && (header ?? 0) < 0x80);
    const scope = this.#scope(name);
    this.#store(scope, body, scope.entries.get(body), latin1Slice(out, HEAD + length));
  }

  /** A new key starts a counter; an existing one keeps its expiry. A counter is added to in place. */
  #incr(name: string, body: string, delta: number, ttlMs: number): number {
    const entry = this.#live(name, body);
    const next =
      (entry === undefined ? 0 : typeof entry === 'string' ? integerAt(entry) : entry.value) + delta;
    if (!Number.isSafeInteger(next)) {
      throw new NotIntegerError(
        `the value under this key is not an integer (or would overflow); incr needs one`,
        { store: this.name },
      );
    }
    if (entry === undefined || typeof entry === 'string') {
      const counter = new Counter(next, entry === undefined ? settled(this.#now() + ttlMs) : expiryOf(entry));
      if (entry === undefined && sizeOf(counter) > this.#maxValueBytes) throw this.#tooLarge(sizeOf(counter));
      this.#store(this.#scope(name), body, entry, counter);
      return next;
    }
    const scope = this.#scopes.get(name)!;
    this.#bytes -= sizeOf(entry);
    entry.value = next;
    this.#bytes += sizeOf(entry);
    if (this.#filling()) scope.used.add(body);
    if (this.#bytes > this.#maxBytes) this.#evict(scope);
    return next;
  }

  /** Puts `entry` under `body` in place of `previous`, keeping the count, the byte total and the bounds. */
  #store(scope: Scope, body: string, previous: Entry | undefined, entry: Entry): void {
    const keyBytes = (scope.name.length + body.length) * 2;
    if (previous === undefined) {
      this.#count++;
    } else {
      this.#bytes -= keyBytes + sizeOf(previous);
      // A rewritten key counts as recently used, like a read.
      if (this.#filling()) scope.used.add(body);
    }
    scope.entries.set(body, entry);
    this.#bytes += keyBytes + sizeOf(entry);
    if (this.#count > this.#maxEntries || this.#bytes > this.#maxBytes) this.#evict(scope);
  }

  #remove(name: string, body: string): boolean {
    this.#assertOpen();
    const scope = this.#scopes.get(name);
    if (scope === undefined) return false;
    const entry = scope.entries.get(body);
    return entry === undefined ? false : this.#drop(scope, body, entry);
  }

  /** Removes an entry (an empty scope goes too); resolves whether it was live. */
  #drop(scope: Scope, body: string, entry: Entry): boolean {
    scope.entries.delete(body);
    if (scope.used.size > 0) scope.used.delete(body);
    if (scope.entries.size === 0) this.#scopes.delete(scope.name);
    this.#count--;
    this.#bytes -= (scope.name.length + body.length) * 2 + sizeOf(entry);
    return expiryOf(entry) > this.#now();
  }

  /** The scope eviction visits next: `current` when it is the only one, else each in turn. */
  #nextScope(current: Scope): Scope | undefined {
    const scopes = this.#scopes;
    if (scopes.size === 1 && current.entries.size > 0) return current;
    for (let lap = 0; lap < 2; lap++) {
      this.#turn ??= scopes.values();
      const next = this.#turn.next();
      if (!next.done) return next.value;
      this.#turn = undefined;
    }
    return undefined;
  }

  /** Evicts until the store is within its bounds, one step per scope in turn, oldest first in each. */
  #evict(current: Scope): void {
    while (this.#count > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const scope = this.#nextScope(current);
      if (scope === undefined) return;
      const entries = scope.entries;
      scope.hand ??= entries.entries();
      const oldest = scope.hand.next();
      if (oldest.done) {
        // Past the young end: start over from the (now) oldest entry.
        scope.hand = undefined;
        continue;
      }
      const [body, entry] = oldest.value;
      if (scope.used.delete(body) && expiryOf(entry) > this.#now()) {
        // Second chance: move a recently used entry to the young end.
        entries.delete(body);
        entries.set(body, entry);
        continue;
      }
      this.#drop(scope, body, entry);
      this.#evictions++;
    }
  }
}

/** What the bodies of keys in scope `name` must start with to start with `prefix`, or `undefined` when none can. */
function under(name: string, prefix: string): string | undefined {
  if (name.startsWith(prefix)) return '';
  return prefix.startsWith(name) ? prefix.slice(name.length) : undefined;
}

/** Creates a `MemoryStore`. */
export function memoryStore(options?: MemoryStoreOptions): MemoryStore {
  return new MemoryStore(options);
}

function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new CacheConfigError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}
