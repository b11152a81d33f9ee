// Where Larder's set / get on RedisStore allocate: V8's sampling heap profiler, objects collected
// by GC included, over N operations at concurrency 64; bytes per operation by allocating function.
//   node packages/bench/scripts/redis-alloc.mjs --op set [--raw] [--n 200000]
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { redisStore } from '@larder/backend-redis';
import { createCache } from '@larder/core';
import { Redis } from 'ioredis';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'redis://127.0.0.1:6379/11' },
    op: { type: 'string', default: 'set' },
    n: { type: 'string', default: '200000' },
    conc: { type: 'string', default: '64' },
    raw: { type: 'boolean', default: false },
    top: { type: 'string', default: '30' },
  },
});
const N = Number(args.n);
const value = { id: 1, name: 'item-1', active: false, score: 1.5, tags: ['bench', 't1'], pad: 'abcdefghijklmnopqrstuv' };
const keys = Array.from({ length: 1000 }, (_, n) => `k:${n}`);
const cache = createCache({ store: redisStore({ url: args.url, logger: { warn() {} } }), prefix: 'perfalloc', logger: { warn() {}, error() {} } });
const raw = new Redis(args.url);
const ops = {
  set: args.raw ? (k) => raw.set(`perfallocraw:${k}`, JSON.stringify(value), 'EX', 3600) : (k) => cache.set(k, value),
  get: args.raw ? async (k) => JSON.parse(await raw.get(`perfallocraw:${k}`)) : (k) => cache.get(k),
  incr: args.raw ? (k) => raw.incr(`perfallocraw:${k}`) : (k) => cache.incr(k),
};
const op = ops[args.op];
await Promise.all(keys.map((k) => (args.raw ? raw.set(`perfallocraw:${k}`, JSON.stringify(value), 'EX', 3600) : cache.set(k, value))));

async function drive(n) {
  let i = 0;
  await Promise.all(Array.from({ length: Number(args.conc) }, async () => {
    while (i < n) await op(keys[i++ % 1000]);
  }));
}
await drive(20000);
const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
await drive(N);
const { profile } = await session.post('HeapProfiler.stopSampling');
const byFn = new Map();
let total = 0;
const walk = (node) => {
  const size = node.selfSize;
  if (size > 0) {
    const f = node.callFrame;
    const url = f.url.replace(/.*node_modules\/\.pnpm\/([^/]+)\/.*/, '$1').replace(/.*packages\/([^/]+)\/.*/, '$1');
    const label = `${f.functionName || '(anon)'} ${url}:${f.lineNumber + 1}`;
    byFn.set(label, (byFn.get(label) ?? 0) + size);
    total += size;
  }
  for (const c of node.children) walk(c);
};
walk(profile.head);
console.log(`${args.raw ? 'raw' : 'larder'} ${args.op} c=${args.conc}: ${(total / N).toFixed(0)} bytes allocated per op (sampled)`);
for (const [k, b] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top))) console.log(`${(b / N).toFixed(0).padStart(6)} B/op  ${k}`);
await cache.clear();
await raw.unlink(...keys.map((k) => `perfallocraw:${k}`));
await cache.close();
raw.disconnect();
session.disconnect();
