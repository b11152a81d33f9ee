import {
  CacheClosedError,
  type CacheError,
  NotIntegerError,
  StoreAuthError,
  StoreFullError,
  StoreTimeoutError,
  StoreUnavailableError,
  ValueTooLargeError,
} from '@larder/core';
import { redactUrl } from '@larder/core/store-kit';
import type { Response } from 'memjs';
import { Status } from './protocol.js';

/** The store's name in errors, logs and stats. */
export const NAME = 'memcached';

/** Compare-and-swap attempts before a call gives up on a hot key. */
export const CAS_ATTEMPTS = 16;

/**
 * A call past the store's deadline; its connection is dropped and rebuilt. Like a connection
 * failure, it names the server, not the request: the cache may have sent a read of its own
 * (the clear generation) on behalf of a write, and the cache's log names the call.
 */
export function timeoutError(
  endpoint: string,
  timeoutMs: number,
  key: string | undefined,
  oneOfSeveral = false,
): StoreTimeoutError {
  return new StoreTimeoutError(
    `memcached at ${endpoint} did not answer within ${timeoutMs} ms; the connection was dropped and will be rebuilt`,
    { key, store: NAME, ...(oneOfSeveral ? { server: endpoint } : {}) },
  );
}

/**
 * A socket-level failure (refused, reset, closed, SASL rejected): about the server, not about
 * one request. With several servers it names the one (`server`), so the cache's breaker
 * leaves the others serving.
 */
export function connectionError(
  key: string | undefined,
  endpoint: string,
  error: unknown,
  oneOfSeveral = false,
): CacheError {
  if (error instanceof CacheClosedError) return error;
  const server = oneOfSeveral ? { server: endpoint } : {};
  const message = error instanceof Error ? error.message : String(error);
  if (/authentication failed/i.test(message)) {
    return new StoreAuthError(
      `memcached at ${endpoint} rejected the SASL credentials; check username and password`,
      { key, store: NAME },
    );
  }
  if (/timed out/i.test(message)) {
    // memjs's own request or connect timeout (it can fire just before the store's deadline).
    return new StoreTimeoutError(
      `memcached at ${endpoint} did not answer in time (${message}); the connection was dropped and will be rebuilt`,
      { key, store: NAME, ...server },
    );
  }
  return new StoreUnavailableError(`memcached at ${endpoint} is unreachable: ${redactUrl(message)}`, {
    key,
    store: NAME,
    ...server,
    cause: error instanceof Error ? error : undefined,
  });
}

/** A response status the operation did not expect, as the typed error it means. */
export function statusError(operation: string, response: Response, key: string | undefined): CacheError {
  const status = response.header.status;
  const text = response.val.toString('latin1').slice(0, 100);
  const context = { key, store: NAME };
  switch (status) {
    case Status.tooLarge:
      return new ValueTooLargeError(
        `memcached refused the value as too large for its item size limit; raise the server's -I or enable compression (and check the store's itemSizeMax)`,
        context,
      );
    case Status.outOfMemory:
      return new StoreFullError(
        `memcached is out of memory (${text}); raise its -m or let it evict (no -M)`,
        context,
      );
    case Status.authError:
      return new StoreAuthError('memcached requires SASL authentication; set username and password', context);
    case Status.nonNumeric:
      return new NotIntegerError('the value under this key is not an integer; incr needs one', context);
    default:
      return new StoreUnavailableError(
        `memcached ${operation} failed with status 0x${status.toString(16)}: ${text}`,
        context,
      );
  }
}

/** A compare-and-swap loop that kept losing to concurrent writers. */
export function raceLost(operation: string, key: string): StoreUnavailableError {
  return new StoreUnavailableError(
    `memcached ${operation} lost ${CAS_ATTEMPTS} compare-and-swap races in a row on this key; try again`,
    { key, store: NAME },
  );
}
