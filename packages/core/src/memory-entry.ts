/**
 * How MemoryStore keeps an entry: one string of a 6-character head and the value's bytes, and
 * the Buffer helpers that build and read it without a per-call check of every argument.
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

export function expiryOf(entry: string): number {
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
export const bytesOf = (entry: string): Uint8Array => Buffer.from(entry.slice(HEAD), 'latin1');

/** An ASCII value as a string of its bytes, anything else as a fresh copy of its bytes. */
export const frameOf = (entry: string): Uint8Array | string =>
  isAsciiEntry(entry) ? entry.slice(HEAD) : bytesOf(entry);

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
