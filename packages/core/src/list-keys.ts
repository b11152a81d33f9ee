import { CacheConfigError, CacheError, CacheUnavailableError } from './errors.js';
import type { Store } from './store.js';

/**
 * The caller keys stored under `scope`, mapped back from stored keys (`scope` + escaped body):
 * - a body that starts with '@@' or '@#' was escaped: one '@' is dropped;
 * - a body that starts with '@' and anything else is a child namespace's key: not listed;
 * - a body that starts with '#' is a hashed key (too long or with characters the store cannot
 *   hold) or internal bookkeeping: a hash cannot be reversed, so it is not listed.
 * Store failures are always thrown (as `CacheError`s): a listing with holes would be a lie.
 */
export async function* listCallerKeys(
  store: Store,
  scope: () => string | Promise<string>,
  hasKeyFunction: boolean,
): AsyncIterable<string> {
  if (store.capabilities.listKeys !== true || typeof store.keys !== 'function') {
    throw new CacheConfigError(
      `the ${store.name} store cannot list its keys (capabilities.listKeys is false); use a store that can (Redis, Postgres, SQLite, memory) for calls that enumerate keys`,
      { store: store.name },
    );
  }
  if (hasKeyFunction) {
    throw new CacheConfigError(
      'keys() cannot map stored keys back through a custom keyFunction; drop keyFunction to list keys',
      { store: store.name },
    );
  }
  const resolved = await scope();
  try {
    for await (const stored of store.keys(resolved)) {
      if (!stored.startsWith(resolved)) continue;
      const body = stored.slice(resolved.length);
      const first = body.charCodeAt(0);
      if (first === 35 /* # */ || body.length === 0) continue;
      if (first === 64 /* @ */) {
        const second = body.charCodeAt(1);
        if (second === 64 || second === 35) yield body.slice(1);
        continue;
      }
      yield body;
    }
  } catch (error) {
    if (error instanceof CacheError) throw error;
    throw new CacheUnavailableError(
      `${store.name} key listing failed: ${(error as Error)?.message ?? error}`,
      { store: store.name, cause: error },
    );
  }
}
