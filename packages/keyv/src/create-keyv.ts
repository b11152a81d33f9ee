import type { Cache, Store } from '@larder/core';
import { Keyv } from 'keyv';
import { LarderKeyvStore, type LarderKeyvStoreOptions } from './keyv-store.js';

/** Options for `createKeyv`: the adapter's, plus Keyv's namespace. */
export interface CreateKeyvOptions extends LarderKeyvStoreOptions {
  /** Keyv's namespace, stored as a Larder namespace; `clear()` clears it alone. @default 'keyv' */
  namespace?: string;
}

/**
 * A `Keyv` over a Larder cache or store, ready for cache-manager (`createCache({ stores: [keyv] })`)
 * or NestJS's `CacheModule.register({ stores: [keyv] })`. Keyv's own key prefix is off: the
 * namespace is Larder's, so keys are not namespaced twice.
 */
export function createKeyv(cacheOrStore: Cache | Store, options: CreateKeyvOptions = {}): Keyv {
  const { namespace = 'keyv', ...adapterOptions } = options;
  const store = new LarderKeyvStore(cacheOrStore, adapterOptions);
  return new Keyv({ store, namespace, useKeyPrefix: false });
}
