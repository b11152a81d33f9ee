export { keySlot } from './cluster.js';
export { type RedisBusConnection, type RedisBusOptions, redisBus } from './redis-bus.js';
export {
  escapeGlob,
  RedisStore,
  type RedisStoreLogger,
  type RedisStoreOptions,
  redisStore,
} from './redis-store.js';
