export { type BusMessage, type CacheBus, memoryBusHub, parseBusMessage } from './bus.js';
export {
  Cache,
  type CacheOptions,
  type CallOptions,
  createCache,
  type GetOrSetOptions,
  type WriteOptions,
} from './cache.js';
export type { CircuitBreakerOptions } from './circuit-breaker.js';
export { ReadCoalescer } from './coalescer.js';
export type { CompressionOptions } from './codec.js';
export type { CompressionAlgorithm } from './compression.js';
export type { CacheEventName, CacheEvents, CacheListener } from './emitter.js';
export {
  CacheAuthError,
  CacheClosedError,
  CacheConfigError,
  CacheError,
  type CacheErrorCode,
  type CacheErrorContext,
  CacheUnavailableError,
  CircuitOpenError,
  FactoryTimeoutError,
  InvalidKeyError,
  InvalidTtlError,
  isStoreFault,
  NotIntegerError,
  redactUrl,
  SerializationError,
  StoreAuthError,
  StoreError,
  StoreFullError,
  StorePermissionError,
  StoreTimeoutError,
  StoreUnavailableError,
  ValueTooLargeError,
} from './errors.js';
export type { HealthCheck, HealthCheckStatus, HealthReport, HealthThresholds } from './health.js';
export type { L1Options } from './l1.js';
export { type CacheLogger, consoleLogger } from './logger.js';
export { MemoryStore, type MemoryStoreOptions, memoryStore } from './memory-store.js';
export { checkOptions, type OptionRule, type OptionSpec } from './options.js';
export { jsonSerializer, type Serializer, v8Serializer } from './serializer.js';
export { type CacheOperation, type CacheStats, LATENCY_BUCKETS_MS, type LatencySummary } from './stats.js';
export type { Store, StoreCapabilities, StoreEntry, StoreInfo, SyncStoreCalls } from './store.js';
export { MAX_FINITE_TTL_MS, parseTtl, type Ttl } from './ttl.js';
export type { WarmEntry, WarmOptions, WarmProgress, WarmResult } from './warm.js';
export type { WrapOptions, WrappedFunction } from './wrap.js';
