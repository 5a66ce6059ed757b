export type { Store, StoreKind, Tx } from './store.js';
export { openStore } from './open.js';
export type { OpenStoreOptions } from './open.js';
export * from './schema.js';
