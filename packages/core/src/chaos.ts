/**
 * `@larder/core/chaos`: a store wrapper that injects failures (throws, delays, hangs), for
 * testing an app's behaviour under a cache outage from any test runner. It imports no test
 * framework, so it loads under node:test, Jest, Mocha or a plain script.
 */
export { type ChaosMode, ChaosStore, type ChaosStoreOptions } from './testing/chaos-store.js';
