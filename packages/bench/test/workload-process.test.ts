import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BenchBackend } from '../src/backends/backend.js';
import { createMemoryBackend } from '../src/backends/memory.js';
import type * as Bench from '../src/bench.js';
import { createDataset } from '../src/data.js';
import type { Progress as ProgressClass } from '../src/progress.js';
import { SpeedGauge } from '../src/speed-gauge.js';
import { MEDIAN_ERROR_TARGET, pooledMedianError } from '../src/stats.js';
import type { BackendResult, BenchOptions, BenchResults, RoundResult } from '../src/types.js';
import { backendTiming, processShare } from '../src/types.js';
import type * as WorkloadProcess from '../src/workload-process.js';
import { sampleResults } from './fixtures.js';

describe('processShare', () => {
  it('gives every process the same share of the rounds, rounded up', () => {
    expect(processShare(5, 1)).toBe(5);
    expect(processShare(5, 2)).toBe(3);
    expect(processShare(3, 3)).toBe(1);
    expect(processShare(10, 5)).toBe(2);
  });
});

describe('backendTiming', () => {
  const options = { ...sampleResults().options, rounds: 10, processes: 5, maxRounds: 16, embeddedWeight: 2 };

  it("gives a server the run's rounds, processes and top-up room", () => {
    expect(backendTiming(options, false)).toEqual({ rounds: 10, processes: 5, maxRounds: 16 });
  });

  it('gives an embedded backend the weight times the processes and rounds, the same share each and as many top-ups', () => {
    const timing = backendTiming(options, true);
    expect(timing).toEqual({ rounds: 20, processes: 10, maxRounds: 26 });
    expect(processShare(timing.rounds, timing.processes)).toBe(processShare(10, 5));
    expect(backendTiming({ ...options, embeddedWeight: 1 }, true)).toEqual(backendTiming(options, false));
  });
});

// The workload process is the built `dist/workload-child.js` (Node 20 cannot run the
// TypeScript source); `.ci/run` and `pnpm bench` build before this runs.
const dist = fileURLToPath(new URL('../dist/workload-process.js', import.meta.url));
const built = existsSync(dist) && existsSync(join(dist, '../workload-child.js'));

describe.skipIf(!built)('measureInProcess (built package)', () => {
  it('measures in a fresh process that loads its own working set and reads the gauge through this one', async () => {
    const { measureInProcess } = (await import(dist)) as typeof WorkloadProcess;
    const options = {
      ...sampleResults().options,
      backends: ['memory' as const],
      workloads: ['get-hit' as const, 'set' as const],
      concurrency: [1, 4],
      keys: 1000,
      durationMs: 20,
      warmupMs: 5,
      rounds: 2,
      maxRounds: 2,
    };
    // This process's memory backend stays empty: only the workload process's own heap has data.
    const backend = await createMemoryBackend();
    // The gauge's second reading finds CPU 1 slowed; every other reading is at full speed.
    let reads = 0;
    const gauge = new SpeedGauge(() => (++reads === 2 ? [100, 50] : [100, 100]), { cpus: [0, 1] });
    const tempDir = mkdtempSync(join(tmpdir(), 'larder-bench-test-'));
    try {
      const measured = await measureInProcess(
        backend,
        { options, tempDir, where: '', progress: 'quiet' },
        gauge,
      );
      expect(measured.failures).toEqual([]);
      expect(measured.records.map((r) => `${r.workload} c=${r.concurrency}`)).toEqual([
        'get-hit c=1',
        'get-hit c=4',
        'set c=1',
        'set c=4',
      ]);
      for (const record of measured.records) {
        expect(record.larder).toHaveLength(2);
        expect(record.raw).toHaveLength(2);
        expect(record.speeds).toHaveLength(2);
        for (const side of [record.larder, record.raw]) {
          for (const round of side) {
            expect(round.ops).toBeGreaterThan(0);
            // get-hit found every key it asked for: the working set was loaded over there.
            expect(round.failed).toBe(0);
          }
        }
      }
      // The readings came from this process's gauge: one visit saw the slowed CPU.
      expect(reads).toBeGreaterThan(8);
      expect(measured.records.flatMap((r) => r.speeds)).toContainEqual([100, 50]);
      expect(await backend.larder.get(createDataset(1000, 100, 1).keys[0]!)).toBeUndefined();
    } finally {
      await backend.teardown();
      rmSync(tempDir, { recursive: true, force: true });
    }
  });

  it("rejects with the workload process's reason when it cannot reach the server", async () => {
    const { measureInProcess } = (await import(dist)) as typeof WorkloadProcess;
    // A Redis URL nothing listens on: the process's loader fails and says why.
    const unreachable = {
      name: 'redis',
      connection: { variable: 'REDIS_URL', url: 'redis://127.0.0.1:1' },
      serverPids: () => [],
    } as unknown as BenchBackend;
    const options = { ...sampleResults().options, backends: ['redis' as const] };
    await expect(
      measureInProcess(unreachable, { options, tempDir: tmpdir(), where: '', progress: 'quiet' }, undefined),
    ).rejects.toThrow(/127\.0\.0\.1:1/);
  });
});

const distBench = fileURLToPath(new URL('../dist/bench.js', import.meta.url));
const distProgress = fileURLToPath(new URL('../dist/progress.js', import.meta.url));

