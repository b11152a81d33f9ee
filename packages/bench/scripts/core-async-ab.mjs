// CPU per call of two builds of @larder/core over one async store (SQLite, or memcached on a
// server this script starts), awaited one at a time, builds alternated round by round: an A/B
// of a change to the core's async call path that survives a loaded machine better than two
// bench runs. Both caches share the store instance (the store's own cost is the same on both).
//
//   node packages/bench/scripts/core-async-ab.mjs <a/core/dist/index.js> <b/core/dist/index.js> \
//     [--backend sqlite|memcached|null] [--ops get,get-miss,set] [--n 40000] [--rounds 9]
// --backend null: a store that answers every call at once (a miss, or true), so the figures are
// the core's own cost per call and nothing else.
// Build A from another checkout (e.g. a `git worktree add --detach` of the base commit).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: 'string', default: 'sqlite' },
    ops: { type: 'string', default: 'get,get-miss,set' },
    n: { type: 'string', default: '40000' },
    rounds: { type: 'string', default: '9' },
  },
});
const [a, b] = positionals;
if (!a || !b) throw new Error('usage: core-async-ab.mjs <a/index.js> <b/index.js> [--backend ...]');
const N = Number(flags.n);
const KEYS = 5000;
const keys = Array.from({ length: KEYS }, (_, i) => `user:${i.toString(36)}:profile`);
const values = Array.from({ length: 16 }, (_, i) => ({
  id: 12345 + i,
  name: 'Ada Lovelace',
  email: `ada${i}@example.com`,
  tags: ['a', 'b', 'c'],
}));

let store;
let cleanup = async () => {};
if (flags.backend === 'sqlite') {
  const { sqliteStore } = await import('@larder/backend-db/sqlite');
  const dir = mkdtempSync(join(tmpdir(), 'core-async-ab-'));
  store = sqliteStore({ path: join(dir, 'larder.db'), maxEntries: Number.POSITIVE_INFINITY });
  cleanup = async () => rmSync(dir, { recursive: true, force: true });
} else if (flags.backend === 'null') {
  const answer = (value) => Promise.resolve(value);
  store = {
    name: 'null',
    capabilities: {
      ttlGranularityMs: 1,
      maxKeyBytes: 250,
      maxValueBytes: 2 ** 20,
      clearScope: 'prefix',
      atomicIncr: true,
      nativeTtl: true,
      ...(process.env.NULL_CAPS ? JSON.parse(process.env.NULL_CAPS) : {}),
      ...(process.env.NULL_FORBIDDEN ? { forbiddenKeyChars: new RegExp(process.env.NULL_FORBIDDEN) } : {}),
    },
    get: () => answer(undefined),
    getMany: (keys) => answer(keys.map(() => undefined)),
    set: () => answer(undefined),
    setMany: () => answer(undefined),
    add: () => answer(true),
    delete: () => answer(false),
    deleteMany: () => answer(0),
    has: () => answer(false),
    incr: () => answer(1),
    touch: () => answer(false),
    ttl: () => answer(undefined),
    clear: () => answer(undefined),
    info: () => answer({}),
    close: () => answer(undefined),
  };
} else {
  const { memcachedStore } = await import('@larder/backend-memcached');
  const { startMemcached } = await import('@larder/testkit');
  const server = process.env.MEMCACHED_URL ? undefined : await startMemcached({ memoryMb: 256 });
  store = memcachedStore({ servers: process.env.MEMCACHED_URL ?? server.url.replace(/^[a-z]+:\/\//i, '') });
  cleanup = async () => server?.stop();
}

const caches = [];
for (const [i, path] of [a, b].entries()) {
  const core = await import(path);
  const cache = core.createCache({ store, prefix: `ab${i}`, logger: { warn() {}, error() {} } });
  await cache.setMany(keys.map((key, n) => [key, values[n & 15]]));
  caches.push(cache);
}

function op(cache, name) {
  let i = 0;
  if (name === 'get') return () => cache.get(keys[(i++ * 7919) % KEYS]);
  if (name === 'get-miss') return () => cache.get(`miss:${keys[(i++ * 7919) % KEYS]}`);
  if (name === 'set') return () => cache.set(keys[(i * 7919) % KEYS], values[i++ & 15]);
  throw new Error(`unknown op ${name}`);
}

async function timed(run, count) {
  const before = process.cpuUsage();
  for (let k = 0; k < count; k++) await run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

const median = (list) => [...list].sort((x, y) => x - y)[list.length >> 1];
for (const name of flags.ops.split(',')) {
  const runs = caches.map((cache) => op(cache, name));
  for (const run of runs) await timed(run, N / 4);
  const times = [[], []];
  for (let r = 0; r < Number(flags.rounds); r++) {
    for (const side of r % 2 ? [1, 0] : [0, 1]) times[side].push(await timed(runs[side], N));
  }
  const [ma, mb] = times.map(median);
  const ratios = times[1].map((t, r) => t / times[0][r]).sort((x, y) => x - y);
  console.log(
    `${flags.backend} ${name.padEnd(8)} A ${ma.toFixed(2)} µs  B ${mb.toFixed(2)} µs  B−A ${(mb - ma).toFixed(2)} µs  B÷A per round ${ratios[0].toFixed(3)}–${ratios.at(-1).toFixed(3)} (median ${median(ratios).toFixed(3)})`,
  );
}
for (const cache of caches) await cache.close();
await cleanup();
