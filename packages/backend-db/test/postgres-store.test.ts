import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describeStoreContract } from '@larder/core/testing';
import { describeWithServer } from '@larder/testkit/vitest';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type PostgresStore, type PostgresStoreOptions, postgresStore } from '../src/postgres.js';
import { describeTableStore } from './table-store-cases.js';

describeWithServer('postgres', 'PostgresStore', (server) => {
  const connect = (options: Omit<PostgresStoreOptions, 'connectionString'> = {}) =>
    postgresStore({ connectionString: server.url, ...options });

  describeStoreContract({ name: 'PostgresStore', createStore: () => connect() });
  describeStoreContract({
    name: 'PostgresStore (unlogged)',
    createStore: () => connect({ table: 'larder_cache_unlogged', unlogged: true }),
  });

  describeTableStore<PostgresStore>('PostgresStore', {
    create: (options) => connect(options),
    raw: async (store, sql, values) => (await store.client.query(sql, values)).rows,
    rejectKey: async (store, key) => {
      const name = `reject_${store.table.raw}`;
      await store.client.query(
        `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
          `IF NEW.key = '${key}' THEN RAISE EXCEPTION 'rejected by the test'; END IF; RETURN NEW; END $$; ` +
          `CREATE TRIGGER ${name} BEFORE INSERT OR UPDATE ON ${store.table.quoted} FOR EACH ROW EXECUTE FUNCTION ${name}()`,
      );
    },
  });

  describe('PostgresStore specifics', () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 2 });
    const table = () => `t_${randomBytes(5).toString('hex')}`;
    const made: string[] = [];
    afterAll(async () => {
      for (const name of made) await pool.query(`DROP TABLE IF EXISTS ${name}`);
      await pool.query('DROP SCHEMA IF EXISTS larder_test CASCADE');
      await pool.end();
    });

    it('never prints the password of its connection string or pool (inspect, JSON, String)', async () => {
      const secret = 'Pg:/?#[]@!$&()*+,;=% pw';
      const url = new URL(server.url);
      url.username = 'larder_nobody';
      url.password = secret;
      const store = postgresStore({ connectionString: url.href, timeout: 500 });
      const pieces = [secret, encodeURIComponent(secret), 'Pg:/?#', '!$&()*', ';=% pw'];
      const error = await store.get('k').catch((e: unknown) => e);
      for (const shown of [
        inspect(store, { depth: 20, showHidden: true }),
        JSON.stringify(store),
        String(store),
        `${store}`,
        inspect(error, { depth: 20 }),
        JSON.stringify(error),
      ]) {
        for (const piece of pieces) expect(shown).not.toContain(piece);
      }
      expect(String(store)).toContain(`${url.hostname}:${url.port}`);
      expect(Object.keys(store)).not.toContain('client');
      await store.close();
    });

    it('without options, or with unknown ones, fails with E_CONFIG in the constructor', () => {
      expect(() => postgresStore(undefined as never)).toThrow(/needs a connection/);
      expect(() => postgresStore({ connectionString: server.url, timout: 5 } as never)).toThrow(
        /unknown option timout.*did you mean timeout/,
      );
      expect(() => postgresStore({ connectionString: 5 } as never)).toThrow(/connectionString/);
      expect(() => postgresStore({ pool: {} } as never)).toThrow(/pool/);
    });

    it('info reports the pool and the server connection limit', async () => {
      const name = table();
      made.push(name);
      const store = connect({ table: name });
      await store.set('k', Buffer.from('v'), 60_000);
      const info = await store.info();
      expect(info.connections).toBeGreaterThan(0);
      expect(info.maxConnections).toBeGreaterThan(0);
      expect(info.connectionWaiters).toBe(0);
      expect(info.serverHits).toBeUndefined();
      await store.close();
    });

    it('coalesces concurrent gets in one tick into one query', async () => {
      const name = table();
      made.push(name);
      const store = connect({ table: name });
      await store.setMany(
        Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`v${i}`), ttlMs: 60_000 })),
      );
      const client = store.client;
      const query = client.query.bind(client);
      let queries = 0;
      // Count what reaches the real pool (an observer, not a mock).
      (client as { query: unknown }).query = (...args: Parameters<typeof query>) => {
        queries++;
        return query(...args);
      };
      const values = await Promise.all(Array.from({ length: 100 }, (_, i) => store.get(`k${i % 60}`)));
      expect(queries).toBe(1);
      expect(values.map((v) => (v === undefined ? undefined : Buffer.from(v).toString()))).toEqual(
        Array.from({ length: 100 }, (_, i) => (i % 60 < 50 ? `v${i % 60}` : undefined)),
      );
      await store.close();
    });

    it('creates UNLOGGED tables on request, with a binary-collated key and an expiry index', async () => {
      const name = table();
      made.push(name);
      const store = connect({ table: name, unlogged: true });
      await store.createCacheTable();
      const { rows } = await pool.query(
        `SELECT c.relpersistence, (SELECT count(*) FROM pg_indexes WHERE tablename = $1) AS indexes,
                (SELECT collation_name FROM information_schema.columns WHERE table_name = $1 AND column_name = 'key') AS collation
           FROM pg_class c WHERE c.relname = $1`,
        [name],
      );
      expect(rows[0]).toEqual({ relpersistence: 'u', indexes: '2', collation: 'C' });
      await store.close();
    });

    it('packs the expiry index full when rows arrive in expiry order, as writes with one TTL do', async () => {
      const name = table();
      made.push(name);
      const store = connect({ table: name });
      await store.createCacheTable();
      await store.close();
      const load = `INSERT INTO ${name} SELECT 'k' || i, '\\x00', 1800000000000 + i FROM generate_series(1, 50000) i`;
      await pool.query(load);
      // The same column indexed with Postgres's default fillfactor (90), built after the load.
      await pool.query(`CREATE INDEX ${name}_default_ff ON ${name} (expires_at)`);
      const size = async (index: string) =>
        Number((await pool.query('SELECT pg_relation_size($1::regclass) AS b', [index])).rows[0].b);
      const [ours, defaults] = [await size(`${name}_expires_at_idx`), await size(`${name}_default_ff`)];
      expect(ours / defaults).toBeLessThan(0.95);
    });

    it('accepts schema.table names', async () => {
      await pool.query('CREATE SCHEMA IF NOT EXISTS larder_test');
      const store = connect({ table: 'larder_test.entries' });
      await store.set('k', Buffer.from('v'), 1000);
      const { rows } = await pool.query('SELECT key FROM larder_test.entries');
      expect(rows).toEqual([{ key: 'k' }]);
      await store.close();
    });

    it('uses a given pool without ending it, and detaches its error listener on close', async () => {
      const name = table();
      made.push(name);
      const given = new pg.Pool({ connectionString: server.url, max: 2 });
      const listeners = given.listenerCount('error');
      const store = postgresStore({ pool: given, table: name });
      expect(given.listenerCount('error')).toBe(listeners + 1);
      await store.set('k', Buffer.from('v'), 1000);
      await store.close();
      expect(given.listenerCount('error')).toBe(listeners);
      expect((await given.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await given.end();
    });

    it('two stores on one pool with different tables do not share prepared statements', async () => {
      const [a, b] = [table(), table()];
      made.push(a, b);
      const shared = new pg.Pool({ connectionString: server.url, max: 1 });
      const one = postgresStore({ pool: shared, table: a });
      const two = postgresStore({ pool: shared, table: b });
      await one.set('k', Buffer.from('one'), 60_000);
      await two.set('k', Buffer.from('two'), 60_000);
      expect(Buffer.from((await one.get('k'))!).toString()).toBe('one');
      expect(Buffer.from((await two.get('k'))!).toString()).toBe('two');
      await one.close();
      await two.close();
      await shared.end();
    });

    it('needs a connection, checked in the constructor', () => {
      expect(() => postgresStore({})).toThrow(/connectionString/);
      expect(() => postgresStore({ connectionString: server.url, timeout: 0 })).toThrow(/timeout/);
    });
  });
});
