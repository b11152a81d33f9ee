import { describe, expect, it } from 'vitest';
import { compareRuns, judgedConcurrencies, renderComparison } from '../src/compare.js';
import type { BenchResults } from '../src/types.js';
import { sampleResults } from './fixtures.js';

/** A copy of `results` with every ops/s of one backend scaled (Larder and raw alike). */
function scaled(results: BenchResults, backend: string, factor: number): BenchResults {
  const copy = structuredClone(results);
  for (const c of copy.backends.find((b) => b.name === backend)?.cases ?? []) {
    c.larder.opsPerSec.median *= factor;
    c.raw.opsPerSec.median *= factor;
  }
  return copy;
}

describe('compareRuns', () => {
  it('agrees with itself: every figure within tolerance, no change', () => {
    const run = sampleResults();
    const comparison = compareRuns(run, structuredClone(run));
    // 2 backends × 2 cases × 2 sides; 2 backends × 2 memory sides; 4 ratios.
    expect(comparison.throughput).toMatchObject({ total: 8, within: 8, medianChange: 0 });
    expect(comparison.memory).toMatchObject({ total: 4, within: 4 });
    expect(comparison.ratio).toMatchObject({ total: 4, within: 4 });
    expect(comparison.agrees).toBe(true);
    expect(renderComparison(comparison)).toContain(
      'The runs agree within the tolerances: 4 of 4 throughput medians (c=64) within ±15 %, 4 of 4 memory figures within ±5 %; 4 of 4 latency medians (c=1) within ±15 % (reported, not judged).',
    );
  });

  it('names each throughput median that moved more than ±15 %', () => {
    const first = sampleResults();
    const second = scaled(first, 'sqlite', 1.2);
    const comparison = compareRuns(first, second);
    expect(comparison.agrees).toBe(false);
    expect(comparison.throughput.within).toBe(4);
    expect(comparison.throughput.worst.map((f) => f.label)).toEqual(
      expect.arrayContaining(['sqlite · get-hit · c=1 · larder', 'sqlite · get-hit · c=64 · raw']),
    );
    expect(comparison.throughput.worst[0]!.change).toBeCloseTo(0.2);
    // Both sides moved together, so the ratios still agree.
    expect(comparison.ratio.within).toBe(4);
    const text = renderComparison(comparison);
    expect(text).toContain('Ops/s medians: 4 of 8 within ±15 %');
    expect(text).toContain('  at c=1 (latency, reported, not judged): 2 of 4 within ±15 %');
    expect(text).toContain('  at c=64 (throughput, judged): 2 of 4 within ±15 %');
    expect(text).toContain('+20.0 %');
    expect(text).toContain(
      'The runs do not agree within the tolerances: 2 of 4 throughput medians (c=64) within ±15 %, 4 of 4 memory figures within ±5 %; 2 of 4 latency medians (c=1)',
    );
  });

  it('shows, beside a figure that moved, how many rounds each run had and how sure its median was', () => {
    const first = sampleResults();
    const second = scaled(first, 'sqlite', 1.2);
    const side = second.backends[1]!.cases[0]!.larder;
    const round = side.rounds[0]!;
    side.rounds = [80, 90, 100, 110, 120].map((opsPerSec) => ({ ...round, opsPerSec }));
    const comparison = compareRuns(first, second);
    const moved = comparison.throughput.worst.find((f) => f.label === 'sqlite · get-hit · c=1 · larder');
    // √(π/2) · 15.81 / √5 / 100 ≈ 8.9 %; the first run's three identical rounds: 0.
    expect(moved?.samples?.rounds).toEqual([3, 5]);
    expect(moved?.samples?.medianErrors[0]).toBe(0);
    expect(moved?.samples?.medianErrors[1]).toBeCloseTo(0.0886, 3);
    expect(renderComparison(comparison)).toMatch(
      /sqlite · get-hit · c=1 · larder .*3 \/ 5 +0\.0 % \/ 8\.9 %/,
    );
  });

  it("tells a move within both runs' own noise from one beyond it", () => {
    const first = sampleResults();
    const second = scaled(first, 'sqlite', 1.2);
    // Rounds at 70–130 % of each median: s ≈ 0.237, so the median is uncertain by
    // √(π/2) · 0.237 / √5 ≈ 13.3 % in each run, and 20 % is about 1.1σ of the two combined.
    for (const run of [first, second]) {
      const side = run.backends[1]!.cases[0]!.larder;
      const round = side.rounds[0]!;
      const m = side.opsPerSec.median;
      side.rounds = [0.7, 0.85, 1, 1.15, 1.3].map((f) => ({ ...round, opsPerSec: m * f }));
    }
    const comparison = compareRuns(first, second);
    const noisy = comparison.throughput.worst.find((f) => f.label === 'sqlite · get-hit · c=1 · larder')!;
    expect(noisy.samples!.medianErrors[0]).toBeCloseTo(0.1329, 3);
    expect(noisy.samples!.sigmas).toBeCloseTo(0.2 / Math.hypot(0.1329, 0.1329), 2);
    const text = renderComparison(comparison);
    expect(text).toMatch(/sqlite · get-hit · c=1 · larder .* 1\.1σ/);
    // The other three moved 20 % with rounds that never varied: a real change, ∞σ.
    expect(text).toContain('of the 4 outside, 1 moved by less than 2σ');
    expect(text).toContain('∞σ');
  });

  it('counts only the rounds that went into each median', () => {
    const first = sampleResults();
    const second = scaled(first, 'sqlite', 1.2);
    const side = second.backends[1]!.cases[0]!.larder;
    const round = side.rounds[0]!;
    side.rounds = [100, 100, 100, 40].map((opsPerSec, i) => ({ ...round, opsPerSec, counted: i < 3 }));
    const moved = compareRuns(first, second).throughput.worst.find(
      (f) => f.label === 'sqlite · get-hit · c=1 · larder',
    );
    expect(moved?.samples?.rounds).toEqual([3, 3]);
    expect(moved?.samples?.medianErrors[1]).toBe(0);
  });

  it('counts the throughput medians of each concurrency apart', () => {
    const first = sampleResults();
    const second = structuredClone(first);
    second.backends[0]!.cases.find((c) => c.concurrency === 64)!.raw.opsPerSec.median *= 0.8;
    const { throughputByConcurrency, agrees } = compareRuns(first, second);
    expect(throughputByConcurrency.map((level) => [level.concurrency, level.agreement.within])).toEqual([
      [1, 4],
      [64, 3],
    ]);
    expect(throughputByConcurrency[1]!.agreement.worst[0]!.label).toBe('memory · get-hit · c=64 · raw');
    expect(agrees).toBe(false);
  });

  it('judges the throughput medians (c=64) and reports the latency ones (c=1) beside them', () => {
    const first = sampleResults();
    const second = structuredClone(first);
    // A latency median 30 % slower: outside ±15 %, named, but not judged.
    second.backends[1]!.cases.find((c) => c.concurrency === 1)!.raw.opsPerSec.median *= 0.7;
    const comparison = compareRuns(first, second);
    expect(comparison.judged.concurrencies).toEqual([64]);
    expect(comparison.judged.agreement).toMatchObject({ total: 4, within: 4 });
    expect(comparison.throughput).toMatchObject({ total: 8, within: 7 });
    expect(comparison.agrees).toBe(true);
    const text = renderComparison(comparison);
    expect(text).toMatch(/sqlite · get-hit · c=1 · raw .*-30\.0 %/);
    expect(text).toContain('3 of 4 latency medians (c=1) within ±15 % (reported, not judged).');
    // The same move at c=64 decides the verdict.
    const worse = structuredClone(first);
    worse.backends[1]!.cases.find((c) => c.concurrency === 64)!.raw.opsPerSec.median *= 0.7;
    expect(compareRuns(first, worse).agrees).toBe(false);
  });

  it('judges every median when the runs measured concurrency 1 alone', () => {
    expect(judgedConcurrencies([1, 16, 64])).toEqual([16, 64]);
    expect(judgedConcurrencies([1])).toEqual([1]);
    const only1 = (run: BenchResults) => {
      for (const b of run.backends) b.cases = b.cases.filter((c) => c.concurrency === 1);
      return run;
    };
    const first = only1(sampleResults());
    const second = structuredClone(first);
    second.backends[0]!.cases[0]!.larder.opsPerSec.median *= 1.2;
    const comparison = compareRuns(first, second);
    expect(comparison.judged.concurrencies).toEqual([1]);
    expect(comparison.agrees).toBe(false);
    expect(renderComparison(comparison)).toContain(
      'The runs do not agree within the tolerances: 3 of 4 throughput medians (c=1) within ±15 %, 4 of 4 memory figures within ±5 %.',
    );
  });

  it('tells a machine that was faster throughout from a figure that moved on its own', () => {
    const first = sampleResults();
    const second = scaled(scaled(first, 'memory', 1.25), 'sqlite', 1.25);
    // One figure moved 30 % beyond the machine's 25 %.
    second.backends[1]!.cases[0]!.larder.opsPerSec.median *= 1.3;
    const comparison = compareRuns(first, second);
    expect(comparison.machineShift).toBeCloseTo(0.25);
    expect(comparison.throughput.within).toBe(0);
    expect(comparison.throughputLessShift.within).toBe(7);
    expect(comparison.throughputLessShift.worst[0]!.label).toBe('sqlite · get-hit · c=1 · larder');
    expect(comparison.throughputLessShift.worst[0]!.change).toBeCloseTo(0.3);
    // The bar stays on the figures as measured.
    expect(comparison.agrees).toBe(false);
    const text = renderComparison(comparison);
    expect(text).toContain('the second run was 25.0 % faster across the board');
    expect(text).toContain('with that taken out of every figure, 7 of 8 within ±15 %');
    expect(text).toMatch(/sqlite · get-hit · c=1 · larder .*\+62\.5 % +\+30\.0 %/);
    expect(text).not.toContain('its speed by minute');
  });

  it('takes the machine shift the yardstick measured out of the figures, apart from their own median', () => {
    const stops = [3800, 4000, 4200].map((speed, at) => ({ at, speed }));
    const first = { ...sampleResults(), yardstick: { lookupsPerMs: 4000, stops } };
    // Larder got 40 % faster on memory; the machine (the yardstick) only 20 %.
    const second = {
      ...scaled(scaled(first, 'memory', 1.4), 'sqlite', 1.2),
      yardstick: { lookupsPerMs: 4800, stops: [] },
    };
    const comparison = compareRuns(first, second);
    expect(comparison.yardstick?.shift).toBeCloseTo(0.2);
    // Against the yardstick, memory's four figures moved 16.7 %; sqlite's did not move.
    expect(comparison.yardstick?.throughputLessShift.within).toBe(4);
    expect(comparison.yardstick!.throughputLessShift.worst[0]!.change).toBeCloseTo(1.4 / 1.2 - 1);
    expect(comparison.agrees).toBe(false);
    expect(renderComparison(comparison)).toContain(
      '4,000 then 4,800 lookups/ms (median ±3.6 % / ±0.0 %), the second run 20.0 % faster; with that taken out, 4 of 8 within ±15 %',
    );
    // Without a yardstick in both runs, nothing is claimed.
    const older = compareRuns(sampleResults(), second);
    expect(older.yardstick).toBeUndefined();
    expect(renderComparison(older)).not.toContain('yardstick');
  });

  it('holds memory to ±5 %', () => {
    const first = sampleResults();
    const second = structuredClone(first);
    second.backends[0]!.memory!.larder.bytesPer1M *= 1.06;
    const comparison = compareRuns(first, second);
    expect(comparison.memory.within).toBe(3);
    expect(comparison.memory.worst[0]!.label).toBe('memory · memory · larder');
    expect(comparison.agrees).toBe(false);
  });

  it('lists what only one run measured instead of comparing it', () => {
    const first = sampleResults();
    const second = structuredClone(first);
    second.backends.pop();
    second.backends[0]!.cases.pop();
    const comparison = compareRuns(first, second);
    expect(comparison.unmatched).toEqual([
      'memory · get-hit · c=64: only in the first run',
      'sqlite: only in the first run',
    ]);
    expect(comparison.throughput.total).toBe(2);
  });
});
