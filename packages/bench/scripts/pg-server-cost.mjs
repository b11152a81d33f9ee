// Where a Postgres call's time goes, Larder beside the bench's raw statements, at concurrency 1:
// wall µs per op, this process's CPU µs per op, and the server's CPU µs per op (every process under
// the postmaster, read from /proc, so the server must run on this machine), sides alternating.
//
//   node packages/bench/scripts/pg-server-cost.mjs --postmaster <pid> [--url postgres://… (DATABASE_URL)] [--ops incr,get,set]
//        [--n 10000] [--rounds 5] [--sides raw,store,cache] [--base <dir of a backend-db dist>]
//
// Sides: `raw` (the bench's named statements on bare tables, pool of 10), `store` (PostgresStore
// alone), `cache` (createCache over it, as the bench runs it), and with --base, `base` (the
// PostgresStore of that build, on the same table). The postmaster's pid is the first
// line of its data dir's postmaster.pid. Start a private server for this (the testkit's settings:
// fsync, synchronous_commit and full_page_writes off) with autovacuum off: every process under the
// postmaster is counted, autovacuum workers too. The tables (per-process names) are dropped at the end.
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { postgresStore } from '@larder/backend-db/postgres';
import { createCache } from '@larder/core';
import pg from 'pg';

const { values: flags } = parseArgs({
  options: {
    postmaster: { type: 'string' },
    url: { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
    ops: { type: 'string', default: 'incr,get,set' },
    n: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    sides: { type: 'string', default: 'raw,store,cache' },
    base: { type: 'string' },
  },
});
if (flags.postmaster === undefined) throw new Error('--postmaster <pid> is required');
const postmaster = Number(flags.postmaster);
const N = Number(flags.n);
const ROUNDS = Number(flags.rounds);
const TICK_US = 1e6 / 100; // USER_HZ

/** CPU µs of the postmaster and its children (backends, writers), from /proc. */
function serverCpu() {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    if (pid !== postmaster && Number(fields[1]) !== postmaster) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * TICK_US;
}

const RAW = `cost_raw_${process.pid}`;
const RAW_COUNTER = `cost_rawc_${process.pid}`;
const LARDER = `cost_larder_${process.pid}`;
const pool = new pg.Pool({ connectionString: flags.url, max: 10 });
pool.on('error', () => {});
await pool.query(
  `CREATE TABLE IF NOT EXISTS ${RAW} (key text PRIMARY KEY, value bytea NOT NULL);` +
    `CREATE TABLE IF NOT EXISTS ${RAW_COUNTER} (key text PRIMARY KEY, n bigint NOT NULL)`,
);
const store = postgresStore({
  connectionString: flags.url,
  table: LARDER,
  max: 10,
  maxEntries: Infinity,
});
const baseStore =
  flags.base === undefined
    ? undefined
    : (await import(`${flags.base}/postgres.js`)).postgresStore({
        connectionString: flags.url,
        table: LARDER,
        max: 10,
        maxEntries: Infinity,
      });
const cache = createCache({
  store: postgresStore({ connectionString: flags.url, table: LARDER, max: 10, maxEntries: Infinity }),
  prefix: 'lb',
});

const value = { id: 1, name: 'item 1', tags: ['a', 'b'], price: 12.5 };
const frame = Buffer.from(JSON.stringify(value));
const keys = Array.from({ length: 1024 }, (_, i) => `key-${i}`);
const counters = Array.from({ length: 1024 }, (_, i) => `counter-${i}`);
const q = (name, text, values) => pool.query({ name: `bench-${name}`, text, values });
const upsert = 'ON CONFLICT (key) DO UPDATE SET';
const sides = {
  raw: {
    incr: async (i) =>
      Number(
        (
          await q(
            'incr',
            `INSERT INTO ${RAW_COUNTER} (key, n) VALUES ($1, 1) ${upsert} n = ${RAW_COUNTER}.n + 1 RETURNING n`,
            [counters[i & 1023]],
          )
        ).rows[0]?.n,
      ),
    get: async (i) =>
      (await q('get', `SELECT value FROM ${RAW} WHERE key = $1`, [keys[i & 1023]])).rows[0]?.value,
    set: async (i) =>
      q('set', `INSERT INTO ${RAW} (key, value) VALUES ($1, $2) ${upsert} value = excluded.value`, [
        keys[i & 1023],
        frame,
      ]),
  },
  store: {
    incr: (i) => store.incr(`lb:1:${counters[i & 1023]}`, 1, 3_600_000),
    get: (i) => store.get(`lb:1:${keys[i & 1023]}`),
    set: (i) => store.set(`lb:1:${keys[i & 1023]}`, frame, 3_600_000),
  },
  base: baseStore && {
    incr: (i) => baseStore.incr(`lb:1:${counters[i & 1023]}`, 1, 3_600_000),
    get: (i) => baseStore.get(`lb:1:${keys[i & 1023]}`),
    set: (i) => baseStore.set(`lb:1:${keys[i & 1023]}`, frame, 3_600_000),
  },
  cache: {
    incr: (i) => cache.incr(counters[i & 1023]),
    get: (i) => cache.get(keys[i & 1023]),
    set: (i) => cache.set(keys[i & 1023], value),
  },
};
// Data before the timer: every key present on every side.
for (let i = 0; i < 1024; i++) {
  await sides.raw.set(i);
  await sides.store.set(i);
  await sides.cache.set(i);
}
await pool.query(`VACUUM ANALYZE ${RAW}, ${RAW_COUNTER}, ${LARDER}`);

const results = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const op of flags.ops.split(',')) {
    const order = flags.sides.split(',');
    for (const side of round % 2 ? order.reverse() : order) {
      const call = sides[side][op];
      for (let i = 0; i < 200; i++) await call(i); // warm
      const server0 = serverCpu();
      const client0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < N; i++) await call(i * 7);
      const wall = Number(process.hrtime.bigint() - t0) / 1e3 / N;
      const c = process.cpuUsage(client0);
      const server = (serverCpu() - server0) / N;
      results[op] ??= {};
      results[op][side] ??= [];
      results[op][side].push({ wall, client: (c.user + c.system) / N, server });
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log('op    side    wall µs  client CPU µs  server CPU µs   (medians of', ROUNDS, 'rounds of', N, ')');
for (const [op, bySide] of Object.entries(results)) {
  for (const [side, rows] of Object.entries(bySide)) {
    const m = (k) =>
      median(rows.map((r) => r[k]))
        .toFixed(1)
        .padStart(8);
    console.log(`${op.padEnd(5)} ${side.padEnd(6)} ${m('wall')} ${m('client')}       ${m('server')}`);
  }
}
await Promise.all([store.close(), cache.close(), baseStore?.close()]);
await pool.query(`DROP TABLE IF EXISTS ${RAW}, ${RAW_COUNTER}, ${LARDER}`);
await pool.end();
