/** Stable error codes; a caller can switch on `err.code`. */
export type CacheErrorCode =
  | 'E_CONFIG'
  | 'E_INVALID_TTL'
  | 'E_INVALID_KEY'
  | 'E_SERIALIZATION'
  | 'E_NOT_INTEGER'
  | 'E_CLOSED'
  | 'E_STORE_UNAVAILABLE'
  | 'E_STORE_TIMEOUT'
  | 'E_CIRCUIT_OPEN'
  | 'E_STORE_AUTH'
  | 'E_STORE_PERMISSION'
  | 'E_STORE_FULL'
  | 'E_VALUE_TOO_LARGE'
  | 'E_FACTORY_TIMEOUT';

/** Where an error happened: the cache key (as the caller wrote it) and the backend. */
export interface CacheErrorContext {
  key?: string;
  store?: string;
  /**
   * The one server, of a store that spreads keys over several, that failed. The cache's
   * circuit breaker guards the store as a whole, so such a failure does not open it: the
   * other servers keep serving their keys.
   */
  server?: string;
  cause?: unknown;
}

/** The one base class of every error Larder throws. */
export class CacheError extends Error {
  readonly code: CacheErrorCode;
  readonly key: string | undefined;
  readonly store: string | undefined;
  /** Set when one server of several failed (see `CacheErrorContext.server`). */
  readonly server: string | undefined;

  constructor(code: CacheErrorCode, message: string, context: CacheErrorContext = {}) {
    super(
      redactUrl(message),
      context.cause === undefined ? undefined : { cause: sanitizeCause(context.cause) },
    );
    this.name = new.target.name;
    this.code = code;
    this.key = context.key;
    this.store = context.store;
    this.server = context.server;
  }

  /** A plain, secret-free shape for logs and `JSON.stringify`. */
  toJSON(): Record<string, unknown> {
    const cause = this.cause;
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      key: this.key,
      store: this.store,
      ...(this.server === undefined ? {} : { server: this.server }),
      cause: cause instanceof Error ? { name: cause.name, message: cause.message } : cause,
    };
  }
}

/** Options that cannot work, caught when the cache or store is built. Always thrown. */
export class CacheConfigError extends CacheError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_CONFIG', message, context);
  }
}

/** A TTL that is negative, NaN, absurdly long, or infinite without the opt-in. Always thrown. */
export class InvalidTtlError extends CacheError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_INVALID_TTL', message, context);
  }
}

/** A key that is not a non-empty string. Always thrown. */
export class InvalidKeyError extends CacheError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_INVALID_KEY', message, context);
  }
}

/** A value the serializer cannot round-trip faithfully. Thrown before any I/O, whatever `ignoreErrors` says. */
export class SerializationError extends CacheError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_SERIALIZATION', message, context);
  }
}

/** `incr`/`decr` on a value that is not an integer. Always thrown. */
export class NotIntegerError extends CacheError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_NOT_INTEGER', message, context);
  }
}

/** A `getOrSet` factory ran past its `hardTimeout` with no stale value to serve. Always thrown. */
export class FactoryTimeoutError extends CacheError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_FACTORY_TIMEOUT', message, context);
  }
}

/** A call on a cache or store after `close()`. Always thrown. */
export class CacheClosedError extends CacheError {
  constructor(message = 'the cache is closed; create a new one after close()', context?: CacheErrorContext) {
    super('E_CLOSED', message, context);
  }
}

/**
 * A backend fault: the server is down, slow, full, refuses us, or cannot hold the value.
 * With `ignoreErrors` (the default) these become misses / `false`; otherwise they are thrown.
 */
export class StoreError extends CacheError {}

/** The backend could not be reached or failed the call. */
export class StoreUnavailableError extends StoreError {
  constructor(message: string, context?: CacheErrorContext, code: CacheErrorCode = 'E_STORE_UNAVAILABLE') {
    super(code, message, context);
  }
}

/** The call did not settle within the cache's deadline (`timeout`). */
export class StoreTimeoutError extends StoreUnavailableError {
  constructor(message: string, context?: CacheErrorContext) {
    super(message, context, 'E_STORE_TIMEOUT');
  }
}

/** The circuit breaker is open after consecutive failures; the store is skipped until the cooldown ends. */
export class CircuitOpenError extends StoreUnavailableError {
  constructor(message: string, context?: CacheErrorContext) {
    super(message, context, 'E_CIRCUIT_OPEN');
  }
}

/** The server rejected our credentials. */
export class StoreAuthError extends StoreError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_STORE_AUTH', message, context);
  }
}

/** The server denied a command (Redis ACL NOPERM, a database privilege). */
export class StorePermissionError extends StoreError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_STORE_PERMISSION', message, context);
  }
}

/** The server is out of memory or disk (Redis OOM under noeviction, SQLITE_FULL). */
export class StoreFullError extends StoreError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_STORE_FULL', message, context);
  }
}

/** The value exceeds what the backend can hold; nothing was sent. */
export class ValueTooLargeError extends StoreError {
  constructor(message: string, context?: CacheErrorContext) {
    super('E_VALUE_TOO_LARGE', message, context);
  }
}

/** @deprecated Renamed `StoreUnavailableError` (the `E_STORE_*` family); this alias goes in 1.0. */
export const CacheUnavailableError = StoreUnavailableError;
/** @deprecated Renamed `StoreUnavailableError`. */
export type CacheUnavailableError = StoreUnavailableError;
/** @deprecated Renamed `StoreAuthError` (the `E_STORE_*` family); this alias goes in 1.0. */
export const CacheAuthError = StoreAuthError;
/** @deprecated Renamed `StoreAuthError`. */
export type CacheAuthError = StoreAuthError;

// A scheme, then userinfo up to the last `@` that a host follows, before the line ends or
// another `scheme://` starts: a raw password may hold `/`, `?`, `#`, `@` and spaces, so no
// shorter span is safe, and a URL without credentials never swallows the next URL's.
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)((?:(?![a-z][a-z0-9+.-]*:\/\/)[^\n])*)@(?=[^\s@])/gi;
const PLAIN_USER = /^[\w.~%+-]*$/;

/**
 * Replaces the credentials in any `scheme://user:password@host` with `***`, whatever
 * characters the password holds (URL-reserved ones raw or percent-encoded, spaces included).
 * A plain user name before the first `:` is kept; anything else of the userinfo is hidden.
 */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, (_match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    const user = colon === -1 ? undefined : userinfo.slice(0, colon);
    return user !== undefined && PLAIN_USER.test(user) ? `${scheme}${user}:***@` : `${scheme}***@`;
  });
}

/**
 * Copies a driver error into a plain Error that keeps name, message, code and stack but
 * drops everything else (ioredis puts AUTH passwords into `err.command.args`), with URL
 * credentials redacted. Larder never keeps a raw driver error.
 */
export function sanitizeCause(cause: unknown): unknown {
  if (!(cause instanceof Error) || cause instanceof CacheError) return cause;
  const clean = new Error(redactUrl(cause.message));
  clean.name = cause.name;
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') (clean as { code?: unknown }).code = code;
  clean.stack = cause.stack === undefined ? undefined : redactUrl(cause.stack);
  return clean;
}

/** Whether an error is a backend fault (swallowed under `ignoreErrors`) rather than a programmer error. */
export function isStoreFault(error: unknown): boolean {
  return error instanceof StoreError || !(error instanceof CacheError);
}
