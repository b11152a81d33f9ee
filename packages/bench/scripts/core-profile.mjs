// A tight loop of one cache call over MemoryStore, to profile the core's per-call path:
//   node --cpu-prof --cpu-prof-interval 50 --cpu-prof-dir=/tmp/prof packages/bench/scripts/core-profile.mjs get 3000000
//   node packages/bench/scripts/profile-summary.mjs /tmp/prof/<file>.cpuprofile --top 25
// (add --no-turbo-inlining to attribute time to every function rather than to the one it was inlined into).
// Ops: get, get-miss, set, incr, getMany (100 keys). Prints process CPU per call (per key for getMany).
import { createCache, memoryStore } from '@larder/core';

const [op = 'get', nArg = '3000000'] = process.argv.slice(2);
const N = Number(nArg);
const KEYS = 50_000;
const keys = Array.from({ length: KEYS }, (_, n) => `bench:${n}`);
const counters = Array.from({ length: 1024 }, (_, n) => `bench:counter:${n}`);
const value = {
  id: 1,
  name: 'item-1',
  active: true,
  score: 1.5,
  tags: ['bench', 't1'],
  pad: 'abcdefghijklmnopqrstuvwx',
};
const cache = createCache({
  store: memoryStore({ maxEntries: 1e7, maxBytes: 2 ** 46, maxValueBytes: 2 ** 30 }),
  prefix: 'lb',
  logger: { warn() {}, error() {} },
});
if (op !== 'incr' && op !== 'get-miss') await cache.setMany(keys.map((key) => [key, value]));
const batches = Array.from({ length: 256 }, (_, b) =>
  Array.from({ length: 100 }, (_, j) => keys[(b * 7919 + j * 31) % KEYS]),
);
const before = process.cpuUsage();
if (op === 'get') for (let i = 0; i < N; i++) await cache.get(keys[(i * 7919) % KEYS]);
const absent = Array.from({ length: 1024 }, (_, n) => `absent:${n}`);
if (op === 'get-miss') for (let i = 0; i < N; i++) await cache.get(absent[i & 1023]);
if (op === 'set') for (let i = 0; i < N; i++) await cache.set(keys[(i * 7919) % KEYS], value);
if (op === 'incr') for (let i = 0; i < N; i++) await cache.incr(counters[i & 1023]);
if (op === 'getMany') for (let i = 0; i < N / 100; i++) await cache.getMany(batches[i & 255]);
const cpu = process.cpuUsage(before);
console.log(op, ((cpu.user + cpu.system) / N).toFixed(3), 'µs of CPU per call (per key for getMany)');
await cache.close();
