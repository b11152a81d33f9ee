// `@larder/core/testing` runs on Vitest (the contract suite calls describe/it/expect).
// ChaosStore needs no test runner: import it from `@larder/core/chaos`; it stays here too,
// so existing imports keep working.
export { type ChaosMode, ChaosStore, type ChaosStoreOptions } from '../chaos.js';
export { describeStoreContract, type StoreContractOptions } from './contract.js';
