import { InvalidKeyError } from '@larder/core';
import { NAME } from './errors.js';
import { MAX_KEY_BYTES } from './protocol.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const FORBIDDEN_KEY_CHARS = /[\x00-\x20\x7f]/;

/** Checks a key the cache hands over; an invalid key is never sent (it would hang the connection). */
export function checkKey(key: string): void {
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
export function encodeKey(key: string): Buffer {
  checkKey(key);
  return Buffer.from(key);
}
