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
// A second cache without a collector: the A/A control, so the noise floor of two identical caches is known.
const control = createCache();
const collected = createCache();
const registry = new Registry();
collectPrometheus(collected, { registry, name: 'measured' });
const caches = { plain, control, collected };
for (const cache of Object.values(caches)) await cache.set('hot', { id: 1, name: 'a value of a few bytes' });
for (const cache of Object.values(caches)) await timeGets(cache); // warm up the JIT on every path

const ratios = [];
const controls = [];
const perCall = { plain: [], collected: [] };
const orders = [
  ['plain', 'control', 'collected'],
  ['collected', 'plain', 'control'],
  ['control', 'collected', 'plain'],
];
for (let round = 0; round < rounds; round++) {
  // Rotate the order so drift on a shared machine hits every side alike.
  const times = {};
  for (const side of orders[round % 3]) times[side] = await timeGets(caches[side]);
  perCall.plain.push(times.plain);
  perCall.collected.push(times.collected);
  ratios.push(times.collected / times.plain);
  controls.push(times.control / times.plain);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
// Bootstrap the median of the per-round ratios: 2,000 resamples, the 2.5th and 97.5th percentiles.
function interval(xs) {
  const medians = [];
  for (let b = 0; b < 2000; b++)
    medians.push(median(xs.map(() => xs[Math.floor(Math.random() * xs.length)])));
  medians.sort((a, b) => a - b);
  return [Number(medians[50].toFixed(4)), Number(medians[1949].toFixed(4))];
}

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
      ratio95: interval(ratios),
      controlRatio: Number(median(controls).toFixed(4)),
      controlRatio95: interval(controls),
      oneScrapeMs: Number(scrapeMs.toFixed(3)),
      scrapeLines: text.split('\n').length,
    },
    null,
    2,
  ),
);
