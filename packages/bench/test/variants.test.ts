import { createCache, memoryStore } from '@larder/core';
import { describe, expect, it } from 'vitest';
import type { BenchBackend } from '../src/backends/backend.js';
import { createDataset, hotKeys } from '../src/data.js';
import { type Contender, measureCase, summarizeCase } from '../src/measure.js';
import { startExtras } from '../src/peers.js';
import { renderSummary } from '../src/report/terminal.js';
import type { Round } from '../src/types.js';
import { tagsOf } from '../src/variants.js';
import { WORKLOADS } from '../src/workloads/index.js';
import { sampleResults, sideRound } from './fixtures.js';

const quietPhase = { update: () => {}, done: () => {} };

/** A backend with just what the variants use: its name and its Larder cache over a MemoryStore. */
function stubBackend(name: BenchBackend['name']) {
  const larder = createCache({ store: memoryStore(), prefix: 'lb' });
  return { name, larder, url: undefined } as unknown as BenchBackend;
}

describe('the Larder variants', () => {
  it('runs the Prometheus collector on memory get-hit over the data plain Larder loaded, scraped each round', async () => {
    const backend = stubBackend('memory');
    const data = createDataset(200, 100, 1);
    await backend.larder.setMany(
      data.keys.map((key, i) => [key, data.values[i % data.values.length]] as const),
    );
    const { extras, skipped } = await startExtras(backend, data, false);
    expect(skipped).toEqual([]);
    const [prometheus] = extras;
    expect(prometheus?.side).toBe('larder-prometheus');
    expect(prometheus?.workloads).toEqual(['get-hit']);
    expect(await prometheus!.driver.get(data.keys[0]!)).toEqual(data.values[0]);
    const scrape = (await prometheus!.prepare!()) as string;
    expect(scrape).toContain('larder_');
    await prometheus!.close();
  });

  it('puts an L1 sized for the hot tenth on Redis get-hot and reports the L1 hit ratio it measured', async () => {
    const backend = stubBackend('redis');
    const data = createDataset(1000, 100, 1);
    const { extras } = await startExtras(backend, data, false);
    const l1 = extras.find((e) => e.side === 'larder-l1')!;
    expect(l1.workloads).toEqual(['get-hot']);
    const contenders: Contender[] = [
      { side: 'raw', label: 'raw', driver: l1.driver },
      { side: 'larder-l1', label: l1.label, driver: l1.driver, note: l1.note },
    ];
    const options = { rounds: 2, durationMs: 20, warmupMs: 5 };
    const c = await measureCase(contenders, WORKLOADS['get-hot'], 4, data, options, quietPhase);
    const share = Number(/L1 hits ([\d.]+) %/.exec(c.sides['larder-l1']!.note!)?.[1]);
    expect(share).toBeGreaterThan(80);
    expect(share).toBeLessThanOrEqual(100);
    await l1.close();
  });

  it('loads its own copy of the working set with two tags an entry on memory and Redis get-hit, read through the tag check', async () => {
    for (const name of ['memory', 'redis'] as const) {
      const backend = stubBackend(name);
      const data = createDataset(300, 100, 1);
      const { extras, skipped } = await startExtras(backend, data, false);
      expect(skipped).toEqual([]);
      const tagged = extras.find((e) => e.side === 'larder-tags')!;
      expect(tagged.workloads).toEqual(['get-hit']);
      const key = data.keys[42]!;
      expect(tagsOf(key)).toEqual(['bench', 'group:42']);
      expect(await tagged.driver.get(key)).toEqual(data.values[42 % data.values.length]);
      // The entries carry the tags: invalidating one makes them misses (no tags, no miss).
      const sameCache = createCache({ store: backend.larder.store, prefix: 'lb-tags' });
      await sameCache.invalidateTags(['group:42']);
      expect(await tagged.driver.get(key)).toBeUndefined();
      expect(await tagged.driver.get(data.keys[43]!)).toBeDefined();
      await Promise.all(extras.map((e) => e.close()));
    }
  });

  it('draws get-hot keys 90 % from the hot tenth', () => {
    const data = createDataset(10_000, 100, 1);
    const hot = data.hotOrder.filter((i) => i < hotKeys(10_000)).length / data.hotOrder.length;
    expect(hot).toBeGreaterThan(0.88);
    expect(hot).toBeLessThan(0.92);
    expect(Math.max(...data.hotOrder)).toBeLessThan(10_000);
  });

  it('pairs a variant with plain Larder too, and gives it a summary row with both ratios and its note', () => {
    const rounds: Round[] = Array.from({ length: 6 }, (_, r) => ({
      startedAt: r,
      order: ['larder', 'raw', 'larder-prometheus'],
      sides: { larder: sideRound(100), raw: sideRound(200), 'larder-prometheus': sideRound(90) },
    }));
    const labels = { larder: 'Larder', raw: 'Map', 'larder-prometheus': 'Larder + Prometheus collector' };
    const c = summarizeCase(WORKLOADS['get-hit'], 64, labels, rounds);
    expect(c.ratios['larder-prometheus']?.ops.median).toBeCloseTo(0.45);
    expect(c.ratios['larder-prometheus']?.vsLarder?.median).toBeCloseTo(0.9);
    expect(c.ratios.larder?.vsLarder).toBeUndefined();
    c.sides['larder-prometheus']!.note = 'a note';
    const results = sampleResults();
    results.backends[0]!.cases[1] = c;
    const row = renderSummary(results)
      .split('\n')
      .find((line) => line.includes('Prometheus'));
    expect(row).toMatch(
      /Larder \+ Prometheus collector, a note\s+0\.45× \(0\.45–0\.45\); ÷ Larder 0\.90× \(0\.90–0\.90\)/,
    );
  });
});
