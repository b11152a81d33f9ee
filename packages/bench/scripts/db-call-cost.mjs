// What a PostgresStore call costs in JavaScript (the cache's path + the store's, without pg or
// the network): the store over a pool whose query() answers at once, CPU µs per awaited call.
// With --base <dir of a backend-db dist> the same is timed for that build, rounds alternating.
//
//   node packages/bench/scripts/db-call-cost.mjs [--base /path/to/backend-db/dist] [--n 100000]
import { parseArgs } from 'node:util';
import { createCache, MemoryStore } from '@larder/core';

const { values: flags } = parseArgs({
  options: { base: { type: 'string' }, n: { type: 'string', default: '100000' } },
});
const N = Number(flags.n);
// A real frame of a small value, as the cache writes it.
const memory = new MemoryStore();
await createCache({ store: memory, prefix: 'p' }).set('k', { a: 1 });
const frame = Buffer.from(await memory.get('p:1:k'));
await memory.close();
/** A pool-shaped object answering every query at once with what the store's statement would return. */
const instantPool = () => ({
  on() {},
  off() {},
  connect() {
    throw new Error('not used');
  },
  end: async () => {},
  options: {},
  query(config) {
    const text = typeof config === 'string' ? config : config.text;
    const arrays = typeof config === 'object' && config.rowMode === 'array';
    const one = (value) => Promise.resolve({ rows: [arrays ? [value] : { value }], rowCount: 1 });
    if (text.includes('RETURNING value')) return one(Buffer.from('7'));
    if (text.startsWith('SELECT value')) return one(frame);
    return Promise.resolve({ rows: [], rowCount: 1 });
  },
});
const builds = { current: await import('@larder/backend-db/postgres') };
if (flags.base) builds.base = await import(`${flags.base}/postgres.js`);
const quiet = { warn() {}, error() {} };
const caches = Object.fromEntries(
  Object.entries(builds).map(([name, m]) => [
    name,
    createCache({ store: m.postgresStore({ pool: instantPool(), pruneInterval: 0 }), logger: quiet }),
  ]),
);
const ops = {
  set: (cache, i) => cache.set(`k${i & 1023}`, { a: i }),
  get: (cache, i) => cache.get(`k${i & 1023}`),
  incr: (cache, i) => cache.incr(`n${i & 1023}`),
};
const names = Object.keys(caches);
for (const [op, run] of Object.entries(ops)) {
  const results = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < 9; round++) {
    for (const name of round % 2 ? [...names].reverse() : names) {
      const before = process.cpuUsage();
      for (let i = 0; i < N; i++) await run(caches[name], i);
      const used = process.cpuUsage(before);
      results[name].push((used.user + used.system) / N);
    }
  }
  const median = (list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
  console.log(
    `${op.padEnd(5)} ${names.map((name) => `${name} ${median(results[name]).toFixed(2)} µs`).join('  ')}`,
  );
}
for (const cache of Object.values(caches)) await cache.close();