describe.skipIf(!built)('the workload rotation (built package)', () => {
  /** Runs the built bench's workloads alone, on small data and short rounds, with `overrides`. */
  async function runWorkloads(overrides: Partial<BenchOptions>): Promise<BenchResults> {
    const { runBench } = (await import(distBench)) as typeof Bench;
    const { Progress } = (await import(distProgress)) as { Progress: typeof ProgressClass };
    const options: BenchOptions = {
      ...sampleResults().options,
      backendsExplicit: true,
      workloads: ['get-hit'],
      concurrency: [1],
      keys: 1000,
      durationMs: 20,
      warmupMs: 5,
      rounds: 4,
      maxRounds: 4,
      processes: 2,
      speedWaitMs: 0,
      skip: ['memory', 'stability'],
      ...overrides,
    };
    return runBench(options, new Progress('quiet'));
  }

  it("spreads each backend's rounds over the workload phase, the backends taking turns pass by pass", async () => {
    const results = await runWorkloads({ backends: ['memory', 'sqlite'] });
    const times = (b: BackendResult) => {
      expect(b.error).toBeUndefined();
      expect(b.cases).toHaveLength(1);
      const larder = b.cases[0]!.larder.rounds;
      expect(larder).toHaveLength(4);
      // Two rounds from each of the two processes, each marked with the process that timed it.
      expect(larder.map((round) => round.process)).toEqual([1, 1, 2, 2]);
      return larder.map((round) => round.startedAt!);
    };
    const [memory, sqlite] = results.backends.map(times) as [number[], number[]];
    // Each pass of one backend lies between two passes of the other: taken in time order,
    // the rounds alternate memory, sqlite, memory, sqlite… A run that measured memory's
    // rounds and then sqlite's would put all four of memory's first.
    const order = [
      ...memory.map((t) => ({ t, name: 'memory' })),
      ...sqlite.map((t) => ({ t, name: 'sqlite' })),
    ]
      .sort((a, b) => a.t - b.t)
      .map((r) => r.name);
    expect(order).toEqual(['memory', 'sqlite', 'memory', 'sqlite', 'memory', 'sqlite', 'memory', 'sqlite']);
    // The yardstick stopped before the first turn and between every two turns, when no round ran.
    const stops = results.yardstick!.stops.map((s) => s.at);
    const rounds = [...memory, ...sqlite].sort((a, b) => a - b);
    expect(stops[0]).toBeLessThanOrEqual(rounds[0]!);
    for (let i = 1; i < rounds.length; i++) {
      expect(stops.some((at) => at > rounds[i - 1]! && at <= rounds[i]!)).toBe(true);
    }
    expect(results.yardstick!.lookupsPerMs).toBeGreaterThan(0);
    // The machine's speed by minute is read from every round, both sides of both backends.
    expect(results.hostSpeed!.reduce((n, m) => n + m.rounds, 0)).toBe(16);
    for (const minute of results.hostSpeed!) expect(minute.speed).toBeGreaterThan(0);
  });

  it("gives the embedded backend its weight in processes, rounds and turns, spread among the server's", async () => {
    const results = await runWorkloads({ backends: ['memory', 'redis'], embeddedWeight: 2 });
    const [memory, redis] = results.backends.map((b) => {
      expect(b.error).toBeUndefined();
      return b.cases[0]!.larder.rounds;
    }) as [RoundResult[], RoundResult[]];
    // Memory: twice the processes and rounds, two rounds in each; Redis: the run's own.
    expect(memory.map((r) => r.process)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    expect(redis.map((r) => r.process)).toEqual([1, 1, 2, 2]);
    // Memory's extra turns come between Redis's, not after them: about two of memory's
    // rounds to each of Redis's from start to end, so neither runs alone for long.
    const first = Math.min(...redis.map((r) => r.startedAt!));
    const last = Math.max(...redis.map((r) => r.startedAt!));
    const between = memory.filter((r) => r.startedAt! > first && r.startedAt! < last).length;
    expect(memory[0]!.startedAt!).toBeLessThan(first);
    expect(between).toBeGreaterThanOrEqual(4);
  }, 120_000);

  it('gives the cases still uncertain after the fixed processes top-up processes, and only those', async () => {
    // Rounds of 10 ms and one round per process: some medians are bound to be uncertain.
    const options = {
      backends: ['memory' as const],
      workloads: ['get-hit' as const, 'set' as const, 'mixed' as const],
      concurrency: [1, 8],
      durationMs: 10,
      warmupMs: 2,
      rounds: 3,
      maxRounds: 6,
      processes: 3,
    };
    const results = await runWorkloads(options);
    const cases = results.backends[0]!.cases;
    expect(cases).toHaveLength(6);
    const before = (rounds: RoundResult[], process: number) => rounds.filter((r) => r.process! < process);
    // Whether the bench, about to start its `process`-th process, saw the case as owing rounds.
    const owes = (c: (typeof cases)[number], process: number) =>
      before(c.larder.rounds, process).length + 1 <= options.maxRounds &&
      Math.max(
        pooledMedianError(before(c.larder.rounds, process)),
        pooledMedianError(before(c.raw.rounds, process)),
      ) > MEDIAN_ERROR_TARGET;
    const started = Math.max(...cases.flatMap((c) => c.larder.rounds.map((r) => r.process!)));
    for (const c of cases) {
      const processes = c.larder.rounds.map((r) => r.process!);
      expect(c.raw.rounds.map((r) => r.process!)).toEqual(processes);
      // Processes 1–3 measured every case; each top-up process after them measured the cases
      // that, with the rounds before it, were still uncertain, and only those.
      expect(processes.slice(0, 3)).toEqual([1, 2, 3]);
      for (let process = 4; process <= started; process++) {
        expect(processes.includes(process)).toBe(owes(c, process));
      }
      // The bench stopped when no case owed rounds any more.
      expect(owes(c, started + 1)).toBe(false);
    }
  });
});
