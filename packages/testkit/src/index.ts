export {
  type RedisClusterHandle,
  type RedisClusterOptions,
  type RedisClusterShard,
  startRedisCluster,
} from './cluster.js';
export { FaultInjectionUnsupportedError, NoReplyError, ServerUnavailableError } from './errors.js';
export type { Endpoint, ServerHandle, ServerKind, ServerSource } from './handle.js';
export { type MemcachedServerOptions, memcachedVersion, startMemcached } from './memcached.js';
export { type PgLogin, type PostgresServerOptions, postgresVersion, startPostgres } from './postgres.js';
export { readmeBlock } from './readme-block.js';
export { type RedisServerHandle, type RedisServerOptions, startRedis } from './redis.js';
export { type RedisEndpoint, redisVersion, withRedis } from './redis-client.js';
export { listStartedServers, type RegistryEntry, registryDir, type StartedServer } from './registry.js';
export { type RedisSentinelHandle, type RedisSentinelOptions, startRedisSentinel } from './sentinel.js';
export type { TlsMaterial } from './tls.js';
