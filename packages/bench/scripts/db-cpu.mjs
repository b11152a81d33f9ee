// Process CPU per operation, Larder (cache over SqliteStore / PostgresStore) beside the raw
// client the bench uses, at concurrency 1 or 64, sides alternating round by round.
//
//   node packages/bench/scripts/db-cpu.mjs sqlite get,get-miss,set,incr,get-many,mixed [--c 1] [--n 20000] [--rounds 5]
//   node packages/bench/scripts/db-cpu.mjs postgres get,set,incr --c 1
//   node --cpu-prof --cpu-prof-dir /tmp/prof packages/bench/scripts/db-cpu.mjs sqlite get --only larder
//   node packages/bench/scripts/db-cpu.mjs sqlite get,get-many --sync-reads
//
// --sync-reads (SQLite, get and get-many only) gives the store a prototype `Store.sync` whose
// reads run the store's own statements without a promise, to measure what the cache's
// synchronous read path would save; its writes throw, so only reads may be timed with it.
//
// Postgres: DATABASE_URL, else postgres://postgres@127.0.0.1:5432/test. Prints µs of process
// CPU (user + system) per op for each side, the median over rounds, and larder ÷ raw.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCache } from '@larder/core';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    c: { type: 'string', default: '1' },
    n: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '5' },
    keys: { type: 'string', default: '20000' },
    only: { type: 'string' },
    sides: { type: 'string' },
    'sync-reads': { type: 'boolean', default: false },
  },
});
const [backend = 'sqlite', opList = 'get,set,incr'] = positionals;
const concurrency = Number(flags.c);
const perRound = Number(flags.n);
const rounds = Number(flags.rounds);
const keyCount = Number(flags.keys);
const ops = opList.split(',');
if (flags['sync-reads'] && ops.some((op) => op !== 'get' && op !== 'get-many')) {
  throw new Error('--sync-reads times get and get-many only');
}

const QUIET = { warn() {}, error() {} };
const keys = Array.from({ length: keyCount }, (_, i) => `user:${i.toString(36)}:profile`);
// Writes cycle through 16 values, as the bench's do: rewriting a row with the bytes it holds
// already dirties no page in SQLite, which would make a write nearly free.
const values = Array.from({ length: 16 }, (_, i) => ({
  id: 12345 + i,
  name: 'Ada Lovelace',
  email: `ada${i}@example.com`,
  tags: ['a', 'b', 'c'],
  n: i + 0.5,
}));
const value = values[0];
const encode = (v) => Buffer.from(JSON.stringify(v));
const decode = (b) => (b == null ? undefined : JSON.parse(Buffer.from(b).toString('utf8')));
let seed = 1;
const rnd = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed;
};
const order = Int32Array.from({ length: 1 << 16 }, () => rnd() % keyCount);
const batches = Array.from({ length: 64 }, (_, b) =>
  Array.from({ length: 100 }, (_, i) => keys[order[(b * 100 + i) & 0xffff]]),
);

