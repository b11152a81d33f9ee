import pg from 'pg';
import type { BenchBackend, Entries, MemoryProbe, RawDriver } from './backend.js';
import * as kit from './backend.js';
import type { LoadContext } from './index.js';
import { closeQuietly, openServer, tearDownAndThrow } from './load.js';

type PostgresModule = typeof import('@larder/backend-db/postgres');

/** Tables the bench creates (and drops); never the app's own `larder_cache`. */
const LARDER_TABLE = 'larder_bench';
const LARDER_MEMORY_TABLE = 'larder_bench_memory';
const RAW_TABLE = 'bench_raw';
const RAW_COUNTER_TABLE = 'bench_raw_counter';
const RAW_MEMORY_TABLE = 'bench_raw_memory';
const POOL_SIZE = 10;

function createRawTables(pool: pg.Pool, table: string): Promise<unknown> {
  return pool.query(
    `CREATE TABLE IF NOT EXISTS ${table} (key text PRIMARY KEY, value bytea NOT NULL);` +
      `CREATE TABLE IF NOT EXISTS ${RAW_COUNTER_TABLE} (key text PRIMARY KEY, n bigint NOT NULL)`,
  );
}

function rawLoader(pool: pg.Pool, table: string) {
  return async (entries: Entries) => {
    // One multi-row statement per batch, keys sorted so concurrent batches cannot deadlock.
    const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await pool.query(
      `INSERT INTO ${table} (key, value) SELECT * FROM unnest($1::text[], $2::bytea[]) ` +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [sorted.map(([key]) => key), sorted.map(([, value]) => Buffer.from(kit.encodeRaw(value)))],
    );
  };
}

/** Named prepared statements over a `pg.Pool` of 10, as a hand-written table cache would use. */
function rawDriver(pool: pg.Pool): RawDriver {
  const query = async <R extends pg.QueryResultRow>(name: string, text: string, values: unknown[]) =>
    pool.query<R>({ name: `bench-${name}`, text, values });
  const upsert = 'ON CONFLICT (key) DO UPDATE SET';
  return {
    get: async (key) => {
      const text = `SELECT value FROM ${RAW_TABLE} WHERE key = $1`;
      const { rows } = await query<{ value: Buffer }>('get', text, [key]);
      return kit.decodeRaw(rows[0]?.value);
    },
    set: async (key, value) => {
      const text = `INSERT INTO ${RAW_TABLE} (key, value) VALUES ($1, $2) ${upsert} value = excluded.value`;
      return (await query('set', text, [key, Buffer.from(kit.encodeRaw(value))])).rowCount === 1;
    },
    getMany: async (keys) => {
      const text = `SELECT key, value FROM ${RAW_TABLE} WHERE key = ANY($1)`;
      const { rows } = await query<{ key: string; value: Buffer }>('get-many', text, [keys]);
      const found = new Map(rows.map((row) => [row.key, row.value]));
      return keys.map((key) => kit.decodeRaw(found.get(key)));
    },
    incr: async (key) => {
      const text = `INSERT INTO ${RAW_COUNTER_TABLE} (key, n) VALUES ($1, 1) ${upsert} n = ${RAW_COUNTER_TABLE}.n + 1 RETURNING n`;
      return Number((await query<{ n: string }>('incr', text, [key])).rows[0]?.n);
    },
    load: rawLoader(pool, RAW_TABLE),
  };
}

async function relationBytes(pool: pg.Pool, table: string): Promise<number> {
  const sql = 'SELECT pg_total_relation_size($1::regclass) AS bytes';
  return Number((await pool.query<{ bytes: string }>(sql, [table])).rows[0]?.bytes);
}

/** PostgresStore through Larder beside pg prepared statements on a bare table (pool of 10 each). */
export async function createPostgresBackend(context: LoadContext): Promise<BenchBackend> {
  const open = await openServer<PostgresModule>('postgres', context, '@larder/backend-db/postgres', (t) =>
    t.startPostgres(),
  );
  const { handle, pkg } = open;
  const connectionString = handle.url;
  const unbounded = { connectionString, maxEntries: Number.POSITIVE_INFINITY };
  const larder = kit.benchCache(pkg.postgresStore({ ...unbounded, table: LARDER_TABLE, max: POOL_SIZE }));
  // The raw pool as a user gets it, with the 'error' listener every app needs.
  const pool = new pg.Pool({ connectionString, max: POOL_SIZE });
  pool.on('error', () => {});
  const dropTables = (...tables: string[]) => pool.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
  const teardown = kit.once(async () => {
    await closeQuietly(larder);
    await dropTables(LARDER_TABLE, RAW_TABLE, RAW_COUNTER_TABLE).catch(() => {});
    await pool.end().catch(() => {});
    await handle.stop();
  });
  await createRawTables(pool, RAW_TABLE).catch(tearDownAndThrow(teardown));
  const memory: MemoryProbe = {
    methods: { larder: 'pg_total_relation_size delta of the table', raw: 'same, bare table' },
    async open(side) {
      const table = side === 'larder' ? LARDER_MEMORY_TABLE : RAW_MEMORY_TABLE;
      await dropTables(table);
      const store = () => pkg.postgresStore({ ...unbounded, table, pruneInterval: 0, max: 4 });
      const cache = side === 'larder' ? await kit.primedLoader(store()) : undefined;
      if (cache === undefined) await createRawTables(pool, table);
      return {
        write: cache ? kit.larderLoader(cache) : rawLoader(pool, table),
        bytes: () => relationBytes(pool, table),
        close: async () => {
          await closeQuietly(cache);
          await dropTables(table).catch(() => {});
        },
      };
    },
  };
  // Vacuum here, before each case, never in the background during a timed round: the write
  // cases leave tens of thousands of dead rows, enough to start autovacuum.
  const settle = async () => {
    const tables = [LARDER_TABLE, RAW_TABLE, RAW_COUNTER_TABLE];
    const noAutovacuum = (table: string) => `ALTER TABLE ${table} SET (autovacuum_enabled = false)`;
    for (const table of tables) await pool.query(noAutovacuum(table)).catch(() => {});
    await pool.query(`VACUUM ANALYZE ${tables.join(', ')}`);
    // A superuser only (the testkit's servers); elsewhere the next checkpoint comes when it comes.
    await pool.query('CHECKPOINT').catch(() => {});
  };
  const rawClient = 'pg prepared statements, pool of 10';
  const raw = rawDriver(pool);
  return { ...open.common, name: 'postgres', rawClient, larder, raw, settle, memory, teardown };
}
