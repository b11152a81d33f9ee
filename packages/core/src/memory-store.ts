import { isAscii } from 'node:buffer';
import { CacheClosedError, CacheConfigError, NotIntegerError, ValueTooLargeError } from './errors.js';
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

/*
 * An entry is one string: a 6-character head, then the value's bytes, one character per byte
 * (latin1, which V8 keeps at one byte per character). The head holds the expiry in ms as a
 * 47-bit integer, big-endian, and in its top bit whether every value byte is ASCII (then the
 * bytes can be handed out as a string as they are). A Uint8Array per value, or an object per
 * entry, would cost more than a short value itself.
 */
const HEAD = 6;
const ASCII_FLAG = 0x80;
/** Expiry stored for a key without one (and the cap of every other): year 6429. */
const NEVER = 2 ** 47 - 1;
/**
 * Buffer's unchecked codecs. They have been on `Buffer.prototype` since Node's first
 * releases, but are not typed; the public `write` and `toString` check every argument first,
 * which costs as much as the copy of a short value. Without them, the public forms are used.
 */
interface UncheckedBuffer {
  utf8Write(text: string, offset: number): number;
  latin1Write(text: string, offset: number): number;
  latin1Slice(start: number, end: number): string;
}
const unchecked = ['utf8Write', 'latin1Write', 'latin1Slice'].every(
  (name) => typeof (Buffer.prototype as unknown as Record<string, unknown>)[name] === 'function',
);
const utf8Write = unchecked
  ? (out: Buffer, text: string, offset: number) => (out as unknown as UncheckedBuffer).utf8Write(text, offset)
  : (out: Buffer, text: string, offset: number) => out.write(text, offset, 'utf8');
const latin1Write = unchecked
  ? (out: Buffer, text: string, offset: number) =>
      (out as unknown as UncheckedBuffer).latin1Write(text, offset)
  : (out: Buffer, text: string, offset: number) => out.write(text, offset, 'latin1');
const latin1Slice = unchecked
  ? (out: Buffer, end: number) => (out as unknown as UncheckedBuffer).latin1Slice(0, end)
  : (out: Buffer, end: number) => out.toString('latin1', 0, end);

/** Values up to this size are framed in one reused buffer; bigger ones get their own. */
const SCRATCH_BYTES = 64 * 1024;
let scratch = Buffer.allocUnsafe(4096);

function room(bytes: number): Buffer {
  if (bytes <= scratch.byteLength) return scratch;
  if (bytes > SCRATCH_BYTES) return Buffer.allocUnsafe(bytes);
  scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  return scratch;
}

function writeHead(out: Buffer, expiresAt: number, ascii: boolean): void {
  const at = expiresAt >= NEVER ? NEVER : expiresAt <= 0 ? 0 : Math.ceil(expiresAt);
  const high = Math.floor(at / 2 ** 32);
  out[0] = (high >>> 8) | (ascii ? ASCII_FLAG : 0);
  out[1] = high & 0xff;
  const low = at >>> 0;
  out[2] = low >>> 24;
  out[3] = (low >>> 16) & 0xff;
  out[4] = (low >>> 8) & 0xff;
  out[5] = low & 0xff;
}

function expiryOf(entry: string): number {
  const at =
    ((entry.charCodeAt(0) & 0x7f) * 256 + entry.charCodeAt(1)) * 2 ** 32 +
    entry.charCodeAt(2) * 2 ** 24 +
    ((entry.charCodeAt(3) << 16) | (entry.charCodeAt(4) << 8) | entry.charCodeAt(5));
  return at === NEVER ? Number.POSITIVE_INFINITY : at;
}

/** The value of an entry as ASCII decimal, or NaN when it is not one (a safe integer at most 16 digits long). */
function integerAt(entry: string): number {
  const length = entry.length;
  let i = HEAD;
  const negative = entry.charCodeAt(i) === 45; /* - */
  if (negative) i++;
  if (i === length || length - i > 16) return Number.NaN;
  let n = 0;
  for (; i < length; i++) {
    const digit = entry.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return Number.NaN;
    n = n * 10 + digit;
  }
  return negative ? -n : n;
}

const isAsciiEntry = (entry: string) => (entry.charCodeAt(0) & ASCII_FLAG) !== 0;

/** The value's bytes, a fresh copy. */
const bytesOf = (entry: string): Uint8Array => Buffer.from(entry.slice(HEAD), 'latin1');

/** An ASCII value as a string of its bytes, anything else as a fresh copy of its bytes. */
const frameOf = (entry: string): Uint8Array | string =>
  isAsciiEntry(entry) ? entry.slice(HEAD) : bytesOf(entry);

/**
 * An in-process store with millisecond TTLs, bounded by entries and bytes: the embedded
 * default and the test double that is not a mock. Eviction approximates LRU with CLOCK
 * (second chance): a read only marks the key, so reads never reorder the map.
 */
