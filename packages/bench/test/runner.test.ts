import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BenchBackend } from '../src/backends/backend.js';
import { larderDriver } from '../src/backends/backend.js';
import { createMemoryBackend } from '../src/backends/memory.js';
import { casesToTopUp, nextTurn } from '../src/bench.js';
import { createDataset } from '../src/data.js';
import type { PhaseHandle } from '../src/progress.js';
import { type CaseRecord, CaseRun, runCase, runRound, sideOrder, summarizeCase } from '../src/runner.js';
import { WORKLOADS } from '../src/scenarios/index.js';
import { burst } from '../src/scenarios/stability.js';
import { allowedCpus, SpeedGauge, slowest } from '../src/speed-gauge.js';
import { medianError } from '../src/stats.js';
import type { CaseResult, RoundResult } from '../src/types.js';

const phase: PhaseHandle = { update: () => {}, done: () => {} };

describe('runRound', () => {
  it.each([1, 8])('counts only successful operations as throughput (concurrency %d)', async (concurrency) => {
    let n = 0;
    const op = async () => {
      n++;
      if (n % 3 === 0) throw new Error('boom');
      return n % 3 === 1;
    };
    const outcomes = { errors: 0, failed: 0 };
    const round = await runRound(
      Array.from({ length: concurrency }, () => op),
      30,
      outcomes,
    );
    const calls = n;
    expect(round.elapsedMs).toBeGreaterThanOrEqual(30);
    expect(round.ops + round.failed).toBeGreaterThanOrEqual(calls - concurrency);
    expect(round.ops).toBeCloseTo(calls / 3, -1);
    expect(round.errors).toBeGreaterThan(0);
    expect(round.failed).toBeGreaterThan(round.errors);
    expect(round.opsPerSec).toBeCloseTo((round.ops / round.elapsedMs) * 1000, 5);
    expect(round.p50Ms).toBeLessThanOrEqual(round.p99Ms);
    expect(outcomes.failed).toBe(round.failed);
  });
});

