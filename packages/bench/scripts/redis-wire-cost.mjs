// Client (and, given the server's pid, server) CPU per key of the commands RedisStore can send,
// with ioredis alone (no Larder code): SETs as an ioredis pipeline, as one call of the store's set
// script, or as concurrent lone commands; and a counter as plain INCR, a trivial EVALSHA, or the
// store's counter scripts (the one for many counters, called with one, and the one for one).
// Use a server of your own (e.g. `redis-server --port 6391 --save ''`):
//   node packages/bench/scripts/redis-wire-cost.mjs --url redis://127.0.0.1:6391 --server-pid <pid>
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: 'redis://127.0.0.1:6391' },
    'server-pid': { type: 'string' },
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '6' },
  },
});
const { SET_SCRIPT } = await import('../../backend-redis/dist/set-script.js');
const { INCR_SCRIPT, INCR_SHA, INCR_ONE_SCRIPT, INCR_ONE_SHA } = await import(
  '../../backend-redis/dist/incr-script.js'
);
const BATCH = Number(args.batch);
const r = new Redis(args.url, { commandTimeout: 1000, socketTimeout: 2000 });
const TRIVIAL = await r.script('LOAD', "return redis.call('INCRBY', KEYS[1], ARGV[1])");
await r.eval(INCR_SCRIPT, 1, 'wire:n:0', '1', '');
await r.eval(INCR_ONE_SCRIPT, 1, 'wire:n:0', '1', '');
const value = Buffer.from(
  JSON.stringify({
    id: 1,
    name: 'item-1',
    active: false,
    score: 1.5,
    tags: ['bench', 't1'],
    pad: 'abcdefghijklmnopqrstuvwxyzabcdefghij',
  }),
);
const keys = Array.from({ length: 4096 }, (_, i) => `wire:${i}`);
// µs of CPU the server has used (utime + stime, in 100 Hz ticks).
const serverCpu = () => {
  if (args['server-pid'] === undefined) return 0;
  const fields = readFileSync(`/proc/${args['server-pid']}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};

let k = 0;
const SETS = {
  pipeline: async () => {
    const p = r.pipeline();
    for (let i = 0; i < BATCH; i++) p.call('set', keys[k++ & 4095], value, 'PX', '3600000');
    await p.exec();
  },
  script: async () => {
    const args = [SET_SCRIPT, BATCH];
    for (let i = 0; i < BATCH; i++) args.push(keys[(k + i) & 4095]);
    for (let i = 0; i < BATCH; i++) args.push(value, '3600000', '');
    k += BATCH;
    await r.call('eval', ...args);
  },
  lone: async () => {
    const sent = [];
    for (let i = 0; i < BATCH; i++) sent.push(r.call('set', keys[k++ & 4095], value, 'PX', '3600000'));
    await Promise.all(sent);
  },
};
let n = 0;
const COUNTERS = {
  incr: () => r.incr(`wire:n:${n++ & 1023}`),
  trivialScript: () => r.call('evalsha', TRIVIAL, 1, `wire:n:${n++ & 1023}`, '1'),
  counterScript: () => r.call('evalsha', INCR_SHA, 1, `wire:n:${n++ & 1023}`, '1', '3600000'),
  oneCounterScript: () => r.call('evalsha', INCR_ONE_SHA, 1, `wire:n:${n++ & 1023}`, '1', '3600000'),
};

/** Runs `step` `times` times with `inFlight` loops, and returns [per-unit ops/s, client µs, server µs]. */
async function measure(step, times, inFlight, unitsPerStep) {
  const c0 = process.cpuUsage();
  const s0 = serverCpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = 0; i < times / inFlight; i++) await step();
    }),
  );
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const units = times * unitsPerStep;
  return [(units / elapsed) * 1000, (cpu.user + cpu.system) / units, (serverCpu() - s0) / units];
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function compare(title, variants, times, inFlight, unitsPerStep) {
  const rows = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (const step of Object.values(variants)) await measure(step, times / 10, inFlight, unitsPerStep);
  for (let round = 0; round < Number(args.rounds); round++) {
    const names = Object.keys(variants);
    for (const name of round % 2 ? names.reverse() : names) {
      rows[name].push(await measure(variants[name], times, inFlight, unitsPerStep));
    }
  }
  console.log(title);
  for (const [name, results] of Object.entries(rows)) {
    const [ops, client, server] = [0, 1, 2].map((i) => median(results.map((row) => row[i])));
    const serverText = args['server-pid'] === undefined ? '' : `, server ${server.toFixed(2)} µs`;
    console.log(`  ${name}: ${ops.toFixed(0)}/s, client ${client.toFixed(2)} µs${serverText}`);
  }
}

await compare(`SET ... PX, batches of ${BATCH}, 4 batches in flight (per key)`, SETS, 400, 4, BATCH);
await compare('counter at concurrency 1 (per call)', COUNTERS, 4000, 1, 1);
await r.unlink(...keys, ...Array.from({ length: 1024 }, (_, i) => `wire:n:${i}`));
r.disconnect();
