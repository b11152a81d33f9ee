// Where Larder's set / get / incr on RedisStore allocate: V8's sampling heap profiler, objects
// collected by GC included, over N operations; bytes per operation by allocating function. Sides:
// larder (the cache), store (RedisStore alone, bytes in and out), raw (ioredis, strings), rawbuf
// (ioredis sending and reading what the store does: Buffers, PX).
//   node packages/bench/scripts/redis-alloc.mjs --op set --side store --conc 1 [--n 200000]
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
    side: { type: 'string', default: 'larder' },
    // Another build of @larder/backend-redis (a path to its dist/index.js) for the store side.
    'store-module': { type: 'string' },
    top: { type: 'string', default: '30' },
  },
});
const N = Number(args.n);
const value = {
  id: 1,
  name: 'item-1',
  active: false,
  score: 1.5,
  tags: ['bench', 't1'],
  pad: 'abcdefghijklmnopqrstuv',
};
const keys = Array.from({ length: 1000 }, (_, n) => `k:${n}`);
const cache = createCache({
  store: redisStore({ url: args.url, logger: { warn() {} } }),
  prefix: 'perfalloc',
  logger: { warn() {}, error() {} },
});
const storeModule = args['store-module']
  ? await import(new URL(args['store-module'], `file://${process.cwd()}/`).href)
  : { redisStore };
const store = storeModule.redisStore({ url: args.url, logger: { warn() {} } });
const raw = new Redis(args.url);
const text = JSON.stringify(value);
const rk = (k) => `perfallocraw:${k}`;
const nk = (k) => `perfallocraw:n:${k}`;
const SIDES = {
  larder: { set: (k) => cache.set(k, value), get: (k) => cache.get(k), incr: (k) => cache.incr(k) },
  store: {
    set: (k) => store.set(rk(k), Buffer.from(JSON.stringify(value)), 3_600_000),
    get: async (k) => JSON.parse(Buffer.from(await store.get(rk(k))).toString()),
    incr: (k) => store.incr(nk(k), 1, 3_600_000),
  },
  raw: {
    set: (k) => raw.set(rk(k), JSON.stringify(value), 'EX', 3600),
    get: async (k) => JSON.parse(await raw.get(rk(k))),
    incr: (k) => raw.incr(nk(k)),
  },
  rawbuf: {
    set: (k) => raw.set(rk(k), Buffer.from(JSON.stringify(value)), 'PX', 3_600_000),
    get: async (k) => JSON.parse((await raw.getBuffer(rk(k))).toString()),
    incr: (k) => raw.incr(nk(k)),
  },
};
const ops = SIDES[args.side];
const op = ops[args.op];
await Promise.all(
  keys.map((k) => (args.side === 'larder' ? cache.set(k, value) : raw.set(rk(k), text, 'EX', 3600))),
);

async function drive(n) {
  let i = 0;
  await Promise.all(
    Array.from({ length: Number(args.conc) }, async () => {
      while (i < n) await op(keys[i++ % 1000]);
    }),
  );
}
await drive(20000);
const session = new Session();
session.connect();
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', {
  samplingInterval: 512,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
await drive(N);
const { profile } = await session.post('HeapProfiler.stopSampling');
const byFn = new Map();
let total = 0;
const walk = (node) => {
  const size = node.selfSize;
  if (size > 0) {
    const f = node.callFrame;
    const url = f.url
      .replace(/.*node_modules\/\.pnpm\/([^/]+)\/.*/, '$1')
      .replace(/.*packages\/([^/]+)\/.*/, '$1');
    const label = `${f.functionName || '(anon)'} ${url}:${f.lineNumber + 1}`;
    byFn.set(label, (byFn.get(label) ?? 0) + size);
    total += size;
  }
  for (const c of node.children) walk(c);
};
walk(profile.head);
console.log(
  `${args.side} ${args.op} c=${args.conc}: ${(total / N).toFixed(0)} bytes allocated per op (sampled)`,
);
for (const [k, b] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top)))
  console.log(`${(b / N).toFixed(0).padStart(6)} B/op  ${k}`);
await cache.clear();
await raw.unlink(...keys.map(rk), ...keys.map(nk));
await cache.close();
await store.close();
raw.disconnect();
session.disconnect();
