/**
 * The few pieces of memcached's binary protocol the store writes itself. memjs 1.3 cannot set
 * item flags, has no multi-get, and reads 64-bit counters wrongly, so the store builds its own
 * requests and sends them over memjs's connections (`Server.write`/`onResponse`).
 */

/** Request opcodes. The `q` variants answer only on error (GETKQ: only on a hit). */
export const Opcode = {
  get: 0x00,
  set: 0x01,
  add: 0x02,
  delete: 0x04,
  increment: 0x05,
  noop: 0x0a,
  getkq: 0x0d,
  stat: 0x10,
  setq: 0x11,
  deleteq: 0x14,
  touch: 0x1c,
} as const;

/** Response status codes. */
export const Status = {
  ok: 0x00,
  notFound: 0x01,
  exists: 0x02,
  tooLarge: 0x03,
  invalidArguments: 0x04,
  notStored: 0x05,
  nonNumeric: 0x06,
  authError: 0x20,
  unknownCommand: 0x81,
  outOfMemory: 0x82,
} as const;

/** Longest key memcached accepts, in bytes. */
export const MAX_KEY_BYTES = 250;

/** An exptime above this many seconds is read by memcached as a Unix time, not as seconds from now. */
export const MAX_RELATIVE_EXPTIME = 30 * 86_400;

/** `increment` with this exptime fails on a missing key instead of creating it. */
export const NO_CREATE = 0xffff_ffff;

const HEADER_BYTES = 24;

/** Size of one request with these parts. */
export function requestBytes(key: Uint8Array, extrasBytes: number, valueBytes: number): number {
  return HEADER_BYTES + extrasBytes + key.byteLength + valueBytes;
}

/**
 * Writes one request into `target` at `offset` and returns the offset after it. `extras` is
 * written by the caller through `writeExtras` (so no temporary buffer is made per request).
 */
export function writeRequest(
  target: Buffer,
  offset: number,
  opcode: number,
  key: Uint8Array,
  extrasBytes: number,
  writeExtras: ((target: Buffer, at: number) => void) | undefined,
  value: Uint8Array | undefined,
  opaque: number,
  cas?: Uint8Array,
): number {
  const valueBytes = value === undefined ? 0 : value.byteLength;
  target[offset] = 0x80;
  target[offset + 1] = opcode;
  target.writeUInt16BE(key.byteLength, offset + 2);
  target[offset + 4] = extrasBytes;
  target[offset + 5] = 0; // data type
  target.writeUInt16BE(0, offset + 6); // vbucket
  target.writeUInt32BE(extrasBytes + key.byteLength + valueBytes, offset + 8);
  target.writeUInt32BE(opaque >>> 0, offset + 12);
  if (cas === undefined) target.fill(0, offset + 16, offset + 24);
  else target.set(cas.subarray(0, 8), offset + 16);
  let at = offset + HEADER_BYTES;
  if (writeExtras !== undefined) writeExtras(target, at);
  at += extrasBytes;
  target.set(key, at);
  at += key.byteLength;
  if (value !== undefined) {
    target.set(value, at);
    at += valueBytes;
  }
  return at;
}

/** One request in a buffer of its own. */
export function encodeRequest(
  opcode: number,
  key: Uint8Array,
  extrasBytes: number,
  writeExtras: ((target: Buffer, at: number) => void) | undefined,
  value: Uint8Array | undefined,
  opaque: number,
  cas?: Uint8Array,
): Buffer {
  const out = Buffer.allocUnsafe(requestBytes(key, extrasBytes, value?.byteLength ?? 0));
  writeRequest(out, 0, opcode, key, extrasBytes, writeExtras, value, opaque, cas);
  return out;
}

/** Extras of set/add: 4 bytes of flags, 4 bytes of exptime. */
export function storageExtras(flags: number, exptime: number): (target: Buffer, at: number) => void {
  return (target, at) => {
    target.writeUInt32BE(flags, at);
    target.writeUInt32BE(exptime, at + 4);
  };
}

/** Extras of increment: 8 bytes delta (unsigned, wrapping), 8 bytes initial value, 4 bytes exptime. */
export function incrementExtras(delta: bigint, exptime: number): (target: Buffer, at: number) => void {
  return (target, at) => {
    target.writeBigUInt64BE(delta, at);
    target.writeBigUInt64BE(0n, at + 8);
    target.writeUInt32BE(exptime, at + 16);
  };
}

/** Extras of touch: 4 bytes exptime. */
export function touchExtras(exptime: number): (target: Buffer, at: number) => void {
  return (target, at) => {
    target.writeUInt32BE(exptime, at);
  };
}

/** One request of a pipeline: its key, and optionally extras and a value. */
export interface PipelineEntry {
  key: string;
  keyBytes: Buffer;
}

/** How a pipeline writes each entry's request. */
export interface PipelineRequest<E> {
  opcode: number;
  extrasBytes: number;
  extras?: (entry: E) => (target: Buffer, at: number) => void;
  value?: (entry: E) => Uint8Array;
}

const EMPTY = Buffer.alloc(0);

/** The entries' requests (entry `i` under `opaqueAt(i)`) then a NOOP under `noopOpaque`, in one buffer. */
export function encodeBatch<E extends PipelineEntry>(
  entries: readonly E[],
  request: PipelineRequest<E>,
  opaqueAt: (i: number) => number,
  noopOpaque: number,
): Buffer {
  let size = requestBytes(EMPTY, 0, 0);
  for (const e of entries) {
    size += requestBytes(e.keyBytes, request.extrasBytes, request.value?.(e).byteLength ?? 0);
  }
  const blob = Buffer.allocUnsafe(size);
  let at = 0;
  entries.forEach((e, i) => {
    const value = request.value?.(e);
    at = writeRequest(
      blob,
      at,
      request.opcode,
      e.keyBytes,
      request.extrasBytes,
      request.extras?.(e),
      value,
      opaqueAt(i),
    );
  });
  writeRequest(blob, at, Opcode.noop, EMPTY, 0, undefined, undefined, noopOpaque);
  return blob;
}
