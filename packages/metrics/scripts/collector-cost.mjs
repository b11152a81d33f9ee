// What the Prometheus collector costs a cache call: `cache.get` (a hit) on a MemoryStore with
// and without `collectPrometheus` attached, in alternating rounds, as a ratio with a bootstrap
// interval. Not the bench: a standalone check until the bench has a row for it.
// Run after `pnpm build`: node packages/metrics/scripts/collector-cost.mjs [rounds] [callsPerRound]
import { createCache } from '@larder/core';
import { Registry } from 'prom-client';
import { collectPrometheus } from '../dist/index.js';

const rounds = Number(process.argv[2] ?? 30);
const calls = Number(process.argv[3] ?? 100_000);

async function timeGets(cache) {
  const started = performance.now();
  for (let i = 0; i < calls; i++) await cache.get('hot');
  return (performance.now() - started) / calls;
}

const plain = createCache();
const collected = createCache();
const registry = new Registry();
collectPrometheus(collected, { registry, name: 'measured' });
for (const cache of [plain, collected]) await cache.set('hot', { id: 1, name: 'a value of a few bytes' });
for (const cache of [plain, collected]) await timeGets(cache); // warm up the JIT on both paths

const ratios = [];
const perCall = { plain: [], collected: [] };
for (let round = 0; round < rounds; round++) {
  // Alternate which goes first so drift on a shared machine hits both sides alike.
  const order = round % 2 === 0 ? ['plain', 'collected'] : ['collected', 'plain'];
  const times = {};
  for (const side of order) times[side] = await timeGets(side === 'plain' ? plain : collected);
  perCall.plain.push(times.plain);
  perCall.collected.push(times.collected);
  ratios.push(times.collected / times.plain);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
// Bootstrap the median of the per-round ratios: 2,000 resamples, the 2.5th and 97.5th percentiles.
const medians = [];
for (let b = 0; b < 2000; b++)
  medians.push(median(ratios.map(() => ratios[Math.floor(Math.random() * ratios.length)])));
medians.sort((a, b) => a - b);

const scrapeStarted = performance.now();
const text = await registry.metrics();
const scrapeMs = performance.now() - scrapeStarted;

console.log(
  JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      rounds,
      callsPerRound: calls,
      plainNsPerGet: Math.round(median(perCall.plain) * 1e6),
      collectedNsPerGet: Math.round(median(perCall.collected) * 1e6),
      ratio: Number(median(ratios).toFixed(4)),
      ratio95: [Number(medians[50].toFixed(4)), Number(medians[1949].toFixed(4))],
      oneScrapeMs: Number(scrapeMs.toFixed(3)),
      scrapeLines: text.split('\n').length,
    },
    null,
    2,
  ),
);
