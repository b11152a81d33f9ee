export {
  escapeGlob,
  RedisStore,
  type RedisStoreLogger,
  type RedisStoreOptions,
  redisStore,
} from './redis-store.js';
export { keySlot } from './slot.js';
