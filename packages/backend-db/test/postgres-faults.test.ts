import { randomBytes } from 'node:crypto';
import { CacheError, createCache, StoreTimeoutError } from '@larder/core';
import { type ServerHandle, startPostgres } from '@larder/testkit';
import {
  loopStall,
  quietLogger,
  SLACK_MS,
  sleep,
  timed,
  trackUnhandled,
  withinDeadline,
} from '@larder/testkit/helpers';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresStore, postgresStore } from '../src/postgres.js';

const code = (error: unknown) =>
  String(((error as CacheError).cause as { code?: unknown } | undefined)?.code ?? 'none');
const quiet = quietLogger;

/** Calls' durations, to check that every one settles within the deadline. */
async function record<T>(durations: number[], call: () => Promise<T>): Promise<T> {
  const { ms, value, error } = await timed(call());
  durations.push(ms);
  if (error !== undefined) throw error;
  return value as T;
}

describe('PostgresStore under faults (private server)', () => {
  let server: ServerHandle;
  const unhandled = trackUnhandled();

  beforeAll(async () => {
    server = await startPostgres({ useEnv: false });
  });
  afterAll(async () => {
    unhandled.stop();
    await server?.stop();
    expect(unhandled.list).toEqual([]);
  });

  it('20 workers of sorted batch upserts, hot-key sets, deletes and a pruner: 0 deadlocks, 0 unique violations', async () => {
    const table = `stress_${randomBytes(4).toString('hex')}`;
    const store = postgresStore({
      connectionString: server.url,
      table,
      max: 20,
      timeout: 5000,
      pruneInterval: 0,
    });
    const pruner = postgresStore({
      connectionString: server.url,
      table,
      max: 2,
      timeout: 5000,
      pruneBatch: 50,
      pruneInterval: 0,
    });
    await store.createCacheTable();
    const keys = Array.from({ length: 200 }, (_, i) => `key:${i}`);
    const pick = () => keys[Math.floor(Math.random() * keys.length)] as string;
    const errors = new Map<string, number>();
    const setLatency: number[] = [];
    let ops = 0;
    let pruned = 0;
    const until = Date.now() + 10_000;
    const fail = (error: unknown) => errors.set(code(error), (errors.get(code(error)) ?? 0) + 1);
    const value = randomBytes(100);

    const worker = async () => {
      while (Date.now() < until) {
        const roll = Math.random();
        try {
          if (roll < 0.55) {
            // Random order on purpose: the store must sort.
            const batch = Array.from({ length: 20 }, () => ({
              key: pick(),
              value,
              ttlMs: 20 + Math.floor(Math.random() * 500),
            }));
            const started = performance.now();
            await store.setMany(batch);
            setLatency.push(performance.now() - started);
          } else if (roll < 0.7) {
            await store.set('hot', value, 1000);
          } else if (roll < 0.8) {
            await store.delete(pick());
          } else if (roll < 0.88) {
            await store.deleteMany(Array.from({ length: 10 }, pick));
          } else if (roll < 0.94) {
            await store.incr('counter', 1, 60_000);
          } else {
            await store.getMany(Array.from({ length: 10 }, pick));
          }
          ops++;
        } catch (error) {
          fail(error);
        }
      }
    };
    const prunerLoop = async () => {
      while (Date.now() < until) {
        try {
          pruned += (await pruner.prune()).expired;
        } catch (error) {
          fail(error);
        }
        await sleep(20);
      }
    };
    await Promise.all([...Array.from({ length: 20 }, worker), prunerLoop()]);
    setLatency.sort((a, b) => a - b);
    const p99 = setLatency[Math.floor(setLatency.length * 0.99)] ?? 0;
    console.log(
      `postgres stress: ${ops} ops, ${setLatency.length} setMany, p99 setMany ${p99.toFixed(1)} ms, pruned ${pruned}, errors ${JSON.stringify(Object.fromEntries(errors))}`,
    );
    expect(errors.get('40P01') ?? 0).toBe(0);
    expect(errors.get('23505') ?? 0).toBe(0);
    expect(errors.size).toBe(0);
    expect(pruned).toBeGreaterThan(0);
    await pruner.close();
    await store.close();
  }, 25_000);

  it('a table locked by another session: calls settle within the deadline, then work again', async () => {
    const table = `locked_${randomBytes(4).toString('hex')}`;
    const store = postgresStore({ connectionString: server.url, table, timeout: 300 });
    await store.set('k', Buffer.from('v'), 60_000);
    const cache = createCache({ store, timeout: 1000, logger: quiet, circuitBreaker: false });
    await cache.set('c', 'cached');
    const locker = new pg.Client({ connectionString: server.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    try {
      const durations: number[] = [];
      const stall = loopStall();
      const results = await Promise.all([
        record(durations, () => cache.get('c')),
        record(durations, () => cache.set('d', 1)),
        record(durations, () => cache.has('c')),
        record(durations, () => cache.incr('n')),
        record(durations, () => cache.delete('c')),
      ]);
      expect(results).toEqual([undefined, false, false, undefined, false]);
      expect(Math.max(...durations)).toBeLessThanOrEqual(1000 + SLACK_MS + stall.stop());
      // The store's own timeout (statement_timeout, 300 ms; query_timeout 800 ms) answers first,
      // as a typed error with the SQLSTATE.
      const own = await withinDeadline(800, () => store.get('k'));
      expect(own.error).toBeInstanceOf(StoreTimeoutError);
      expect(code(own.error)).toBe('57014');
      expect(own.ms).toBeLessThan(own.bound);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(await cache.get('c')).toBe('cached');
    await cache.close();
  });

  it('Postgres paused, then killed, under coalesced sets: every caller settles within its deadline', async () => {
    const table = `batch_${randomBytes(4).toString('hex')}`;
    const store = postgresStore({ connectionString: server.url, table, timeout: 300 });
    await store.createCacheTable();
    const cache = createCache({ store, timeout: 500, logger: quiet, circuitBreaker: false });
    expect(await cache.set('warm', 1)).toBe(true);
    const burst = async () => {
      const durations: number[] = [];
      const stall = loopStall();
      const results = await Promise.all(
        Array.from({ length: 64 }, (_, i) => record(durations, () => cache.set(`k${i % 48}`, i))),
      );
      // The store's own calls (no cache deadline) fail typed within its timeout + query_timeout (800 ms).
      const own = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          withinDeadline(800, () => store.set(`s${i}`, Buffer.from('v'), 60_000)),
        ),
      );
      return { results, slowest: Math.max(...durations), bound: 500 + SLACK_MS + stall.stop(), own };
    };
    for (const fault of ['pause', 'kill'] as const) {
      await server[fault]();
      try {
        const { results, slowest, bound, own } = await burst();
        expect(results.every((r) => r === false)).toBe(true);
        expect(slowest).toBeLessThanOrEqual(bound);
        for (const call of own) {
          expect(call.error).toBeInstanceOf(CacheError);
          expect(call.ms).toBeLessThan(call.bound);
        }
      } finally {
        if (fault === 'pause') await server.resume();
        else await server.restart();
      }
      // Back: the next sets land (a connection broken by the fault is replaced on the next call).
      const deadline = Date.now() + 3000;
      while (!(await cache.set('after', fault)) && Date.now() < deadline) await sleep(50);
      const landed = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.set(`after${i}`, i)));
      expect(landed.every(Boolean)).toBe(true);
      expect(await cache.get('after19')).toBe(19);
    }
    await cache.close();
  }, 20_000);

  it('idle pool connections killed by a restart raise pool errors the store absorbs (M22): no crash', async () => {
    const table = `idle_${randomBytes(4).toString('hex')}`;
    const store = postgresStore({ connectionString: server.url, table });
    await store.createCacheTable();
    // Open several connections (concurrent sets share one statement; has does not), then leave them idle.
    await Promise.all(Array.from({ length: 5 }, (_, i) => store.has(`k${i}`)));
    expect(store.client.idleCount).toBeGreaterThan(1);
    await server.restart();
    const deadline = Date.now() + 2000;
    while ((await store.info().catch(() => ({ poolErrors: 0 }))).poolErrors === 0 && Date.now() < deadline) {
      await sleep(50);
    }
    expect((await store.info()).poolErrors).toBeGreaterThan(0);
    await store.set('after', Buffer.from('v'), 60_000);
    expect(await store.get('after')).toBeDefined();
    await store.close();
  });

  it('a Postgres restart mid-run: no crash, every call within the deadline, hits again within 2 s', async () => {
    const table = `restart_${randomBytes(4).toString('hex')}`;
    const store: PostgresStore = postgresStore({ connectionString: server.url, table });
    // The breaker's cooldown bounds recovery from above (it skips the store until it ends); the
    // default 2 s would make "hits within 2 s" a coin toss, so this run uses 1 s.
    const cache = createCache({ store, timeout: 1000, logger: quiet, circuitBreaker: { cooldown: 1000 } });
    await cache.set('k', 'v', { ttl: '1h' });
    const durations: number[] = [];
    const hits: number[] = [];
    const stall = loopStall();
    let running = true;
    const loop = async () => {
      while (running) {
        await record(durations, () => cache.set('w', 'x', { ttl: '1h' }));
        if ((await record(durations, () => cache.get('k'))) === 'v') hits.push(Date.now());
        await sleep(20);
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    await sleep(500);

    // A fast shutdown and start: idle pool clients get FATAL 57P01 ('error' events, M22).
    await server.restart();
    const backAfterRestart = Date.now();
    await sleep(2_100);
    const firstHitAfterRestart = hits.find((t) => t >= backAfterRestart);

    // SIGKILL, 1.5 s down (refused connections), then back.
    await server.kill();
    await sleep(1_500);
    await server.restart();
    const backAfterKill = Date.now();
    await sleep(2_100);
    const firstHitAfterKill = hits.find((t) => t >= backAfterKill);

    running = false;
    await Promise.all(loops);
    const stalled = stall.stop();
    const info = await store.info();
    console.log(
      `postgres restart: recovery ${firstHitAfterRestart! - backAfterRestart} ms after restart, ${firstHitAfterKill! - backAfterKill} ms after kill+start; max call ${Math.max(...durations).toFixed(0)} ms; pool error events ${info.poolErrors}; cache errors ${cache.stats().errors}`,
    );
    expect(firstHitAfterRestart! - backAfterRestart).toBeLessThanOrEqual(2000);
    expect(firstHitAfterKill! - backAfterKill).toBeLessThanOrEqual(2000);
    expect(Math.max(...durations)).toBeLessThanOrEqual(1000 + SLACK_MS + stalled);
    await cache.close();
  }, 20_000);
});
