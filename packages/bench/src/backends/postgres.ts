import type { Cache, Store } from '@larder/core';
import pg from 'pg';
import {
  type BenchBackend,
  benchCaches,
  CountingLogger,
  decodeRaw,
  encodeRaw,
  larderLoader,
  loadBatches,
  loaderCache,
  type MemoryLoad,
  type MemorySideName,
  type MemoryReading,
  memoryPlan,
  once,
  type RawDriver,
} from './backend.js';
import type { LoadContext } from './index.js';
import { closeQuietly, faultsFor, importPackage, serverInfo, startServer } from './load.js';

/** The part of `@larder/backend-db/postgres` the bench uses. */
interface PostgresModule {
  postgresStore(options: {
    connectionString: string;
    table?: string;
    maxEntries?: number;
    pruneInterval?: number;
    max?: number;
  }): Store & { readonly client: pg.Pool };
}

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
  return async (entries: readonly (readonly [string, unknown])[]) => {
    // One multi-row statement per batch, keys sorted so concurrent batches cannot deadlock.
    const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await pool.query(
      `INSERT INTO ${table} (key, value) SELECT * FROM unnest($1::text[], $2::bytea[]) ` +
        'ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [sorted.map(([key]) => key), sorted.map(([, value]) => Buffer.from(encodeRaw(value)))],
    );
  };
}

