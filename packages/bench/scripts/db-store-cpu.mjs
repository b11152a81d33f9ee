// The store's own share: SqliteStore calls awaited one at a time beside the raw better-sqlite3
// statements the bench uses, awaited the same way (no cache in front). Process CPU µs per call,
// median of alternating rounds. Writes cycle through 17 values so no write rewrites the bytes a
// row holds (SQLite dirties no page for that, which would make it nearly free).
//
//   node packages/bench/scripts/db-store-cpu.mjs [get,get-miss,set,incr,get-many] [--n 30000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sqliteStore } from '@larder/backend-db/sqlite';
import Database from 'better-sqlite3';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: 'string', default: '30000' }, rounds: { type: 'string', default: '7' } },
});
const ops = (positionals[0] ?? 'get,set,incr,get-many').split(',');
const N = Number(flags.n);
const dir = mkdtempSync(join(tmpdir(), 'db-store-cpu-'));
const keys = Array.from({ length: 20000 }, (_, i) => `lb:1:user:${i.toString(36)}:profile`);
const values = Array.from({ length: 17 }, (_, i) =>
  Buffer.from(`\x00${JSON.stringify({ id: 12345 + i, name: 'Ada Lovelace', email: `ada${i}@example.com` })}`),
);
const store = sqliteStore({ path: join(dir, 'larder.db'), maxEntries: Number.POSITIVE_INFINITY });
await store.setMany(keys.map((key) => ({ key, value: values[0], ttlMs: 3_600_000 })));
const db = new Database(join(dir, 'raw.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE raw (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID');
const put = db.prepare(
  'INSERT INTO raw (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
);
db.transaction(() => {
  for (const key of keys) put.run(key, values[0]);
})();
const get = db.prepare('SELECT value FROM raw WHERE key = ?').pluck();
const many = db.prepare('SELECT key, value FROM raw WHERE key IN (SELECT value FROM json_each(?))');
const incr = db
  .prepare(
    'INSERT INTO raw (key, value) VALUES (?, 1) ON CONFLICT (key) DO UPDATE SET value = value + 1 RETURNING value',
  )
  .pluck();
const order = Array.from({ length: 65536 }, (_, i) => keys[(i * 7919) % keys.length]);
const lists = Array.from({ length: 64 }, (_, b) => Array.from({ length: 100 }, (_, i) => order[b * 100 + i]));
let written = 0;
const sides = {
  get: { store: (i) => store.get(order[i & 65535]), raw: async (i) => get.get(order[i & 65535]) },
  'get-miss': {
    store: (i) => store.get(`miss:${order[i & 65535]}`),
    raw: async (i) => get.get(`miss:${order[i & 65535]}`),
  },
  set: {
    store: (i) => store.set(order[i & 65535], values[written++ % 17], 3_600_000),
    raw: async (i) => put.run(order[i & 65535], values[written++ % 17]).changes,
  },
  incr: {
    store: (i) => store.incr(`n:${i & 1023}`, 1, 3_600_000),
    raw: async (i) => incr.all(`n:${i & 1023}`)[0],
  },
  'get-many': {
    store: (i) => store.getMany(lists[i & 63]),
    raw: async (i) => {
      const list = lists[i & 63];
      const found = new Map();
      for (const row of many.all(JSON.stringify(list))) found.set(row.key, row.value);
      return list.map((key) => found.get(key));
    },
  },
};
const median = (list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
for (const op of ops) {
  const n = op === 'get-many' ? Math.ceil(N / 50) : N;
  const results = { store: [], raw: [] };
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const side of round % 2 ? ['raw', 'store'] : ['store', 'raw']) {
      const run = sides[op][side];
      const before = process.cpuUsage();
      for (let i = 0; i < n; i++) await run(i);
      const used = process.cpuUsage(before);
      results[side].push((used.user + used.system) / n);
    }
  }
  const s = median(results.store);
  const r = median(results.raw);
  console.log(
    `${op.padEnd(8)} store ${s.toFixed(2)} µs  raw ${r.toFixed(2)} µs  store−raw ${(s - r).toFixed(2)} µs`,
  );
}
await store.close();
db.close();
rmSync(dir, { recursive: true, force: true });
