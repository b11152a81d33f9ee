/**
 * What a backend author needs beyond the app-facing API: read coalescing, option checking,
 * secret-free errors. Apps import from `@larder/core`; stores from `@larder/core/store-kit`.
 */
export { ReadCoalescer } from './coalescer.js';
export { redactUrl, sanitizeCause } from './errors.js';
export { checkOptions, type OptionRule, type OptionSpec } from './options.js';
export type { Store, StoreCapabilities, StoreEntry, StoreInfo, SyncStoreCalls } from './store.js';