/** Named prepared statements over a `pg.Pool` of 10, as a hand-written table cache would use. */
function rawDriver(pool: pg.Pool): RawDriver {
  return {
    get: async (key) => {
      const result = await pool.query<{ value: Buffer }>({
        name: 'bench-get',
        text: `SELECT value FROM ${RAW_TABLE} WHERE key = $1`,
        values: [key],
      });
      return decodeRaw(result.rows[0]?.value);
    },
    set: async (key, value) => {
      const result = await pool.query({
        name: 'bench-set',
        text: `INSERT INTO ${RAW_TABLE} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        values: [key, Buffer.from(encodeRaw(value))],
      });
      return result.rowCount === 1;
    },
    getMany: async (keys) => {
      const result = await pool.query<{ key: string; value: Buffer }>({
        name: 'bench-get-many',
        text: `SELECT key, value FROM ${RAW_TABLE} WHERE key = ANY($1)`,
        values: [keys],
      });
      const found = new Map(result.rows.map((row) => [row.key, row.value]));
      return keys.map((key) => decodeRaw(found.get(key)));
    },
    incr: async (key) => {
      const result = await pool.query<{ n: string }>({
        name: 'bench-incr',
        text: `INSERT INTO ${RAW_COUNTER_TABLE} (key, n) VALUES ($1, 1) ON CONFLICT (key) DO UPDATE SET n = ${RAW_COUNTER_TABLE}.n + 1 RETURNING n`,
        values: [key],
      });
      return Number(result.rows[0]?.n);
    },
    load: rawLoader(pool, RAW_TABLE),
  };
}

async function relationBytes(pool: pg.Pool, table: string): Promise<number> {
  const result = await pool.query<{ bytes: string }>('SELECT pg_total_relation_size($1::regclass) AS bytes', [
    table,
  ]);
  return Number(result.rows[0]?.bytes);
}

/** PostgresStore through Larder beside pg prepared statements on a bare table (pool of 10 each). */
export async function createPostgresBackend(context: LoadContext): Promise<BenchBackend> {
  const { options } = context;
  const server = await startServer('postgres', options.backendsExplicit, (testkit) =>
    testkit.startPostgres(),
  );
  // The server first: an environment URL that does not answer must stop the run even if the package is missing.
  const pkg = await importPackage<PostgresModule>('@larder/backend-db/postgres').catch(
    async (error: unknown) => {
      await server.stop();
      throw error;
    },
  );
  const { postgresStore } = pkg;
  const logger = new CountingLogger();
  let store: ReturnType<PostgresModule['postgresStore']> | undefined;
  let pool: pg.Pool | undefined;
  try {
    store = postgresStore({
      connectionString: server.url,
      table: LARDER_TABLE,
      maxEntries: Number.POSITIVE_INFINITY,
      max: POOL_SIZE,
    });
    const { larder, loader } = benchCaches(store, logger);
    // The raw pool as a user gets it, with the 'error' listener every app needs (an idle client's error crashes the process otherwise).
    pool = new pg.Pool({ connectionString: server.url, max: POOL_SIZE });
    pool.on('error', () => {});
    const rawPool = pool;
    await createRawTables(rawPool, RAW_TABLE);
    const raw = rawDriver(rawPool);
    const { faults, why } = faultsFor(server);
    const disconnect = once(async () => {
      await closeQuietly(larder);
      await rawPool.end().catch(() => {});
    });

    const measureMemory = async (side: MemorySideName, load: MemoryLoad): Promise<MemoryReading> => {
      const { keys, valueAt, batch, onProgress } = memoryPlan(side, load);
      const table = side === 'larder' ? LARDER_MEMORY_TABLE : RAW_MEMORY_TABLE;
      await rawPool.query(`DROP TABLE IF EXISTS ${table}`);
      let memoryStore: Store | undefined;
      let memoryLoader: Cache | undefined;
      try {
        if (side === 'larder') {
          memoryStore = postgresStore({
            connectionString: server.url,
            table,
            maxEntries: Number.POSITIVE_INFINITY,
            pruneInterval: 0,
            max: 4,
          });
          memoryLoader = loaderCache(memoryStore, logger);
          // Create the table and its index first, so the delta is the data alone.
          await memoryLoader.set('probe', 1);
          await memoryLoader.delete('probe');
        } else {
          await createRawTables(rawPool, table);
        }
        const before = await relationBytes(rawPool, table);
        if (memoryLoader !== undefined)
          await loadBatches(keys, valueAt, batch, larderLoader(memoryLoader), onProgress);
        else await loadBatches(keys, valueAt, batch, rawLoader(rawPool, table), onProgress);
        return {
          bytes: (await relationBytes(rawPool, table)) - before,
          method:
            side === 'larder'
              ? 'Postgres pg_total_relation_size delta of the cache table (with its indexes)'
              : 'same, bare (key text PRIMARY KEY, value bytea) table',
        };
      } finally {
        await closeQuietly(memoryLoader);
        await rawPool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      }
    };

    return {
      name: 'postgres',
      rawClient: 'pg prepared statements, pool of 10',
      server: serverInfo(server),
      url: server.url,
      larder,
      loader,
      raw,
      timeoutMs: 1000,
      faults,
      faultsUnavailable: why,
      settle: async () => {
        // Vacuum here, between passes, and never in the background during a timed round: the
        // write cases leave tens of thousands of dead rows per pass, enough to start autovacuum.
        const tables = [LARDER_TABLE, RAW_TABLE, RAW_COUNTER_TABLE];
        for (const table of tables) {
          // The owner only; where the bench is not, autovacuum keeps its say.
          await rawPool.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`).catch(() => {});
        }
        await rawPool.query(`VACUUM ANALYZE ${tables.join(', ')}`);
        // A superuser only (the testkit's servers); elsewhere the next timed checkpoint comes when it comes.
        await rawPool.query('CHECKPOINT').catch(() => {});
      },
      measureMemory,
      teardown: once(async () => {
        await closeQuietly(larder);
        await rawPool
          .query(`DROP TABLE IF EXISTS ${LARDER_TABLE}, ${RAW_TABLE}, ${RAW_COUNTER_TABLE}`)
          .catch(() => {});
        await disconnect();
        await server.stop();
      }),
    };
  } catch (error) {
    await closeQuietly(store);
    await pool?.end().catch(() => {});
    await server.stop();
    throw error;
  }
}
