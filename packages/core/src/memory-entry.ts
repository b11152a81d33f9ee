/**
 * How MemoryStore keeps an entry: one string of a 6-character head and the value's bytes (or,
 * for a counter, its number and expiry), and the Buffer helpers that build and read it without
 * a per-call check of every argument.
 */
/*
 * An entry is one string: a 6-character head, then the value's bytes, one character per byte
 * (latin1, which V8 keeps at one byte per character). The head holds the expiry in ms as a
 * 47-bit integer, big-endian, and in its top bit whether every value byte is ASCII (then the
 * bytes can be handed out as a string as they are). A Uint8Array per value, or an object per
 * entry, would cost more than a short value itself.
 */
export const HEAD = 6;
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
export const utf8Write = unchecked
  ? (out: Buffer, text: string, offset: number) => (out as unknown as UncheckedBuffer).utf8Write(text, offset)
  : (out: Buffer, text: string, offset: number) => out.write(text, offset, 'utf8');
export const latin1Write = unchecked
  ? (out: Buffer, text: string, offset: number) =>
      (out as unknown as UncheckedBuffer).latin1Write(text, offset)
  : (out: Buffer, text: string, offset: number) => out.write(text, offset, 'latin1');
export const latin1Slice = unchecked
  ? (out: Buffer, end: number) => (out as unknown as UncheckedBuffer).latin1Slice(0, end)
  : (out: Buffer, end: number) => out.toString('latin1', 0, end);

/** Values up to this size are framed in one reused buffer; bigger ones get their own. */
const SCRATCH_BYTES = 64 * 1024;
let scratch = Buffer.allocUnsafe(4096);

export function room(bytes: number): Buffer {
  if (bytes <= scratch.byteLength) return scratch;
  if (bytes > SCRATCH_BYTES) return Buffer.allocUnsafe(bytes);
  scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  return scratch;
}

export function writeHead(out: Buffer, expiresAt: number, ascii: boolean): void {
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

/**
 * A counter written by `incr`: its value as a number, which the next `incr` adds to in place,
 * so a counter builds and parses no string per call. It reads back as its ASCII decimal digits,
 * as if it were stored as them, and counts that many value bytes. The object costs about 32
 * bytes more than the string would: the price of an incr that allocates nothing.
 */
export class Counter {
  constructor(
    public value: number,
    /** As `expiryOf` gives it: `Infinity` for a key without expiry. */
    public expiresAt: number,
  ) {}
}

export type Entry = string | Counter;

/** An expiry as a head would hold it and `expiryOf` give it back: whole ms, capped. */
export function settled(expiresAt: number): number {
  return expiresAt >= NEVER ? Number.POSITIVE_INFINITY : expiresAt <= 0 ? 0 : Math.ceil(expiresAt);
}

/** An entry of a head and a value given as a latin1 string (one character per byte). */
export function pack(expiresAt: number, ascii: boolean, latin1: string): string {
  const size = HEAD + latin1.length;
  const out = room(size);
  writeHead(out, expiresAt, ascii);
  latin1Write(out, latin1, HEAD);
  return latin1Slice(out, size);
}

export function expiryOf(entry: Entry): number {
  if (typeof entry !== 'string') return entry.expiresAt;
  const at =
    ((entry.charCodeAt(0) & 0x7f) * 256 + entry.charCodeAt(1)) * 2 ** 32 +
    entry.charCodeAt(2) * 2 ** 24 +
    ((entry.charCodeAt(3) << 16) | (entry.charCodeAt(4) << 8) | entry.charCodeAt(5));
  return at === NEVER ? Number.POSITIVE_INFINITY : at;
}

/** The value of an entry as ASCII decimal, or NaN when it is not one (a safe integer at most 16 digits long). */
export function integerAt(entry: string): number {
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

export const isAsciiEntry = (entry: string) => (entry.charCodeAt(0) & ASCII_FLAG) !== 0;

/** The value's bytes, a fresh copy. */
export const bytesOf = (entry: Entry): Uint8Array =>
  typeof entry === 'string' ? Buffer.from(entry.slice(HEAD), 'latin1') : Buffer.from(String(entry.value));

/** An ASCII value as a string of its bytes, anything else as a fresh copy of its bytes. */
export const frameOf = (entry: Entry): Uint8Array | string =>
  typeof entry !== 'string' ? String(entry.value) : isAsciiEntry(entry) ? entry.slice(HEAD) : bytesOf(entry);

/** How many value bytes an entry counts for `maxBytes`. */
export const sizeOf = (entry: Entry): number =>
  typeof entry === 'string' ? entry.length - HEAD : digitsOf(entry.value);

/** The length of a safe integer in decimal, its sign included. */
export function digitsOf(n: number): number {
  let digits = n < 0 ? 2 : 1;
  for (let next = 10, rest = Math.abs(n); next <= rest; next *= 10) digits++;
  return digits;
}

/** A character latin1 cannot hold. */
const BEYOND_LATIN1 = /[\u0100-\uffff]/;

/**
 * A flat copy of a string cut from a longer one, for a body the store may keep as a map key:
 * V8 keeps a cut of 13 or more characters as a view of the whole string, which it keeps alive.
 */
export function detach(text: string): string {
  if (text.length < 13) return text;
  // Not through the scratch buffer: a write may have a value in it while its scope is made.
  return BEYOND_LATIN1.test(text)
    ? Buffer.from(text, 'utf16le').toString('utf16le')
    : Buffer.from(text, 'latin1').toString('latin1');
}