describe('runCase on the memory backend', () => {
  let backend: BenchBackend;
  const data = createDataset(500, 100, 1);

  beforeAll(async () => {
    backend = await createMemoryBackend();
    const entries = data.keys.map((key, i) => [key, data.values[i % data.values.length]] as const);
    await backend.loader.setMany(entries);
    await backend.raw.load(entries);
  });

  afterAll(async () => {
    await backend.teardown();
  });

  it.each([1, 16])(
    'interleaves at least 3 rounds per side and reports finite figures (c=%d)',
    async (concurrency) => {
      const result = await runCase(
        backend,
        WORKLOADS['get-hit'],
        concurrency,
        data,
        { durationMs: 20, warmupMs: 5, rounds: 3 },
        phase,
      );
      for (const side of [result.larder, result.raw]) {
        expect(side.rounds).toHaveLength(3);
        expect(side.failed).toBe(0);
        expect(side.errors).toBe(0);
        expect(side.opsPerSec.median).toBeGreaterThan(0);
        expect(side.opsPerSec.min).toBeLessThanOrEqual(side.opsPerSec.median);
      }
      expect(result.ratio).toBeCloseTo(result.larder.opsPerSec.median / result.raw.opsPerSec.median, 10);
      expect(Number.isFinite(result.otherCpuCores)).toBe(true);
    },
  );

  it('counts a miss in get-hit as a failed operation, not as throughput', async () => {
    // Twice the keys that were loaded: about half of the reads miss.
    const wider = createDataset(1000, 100, 2);
    const result = await runCase(
      backend,
      WORKLOADS['get-hit'],
      1,
      wider,
      { durationMs: 10, warmupMs: 0, rounds: 3 },
      phase,
    );
    for (const side of [result.larder, result.raw]) {
      const ops = side.rounds.reduce((n, r) => n + r.ops, 0);
      expect(side.failed / (side.failed + ops)).toBeGreaterThan(0.3);
      expect(side.failed / (side.failed + ops)).toBeLessThan(0.7);
      expect(side.errors).toBe(0);
    }
  });

  it('times nothing on a warm-up-only visit, and one round per side on each visit after it', async () => {
    const run = new CaseRun(backend, WORKLOADS['get-hit'], 4, data);
    await run.visit({ durationMs: 10, warmupMs: 5 }, sideOrder(0), phase, false);
    expect(run.rounds).toBe(0);
    expect(() => run.result()).toThrow(/no round was recorded/);
    for (let round = 1; round <= 3; round++) {
      await run.visit({ durationMs: 10, warmupMs: 0 }, sideOrder(round), phase);
      expect(run.rounds).toBe(round);
    }
    const result = run.result();
    expect(result.larder.rounds).toHaveLength(3);
    expect(result.raw.rounds).toHaveLength(3);
    expect(result.larder.opsPerSec.median).toBeGreaterThan(0);
  });

  it('leaves rounds timed on a slowed machine out of the medians, and keeps them in the results', async () => {
    // The gauge reads once before each visit and once after each side's round: visit 2 read 50.
    const readings = [100, 100, 100, 100, 50, 100, 100, 100, 100, 100, 100, 100];
    const gauge = new SpeedGauge(() => [readings.shift() ?? 100]);
    const run = new CaseRun(backend, WORKLOADS['get-hit'], 2, data, gauge);
    for (let round = 1; round <= 4; round++) {
      expect(await run.visit({ durationMs: 10, warmupMs: 0 }, sideOrder(round), phase)).toBe(0);
    }
    expect(run.rounds).toBe(4);
    const result = run.result();
    for (const side of [result.larder, result.raw]) {
      expect(side.rounds.map((r) => r.counted)).toEqual([true, false, true, true]);
      expect(side.rounds.map((r) => r.machineSpeed)).toEqual([1, 0.5, 1, 1]);
      expect(side.slowRounds).toBe(1);
      const counted = side.rounds.filter((r) => r.counted).map((r) => r.opsPerSec);
      expect(side.opsPerSec.min).toBe(Math.min(...counted));
      expect(side.opsPerSec.max).toBe(Math.max(...counted));
    }
  });

  it('leaves out a visit during which only the server CPU slowed', async () => {
    // Two CPUs; visit 3's second reading finds CPU 1 at 60 % while CPU 0 stays at full speed.
    const readings = [...Array(8).fill([100, 200]), [100, 120], ...Array(3).fill([100, 200])];
    const gauge = new SpeedGauge(() => readings.shift() ?? [100, 200], { cpus: [0, 1] });
    const run = new CaseRun(backend, WORKLOADS['get-hit'], 1, data, gauge);
    for (let round = 1; round <= 4; round++)
      await run.visit({ durationMs: 10, warmupMs: 0 }, sideOrder(round), phase);
    const result = run.result();
    expect(result.raw.rounds.map((r) => r.counted)).toEqual([true, true, false, true]);
    expect(result.raw.rounds.map((r) => r.machineSpeed)).toEqual([1, 1, 0.6, 1]);
  });

  it('counts every round when fewer than 3 ran at full speed', async () => {
    const readings = [100, 100, 100, 40, 100, 100, 40, 100, 100];
    const gauge = new SpeedGauge(() => [readings.shift() ?? 100]);
    const run = new CaseRun(backend, WORKLOADS['get-hit'], 1, data, gauge);
    for (let round = 1; round <= 3; round++)
      await run.visit({ durationMs: 10, warmupMs: 0 }, sideOrder(round), phase);
    // Only one visit ran at full speed: every round counts, but the case still owes rounds.
    const result = run.result();
    expect(casesToTopUp([result], { rounds: 3, maxRounds: 6 }, 1)).toHaveLength(1);
    expect(result.larder.slowRounds).toBe(0);
    expect(result.larder.rounds.map((r) => r.counted)).toEqual([true, true, true]);
    expect(result.larder.rounds.map((r) => r.machineSpeed)).toEqual([1, 0.4, 0.4]);
  });

  it('alternates which side goes first, round by round', () => {
    expect([1, 2, 3, 4].map(sideOrder)).toEqual([
      ['larder', 'raw'],
      ['raw', 'larder'],
      ['larder', 'raw'],
      ['raw', 'larder'],
    ]);
  });

  it('issues a burst of operations at once on both sides', async () => {
    const larder = await burst(larderDriver(backend.larder), data, 500);
    const raw = await burst(backend.raw, data, 500);
    expect(larder).toMatchObject({ inFlight: 500, errors: 0 });
    expect(raw).toMatchObject({ inFlight: 500, errors: 0 });
    expect(larder.p99Ms).toBeLessThanOrEqual(larder.maxMs);
  });
});

