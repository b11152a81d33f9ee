export { keySlot } from './cluster.js';
export {
  escapeGlob,
  RedisStore,
  type RedisStoreLogger,
  type RedisStoreOptions,
  redisStore,
} from './redis-store.js';
