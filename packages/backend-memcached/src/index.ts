export {
  MemcachedStore,
  type MemcachedStoreOptions,
  type MemjsClient,
  memcachedStore,
} from './memcached-store.js';
