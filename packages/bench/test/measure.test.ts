import { describe, expect, it } from 'vitest';
import type { Driver } from '../src/backends/backend.js';
import { createDataset } from '../src/data.js';
import { type Contender, measureCase, roundOrder, timeSide } from '../src/measure.js';
import { WORKLOADS } from '../src/workloads/index.js';

const quietPhase = { update: () => {}, done: () => {} };

/** Burns about `us` microseconds of CPU, as a client doing more work per call would. */
function burn(us: number): void {
  const until = performance.now() + us / 1000;
  while (performance.now() < until) {
    // spin
  }
}

function mapDriver(costUs = 0): Driver {
  const map = new Map<string, unknown>();
  return {
    get: async (key) => {
      burn(costUs);
      return map.get(key);
    },
    set: async (key, value) => {
      burn(costUs);
      map.set(key, value);
      return true;
    },
  };
}

describe('timeSide', () => {
  it('counts only the operations that did what the workload expects, and the CPU they cost', async () => {
    let n = 0;
    const op = async () => {
      n++;
      if (n % 4 === 0) throw new Error('boom');
      burn(20);
      return n % 4 !== 1;
    };
    const round = await timeSide([op], 50);
    expect(round.elapsedMs).toBeGreaterThanOrEqual(50);
    expect(round.ops + round.failed).toBe(n);
    expect(round.errors).toBe(Math.floor(n / 4));
    expect(round.failed).toBeCloseTo(n / 2, -1);
    expect(round.opsPerSec).toBeCloseTo((round.ops / round.elapsedMs) * 1000, 6);
    // Each counted op burned 20 µs, and the failed ones' CPU is charged to the counted ones.
    expect(round.cpuUsPerOp).toBeGreaterThan(20);
    expect(round.p50Ms).toBeLessThanOrEqual(round.p99Ms);
  });
});

describe('roundOrder', () => {
  it('alternates two sides', () => {
    expect([0, 1, 2, 3].map((r) => roundOrder(['a', 'b'], r).join(''))).toEqual(['ab', 'ba', 'ab', 'ba']);
  });

  it('over a cycle, puts every side first as often and right after each other side as often', () => {
    for (const n of [2, 3, 4, 5, 6]) {
      const sides = 'abcdef'.slice(0, n).split('');
      const cycle = n % 2 === 0 ? n : 2 * n;
      const orders = Array.from({ length: cycle }, (_, r) => roundOrder(sides, r));
      const firsts = new Map<string, number>();
      const follows = new Map<string, number>();
      for (const order of orders) {
        expect([...order].sort()).toEqual(sides);
        firsts.set(order[0]!, (firsts.get(order[0]!) ?? 0) + 1);
        for (let i = 1; i < n; i++)
          follows.set(order[i - 1]! + order[i]!, (follows.get(order[i - 1]! + order[i]!) ?? 0) + 1);
      }
      expect(new Set(firsts.values())).toEqual(new Set([cycle / n]));
      // Every ordered pair of two different sides, each as often (plain rotation had only n of them).
      expect(follows.size).toBe(n * (n - 1));
      expect(new Set(follows.values()).size).toBe(1);
    }
  });
});

describe('measureCase', () => {
  it('times every side in every round, keeps every round, and pairs each side with raw', async () => {
    const data = createDataset(1000, 100, 1);
    const fast = mapDriver(0);
    const slow = mapDriver(30);
    for (const key of data.keys) {
      await fast.set(key, 1);
      await slow.set(key, 1);
    }
    const contenders: Contender[] = [
      { side: 'larder', label: 'fast', driver: fast },
      { side: 'raw', label: 'slow', driver: slow },
    ];
    const options = { rounds: 6, durationMs: 20, warmupMs: 5 };
    const c = await measureCase(contenders, WORKLOADS['get-hit'], 4, data, options, quietPhase);
    expect(c.rounds).toHaveLength(6);
    expect(c.rounds.map((r) => r.order.join())).toEqual([
      'larder,raw',
      'raw,larder',
      'larder,raw',
      'raw,larder',
      'larder,raw',
      'raw,larder',
    ]);
    expect(c.sides.larder?.label).toBe('fast');
    const ratio = c.ratios.larder!;
    // Without the 30 µs per call, the fast side does several times the work in the same time.
    expect(ratio.ops.low).toBeGreaterThan(1);
    expect(ratio.cpu.high).toBeLessThan(1);
    expect(ratio.ops.coverage).toBeGreaterThanOrEqual(0.95);
    expect(c.ratios.raw).toBeUndefined();
  });
});
