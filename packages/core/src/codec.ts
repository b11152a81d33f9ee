import { type CompressionAlgorithm, type Compressor, compressors, compressorsById } from './compression.js';
import { CacheConfigError } from './errors.js';
import { jsonSerializer, jsonText, parseJson, type Serializer, utf8, v8Serializer } from './serializer.js';

/**
 * Value frame. Safe integers are stored as bare ASCII decimal (so server-side INCR works
 * on them). Everything else starts with one header byte in 0x01–0x1f:
 *
 *   bits 0–1  serializer id (1 JSON, 2 v8, 3 custom)
 *   bits 2–3  compression id (0 none, 1 deflate, 2 gzip, 3 brotli)
 *   bit  4    a 2-byte big-endian schema version follows
 *
 * The header never collides with a digit or '-', and foreign bytes (pickle, PHP, raw JSON)
 * fail to decode and read back as a corrupt miss, never an exception.
 */

/**
 * A value written with a grace period: fresh until `freshUntil` (ms, the writer's clock),
 * then servable as stale until the store expires it. Framed as 0x00, a float64 (big-endian)
 * `freshUntil`, then an ordinary frame.
 */
export class GraceEntry {
  constructor(
    readonly value: unknown,
    readonly freshUntil: number,
  ) {}
}

/**
 * A value written with tags, and the version each tag had when it was written. Framed as
 * 0x04, a tag count (u8), per tag its UTF-8 length (u16), name and version (float64), then
 * an ordinary or grace frame. 0x04 has serializer bits 0, so no older frame starts with it.
 */
export class TaggedEntry {
  constructor(
    readonly value: unknown,
    readonly tags: readonly (readonly [name: string, version: number])[],
  ) {}
}

export const TAGGED_HEADER = 0x04;
const GRACE_HEADER = 0x00;
const GRACE_PREFIX_BYTES = 9;

/** What a read found that is not a value: undecodable bytes, or a value of another schema version. */
export const CORRUPT: unique symbol = Symbol('corrupt');
export const STALE_SCHEMA: unique symbol = Symbol('stale-schema');

export interface CompressionOptions {
  /** @default 'gzip' */
  algorithm?: CompressionAlgorithm;
  /** Values whose serialized size is at least this many bytes are compressed. @default 1024 */
  threshold?: number;
}

export interface CodecOptions {
  serializer: Serializer;
  compression: CompressionOptions | false;
  schemaVersion: number | undefined;
  /** Largest size a compressed value may inflate to on read. */
  maxDecompressedBytes: number;
}