describe('SpeedGauge', () => {
  it('reads every CPU this process may run on from a probe process pinned to it, and stops them', async () => {
    const gauge = await SpeedGauge.start();
    try {
      const cpus = allowedCpus();
      expect(gauge.cpus).toEqual(cpus ?? ['any']);
      expect(gauge.pids).toHaveLength(gauge.cpus.length);
      const reading = await gauge.read();
      expect(reading).toHaveLength(gauge.cpus.length);
      for (const speed of reading) expect(speed).toBeGreaterThan(0);
      expect(gauge.best).toEqual(reading);
      expect(gauge.relative(gauge.best)).toBe(1);
      // Each probe runs where it was pinned: its CPU affinity is that one CPU.
      for (const [i, pid] of gauge.pids.entries()) {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        expect(allowedCpus(status)).toEqual([gauge.cpus[i]]);
      }
    } finally {
      gauge.close();
    }
    await sleep(300);
    for (const pid of gauge.pids) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('parses the CPUs a process may run on', () => {
    expect(allowedCpus('Name:\tnode\nCpus_allowed_list:\t0-1\n')).toEqual([0, 1]);
    expect(allowedCpus('Cpus_allowed_list:\t0,2-4,7\n')).toEqual([0, 2, 3, 4, 7]);
    expect(allowedCpus('Name:\tnode\n')).toBeUndefined();
    expect(allowedCpus('Cpus_allowed_list:\tx-y\n')).toBeUndefined();
  });

  it('calls a reading slowed when any CPU is below 80 % of its own best', async () => {
    const readings = [
      [100, 200],
      [86, 172],
      [100, 150],
      [79, 200],
    ];
    const gauge = new SpeedGauge(() => readings.shift() ?? [100, 200], { cpus: [0, 1] });
    await gauge.read();
    expect(gauge.best).toEqual([100, 200]);
    expect(gauge.isFull(await gauge.read())).toBe(true);
    const slowSecond = await gauge.read();
    expect(gauge.relative(slowSecond)).toBe(0.75);
    expect(gauge.isFull(slowSecond)).toBe(false);
    expect(gauge.isFull(await gauge.read())).toBe(false);
    expect(slowest([100, 150], [79, 200])).toEqual([79, 150]);
  });

  it("takes a CPU's best as the 90th percentile of its readings once there are 10", async () => {
    // One lucky reading of 300 among readings of 100..190: the highest until the tenth reading.
    const readings = [300, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190];
    const gauge = new SpeedGauge(() => [readings.shift() ?? 100]);
    for (let i = 0; i < 9; i++) await gauge.read();
    expect(gauge.best).toEqual([300]);
    await gauge.read();
    // Ten readings, ascending 100..180 and 300: the one at 90 % of the way up is 180.
    expect(gauge.best).toEqual([180]);
    await gauge.read();
    expect(gauge.best).toEqual([190]);
    expect(gauge.isFull([152])).toBe(true);
    expect(gauge.isFull([151])).toBe(false);
  });

  it('rejects a probe that answers for the wrong number of CPUs', async () => {
    const gauge = new SpeedGauge(() => [100], { cpus: [0, 1] });
    await expect(gauge.read()).rejects.toThrow(/1 readings for 2 CPUs/);
  });

  it('waits for full speed within its budget, and not at all with a budget of 0', async () => {
    const readings = [100, 50, 50, 50, 95];
    const gauge = new SpeedGauge(() => [readings.shift() ?? 95]);
    await gauge.read();
    expect(await gauge.waitForFullSpeed(0)).toEqual({ speed: [50], waitedMs: 0 });
    const waited = await gauge.waitForFullSpeed(5_000);
    expect(waited.speed).toEqual([95]);
    expect(waited.waitedMs).toBeGreaterThanOrEqual(2 * 190);
    expect(gauge.waitedMs).toBe(waited.waitedMs);
  });

  it('gives up when the machine stays slow past the budget', async () => {
    const readings = [100, 40];
    const gauge = new SpeedGauge(() => [readings.shift() ?? 40]);
    await gauge.read();
    const started = performance.now();
    const reading = await gauge.waitForFullSpeed(500);
    expect(reading.speed).toEqual([40]);
    expect(reading.waitedMs).toBeGreaterThanOrEqual(300);
    expect(reading.waitedMs).toBeLessThanOrEqual(600);
    expect(performance.now() - started).toBeGreaterThanOrEqual(reading.waitedMs);
  });
});

/** A timed round of `opsPerSec`, at full speed, optionally marked with the process that timed it. */
const round = (opsPerSec: number, process?: number): RoundResult => ({
  ops: opsPerSec,
  elapsedMs: 1000,
  opsPerSec,
  p50Ms: 1,
  p99Ms: 2,
  errors: 0,
  failed: 0,
  machineSpeed: 1,
  counted: true,
  ...(process === undefined ? {} : { process }),
});

describe('summarizeCase', () => {
  const record = (larder: number[], speeds: number[]): CaseRecord => ({
    workload: 'get-hit',
    concurrency: 64,
    larder: larder.map((ops) => round(ops)),
    raw: larder.map((ops) => round(ops * 2)),
    // One reading per visit; empty without a gauge.
    speeds: larder.map((_, i) => (speeds[i] === undefined ? [] : [speeds[i]!])),
    otherCores: larder.map(() => 0.1),
  });

  it("pools the rounds of several processes into one median and keeps every process's rounds", () => {
    const result = summarizeCase([record([10, 11, 12], []), record([20, 21, 22], [])], WORKLOADS['get-hit']);
    expect(result.larder.rounds.map((r) => r.opsPerSec)).toEqual([10, 11, 12, 20, 21, 22]);
    // Six rounds: the median lies between the two processes, not at either one's level.
    expect(result.larder.opsPerSec).toEqual({ median: 16, min: 10, max: 22 });
    expect(result.raw.opsPerSec.median).toBe(32);
    expect(result.ratio).toBe(0.5);
    expect(result).toMatchObject({ concurrency: 64, otherCpuCores: expect.closeTo(0.1, 9), busy: false });
  });

  it('judges full speed over the pooled visits, against the gauge bests now', () => {
    const gauge = new SpeedGauge(() => [100]);
    // Alone, each record has fewer than 3 visits at full speed, so each would count them all;
    // pooled, there are 3, and the two slowed visits are left out.
    const pooled = [record([10, 50, 11], [100, 40, 95]), record([12, 60], [90, 30])];
    return gauge.read().then(() => {
      const result = summarizeCase(pooled, WORKLOADS['get-hit'], gauge);
      expect(result.larder.rounds.map((r) => r.counted)).toEqual([true, false, true, true, false]);
      expect(result.larder.slowRounds).toBe(2);
      expect(result.larder.opsPerSec).toEqual({ median: 11, min: 10, max: 12 });
      expect(result.larder.rounds.map((r) => r.machineSpeed)).toEqual([1, 0.4, 0.95, 0.9, 0.3]);
      expect(summarizeCase([pooled[1]!], WORKLOADS['get-hit'], gauge).larder.slowRounds).toBe(0);
    });
  });

  it('refuses to summarize a case with no rounds', () => {
    expect(() => summarizeCase([], WORKLOADS['get-hit'])).toThrow(/get-hit: no round was recorded/);
    expect(() => summarizeCase([record([], [])], WORKLOADS['get-hit'])).toThrow(/no round was recorded/);
  });
});

describe('nextTurn', () => {
  /** The backends' turns in the order `nextTurn` gives them, each finishing after `turns[i]` turns. */
  function rotation(weights: number[], turns: number[]): string {
    const state = weights.map((weight) => ({ weight, taken: 0, finished: false }));
    let order = '';
    for (let index = nextTurn(state); index !== undefined; index = nextTurn(state)) {
      const turn = state[index]!;
      order += 'ABCDE'[index];
      turn.taken++;
      turn.finished = turn.taken === turns[index];
    }
    return order;
  }

  it('takes the backends in run order, one turn each, when they weigh the same', () => {
    expect(rotation([1, 1, 1], [2, 2, 2])).toBe('ABCABC');
  });

  it("spreads a heavier backend's extra turns through the rotation instead of at its end", () => {
    expect(rotation([2, 2, 1, 1, 1], [4, 4, 2, 2, 2])).toBe('ABCDEABABCDEAB');
  });

  it('goes on with the backends that still have turns once the others are finished', () => {
    expect(rotation([1, 1], [1, 3])).toBe('ABBB');
    expect(nextTurn([{ weight: 2, taken: 1, finished: true }])).toBeUndefined();
  });
});

describe('casesToTopUp', () => {
  /** A pooled case from each process's two rounds of the Larder side; raw is 2× and as steady. */
  const pooled = (concurrency: number, larder: number[]): CaseResult => {
    const records: CaseRecord[] = [0, 2, 4].map((from, p) => ({
      workload: 'get-hit',
      concurrency,
      larder: larder.slice(from, from + 2).map((ops) => round(ops, p + 1)),
      raw: larder.slice(from, from + 2).map((ops) => round(ops * 2, p + 1)),
      speeds: [[], []],
      otherCores: [0, 0],
    }));
    return summarizeCase(records, WORKLOADS['get-hit']);
  };
  const steady = pooled(1, [100, 101, 99, 100, 102, 98]);
  const noisy = pooled(64, [100, 70, 130, 95, 105, 60]);
  const options = { rounds: 6, maxRounds: 10 };

  it('tops up only the cases whose pooled median is uncertain by more than 4 %', () => {
    expect(steady.larder.medianError).toBeLessThan(0.04);
    expect(noisy.larder.medianError).toBeGreaterThan(0.04);
    expect(casesToTopUp([steady, noisy], options, 2)).toEqual([{ workload: 'get-hit', concurrency: 64 }]);
  });

  it('never takes a case past maxRounds, and adds nothing when maxRounds equals rounds', () => {
    expect(casesToTopUp([noisy], { rounds: 6, maxRounds: 8 }, 2)).toHaveLength(1);
    expect(casesToTopUp([noisy], { rounds: 6, maxRounds: 7 }, 2)).toEqual([]);
    expect(casesToTopUp([noisy], { rounds: 6, maxRounds: 6 }, 2)).toEqual([]);
  });

  it('reads processes that each ran steady but far apart as uncertain', () => {
    // Each process's rounds agree, so the rounds as independent draws look sure; the processes do not.
    const split = pooled(64, [100, 100, 100, 100, 114, 114]);
    expect(medianError(split.larder.rounds.map((r) => r.opsPerSec))).toBeLessThan(0.04);
    expect(split.larder.medianError).toBeGreaterThan(0.04);
    expect(casesToTopUp([split], options, 2)).toHaveLength(1);
  });
});
