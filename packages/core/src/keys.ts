import { createHash } from 'node:crypto';
import { CacheConfigError, InvalidKeyError } from './errors.js';
import type { StoreCapabilities } from './store.js';

/**
 * Stored key layout (Django's `prefix:version:key`, made collision-free):
 *
 *   prefix ":" version ":" { "@" namespace ":" } body
 *
 * - `prefix` and `version` may not contain ':' (checked at construction).
 * - a namespace segment is '@' + the name with every character outside [A-Za-z0-9_.-]
 *   percent-encoded, then ':'.
 * - the body is the caller's key, with one '@' put in front when it starts with '@' or '#',
 *   so a raw key can never look like a namespace segment or a hash.
 * - a key the store cannot hold becomes scope + '#' + sha256(full key) in hex: never
 *   truncated, never rejected, and still under the same scope so `clear` finds it.
 *
 * Keys are compared as exact code points: 'é' in NFC and NFD are different keys.
 */

const SAFE_SEGMENT = /^[A-Za-z0-9_.-]+$/;
/** In a `u` regex, a surrogate pair is one code point, so only unpaired halves match. */
const LONE_SURROGATE = /\p{Cs}/u;

/** No lone surrogate: `String.prototype.isWellFormed` (Node 20), far cheaper per call than the regex. */
const isWellFormed: (text: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (text) => (text as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (text) => !LONE_SURROGATE.test(text);

/** Encodes one namespace name into its key segment. */
export function namespaceSegment(name: string): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new CacheConfigError('a namespace name must be a non-empty string');
  }
  if (LONE_SURROGATE.test(name)) {
    // UTF-8 turns every lone surrogate into U+FFFD, so '\ud800', '\udc00' and '\ufffd' would share storage.
    throw new CacheConfigError(
      'a namespace name contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the name',
    );
  }
  const encoded = SAFE_SEGMENT.test(name)
    ? name
    : Array.from(new TextEncoder().encode(name), (byte) => {
        const char = String.fromCharCode(byte);
        return byte < 0x80 && SAFE_SEGMENT.test(char)
          ? char
          : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }).join('');
  return `@${encoded}:`;
}

/** Checks the prefix or version once, when the cache is built. */
export function validateKeyPart(what: 'prefix' | 'version', value: string): string {
  if (value.length === 0) throw new CacheConfigError(`${what} must not be empty`);
  if (!/^[\x21-\x7e]+$/.test(value) || value.includes(':')) {
    throw new CacheConfigError(
      `${what} "${value}" may only use printable ASCII without spaces or ':' (':' separates key parts)`,
    );
  }
  return value;
}

/** Escapes a caller's key so it can never be read as a namespace segment or a hash. */
export function escapeBody(key: string): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidKeyError(`a cache key must be a non-empty string, got ${describe(key)}`);
  }
  if (!isWellFormed(key)) {
    // UTF-8 would turn it into U+FFFD, so two different keys could meet on the server.
    throw new InvalidKeyError(
      'a cache key contains a lone UTF-16 surrogate, which has no UTF-8 form; fix the key',
    );
  }
  const first = key.charCodeAt(0);
  return first === 64 /* @ */ || first === 35 /* # */ ? `@${key}` : key;
}

/**
 * Joins parts into one key that cannot collide with another part list:
 * `key('a:b', 'c') !== key('a', 'b:c')`.
 */
export function joinKeyParts(parts: readonly (string | number)[]): string {
  if (parts.length === 0) throw new InvalidKeyError('key() needs at least one part');
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (typeof part !== 'string' && !(typeof part === 'number' && Number.isFinite(part))) {
      throw new InvalidKeyError(`key part ${i} must be a string or a finite number, got ${describe(part)}`);
    }
    const text = String(part).replace(/%/g, '%25').replace(/:/g, '%3A');
    out = i === 0 ? text : `${out}:${text}`;
  }
  return out;
}

/**
 * Fits a full key into what the store can hold: returns it unchanged when it fits, else
 * the scope followed by '#' and the sha256 of the whole key.
 */
export function fitKey(scope: string, fullKey: string, capabilities: StoreCapabilities): string {
  const forbidden = capabilities.forbiddenKeyChars;
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short keys skip the byte count.
  const fits =
    fullKey.length * 3 <= capabilities.maxKeyBytes || Buffer.byteLength(fullKey) <= capabilities.maxKeyBytes;
  if (fits && (forbidden === undefined || !forbidden.test(fullKey))) return fullKey;
  return `${scope}#${createHash('sha256').update(fullKey).digest('hex')}`;
}

/**
 * The stored key of `body` under `scope`, less the scope: `body` itself when `scope + body`
 * fits the store (the full key is not built then), else `'#'` and the hash `fitKey` uses.
 */
export function fitBody(scope: string, body: string, capabilities: StoreCapabilities): string {
  if ((scope.length + body.length) * 3 <= capabilities.maxKeyBytes && !capabilities.forbiddenKeyChars) {
    return body;
  }
  const fullKey = scope + body;
  const fitted = fitKey(scope, fullKey, capabilities);
  return fitted === fullKey ? body : fitted.slice(scope.length);
}

/**
 * How long the scope at the start of a stored key is: `prefix:version:` and its namespace
 * segments, so `scopeLength(scope + body) === scope.length` for every scope and fitted body
 * the cache builds (a body never starts with a namespace segment: see `escapeBody`). A key
 * not laid out so has a scope of 0 characters or of its first two `:`-ended parts.
 */
export function scopeLength(key: string): number {
  const first = key.indexOf(':');
  if (first === -1) return 0;
  const second = key.indexOf(':', first + 1);
  if (second === -1) return 0;
  let end = second + 1;
  // A namespace segment is '@', a name that never starts with '@' or '#', and ':'.
  while (key.charCodeAt(end) === 64 /* @ */) {
    const next = key.charCodeAt(end + 1);
    if (next === 64 || next === 35 /* # */) break;
    const close = key.indexOf(':', end + 1);
    if (close === -1) break;
    end = close + 1;
  }
  return end;
}

/** Longest scope that still leaves room for a hashed key: scope + '#' + 64 hex characters. */
export function checkScopeFits(scope: string, capabilities: StoreCapabilities): void {
  if (Buffer.byteLength(scope) + 65 > capabilities.maxKeyBytes) {
    throw new CacheConfigError(
      `the key scope "${scope}" leaves no room for keys within the store's ${capabilities.maxKeyBytes}-byte limit; shorten the prefix or namespace names`,
    );
  }
}

function describe(value: unknown): string {
  if (value === '') return 'an empty string';
  return value === null ? 'null' : typeof value;
}