/** The default cap on what one compressed value may inflate to: 32 MiB. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 32 * 1024 * 1024;

const SCHEMA_FLAG = 0x10;
const JSON_HEADER_CHAR = String.fromCharCode(jsonSerializer.id);
const MAX_PLAIN_INTEGER_DIGITS = 17;

export class Codec {
  readonly #serializer: Serializer;
  readonly #compressor: Compressor | undefined;
  readonly #threshold: number;
  readonly #schemaVersion: number | undefined;
  readonly #custom: Serializer | undefined;
  readonly #maxDecompressedBytes: number;
  /** JSON, no compression, no schema version: a frame is the header byte and the JSON text. */
  readonly #textFrames: boolean;

  constructor(options: CodecOptions) {
    const { serializer, compression, schemaVersion, maxDecompressedBytes } = options;
    if (!(Number.isSafeInteger(maxDecompressedBytes) && maxDecompressedBytes > 0)) {
      throw new CacheConfigError(
        `maxDecompressedBytes ${maxDecompressedBytes} must be a positive whole number of bytes`,
      );
    }
    this.#maxDecompressedBytes = maxDecompressedBytes;
    if (
      schemaVersion !== undefined &&
      !(Number.isInteger(schemaVersion) && schemaVersion >= 0 && schemaVersion < 65536)
    ) {
      throw new CacheConfigError(`schemaVersion ${schemaVersion} must be an integer from 0 to 65535`);
    }
    if (![1, 2, 3].includes(serializer.id)) {
      throw new CacheConfigError(
        `serializer "${serializer.name}" has id ${serializer.id}; use 3 for a custom one`,
      );
    }
    this.#serializer = serializer;
    this.#custom = serializer.id === 3 ? serializer : undefined;
    this.#schemaVersion = schemaVersion;
    if (compression === false) {
      this.#compressor = undefined;
      this.#threshold = Number.POSITIVE_INFINITY;
    } else {
      const algorithm = compression.algorithm ?? 'gzip';
      const compressor = compressors[algorithm];
      if (!compressor)
        throw new CacheConfigError(`compression algorithm "${algorithm}" is not deflate, gzip or brotli`);
      const threshold = compression.threshold ?? 1024;
      if (!(threshold >= 0))
        throw new CacheConfigError(`compression threshold ${threshold} must be >= 0 bytes`);
      this.#compressor = compressor;
      this.#threshold = threshold;
    }
    this.#textFrames =
      serializer === jsonSerializer && this.#compressor === undefined && schemaVersion === undefined;
  }

  /** Frames `value` as fresh until `freshUntil`; see `GraceEntry`. */
  encodeGrace(value: unknown, freshUntil: number): Uint8Array {
    const inner = this.encode(value);
    const out = Buffer.allocUnsafe(GRACE_PREFIX_BYTES + inner.byteLength);
    out[0] = GRACE_HEADER;
    out.writeDoubleBE(freshUntil, 1);
    out.set(inner, GRACE_PREFIX_BYTES);
    return out;
  }

  /** Wraps an encoded frame with its tags and their versions; see `TaggedEntry`. */
  encodeTagged(frame: Uint8Array, tags: readonly (readonly [string, number])[]): Uint8Array {
    const names = tags.map(([name]) => Buffer.from(name, 'utf8'));
    const size = 2 + names.reduce((sum, name) => sum + 2 + name.byteLength + 8, 0);
    const out = Buffer.allocUnsafe(size + frame.byteLength);
    out[0] = TAGGED_HEADER;
    out[1] = tags.length;
    let at = 2;
    tags.forEach(([, version], i) => {
      const name = names[i]!;
      out.writeUInt16BE(name.byteLength, at);
      out.set(name, at + 2);
      out.writeDoubleBE(version, at + 2 + name.byteLength);
      at += 2 + name.byteLength + 8;
    });
    out.set(frame, at);
    return out;
  }

  /** Serializes (throwing `SerializationError` before any I/O), compresses above the threshold, frames. */
  encode(value: unknown): Uint8Array {
    if (typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0)) {
      return Buffer.from(String(value), 'latin1');
    }
    if (this.#textFrames) {
      // The header is one byte below 0x80, so header + text encode as UTF-8 in one buffer.
      return Buffer.from(JSON_HEADER_CHAR + jsonText(value), 'utf8');
    }
    let body = this.#serializer.serialize(value);
    let header = this.#serializer.id;
    // A body over the read limit stays plain: compressed, this cache could not read it back.
    if (
      this.#compressor !== undefined &&
      body.byteLength >= this.#threshold &&
      body.byteLength <= this.#maxDecompressedBytes
    ) {
      const packed = this.#compressor.compress(body);
      if (packed.byteLength < body.byteLength) {
        body = packed;
        header |= this.#compressor.id << 2;
      }
    }
    const schema = this.#schemaVersion;
    const headerBytes = schema === undefined ? 1 : 3;
    const out = Buffer.allocUnsafe(headerBytes + body.byteLength);
    if (schema === undefined) {
      out[0] = header;
    } else {
      out[0] = header | SCHEMA_FLAG;
      out.writeUInt16BE(schema, 1);
    }
    out.set(body, headerBytes);
    return out;
  }

  /**
   * The frame of `value` as one header byte (none for a plain integer) and UTF-8 text, when
   * this codec's frame for it is just that (JSON, uncompressed, no schema version); else
   * `undefined`. Throws `SerializationError` like `encode`.
   */
  encodeText(value: unknown): [header: number | undefined, text: string] | undefined {
    if (typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0)) {
      return [undefined, String(value)];
    }
    return this.#textFrames ? [jsonSerializer.id, jsonText(value)] : undefined;
  }

  /** `decode` for a frame given as a string of its bytes (one character per byte). */
  decodeText(frame: string): unknown {
    const header = frame.charCodeAt(0);
    if (header === jsonSerializer.id && this.#schemaVersion === undefined) {
      try {
        // Only ASCII frames come as text, so the characters are the UTF-8 text as it is.
        return parseJson(frame.slice(1));
      } catch {
        return CORRUPT;
      }
    }
    if (header > 0x1f && frame.length <= MAX_PLAIN_INTEGER_DIGITS) return parsePlainInteger(frame);
    return this.decode(Buffer.from(frame, 'latin1'));
  }

  /**
   * Reads a frame back. Never throws: foreign bytes, and compressed values that would inflate
   * past `maxDecompressedBytes`, give `CORRUPT`; another schema version gives `STALE_SCHEMA`.
   */
  decode(bytes: Uint8Array): unknown {
    const length = bytes.byteLength;
    if (length === 0) return CORRUPT;
    const header = bytes[0]!;
    if (header === GRACE_HEADER) return this.#decodeGrace(bytes);
    if (header === TAGGED_HEADER) return this.#decodeTagged(bytes);
    if (header > 0x1f) return length <= MAX_PLAIN_INTEGER_DIGITS ? parsePlainInteger(bytes) : CORRUPT;
    let start = 1;
    if (header & SCHEMA_FLAG) {
      if (length < 3) return CORRUPT;
      const schema = (bytes[1]! << 8) | bytes[2]!;
      if (schema !== this.#schemaVersion) return STALE_SCHEMA;
      start = 3;
    } else if (this.#schemaVersion !== undefined) {
      return STALE_SCHEMA;
    }
    const serializer = header & 3;
    const compression = (header >> 2) & 3;
    if (serializer === 1 && compression === 0) {
      // Plain JSON, the common frame: the text straight from the bytes, with no view cut first.
      try {
        return parseJson(utf8(bytes, start));
      } catch {
        return CORRUPT;
      }
    }
    const chosen = serializer === 1 ? jsonSerializer : serializer === 2 ? v8Serializer : this.#custom;
    if (chosen === undefined) return CORRUPT;
    try {
      let body = bytes.subarray(start);
      if (compression !== 0)
        body = compressorsById[compression]!.decompress(body, this.#maxDecompressedBytes);
      return chosen.deserialize(body);
    } catch {
      return CORRUPT;
    }
  }

  #decodeTagged(bytes: Uint8Array): TaggedEntry | typeof CORRUPT | typeof STALE_SCHEMA {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.byteLength < 2) return CORRUPT;
    const tags: [string, number][] = [];
    let at = 2;
    for (let i = 0; i < view[1]!; i++) {
      if (at + 2 > view.byteLength) return CORRUPT;
      const length = view.readUInt16BE(at);
      if (at + 2 + length + 8 > view.byteLength) return CORRUPT;
      tags.push([view.toString('utf8', at + 2, at + 2 + length), view.readDoubleBE(at + 2 + length)]);
      at += 2 + length + 8;
    }
    const inner = bytes.subarray(at);
    if (inner[0] === TAGGED_HEADER) return CORRUPT;
    const value = this.decode(inner);
    return value === CORRUPT || value === STALE_SCHEMA ? value : new TaggedEntry(value, tags);
  }

  #decodeGrace(bytes: Uint8Array): GraceEntry | typeof CORRUPT | typeof STALE_SCHEMA {
    if (bytes.byteLength <= GRACE_PREFIX_BYTES) return CORRUPT;
    const freshUntil = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readDoubleBE(1);
    const inner = bytes.subarray(GRACE_PREFIX_BYTES);
    // One level only: a grace frame inside a grace frame is not something this codec writes.
    if (!Number.isFinite(freshUntil) || inner[0] === GRACE_HEADER) return CORRUPT;
    const value = this.decode(inner);
    return value === CORRUPT || value === STALE_SCHEMA ? value : new GraceEntry(value, freshUntil);
  }
}

/** Parses bare ASCII decimal written by `set(k, 42)` or a server's INCR (bytes, or a string of them). */
function parsePlainInteger(bytes: Uint8Array | string): number | typeof CORRUPT {
  const length = typeof bytes === 'string' ? bytes.length : bytes.byteLength;
  const at = typeof bytes === 'string' ? (i: number) => bytes.charCodeAt(i) : (i: number) => bytes[i]!;
  let i = 0;
  let negative = false;
  if (at(0) === 45 /* - */) {
    if (length === 1) return CORRUPT;
    negative = true;
    i = 1;
  }
  let n = 0;
  for (; i < length; i++) {
    const digit = at(i) - 48;
    if (digit < 0 || digit > 9) return CORRUPT;
    n = n * 10 + digit;
  }
  if (!Number.isSafeInteger(n)) return CORRUPT;
  return negative ? -n : n;
}

export { jsonSerializer, v8Serializer };
