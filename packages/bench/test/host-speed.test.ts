import { describe, expect, it } from 'vitest';
import { compareRuns, renderComparison } from '../src/compare.js';
import { hostSpeedByMinute, hostSpeedNote, hostSpeedRange } from '../src/host-speed.js';
import type { BenchResults } from '../src/types.js';
import { sampleResults } from './fixtures.js';

const T0 = Date.parse('2026-11-27T10:00:00Z');

/**
 * sampleResults with six rounds per side, round j started in minute j (each side a second
 * after the one before) at `speeds[j]` times the side's median.
 */
function timed(speeds: readonly number[]): BenchResults {
  const results = sampleResults();
  let n = 0;
  for (const backend of results.backends) {
    for (const c of backend.cases) {
      for (const side of [c.larder, c.raw]) {
        const round = side.rounds[0]!;
        const m = side.opsPerSec.median;
        const offset = 1000 * n++;
        side.rounds = speeds.map((speed, j) => ({
          ...round,
          opsPerSec: m * speed,
          startedAt: T0 + j * 60_000 + offset,
        }));
      }
    }
  }
  return results;
}

describe('hostSpeedByMinute', () => {
  it("reads a minute in which every case ran below its median as the machine's slow minute", () => {
    const minutes = hostSpeedByMinute(timed([1, 1, 0.5, 1, 1, 1]).backends);
    // 2 backends × 2 cases × 2 sides: 8 rounds a minute.
    expect(minutes.map((m) => [m.minute, m.speed, m.rounds])).toEqual([
      [0, 1, 8],
      [1, 1, 8],
      [2, 0.5, 8],
      [3, 1, 8],
      [4, 1, 8],
      [5, 1, 8],
    ]);
    expect(hostSpeedRange(minutes)).toEqual({ min: 0.5, max: 1 });
  });

  it('leaves a minute with too few rounds out of the range', () => {
    const results = timed([1, 1, 1, 1, 1, 1]);
    const side = results.backends[0]!.cases[0]!.larder;
    side.rounds.push({
      ...side.rounds[0]!,
      opsPerSec: side.opsPerSec.median * 3,
      startedAt: T0 + 9 * 60_000,
    });
    const minutes = hostSpeedByMinute(results.backends);
    expect(minutes.at(-1)).toMatchObject({ minute: 9, speed: 3, rounds: 1 });
    expect(hostSpeedRange(minutes)).toEqual({ min: 1, max: 1 });
  });

  it('has nothing to say of rounds without start times (results from older versions)', () => {
    expect(hostSpeedByMinute(sampleResults().backends)).toEqual([]);
    expect(hostSpeedRange([])).toBeUndefined();
    expect(hostSpeedNote([])).toBeUndefined();
  });
});

describe('hostSpeedNote', () => {
  it('flags a run whose machine moved by more than 10 %, and says how far', () => {
    expect(hostSpeedNote(hostSpeedByMinute(timed([1, 1, 1.05, 0.95, 1, 1]).backends))).toBeUndefined();
    const note = hostSpeedNote(hostSpeedByMinute(timed([1, 1, 0.8, 1, 1, 1]).backends));
    expect(note).toContain('0.80–1.00 of typical');
    expect(note).toContain('--compare');
  });
});

describe('compareRuns on the machine', () => {
  it('gives each run its speed by minute', () => {
    const text = renderComparison(compareRuns(timed([1, 1, 0.5, 1, 1, 1]), timed([1, 1, 1, 1, 1, 1])));
    expect(text).toContain('first run 0.50–1.00, second 1.00–1.00 of typical');
  });
});
