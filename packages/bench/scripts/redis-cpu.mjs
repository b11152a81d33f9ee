// CPU per operation of Larder over RedisStore beside raw ioredis (and optionally Keyv over
// @keyv/redis), against a running Redis, sides alternating round by round. Also counts the
// socket writes each side makes per operation. Run from the repository root after `pnpm build`:
//   node packages/bench/scripts/redis-cpu.mjs --ops set,get --conc 1,64 --rounds 6
// Add --keyv for the Keyv side, --url redis://127.0.0.1:6379/11 for another server or db,
// --other-build /path/to/checkout for side 'other': the cache and store of another built checkout
// (e.g. main beside a branch), to A/B a change across core and store in one process.
// Every key it writes is under `perfcpu:` (Larder side) or `perfcpuraw:` / keyv's namespace, and
// is deleted at the end.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { redisStore } from '@larder/backend-redis';
import { createCache } from '@larder/core';
import { Redis } from 'ioredis';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'redis://127.0.0.1:6379/11' },
    ops: { type: 'string', default: 'set,get,getMany,incr' },
    conc: { type: 'string', default: '1,64' },
    ms: { type: 'string', default: '400' },
    rounds: { type: 'string', default: '6' },
    keys: { type: 'string', default: '5000' },
    keyv: { type: 'boolean', default: false },
    only: { type: 'string' },
    // ioredis options (JSON; null stands for undefined) for the store's client and the raw client.
    'store-redis': { type: 'string', default: '{}' },
    'raw-redis': { type: 'string', default: '{}' },
    // A second Larder side whose store gets these ioredis options (JSON), to A/B one option.
    variant: { type: 'string' },
    // Another build of @larder/backend-redis (a path to its dist/index.js): side 'store2', the
    // store alone like side 'store', to A/B a change in the store.
    'store-module': { type: 'string' },
    'other-build': { type: 'string' },
  },
});
const url = args.url;
const KEYS = Number(args.keys);
const TTL_S = 3600;

// Count socket writes (what leaves the process per op): ioredis and node-redis both end in Socket#write.
let socketWrites = 0;
const write = net.Socket.prototype.write;
net.Socket.prototype.write = function (...a) {
  socketWrites++;
  return write.apply(this, a);
};

function makeValue(index) {
  const value = {
    id: index,
    name: `item-${index}`,
    active: index % 2 === 0,
    score: 1.5,
    tags: ['bench', `t${index % 7}`],
    pad: '',
  };
  const need = Math.max(0, 100 - JSON.stringify(value).length);
  value.pad = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(need / 36)).slice(0, need);
  return value;
}
const values = Array.from({ length: 64 }, (_, n) => makeValue(n));
const keys = Array.from({ length: KEYS }, (_, n) => `k:${n}`);
const counters = Array.from({ length: 1024 }, (_, n) => `c:${n}`);
const batches = Array.from({ length: 64 }, (_, b) =>
  Array.from({ length: 100 }, (_, i) => keys[(b * 100 + i * 37) % KEYS]),
);

const cache = createCache({
  store: redisStore({
    url,
    logger: { warn() {} },
    redis: JSON.parse(args['store-redis'], (_, v) => (v === null ? undefined : v)),
  }),
  prefix: 'perfcpu',
  logger: { warn() {}, error() {} },
});
const raw = new Redis(
  url,
  JSON.parse(args['raw-redis'], (_, v) => (v === null ? undefined : v)),
);
raw.on('error', () => {});
const rawKey = (k) => `perfcpuraw:${k}`;