export class MemoryStore implements Store {
  readonly name = 'memory';
  readonly capabilities: StoreCapabilities;
  /** The calls the cache makes without a promise (see `SyncStoreCalls`). */
  readonly sync: SyncStoreCalls;
  readonly #entries = new Map<string, string>();
  /** Keys read (or rewritten) since eviction last passed them: they get a second chance. */
  readonly #used = new Set<string>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxValueBytes: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;
  /**
   * Where eviction left off. Map iterators are live (they skip deleted entries and reach new
   * ones), so keeping one makes eviction O(1) amortized; a fresh `entries()` per eviction
   * would walk every hole that earlier deletions left at the old end of the map.
   */
  #hand: MapIterator<[string, string]> | undefined;
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
      get: (key) => {
        const entry = this.#read(key);
        return entry === undefined ? undefined : frameOf(entry);
      },
      getMany: (keys) =>
        keys.map((key) => {
          const entry = this.#read(key);
          return entry === undefined ? undefined : frameOf(entry);
        }),
      set: (key, value, ttlMs) => this.#write(key, value, ttlMs),
      setText: (key, header, text, ttlMs) => this.#writeText(key, header, text, ttlMs),
      incr: (key, delta, ttlMs) => this.#incr(key, delta, ttlMs),
    };
    this.#sweeper = setInterval(
      () => this.sweep(),
      positive('sweepInterval', options.sweepInterval ?? 60_000),
    );
    this.#sweeper.unref();
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const entry = this.#read(key);
    return entry === undefined ? undefined : bytesOf(entry);
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    return keys.map((key) => {
      const entry = this.#read(key);
      return entry === undefined ? undefined : bytesOf(entry);
    });
  }

  async set(key: string, value: Uint8Array, ttlMs: number): Promise<void> {
    this.#write(key, value, ttlMs);
  }

  async setMany(entries: readonly StoreEntry[]): Promise<void> {
    // All or nothing: check every size before the first write.
    const limit = this.#maxValueBytes;
    if (entries.some(({ value }) => value.byteLength > limit)) {
      const largest = Math.max(...entries.map(({ value }) => value.byteLength));
      throw this.#tooLarge(largest);
    }
    for (const { key, value, ttlMs } of entries) this.#write(key, value, ttlMs);
  }

  async add(key: string, value: Uint8Array, ttlMs: number): Promise<boolean> {
    if (this.#live(key) !== undefined) return false;
    this.#write(key, value, ttlMs);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    return this.#remove(key);
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    let removed = 0;
    for (const key of keys) if (this.#remove(key)) removed++;
    return removed;
  }

  async has(key: string): Promise<boolean> {
    return this.#live(key) !== undefined;
  }

  async incr(key: string, delta: number, ttlMs: number): Promise<number> {
    return this.#incr(key, delta, ttlMs);
  }

  async touch(key: string, ttlMs: number): Promise<boolean> {
    const entry = this.#live(key);
    if (entry === undefined) return false;
    this.#store(key, entry, this.#pack(this.#now() + ttlMs, isAsciiEntry(entry), entry.slice(HEAD)));
    return true;
  }

  async ttl(key: string): Promise<number | undefined> {
    const entry = this.#live(key);
    if (entry === undefined) return undefined;
    const expiresAt = expiryOf(entry);
    return expiresAt === Number.POSITIVE_INFINITY ? expiresAt : Math.max(0, expiresAt - this.#now());
  }

  async clear(prefix: string): Promise<void> {
    this.#assertOpen();
    for (const key of this.#entries.keys()) if (key.startsWith(prefix)) this.#remove(key);
  }

  async *keys(prefix: string): AsyncIterable<string> {
    this.#assertOpen();
    const now = this.#now();
    // A snapshot: the caller may write or delete while it iterates.
    const found: string[] = [];
    for (const [key, entry] of this.#entries) {
      if (expiryOf(entry) > now && key.startsWith(prefix)) found.push(key);
    }
    yield* found;
  }

  async info(): Promise<StoreInfo> {
    return {
      bytesUsed: this.#bytes,
      byteLimit: this.#maxBytes,
      items: this.#entries.size,
      evictions: this.#evictions,
      evictionPolicy: 'lru',
      serverVersion: `node ${process.versions.node}`,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#entries.clear();
    this.#used.clear();
    this.#hand = undefined;
    this.#bytes = 0;
  }

  /** Synchronous read, for an in-process tier in front of another store (the cache's L1). */
  readSync(key: string): Uint8Array | undefined {
    const entry = this.#read(key);
    return entry === undefined ? undefined : bytesOf(entry);
  }

  /** Synchronous write; a value over `maxValueBytes` is not kept (an L1 simply misses it). */
  writeSync(key: string, value: Uint8Array, ttlMs: number): void {
    if (value.byteLength <= this.#maxValueBytes && ttlMs > 0) this.#write(key, value, ttlMs);
  }

  /** Synchronous removal of one key, or of every key under a prefix (`''`: everything). */
  dropSync(key: string, prefix = false): void {
    if (!prefix) {
      this.#remove(key);
      return;
    }
    for (const stored of this.#entries.keys()) if (stored.startsWith(key)) this.#remove(stored);
  }

  /** Removes expired entries now; runs on the sweep interval. */
  sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (expiryOf(entry) <= now) this.#remove(key);
  }

  #assertOpen(): void {
    if (this.#closed) throw new CacheClosedError('this MemoryStore is closed', { store: this.name });
  }

  /** A live entry without touching recency. */
  #live(key: string): string | undefined {
    if (this.#closed) this.#assertOpen();
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (expiryOf(entry) <= this.#now()) {
      this.#remove(key);
      return undefined;
    }
    return entry;
  }

  /** A live entry, marked as used for eviction. */
  #read(key: string): string | undefined {
    const entry = this.#live(key);
    if (entry !== undefined && this.#filling()) this.#used.add(key);
    return entry;
  }

  /**
   * Whether the store is past half its bounds, where recency starts to matter: eviction
   * comes only when it is full, and a mark made while it was less than half full is at
   * least half a store of writes old by then. Below it, reads skip the bookkeeping.
   */
  #filling(): boolean {
    return this.#entries.size > this.#maxEntries / 2 || this.#bytes > this.#maxBytes / 2;
  }

  #tooLarge(bytes: number): ValueTooLargeError {
    return new ValueTooLargeError(
      `value of ${bytes} bytes exceeds this MemoryStore's maxValueBytes (${this.#maxValueBytes}); raise maxValueBytes or store less`,
      { store: this.name },
    );
  }

  /** Packs a head and a value given as a latin1 string (one character per byte). */
  #pack(expiresAt: number, ascii: boolean, latin1: string): string {
    const size = HEAD + latin1.length;
    const out = room(size);
    writeHead(out, expiresAt, ascii);
    latin1Write(out, latin1, HEAD);
    return latin1Slice(out, size);
  }

  #write(key: string, value: Uint8Array, ttlMs: number): void {
    this.#assertOpen();
    const length = value.byteLength;
    if (length > this.#maxValueBytes) throw this.#tooLarge(length);
    // The entry is a copy: the caller may reuse its buffer, and a cache must hand back what was stored.
    const out = room(HEAD + length);
    writeHead(out, this.#now() + ttlMs, isAscii(value));
    out.set(value, HEAD);
    this.#store(key, this.#entries.get(key), latin1Slice(out, HEAD + length));
  }

  /** Writes the value made of `header` (one byte, when given) and `text` in UTF-8. */
  #writeText(key: string, header: number | undefined, text: string, ttlMs: number): void {
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
    this.#store(key, this.#entries.get(key), latin1Slice(out, HEAD + length));
  }

  #incr(key: string, delta: number, ttlMs: number): number {
    const entry = this.#live(key);
    if (entry === undefined) {
      this.#writeText(key, undefined, String(delta), ttlMs);
      return delta;
    }
    const next = integerAt(entry) + delta;
    if (!Number.isSafeInteger(next)) {
      throw new NotIntegerError(
        `the value under this key is not an integer (or would overflow); incr needs one`,
        { store: this.name },
      );
    }
    // An existing key keeps its expiry (and its head). Below 13 characters V8 copies a
    // concatenation into one flat string; longer ones are packed, so no rope is kept.
    const digits = String(next);
    const updated =
      digits.length + HEAD < 13 ? entry.slice(0, HEAD) + digits : this.#pack(expiryOf(entry), true, digits);
    this.#store(key, entry, updated);
    return next;
  }

  /** Puts `entry` under `key` in place of `previous`, keeping the byte total and the bounds. */
  #store(key: string, previous: string | undefined, entry: string): void {
    if (previous !== undefined) {
      this.#bytes -= key.length * 2 + previous.length - HEAD;
      // A rewritten key counts as recently used, like a read.
      if (this.#filling()) this.#used.add(key);
    }
    this.#entries.set(key, entry);
    this.#bytes += key.length * 2 + entry.length - HEAD;
    if (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) this.#evict();
  }

  #remove(key: string): boolean {
    this.#assertOpen();
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    if (this.#used.size > 0) this.#used.delete(key);
    this.#bytes -= key.length * 2 + entry.length - HEAD;
    return expiryOf(entry) > this.#now();
  }

  #evict(): void {
    const entries = this.#entries;
    while (entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      this.#hand ??= entries.entries();
      const oldest = this.#hand.next();
      if (oldest.done) {
        // Past the young end: start over from the (now) oldest entry.
        this.#hand = undefined;
        if (entries.size === 0) return;
        continue;
      }
      const [key, entry] = oldest.value;
      if (this.#used.delete(key) && expiryOf(entry) > this.#now()) {
        // Second chance: move a recently used entry to the young end.
        entries.delete(key);
        entries.set(key, entry);
        continue;
      }
      this.#remove(key);
      this.#evictions++;
    }
  }
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
