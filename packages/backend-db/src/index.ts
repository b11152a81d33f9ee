// The shared table design only: import a backend from '@larder/backend-db/postgres' or
// '@larder/backend-db/sqlite', so an app loads only the driver it uses.
export type { SqlExecutor, SqlRow, SqlStatement, SqlSyntax } from './dialect.js';
export type { PruneResult } from './housekeeping.js';
export { compareKeys, type TableName, tableName } from './sql.js';
export type { TableStoreOptions } from './table-options.js';
export { TableStore } from './table-store.js';
