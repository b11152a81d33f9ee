export { SessionStoreError } from './errors.js';
export { LarderSessionStore, type LarderSessionStoreOptions } from './session-store.js';
