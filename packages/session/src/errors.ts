import { CacheError } from '@larder/core';

/**
 * A session read or write that failed. The message says what failed and why, never which
 * session (session ids are secrets): the store's error, secrets stripped, is the `cause`.
 */
export class SessionStoreError extends CacheError {
  constructor(operation: string, cause: unknown) {
    const inner = cause instanceof CacheError ? cause : undefined;
    super(
      inner?.code ?? 'E_STORE_UNAVAILABLE',
      `session ${operation} failed${inner ? ` (${inner.code}${inner.store ? ` on the ${inner.store} store` : ''})` : ''}; the session was not ${operation === 'read' ? 'read' : 'saved'}: check the cache server`,
      { cause, store: inner?.store },
    );
  }
}
