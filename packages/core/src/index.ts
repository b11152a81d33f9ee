export { Cache, type CacheOptions, type CallOptions, createCache, type WriteOptions } from './cache.js';
export type { CircuitBreakerOptions } from './circuit-breaker.js';
export { ReadCoalescer } from './coalescer.js';
export { CORRUPT, Codec, type CompressionOptions, STALE_SCHEMA } from './codec.js';
export { type CompressionAlgorithm, type Compressor, compressors } from './compression.js';
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
  InvalidKeyError,
  InvalidTtlError,
  isStoreFault,
  NotIntegerError,
  redactUrl,
  SerializationError,
  StoreError,
  StoreFullError,
  StorePermissionError,
  StoreTimeoutError,
  sanitizeCause,
  ValueTooLargeError,
} from './errors.js';
export { escapeBody, fitKey, joinKeyParts } from './keys.js';
export { type CacheLogger, consoleLogger } from './logger.js';
export { MemoryStore, type MemoryStoreOptions, memoryStore } from './memory-store.js';
export { checkOptions, type OptionRule, type OptionSpec } from './options.js';
export { jsonSerializer, type Serializer, v8Serializer } from './serializer.js';
export type { CacheOperation, CacheStats, LatencySummary } from './stats.js';
export type { Store, StoreCapabilities, StoreEntry, StoreInfo } from './store.js';
export { MAX_FINITE_TTL_MS, parseTtl, type Ttl } from './ttl.js';
export type { WarmEntry, WarmOptions, WarmProgress, WarmResult } from './warm.js';
export type { WrapOptions, WrappedFunction } from './wrap.js';
