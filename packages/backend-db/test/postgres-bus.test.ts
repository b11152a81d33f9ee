import { randomBytes } from 'node:crypto';
import { type Cache, CacheConfigError, createCache } from '@larder/core';
import { type ServerHandle, startPostgres } from '@larder/testkit';
import { loopStall, quietLogger, sleep } from '@larder/testkit/helpers';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresBus, postgresStore } from '../src/postgres.js';

let server: ServerHandle;
let admin: pg.Pool;
const table = `bus_${randomBytes(4).toString('hex')}`;
const open: Cache[] = [];

beforeAll(async () => {
  // Private: the tests terminate the bus's backends.
  server = await startPostgres({ useEnv: false });
  admin = new pg.Pool({ connectionString: server.url, max: 1 });
}, 20_000);

afterAll(async () => {
  await admin?.end();
  await server?.stop();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((cache) => cache.close()));
});

/** A cache with an L1 and its own Postgres bus, as one app process would have. */
async function twoTier(prefix: string): Promise<Cache> {
  const cache = createCache({
    store: postgresStore({ connectionString: server.url, table, max: 2 }),
    prefix,
    l1: { maxTtl: 60_000 },
    bus: postgresBus({ connectionString: server.url }, { logger: quietLogger }),
    logger: quietLogger,
  });
  open.push(cache);
  await sleep(150); // let the bus LISTEN before the test writes
  return cache;
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (await check()) return true;
    await sleep(1);
  }
  return false;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

describe('postgresBus', () => {
  it('a set or delete in one process evicts the L1 entry in another', async () => {
    const prefix = `p${randomBytes(3).toString('hex')}`;
    const a = await twoTier(prefix);
    const b = await twoTier(prefix);
    await a.set('k', 'v1', { ttl: 60_000 });
    expect(await b.get('k')).toBe('v1'); // now in B's L1, for up to a minute
    await a.set('k', 'v2', { ttl: 60_000 });
    expect(await waitFor(async () => (await b.get('k')) === 'v2', 1000)).toBe(true);
    await a.delete('k');
    expect(await waitFor(async () => (await b.get('k')) === undefined, 1000)).toBe(true);
  });

  it('B sees a value A set within 50 ms p99 over 200 sets', async () => {
    const prefix = `p${randomBytes(3).toString('hex')}`;
    const a = await twoTier(prefix);
    const b = await twoTier(prefix);
    await a.set('hot', -1, { ttl: 60_000 });
    const stall = loopStall();
    const lags: number[] = [];
    for (let i = 0; i < 200; i++) {
      expect(await b.get('hot')).toBe(i - 1);
      await a.set('hot', i, { ttl: 60_000 });
      const written = performance.now();
      while ((await b.get('hot')) !== i) {
        if (performance.now() - written > 2000) throw new Error(`B never saw value ${i}`);
        await sleep(1);
      }
      lags.push(performance.now() - written);
    }
    const stalled = stall.stop();
    lags.sort((x, y) => x - y);
    console.log(
      `postgresBus: set in A → seen by B, 200 sets: p50 ${percentile(lags, 50).toFixed(2)} ms, p99 ${percentile(lags, 99).toFixed(2)} ms, max ${lags.at(-1)!.toFixed(2)} ms (loop stall ${stalled.toFixed(0)} ms)`,
    );
    expect(percentile(lags, 99)).toBeLessThan(50 + stalled);
  }, 20_000);

  it('after its backend is terminated, the bus reconnects and B empties its L1', async () => {
    const prefix = `p${randomBytes(3).toString('hex')}`;
    const a = await twoTier(prefix);
    const b = await twoTier(prefix);
    await a.set('k', 'before', { ttl: 60_000 });
    expect(await b.get('k')).toBe('before');
    const killed = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'larder-bus' AND query LIKE 'LISTEN%'",
    );
    expect(killed.rowCount).toBeGreaterThanOrEqual(2);
    // Written behind the bus's back (no notification): only the reconnect can evict B's copy.
    const plain = createCache({
      store: postgresStore({ connectionString: server.url, table, max: 1 }),
      prefix,
      logger: quietLogger,
    });
    await plain.set('k', 'after', { ttl: 60_000 });
    const started = performance.now();
    expect(await waitFor(async () => (await b.get('k')) === 'after', 5000)).toBe(true);
    console.log(
      `postgresBus: B served the fresh value ${(performance.now() - started).toFixed(0)} ms after the terminate`,
    );
    // Listening again: A's next write reaches B.
    await a.set('k', 'again', { ttl: 60_000 });
    expect(await waitFor(async () => (await b.get('k')) === 'again', 2000)).toBe(true);
    await plain.close();
  }, 20_000);

  it('notifies through a given pool, never ends it, splits long key lists and shows no password', async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 1 });
    const bus = postgresBus({ pool }, { channel: 'larder_test' });
    const heard: { keys?: string[] }[] = [];
    await bus.subscribe({ onMessage: (m) => heard.push(m), onReconnect: () => {} });
    const keys = Array.from({ length: 400 }, (_, i) => `key-${i}-${'x'.repeat(40)}`);
    await bus.publish({ origin: 'x', keys });
    expect(await waitFor(async () => heard.flatMap((m) => m.keys ?? []).length === 400, 2000)).toBe(true);
    expect(heard.length).toBeGreaterThan(1);
    await bus.close();
    expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await pool.end();
    const secret = postgresBus({ connectionString: 'postgres://app:s3cr3t-pw@127.0.0.1:1/db' });
    expect(String(secret)).not.toContain('s3cr3t');
    expect(JSON.stringify(secret)).not.toContain('s3cr3t');
    await secret.close();
  });

  it('rejects bad connections and channel names, saying what to pass', () => {
    expect(() => postgresBus(undefined as never)).toThrow(CacheConfigError);
    expect(() => postgresBus({ connectionstring: 'x' } as never)).toThrow(/connectionString/);
    expect(() => postgresBus({ connectionString: server.url }, { channel: 'a-b; DROP' })).toThrow(
      /letters, digits and underscores/,
    );
    expect(() => postgresBus({ connectionString: server.url }, { channel: 'x'.repeat(64) })).toThrow(
      CacheConfigError,
    );
  });
});
