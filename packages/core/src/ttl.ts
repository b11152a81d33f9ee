import { CacheConfigError, InvalidTtlError } from './errors.js';

/** A TTL: milliseconds, or a duration string such as `'500ms'`, `'30s'`, `'5m'`, `'1h'`, `'7d'`. */
export type Ttl = number | `${number}${DurationUnit}` | 'never';
type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;

/** A finite TTL longer than this is a mistake rather than a policy; use `'never'` with `allowNoExpiry`. */
export const MAX_FINITE_TTL_MS = 10 * 365 * UNIT_MS.d;

/** Turns a TTL into milliseconds (`Infinity` for `'never'`), or throws `InvalidTtlError` naming the fix. */
export function parseTtl(ttl: Ttl, what = 'ttl'): number {
  let ms: number;
  if (typeof ttl === 'number') {
    ms = ttl;
  } else if (ttl === 'never') {
    ms = Number.POSITIVE_INFINITY;
  } else if (typeof ttl === 'string') {
    const match = DURATION.exec(ttl);
    if (!match) {
      throw new InvalidTtlError(
        `${what} "${ttl}" is not a duration; use milliseconds or a string like '500ms', '30s', '5m', '1h', '7d'`,
      );
    }
    ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit];
  } else {
    throw new InvalidTtlError(
      `${what} must be a number of milliseconds or a duration string, got ${typeof ttl}`,
    );
  }
  if (Number.isNaN(ms)) throw new InvalidTtlError(`${what} is NaN; pass milliseconds or a duration string`);
  if (ms < 0)
    throw new InvalidTtlError(`${what} ${ms} is negative; use 0 to remove an entry or a positive TTL`);
  if (ms !== Number.POSITIVE_INFINITY && ms > MAX_FINITE_TTL_MS) {
    throw new InvalidTtlError(
      `${what} ${ms} ms is over 10 years; for keys that never expire pass ttl 'never' with allowNoExpiry: true`,
    );
  }
  return ms === Number.POSITIVE_INFINITY ? ms : Math.ceil(ms);
}

/** The cache's TTL settings, resolved once in `createCache`. */
export interface TtlPolicy {
  defaultTtlMs: number;
  maxTtlMs: number;
  jitter: number;
  allowNoExpiry: boolean;
}

export interface TtlPolicyOptions {
  defaultTtl?: Ttl | undefined;
  maxTtl?: Ttl | undefined;
  ttlJitter?: number | undefined;
  allowNoExpiry?: boolean | undefined;
}

/** Validates the TTL options together, so contradictions fail in the constructor. */
export function createTtlPolicy(options: TtlPolicyOptions): TtlPolicy {
  const allowNoExpiry = options.allowNoExpiry ?? false;
  const defaultTtlMs = parseTtl(options.defaultTtl ?? '1h', 'defaultTtl');
  const maxTtlMs =
    options.maxTtl === undefined ? Number.POSITIVE_INFINITY : parseTtl(options.maxTtl, 'maxTtl');
  const jitter = options.ttlJitter ?? 0;
  if (defaultTtlMs === 0) {
    throw new CacheConfigError('defaultTtl is 0, so nothing would ever be stored; set a positive defaultTtl');
  }
  if (defaultTtlMs === Number.POSITIVE_INFINITY && !allowNoExpiry) {
    throw new CacheConfigError("defaultTtl 'never' needs allowNoExpiry: true");
  }
  if (maxTtlMs === 0) throw new CacheConfigError('maxTtl is 0; set a positive maxTtl or leave it out');
  if (defaultTtlMs > maxTtlMs) {
    throw new CacheConfigError(
      `defaultTtl (${defaultTtlMs} ms) exceeds maxTtl (${maxTtlMs} ms); lower defaultTtl`,
    );
  }
  if (!(jitter >= 0 && jitter < 1)) {
    throw new CacheConfigError(
      `ttlJitter ${jitter} must be a fraction in [0, 1), e.g. 0.1 for up to 10% shorter`,
    );
  }
  return { defaultTtlMs, maxTtlMs, jitter, allowNoExpiry };
}

/**
 * Resolves the TTL of one call to the milliseconds sent to the store: `undefined` takes the
 * default, `maxTtl` caps, jitter only ever shortens. 0 means "do not store".
 */
export function resolveTtl(policy: TtlPolicy, ttl: Ttl | undefined): number {
  if (ttl === undefined) return applyJitter(policy, policy.defaultTtlMs);
  const ms = parseTtl(ttl);
  if (ms === Number.POSITIVE_INFINITY) {
    if (!policy.allowNoExpiry) {
      throw new InvalidTtlError(
        'a key without expiry needs allowNoExpiry: true in the cache options; every key expires otherwise',
      );
    }
    return policy.maxTtlMs === Number.POSITIVE_INFINITY ? ms : policy.maxTtlMs;
  }
  if (ms === 0) return 0;
  return applyJitter(policy, Math.min(ms, policy.maxTtlMs));
}

function applyJitter(policy: TtlPolicy, ms: number): number {
  if (policy.jitter === 0 || ms === Number.POSITIVE_INFINITY) return ms;
  return Math.max(1, Math.ceil(ms * (1 - policy.jitter * Math.random())));
}

/** A grace period in ms: finite, 0 or more. */
export function graceOf(grace: Ttl): number {
  const ms = parseTtl(grace, 'grace');
  if (!Number.isFinite(ms)) throw new CacheConfigError("grace must be finite; 'never' is not a grace period");
  return ms;
}