const sides = {
  larder: {
    set: (k, v) => cache.set(k, v),
    get: (k) => cache.get(k),
    getMany: (ks) => cache.getMany(ks),
    incr: (k) => cache.incr(k),
  },
  raw: {
    set: async (k, v) => (await raw.set(rawKey(k), JSON.stringify(v), 'EX', TTL_S)) === 'OK',
    get: async (k) => {
      const text = await raw.get(rawKey(k));
      return text === null ? undefined : JSON.parse(text);
    },
    getMany: async (ks) =>
      (await raw.mget(...ks.map(rawKey))).map((t) => (t === null ? undefined : JSON.parse(t))),
    incr: (k) => raw.incr(rawKey(k)),
  },
};
const parseOptions = (text) => JSON.parse(text, (_, v) => (v === null ? undefined : v));
let variant;
if (args.variant) {
  variant = createCache({
    store: redisStore({ url, logger: { warn() {} }, redis: parseOptions(args.variant) }),
    prefix: 'perfcpu',
    logger: { warn() {}, error() {} },
  });
  sides.variant = {
    set: (k, v) => variant.set(k, v),
    get: (k) => variant.get(k),
    getMany: (ks) => variant.getMany(ks),
    incr: (k) => variant.incr(k),
  };
}
// The layers one by one: the raw client sending what the store sends (a Buffer, PX), and the
// store alone (no cache: no key building, codec, deadline or stats).
const layerStore = redisStore({ url, logger: { warn() {} } });
const storeKey = (k) => `perfcpustore:${k}`;
// Decoded in place, as the raw side's strings are (`Buffer.from(buffer)` would copy every value
// first and charge the Buffer sides for a copy neither ioredis nor the cache makes).
const parse = (bytes) =>
  bytes === undefined || bytes === null
    ? undefined
    : JSON.parse(Buffer.isBuffer(bytes) ? bytes.toString() : Buffer.from(bytes).toString());
sides.rawbuf = {
  set: async (k, v) =>
    (await raw.set(rawKey(k), Buffer.from(JSON.stringify(v)), 'PX', TTL_S * 1000)) === 'OK',
  get: async (k) => parse(await raw.getBuffer(rawKey(k))),
  getMany: async (ks) => (await raw.mgetBuffer(...ks.map(rawKey))).map(parse),
};
sides.store = {
  set: async (k, v) => {
    await layerStore.set(storeKey(k), Buffer.from(JSON.stringify(v)), TTL_S * 1000);
    return true;
  },
  get: async (k) => parse(await layerStore.get(storeKey(k))),
  getMany: async (ks) => (await layerStore.getMany(ks.map(storeKey))).map(parse),
  incr: (k) => layerStore.incr(storeKey(k), 1, TTL_S * 1000),
};
let store2;
if (args['store-module']) {
  const other = await import(new URL(args['store-module'], `file://${process.cwd()}/`).href);
  store2 = other.redisStore({ url, logger: { warn() {} } });
  sides.store2 = {
    set: async (k, v) => {
      await store2.set(storeKey(k), Buffer.from(JSON.stringify(v)), TTL_S * 1000);
      return true;
    },
    get: async (k) => parse(await store2.get(storeKey(k))),
    getMany: async (ks) => (await store2.getMany(ks.map(storeKey))).map(parse),
    incr: (k) => store2.incr(storeKey(k), 1, TTL_S * 1000),
  };
}
let other;
if (args['other-build']) {
  const root = new URL(`${args['other-build'].replace(/\/$/, '')}/packages/`, `file://${process.cwd()}/`);
  const otherCore = await import(new URL('core/dist/index.js', root).href);
  const otherRedis = await import(new URL('backend-redis/dist/index.js', root).href);
  // Its own prefix: the two builds must not read each other's entries.
  other = otherCore.createCache({
    store: otherRedis.redisStore({ url, logger: { warn() {} } }),
    prefix: 'perfcpuother',
    logger: { warn() {}, error() {} },
  });
  sides.other = {
    set: (k, v) => other.set(k, v),
    get: (k) => other.get(k),
    getMany: (ks) => other.getMany(ks),
    incr: (k) => other.incr(k),
  };
}
let keyv;
if (args.keyv) {
  const { Keyv } = await import('keyv');
  const { default: KeyvRedis } = await import('@keyv/redis');
  keyv = new Keyv({ store: new KeyvRedis(url.replace(/\/\d+$/, '')), namespace: 'perfcpukeyv' });
  sides.keyv = { set: (k, v) => keyv.set(k, v, TTL_S * 1000), get: (k) => keyv.get(k) };
}

