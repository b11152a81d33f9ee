// CPU per call of two builds of @larder/core over MemoryStore in one process, alternated round
// by round (an A/B of a core change that survives a loaded machine better than two bench runs).
// Usage: node packages/bench/scripts/core-ab.mjs <a/core/dist/index.js> <b/core/dist/index.js> [get|set|incr] [rounds]
// Build A from another checkout (e.g. a `git worktree add --detach` of the base commit).
const [a, b, op = 'incr', roundsArg = '9'] = process.argv.slice(2);
if (!a || !b) throw new Error('usage: core-ab.mjs <a/index.js> <b/index.js> [get|set|incr] [rounds]');
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
const caches = [];
for (const path of [a, b]) {
  const core = await import(path);
  const store = core.memoryStore({ maxEntries: 1e7, maxBytes: 2 ** 46, maxValueBytes: 2 ** 30 });
  const cache = core.createCache({ store, prefix: 'lb', logger: { warn() {}, error() {} } });
  await cache.setMany(keys.map((key) => [key, value]));
  caches.push(cache);
}
const calls = op === 'incr' ? 1_000_000 : 300_000;
async function run(cache) {
  const before = process.cpuUsage();
  if (op === 'get') for (let i = 0; i < calls; i++) await cache.get(keys[(i * 7919) % KEYS]);
  if (op === 'set') for (let i = 0; i < calls; i++) await cache.set(keys[(i * 7919) % KEYS], value);
  if (op === 'incr') for (let i = 0; i < calls; i++) await cache.incr(counters[(i * 7919) & 1023]);
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / calls;
}
for (const cache of caches) await run(cache);
const times = [[], []];
for (let r = 0; r < Number(roundsArg); r++) {
  for (const side of r % 2 ? [1, 0] : [0, 1]) times[side].push(await run(caches[side]));
}
const median = (list) => [...list].sort((x, y) => x - y)[list.length >> 1];
const ratios = times[1].map((t, i) => t / times[0][i]);
console.log(
  `${op}: A ${median(times[0]).toFixed(3)} µs, B ${median(times[1]).toFixed(3)} µs of CPU per call; ` +
    `B/A median ${median(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]`,
);
for (const cache of caches) await cache.close();
