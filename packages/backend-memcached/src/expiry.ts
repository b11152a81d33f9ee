import { InvalidTtlError } from '@larder/core';
import { NAME } from './errors.js';
import { MAX_RELATIVE_EXPTIME } from './protocol.js';

/**
 * memcached cannot tell how long an item has left, so the store keeps each item's expiry in
 * its 32-bit flags: 0 = written by someone else (expiry unknown), 1 = no expiry, else the
 * expiry in Unix seconds.
 */
export const FLAGS_UNKNOWN = 0;
export const FLAGS_NO_EXPIRY = 1;

/** memcached's exptime for a write and the flags that record it. */
export interface Expiry {
  flags: number;
  exptime: number;
}

/**
 * The exptime and flags for a TTL. exptime is whole seconds rounded up; over 30 days it must
 * be a Unix time, or memcached stores the item already expired.
 */
export function expiryOf(ttlMs: number, now: number): Expiry {
  if (ttlMs === Number.POSITIVE_INFINITY) return { flags: FLAGS_NO_EXPIRY, exptime: 0 };
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new InvalidTtlError(`ttl ${ttlMs} ms must be a positive number of ms or Infinity`, {
      store: NAME,
    });
  }
  const seconds = Math.ceil(ttlMs / 1000);
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
export function keptExpiry(flags: number, fallback: Expiry, now: number): Expiry {
  if (flags === FLAGS_NO_EXPIRY) return { flags, exptime: 0 };
  if (flags === FLAGS_UNKNOWN) return fallback;
  const remaining = Math.max(1, flags - Math.floor(now / 1000));
  return { flags, exptime: remaining <= MAX_RELATIVE_EXPTIME ? remaining : flags };
}

/** Remaining life read from the flags; an item of unknown expiry reports `Infinity`. */
export function remainingMs(flags: number, now: number): number {
  if (flags === FLAGS_NO_EXPIRY || flags === FLAGS_UNKNOWN) return Number.POSITIVE_INFINITY;
  return Math.max(0, flags * 1000 - now);
}
