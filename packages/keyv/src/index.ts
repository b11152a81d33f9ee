export { type CreateKeyvOptions, createKeyv } from './create-keyv.js';
export { LarderKeyvStore, type LarderKeyvStoreOptions, type NoTtl } from './keyv-store.js';
