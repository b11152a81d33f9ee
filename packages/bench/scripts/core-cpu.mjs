// Client CPU per operation of Larder over MemoryStore beside a bare Map of JSON strings, in a
// tight loop shaped like the bench's workers (async workers, `await op()`), alternating sides.
// Usage: node packages/bench/scripts/core-cpu.mjs [get|set|incr|getMany|all] [concurrency] [rounds]
// Prints µs of process CPU (user + system) per op for each side, and the Larder ÷ raw ratio.
// LARDER_CORE=/path/to/core/dist/index.js measures another build of the core (an A/B).
const { createCache, memoryStore } = await import(process.env.LARDER_CORE ?? '@larder/core');

const [which = 'all', conc = '1', roundsArg = '7'] = process.argv.slice(2);
const concurrency = Number(conc);
const rounds = Number(roundsArg);
const KEYS = 50_000;
const makeValue = (i) => {
  const v = {
    id: i,
    name: `item-${i}`,
    active: i % 2 === 0,
    score: (i % 1000) * 0.15,
    tags: ['bench', `t${i % 7}`],
    pad: '',
  };
  v.pad = 'abcdefghijklmnopqrstuvwxyz0123456789'
    .repeat(3)
    .slice(0, Math.max(0, 100 - JSON.stringify(v).length));
  return v;
};
const keys = Array.from({ length: KEYS }, (_, n) => `bench:${n}`);
const counters = Array.from({ length: 1024 }, (_, n) => `bench:counter:${n}`);
const values = Array.from({ length: 64 }, (_, n) => makeValue(n));
const order = Uint32Array.from({ length: 1 << 16 }, (_, i) => (i * 2654435761) % KEYS);
const mask = (1 << 16) - 1;

const cache = createCache({
  store: memoryStore({ maxEntries: 10_000_000, maxBytes: 2 ** 46, maxValueBytes: 2 ** 30 }),
  prefix: 'lb',
  logger: { warn() {}, error() {} },
});
const map = new Map();
for (let i = 0; i < KEYS; i++) {
  await cache.set(keys[i], values[i % 64]);
  map.set(keys[i], JSON.stringify(values[i % 64]));
}
const batches = Array.from({ length: 256 }, (_, b) =>
  Array.from({ length: 100 }, (_, j) => keys[order[(b * 100 + j) & mask]]),
);

const larder = {
  get: (k) => cache.get(k),
  set: (k, v) => cache.set(k, v),
  incr: (k) => cache.incr(k),
  getMany: (ks) => cache.getMany(ks),
};
const raw = {
  get: async (k) => {
    const s = map.get(k);
    return s === undefined ? undefined : JSON.parse(s);
  },
  set: async (k, v) => {
    map.set(k, JSON.stringify(v));
    return true;
  },
  incr: async (k) => {
    const n = Number(map.get(k) ?? 0) + 1;
    map.set(k, String(n));
    return n;
  },
  getMany: async (ks) =>
    ks.map((k) => {
      const s = map.get(k);
      return s === undefined ? undefined : JSON.parse(s);
    }),
};
const ops = {
  get: (d, w) => {
    let i = w * 997;
    return async () => (await d.get(keys[order[i++ & mask]])) !== undefined;
  },
  set: (d, w) => {
    let i = w * 997;
    return async () => {
      const n = i++;
      return d.set(keys[order[n & mask]], values[n % 64]);
    };
  },
  incr: (d, w) => {
    let i = w * 997;
    return async () => typeof (await d.incr(counters[order[i++ & mask] & 1023])) === 'number';
  },
  getMany: (d, w) => {
    let i = w;
    return async () => (await d.getMany(batches[i++ & 255])).length === 100;
  },
};

async function time(op, n) {
  const workers = Array.from({ length: concurrency }, (_, w) => op(w));
  const per = Math.ceil(n / concurrency);
  const before = process.cpuUsage();
  await Promise.all(
    workers.map(async (f) => {
      for (let j = 0; j < per; j++) {
        const t0 = performance.now();
        await f();
        performance.now() - t0;
      }
    }),
  );
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / (per * concurrency);
}

const names = which === 'all' ? ['get', 'set', 'incr', 'getMany'] : which.split(',');
for (const name of names) {
  const n = name === 'getMany' ? 20_000 : 300_000;
  const sides = { larder: (w) => ops[name](larder, w), raw: (w) => ops[name](raw, w) };
  await time(sides.larder, n / 4);
  await time(sides.raw, n / 4);
  const got = { larder: [], raw: [] };
  for (let r = 0; r < rounds; r++) {
    for (const side of r % 2 ? ['raw', 'larder'] : ['larder', 'raw'])
      got[side].push(await time(sides[side], n));
  }
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const ratios = got.larder.map((l, i) => l / got.raw[i]);
  console.log(
    `${name} c=${concurrency}: larder ${med(got.larder).toFixed(3)} µs/op, raw ${med(got.raw).toFixed(3)} µs/op, cpu ratio ${med(ratios).toFixed(2)} (min ${Math.min(...ratios).toFixed(2)} max ${Math.max(...ratios).toFixed(2)})`,
  );
}
await cache.close();
