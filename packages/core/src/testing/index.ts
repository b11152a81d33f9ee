export { type ChaosMode, ChaosStore, type ChaosStoreOptions } from './chaos-store.js';
export { describeStoreContract, type StoreContractOptions } from './contract.js';
