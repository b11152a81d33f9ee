// Client CPU per operation of Larder over MemcachedStore beside raw memjs, on a memcached this
// script starts (or MEMCACHED_URL=host:port). Sides alternate round by round, as in the bench.
//
//   node packages/bench/scripts/memcached-cpu.mjs --ops get,set --concurrency 1,64 --rounds 10
//   OLD_STORE=/path/to/another/build/index.js ... --sides larder,old,raw   (A/B two store builds)
//   ... --sides larder,store,raw   (side store: the MemcachedStore alone, JSON decoded by hand)
//   ... --sides larder --ops get --concurrency 1 --profile /tmp/p   (V8 profile of the timed
//       rounds only: /tmp/p-get-1.cpuprofile; summarize with profile-summary.mjs <file> --ops <n>)
//
// Prints, per case: each side's median µs of CPU per op and ops/s, and the median of the
// per-round ratios to raw. Workers yield to the event loop every 256 operations, as the
// bench's do (which is what puts callers out of step with each other).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { memcachedStore } from '@larder/backend-memcached';
import { createCache } from '@larder/core';
import { startMemcached } from '@larder/testkit';
import memjs from 'memjs';

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: 'get,set' },
    concurrency: { type: 'string', default: '1,64' },
    sides: { type: 'string', default: 'larder,raw' },
    rounds: { type: 'string', default: '10' },
    duration: { type: 'string', default: '300' },
    // Untimed warm-up per side before a case's rounds, ms (the bench's default is 100).
    warmup: { type: 'string', default: '100' },
    keys: { type: 'string', default: '5000' },
    // Writes a V8 CPU profile of the timed rounds only (no start-up, no load) to this file.
    profile: { type: 'string' },
  },
});

const KEYS = Number(args.keys);
const value = (n) => ({
  id: n,
  name: `item-${n}`,
  active: n % 2 === 0,
  score: n % 100,
  tags: ['bench', `t${n % 7}`],
  pad: 'abcdefghijklmnopqrstuvwxyz0123',
});
const keys = Array.from({ length: KEYS }, (_, n) => `bench:${n}`);
const values = Array.from({ length: 64 }, (_, n) => value(n));
const order = Uint32Array.from({ length: 1 << 16 }, (_, i) => (i * 2654435761) % KEYS);

const server = process.env.MEMCACHED_URL ? undefined : await startMemcached({ memoryMb: 256 });
const address = process.env.MEMCACHED_URL ?? server.url.replace(/^[a-z]+:\/\//i, '');
const store = memcachedStore({ servers: address });
const cache = createCache({ store, prefix: 'lb', logger: { warn() {}, error() {} } });
const client = memjs.Client.create(address, { logger: { log() {} } });
// OLD_STORE=<path to another build's index.js> adds the side "old": that build, for A/B runs.
const old = process.env.OLD_STORE
  ? createCache({
      store: (await import(process.env.OLD_STORE)).memcachedStore({ servers: address }),
      prefix: 'lo',
      logger: { warn() {}, error() {} },
    })
  : undefined;

/** The store key the cache uses for `key` (prefix, version, clear generation), learned from one read. */
let keyPrefix;
const storeKey = (key) => keyPrefix + key;

const drivers = {
  larder: {
    get: (key) => cache.get(key),
    set: (key, v) => cache.set(key, v),
  },
  old: old && { get: (key) => old.get(key), set: (key, v) => old.set(key, v) },
  store: {
    get: async (key) => {
      const bytes = await store.get(storeKey(key));
      return bytes === undefined
        ? undefined
        : JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8', 1));
    },
    set: (key, v) => store.set(storeKey(key), Buffer.from('\u0001' + JSON.stringify(v)), 3600000),
  },
  raw: {
    get: async (key) => {
      const { value: bytes } = await client.get(key);
      return bytes === null ? undefined : JSON.parse(bytes.toString('utf8'));
    },
    set: (key, v) => client.set(key, JSON.stringify(v), { expires: 3600 }),
  },
};

for (let i = 0; i < KEYS; i += 500) {
  const chunk = keys.slice(i, i + 500);
  await cache.setMany(chunk.map((key, j) => [key, values[(i + j) % 64]]));
  await old?.setMany(chunk.map((key, j) => [key, values[(i + j) % 64]]));
  await Promise.all(chunk.map((key, j) => drivers.raw.set(key, values[(i + j) % 64])));
}
{
  const read = store.get.bind(store);
  store.get = (key) => {
    keyPrefix = key.slice(0, key.length - keys[0].length);
    return read(key);
  };
  await cache.get(keys[0]);
  store.get = read;
  if ((await drivers.store.get(keys[0])) === undefined) throw new Error('the store side reads misses');
}

async function timeSide(driver, op, concurrency, durationMs) {
  let done = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (w) => {
    let i = w * 997;
    while (performance.now() < deadline) {
      const n = i++;
      const key = keys[order[n & 0xffff]];
      if (op === 'get') await driver.get(key);
      else await driver.set(key, values[n & 63]);
      done++;
      // As the bench's loop does: yield to the event loop now and then.
      if ((n & 255) === 0) await yieldToLoop();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { done, cpuUs: (used.user + used.system) / done, opsPerSec: (done / elapsed) * 1000 };
}

const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

let session;
if (args.profile) {
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
}

const sides = args.sides.split(',');
for (const op of args.ops.split(',')) {
  for (const concurrency of args.concurrency.split(',').map(Number)) {
    const rounds = Object.fromEntries(sides.map((s) => [s, []]));
    for (const side of sides) await timeSide(drivers[side], op, concurrency, Number(args.warmup));
    await session?.post('Profiler.start');
    for (let r = 0; r < Number(args.rounds); r++) {
      const turn = sides.map((_, i) => sides[(i + r) % sides.length]);
      for (const side of turn) {
        rounds[side].push(await timeSide(drivers[side], op, concurrency, Number(args.duration)));
      }
    }
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(`${args.profile}-${op}-${concurrency}.cpuprofile`, JSON.stringify(profile));
    }
    const line = [`${op} c=${concurrency}`];
    for (const side of sides) {
      line.push(
        `${side} ${median(rounds[side].map((x) => x.cpuUs)).toFixed(1)} µs/op ${Math.round(median(rounds[side].map((x) => x.opsPerSec)))} ops/s (${rounds[side].reduce((n, x) => n + x.done, 0)} ops timed)`,
      );
    }
    for (const side of sides.filter((s) => s !== 'raw' && rounds.raw)) {
      const ratio = (pick) => median(rounds[side].map((x, i) => pick(x) / pick(rounds.raw[i])));
      line.push(
        `${side}: cpu ÷ raw ${ratio((x) => x.cpuUs).toFixed(2)}, ops ÷ raw ${ratio((x) => x.opsPerSec).toFixed(2)}`,
      );
    }
    console.log(line.join(' · '));
  }
}

await cache.close();
await old?.close();
client.close();
await server?.stop();
