// The JavaScript cost per operation of Larder over MemcachedStore beside raw memjs, without the
// network: each memjs Server's `write` is replaced by a small in-process binary-protocol
// responder (GET, GETKQ, SET, SETQ, ADD, NOOP), which answers every write in one buffer on the next
// turn of the event loop through memjs's own `responseHandler`. No system calls are left in the
// timed path, so CPU per op is the client code alone (Larder core, store, memjs parsing, promises)
// and is far steadier on a loaded machine than a run against a real server. Socket writes, the
// socket cork and the kernel's share are what it leaves out.
//
//   node packages/bench/scripts/memcached-js-cost.mjs --ops get,set --concurrency 1,64 --rounds 15
//   OLD_STORE=/path/to/other/build/index.js ... --sides larder,old,raw   (A/B two store builds)
//   ... --profile /tmp/js   (writes a V8 profile of the timed rounds of each case)
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { memcachedStore } from '@larder/backend-memcached';
import { createCache } from '@larder/core';
import memjs from 'memjs';

const { values: args } = parseArgs({
  options: {
    ops: { type: 'string', default: 'get,set' },
    concurrency: { type: 'string', default: '1,64' },
    sides: { type: 'string', default: 'larder,raw' },
    rounds: { type: 'string', default: '15' },
    duration: { type: 'string', default: '200' },
    keys: { type: 'string', default: '5000' },
    profile: { type: 'string' },
  },
});

/** A memcached in a Map, speaking enough of the binary protocol for get/set workloads. */
function fakeServer(server) {
  const items = new Map();
  const header = (opcode, status, keyLength, extrasLength, bodyLength, opaque) => {
    const b = Buffer.alloc(24);
    b[0] = 0x81;
    b[1] = opcode;
    b.writeUInt16BE(keyLength, 2);
    b[4] = extrasLength;
    b.writeUInt16BE(status, 6);
    b.writeUInt32BE(bodyLength, 8);
    b.writeUInt32BE(opaque, 12);
    return b;
  };
  let out = [];
  let scheduled = false;
  server.connected = true;
  server.write = (blob) => {
    let at = 0;
    while (at < blob.length) {
      const opcode = blob[at + 1];
      const keyLength = blob.readUInt16BE(at + 2);
      const extrasLength = blob[at + 4];
      const bodyLength = blob.readUInt32BE(at + 8);
      const opaque = blob.readUInt32BE(at + 12);
      const key = blob.subarray(at + 24 + extrasLength, at + 24 + extrasLength + keyLength);
      const name = key.toString('latin1');
      if (opcode === 0x01 || opcode === 0x11 || opcode === 0x02) {
        const flags = blob.readUInt32BE(at + 24);
        const value = Buffer.from(blob.subarray(at + 24 + extrasLength + keyLength, at + 24 + bodyLength));
        const refused = opcode === 0x02 && items.has(name);
        if (!refused) items.set(name, { flags, value });
        if (opcode !== 0x11) out.push(header(opcode, refused ? 2 : 0, 0, 0, 0, opaque));
      } else if (opcode === 0x00 || opcode === 0x0d) {
        const item = items.get(name);
        const withKey = opcode === 0x0d;
        if (item !== undefined) {
          const extras = Buffer.alloc(4);
          extras.writeUInt32BE(item.flags);
          const k = withKey ? key.length : 0;
          out.push(header(opcode, 0, k, 4, 4 + k + item.value.length, opaque), extras);
          if (withKey) out.push(Buffer.from(key));
          out.push(item.value);
        } else if (!withKey) {
          out.push(header(opcode, 1, 0, 0, 9, opaque), Buffer.from('Not found'));
        }
      } else if (opcode === 0x0a) {
        out.push(header(0x0a, 0, 0, 0, 0, opaque));
      } else {
        throw new Error(`the fake server does not do opcode ${opcode}`);
      }
      at += 24 + bodyLength;
    }
    if (!scheduled) {
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        const chunk = Buffer.concat(out);
        out = [];
        server.responseHandler(chunk);
      });
    }
  };
}

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
const quiet = { warn() {}, error() {} };

const larderCache = (pkg, prefix) => {
  const store = pkg.memcachedStore({ servers: '127.0.0.1:1' });
  for (const server of store.client.servers) fakeServer(server);
  return createCache({ store, prefix, logger: quiet });
};
const cache = larderCache({ memcachedStore }, 'lb');
const old = process.env.OLD_STORE ? larderCache(await import(process.env.OLD_STORE), 'lo') : undefined;
const client = memjs.Client.create('127.0.0.1:1', { logger: { log() {} } });
for (const server of client.servers) fakeServer(server);

const drivers = {
  larder: { get: (key) => cache.get(key), set: (key, v) => cache.set(key, v) },
  old: old && { get: (key) => old.get(key), set: (key, v) => old.set(key, v) },
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
      if (op === 'get') {
        if ((await driver.get(key)) === undefined) throw new Error(`miss on ${key}`);
      } else await driver.set(key, values[n & 63]);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const used = process.cpuUsage(cpu);
  return { done, cpuUs: (used.user + used.system) / done };
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
    for (const side of sides) await timeSide(drivers[side], op, concurrency, 200);
    await session?.post('Profiler.start');
    for (let r = 0; r < Number(args.rounds); r++) {
      const turn = sides.map((_, i) => sides[(i + r) % sides.length]);
      for (const side of turn)
        rounds[side].push(await timeSide(drivers[side], op, concurrency, Number(args.duration)));
    }
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(`${args.profile}-${op}-${concurrency}.cpuprofile`, JSON.stringify(profile));
    }
    const line = [`${op} c=${concurrency}`];
    for (const side of sides) {
      const ops = rounds[side].reduce((n, x) => n + x.done, 0);
      line.push(`${side} ${median(rounds[side].map((x) => x.cpuUs)).toFixed(2)} µs/op (${ops} ops)`);
    }
    for (const side of sides.filter((s) => s !== 'raw' && rounds.raw)) {
      const ratio = median(rounds[side].map((x, i) => x.cpuUs / rounds.raw[i].cpuUs));
      line.push(`${side} ÷ raw ${ratio.toFixed(2)}`);
    }
    console.log(line.join(' · '));
  }
}
process.exit(0);
