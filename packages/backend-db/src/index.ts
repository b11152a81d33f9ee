// The shared table design only: import a backend from '@larder/backend-db/postgres' or
// '@larder/backend-db/sqlite', so an app loads only the driver it uses.
export { compareKeys, type TableName, tableName } from './sql.js';
export {
  type PruneResult,
  type SqlDialect,
  type SqlRow,
  type SqlStatement,
  TableStore,
  type TableStoreOptions,
} from './table-store.js';