// Load the keys on every side.
await cache.setMany(keys.map((k, n) => [k, values[n % 64]]));
await other?.setMany(keys.map((k, n) => [k, values[n % 64]]));
{
  const p = raw.pipeline();
  for (const [n, k] of keys.entries()) p.set(rawKey(k), JSON.stringify(values[n % 64]), 'EX', TTL_S);
  await p.exec();
}
await layerStore.setMany(
  keys.map((k, n) => ({
    key: storeKey(k),
    value: Buffer.from(JSON.stringify(values[n % 64])),
    ttlMs: TTL_S * 1000,
  })),
);
if (keyv)
  for (let n = 0; n < KEYS; n += 500)
    await Promise.all(keys.slice(n, n + 500).map((k, i) => keyv.set(k, values[(n + i) % 64], TTL_S * 1000)));

function opFor(side, op, worker) {
  let i = worker * 7919;
  const s = sides[side];
  // Each worker walks its own stride through the keys.
  const next = (wrap) => {
    i = (i + 17) % wrap;
    return i;
  };
  switch (op) {
    case 'set':
      return () => {
        const n = next(KEYS);
        return s.set(keys[n], values[n & 63]);
      };
    case 'get':
      return () => s.get(keys[next(KEYS)]);
    case 'getMany':
      return () => s.getMany(batches[next(64)]);
    case 'incr':
      return () => s.incr(counters[next(1024)]);
  }
}

async function time(side, op, conc, ms) {
  let done = 0;
  const writes0 = socketWrites;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: conc }, async (_, w) => {
      const run = opFor(side, op, w);
      while (performance.now() < end) {
        await run();
        done++;
      }
    }),
  );
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    done,
    opsPerSec: (done / elapsed) * 1000,
    cpuUs: (cpu.user + cpu.system) / done,
    writes: (socketWrites - writes0) / done,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const sideNames = Object.keys(sides).filter((s) => (args.only ? args.only.split(',').includes(s) : true));
for (const op of args.ops.split(',')) {
  for (const conc of args.conc.split(',').map(Number)) {
    const these = sideNames.filter((s) => sides[s][op]);
    for (const s of these) await time(s, op, conc, 100); // warm-up
    const rows = Object.fromEntries(these.map((s) => [s, []]));
    for (let r = 0; r < Number(args.rounds); r++) {
      const order = r % 2 ? [...these].reverse() : these;
      for (const s of order) rows[s].push(await time(s, op, conc, Number(args.ms)));
    }
    const rawOps = rows.raw?.map((x) => x.opsPerSec);
    const rawCpu = rows.raw?.map((x) => x.cpuUs);
    const out = [`${op} c=${conc}`];
    for (const s of these) {
      if (rawOps === undefined) {
        const total = rows[s].reduce((sum, x) => sum + x.done, 0);
        out.push(
          `${s}: ${Math.round(median(rows[s].map((x) => x.opsPerSec)))} ops/s ${median(rows[s].map((x) => x.cpuUs)).toFixed(1)} µs cpu/op, ${total} ops timed`,
        );
        continue;
      }
      const ratio = median(rows[s].map((x, i) => x.opsPerSec / rawOps[i]));
      const cpuRatio = median(rows[s].map((x, i) => x.cpuUs / rawCpu[i]));
      out.push(
        `${s}: ${Math.round(median(rows[s].map((x) => x.opsPerSec)))} ops/s ${median(rows[s].map((x) => x.cpuUs)).toFixed(1)} µs cpu/op ${median(rows[s].map((x) => x.writes)).toFixed(3)} writes/op` +
          (s === 'raw' ? '' : ` | ops ÷ raw ${ratio.toFixed(2)}, cpu ÷ raw ${cpuRatio.toFixed(2)}`) +
          `, ${rows[s].reduce((sum, x) => sum + x.done, 0)} ops timed`,
      );
    }
    console.log(out.join('\n  '));
  }
}

if (cache.stats().errors > 0) console.log(`the Larder side swallowed ${cache.stats().errors} errors`);
await cache.clear();
await raw.unlink(...keys.map(rawKey), ...counters.map(rawKey));
if (keyv) {
  await keyv.clear();
  await keyv.disconnect();
}
await cache.close();
await variant?.close();
await other?.clear();
await other?.close();
await layerStore.clear('perfcpustore:');
await layerStore.close();
await store2?.close();
raw.disconnect();