async function sqliteSides() {
  const { sqliteStore } = await import('@larder/backend-db/sqlite');
  const Database = (await import('better-sqlite3')).default;
  const dir = mkdtempSync(join(tmpdir(), 'db-cpu-'));
  const store = sqliteStore({ path: join(dir, 'larder.db'), maxEntries: Number.POSITIVE_INFINITY });
  if (flags['sync-reads']) await installSyncReads(store);
  const cache = createCache({ store, prefix: 'lb', logger: QUIET });
  const db = new Database(join(dir, 'raw.db'), { timeout: 100 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    'CREATE TABLE IF NOT EXISTS bench_raw (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID',
  );
  const get = db.prepare('SELECT value FROM bench_raw WHERE key = ?').pluck();
  const put = db.prepare(
    'INSERT INTO bench_raw (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const many = db.prepare('SELECT key, value FROM bench_raw WHERE key IN (SELECT value FROM json_each(?))');
  const incr = db
    .prepare(
      'INSERT INTO bench_raw (key, value) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value',
    )
    .pluck();
  db.transaction(() => {
    for (const key of keys) put.run(key, encode(value));
  })();
  await cache.setMany(keys.map((key) => [key, value]));
  const raw = {
    get: async (key) => decode(get.get(key)),
    set: async (key, v) => put.run(key, encode(v)).changes === 1,
    getMany: async (list) => {
      const found = new Map();
      for (const row of many.all(JSON.stringify(list))) found.set(row.key, row.value);
      return list.map((key) => decode(found.get(key)));
    },
    incr: async (key) => incr.all(`n:${key}`)[0],
  };
  const close = async () => {
    await cache.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { cache, raw, close };
}

/** The prototype read path (see --sync-reads): the store's get and getMany statements, run synchronously. */
async function installSyncReads(store) {
  await store.createCacheTable();
  const live = '(expires_at IS NULL OR expires_at > ?)';
  const table = store.table.quoted;
  const get = store.client.prepare(`SELECT value FROM ${table} WHERE key = ? AND ${live}`).pluck();
  const many = store.client
    .prepare(`SELECT key, value FROM ${table} WHERE key IN (SELECT value FROM json_each(?)) AND ${live}`)
    .raw();
  const refuse = () => {
    throw new Error('--sync-reads times reads only');
  };
  Object.defineProperty(store, 'sync', {
    value: {
      get: (key) => get.get(key, Date.now()),
      getMany: (list) => {
        const found = new Map();
        for (const [key, value] of many.all(JSON.stringify(list), Date.now())) found.set(key, value);
        return list.map((key) => found.get(key));
      },
      set: refuse,
      setText: refuse,
      incr: refuse,
    },
  });
}

async function postgresSides() {
  const { postgresStore } = await import('@larder/backend-db/postgres');
  const pg = (await import('pg')).default;
  const connectionString = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const tag = `cpu${process.pid}`;
  const store = postgresStore({
    connectionString,
    table: `larder_${tag}`,
    max: 10,
    maxEntries: Number.POSITIVE_INFINITY,
  });
  const cache = createCache({ store, prefix: 'lb', logger: QUIET });
  const pool = new pg.Pool({ connectionString, max: 10 });
  pool.on('error', () => {});
  const t = `raw_${tag}`;
  const c = `rawc_${tag}`;
  await pool.query(
    `CREATE TABLE ${t} (key text PRIMARY KEY, value bytea NOT NULL); CREATE TABLE ${c} (key text PRIMARY KEY, n bigint NOT NULL)`,
  );
  await pool.query(`INSERT INTO ${t} (key, value) SELECT * FROM unnest($1::text[], $2::bytea[])`, [
    keys,
    keys.map(() => encode(value)),
  ]);
  await cache.setMany(keys.map((key) => [key, value]));
  const q = (name, text, values) => pool.query({ name: `cpu-${name}`, text, values });
  const up = 'ON CONFLICT (key) DO UPDATE SET';
  const raw = {
    get: async (key) =>
      decode((await q('get', `SELECT value FROM ${t} WHERE key = $1`, [key])).rows[0]?.value),
    set: async (key, v) =>
      (
        await q('set', `INSERT INTO ${t} (key, value) VALUES ($1, $2) ${up} value = excluded.value`, [
          key,
          encode(v),
        ])
      ).rowCount === 1,
    getMany: async (list) => {
      const { rows } = await q('many', `SELECT key, value FROM ${t} WHERE key = ANY($1)`, [list]);
      const found = new Map(rows.map((row) => [row.key, row.value]));
      return list.map((key) => decode(found.get(key)));
    },
    incr: async (key) =>
      Number(
        (await q('incr', `INSERT INTO ${c} (key, n) VALUES ($1, 1) ${up} n = ${c}.n + 1 RETURNING n`, [key]))
          .rows[0]?.n,
      ),
  };
  const close = async () => {
    await cache.close();
    await pool.query(`DROP TABLE IF EXISTS ${t}, ${c}, larder_${tag}`);
    await pool.end();
  };
  return { cache, raw, close };
}

const larderDriver = (cache) => ({
  get: (key) => cache.get(key),
  set: (key, v) => cache.set(key, v),
  getMany: (list) => cache.getMany(list),
  incr: (key) => cache.incr(`n:${key}`),
});

/** The store alone, on the keys the cache would build (prefix 'lb', version 1): `--sides larder,store,raw`. */
const storeDriver = (store) => ({
  get: (key) => store.get(`lb:1:${key}`).then(decode),
});

function opOf(driver, op, worker) {
  let i = worker * 977;
  switch (op) {
    case 'get':
      return () => driver.get(keys[order[i++ & 0xffff]]);
    case 'get-miss':
      return () => driver.get(`miss:${keys[order[i++ & 0xffff]]}`);
    case 'set':
      return () => {
        const n = i++;
        return driver.set(keys[order[n & 0xffff]], values[n & 15]);
      };
    case 'incr':
      return () => driver.incr(keys[order[i++ & 0xffff] & 1023]);
    case 'get-many':
      return () => driver.getMany(batches[i++ & 63]);
    case 'mixed':
      return () => {
        const n = i++;
        const key = keys[order[n & 0xffff]];
        return n % 10 === 0 ? driver.set(key, values[n & 15]) : driver.get(key);
      };
    default:
      throw new Error(`unknown op ${op}`);
  }
}

/** Runs `count` ops with `concurrency` workers; resolves µs of process CPU per op. */
async function timed(driver, op, count) {
  const each = Math.ceil(count / concurrency);
  const workers = Array.from({ length: concurrency }, (_, w) => opOf(driver, op, w));
  const before = process.cpuUsage();
  await Promise.all(
    workers.map(async (run) => {
      for (let k = 0; k < each; k++) await run();
    }),
  );
  const used = process.cpuUsage(before);
  return (used.user + used.system) / (each * concurrency);
}

const median = (list) => {
  const s = [...list].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const sides = backend === 'postgres' ? await postgresSides() : await sqliteSides();
const drivers = { larder: larderDriver(sides.cache), raw: sides.raw, store: storeDriver(sides.cache.store) };
const names = flags.sides ? flags.sides.split(',') : flags.only ? [flags.only] : ['larder', 'raw'];
try {
  for (const op of ops) {
    const n = op === 'get-many' ? Math.ceil(perRound / 50) : perRound;
    for (const name of names) await timed(drivers[name], op, Math.ceil(n / 4)); // warm-up
    const results = Object.fromEntries(names.map((name) => [name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 ? [...names].reverse() : names)
        results[name].push(await timed(drivers[name], op, n));
    }
    const line = names.map((name) => `${name} ${median(results[name]).toFixed(2)} µs`).join('  ');
    const ratio =
      names.length >= 2 && names.includes('larder') && names.includes('raw')
        ? `  larder÷raw ${(median(results.larder) / median(results.raw)).toFixed(2)}`
        : '';
    console.log(`${backend} ${op.padEnd(8)} c=${concurrency}  ${line}${ratio}`);
  }
} finally {
  await sides.close();
}
