import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Bench } from 'tinybench';
import { type BenchBackend, type Driver, larderDriver } from './backends/backend.js';
import { BUSY_CORES, otherCpuCores, sampleCpu } from './cpu.js';
import type { Dataset } from './data.js';
import type { PhaseHandle } from './progress.js';
import type { Op, Workload } from './scenarios/workload.js';
import { LatencyHistogram, median, ratio, spread } from './stats.js';
import type { CaseResult, RoundResult, Side, SideResult } from './types.js';

/** Timing of one case. */
export interface CaseTiming {
  durationMs: number;
  warmupMs: number;
  rounds: number;
}

/** Outcomes of the operations of one side, across its rounds. */
export interface Outcomes {
  /** Operations that threw. */
  errors: number;
  /** Operations that threw or did not do what the workload expects. */
  failed: number;
}

/** Calls `op` and files its outcome; resolves whether it succeeded. */
async function attempt(op: Op, outcomes: Outcomes): Promise<boolean> {
  try {
    if (await op()) return true;
  } catch {
    outcomes.errors++;
  }
  outcomes.failed++;
  return false;
}

/**
 * Concurrency 1 (latency): tinybench times every call; the round ends once `durationMs` of
 * wall time has passed (tinybench's own budget counts only time inside the calls).
 * ops/s = successful calls ÷ wall time from the first call to the last.
 */
async function latencyRound(op: Op, durationMs: number, outcomes: Outcomes): Promise<RoundResult> {
  const abort = new AbortController();
  let calls = 0;
  let succeeded = 0;
  let ended = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const bench = new Bench({ time: 1e9, iterations: 1, warmup: false, throws: true, signal: abort.signal });
  bench.add(
    'op',
    async () => {
      if (await attempt(op, outcomes)) succeeded++;
      // Checking the clock every 16 calls keeps the check out of most samples.
      if ((++calls & 15) === 0 && !abort.signal.aborted) {
        const now = performance.now();
        if (now >= deadline) {
          ended = now;
          abort.abort();
        }
      }
    },
    { async: true },
  );
  await bench.run();
  const result = bench.tasks[0]?.result;
  if (result === undefined || !('latency' in result)) {
    const reason = result !== undefined && 'error' in result ? result.error.message : result?.state;
    throw new Error(`tinybench did not finish the round: ${reason}`);
  }
  const elapsedMs = (ended || performance.now()) - started;
  return {
    ops: succeeded,
    elapsedMs,
    opsPerSec: (succeeded / elapsedMs) * 1000,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: 0,
    failed: 0,
  };
}

/**
 * Concurrency C (throughput): C async workers each loop `await op()` until the round's time
 * is up; ops/s = successful operations ÷ wall time until the last one finished.
 */
async function throughputRound(ops: Op[], durationMs: number, outcomes: Outcomes): Promise<RoundResult> {
  const histogram = new LatencyHistogram();
  let completed = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async (op: Op) => {
    let n = 0;
    for (;;) {
      const t0 = performance.now();
      if (t0 >= deadline) return;
      if (await attempt(op, outcomes)) completed++;
      histogram.record(performance.now() - t0);
      // In-process backends resolve at once; yield now and then so timers (the spinner) run.
      if ((++n & 255) === 0) await yieldToLoop();
    }
  };
  await Promise.all(ops.map(worker));
  const elapsedMs = performance.now() - started;
  return {
    ops: completed,
    elapsedMs,
    opsPerSec: (completed / elapsedMs) * 1000,
    p50Ms: histogram.quantile(0.5),
    p99Ms: histogram.quantile(0.99),
    errors: 0,
    failed: 0,
  };
}

/**
 * Runs one round of one side at a concurrency (latencies cover every call, failed or not;
 * ops/s only the successful ones).
 */
export async function runRound(ops: Op[], durationMs: number, outcomes: Outcomes): Promise<RoundResult> {
  const errors = outcomes.errors;
  const failed = outcomes.failed;
  const result =
    ops.length === 1
      ? await latencyRound(ops[0]!, durationMs, outcomes)
      : await throughputRound(ops, durationMs, outcomes);
  result.errors = outcomes.errors - errors;
  result.failed = outcomes.failed - failed;
  return result;
}

interface SideState {
  ops: Op[];
  outcomes: Outcomes;
  rounds: RoundResult[];
}

/**
 * Measures one workload at one concurrency: a warm-up of each side, then `rounds` rounds
 * with Larder and raw interleaved (A B A B ...), reported as the median with min–max.
 * The CPU used by other processes over the whole case is recorded beside it.
 */
export async function runCase(
  backend: BenchBackend,
  workload: Workload,
  concurrency: number,
  data: Dataset,
  timing: CaseTiming,
  phase: PhaseHandle,
): Promise<CaseResult> {
  const make = (driver: Driver): SideState => ({
    ops: Array.from({ length: concurrency }, (_, w) => workload.op(driver, data, w)),
    outcomes: { errors: 0, failed: 0 },
    rounds: [],
  });
  const sides: Record<Side, SideState> = {
    larder: make(larderDriver(backend.larder)),
    raw: make(backend.raw),
  };
  const order: Side[] = ['larder', 'raw'];

  const cpuBefore = sampleCpu(backend.serverPids());
  if (timing.warmupMs > 0) {
    for (const side of order) {
      phase.update(`warm-up ${side}`);
      await throughputRound(sides[side].ops, timing.warmupMs, { errors: 0, failed: 0 });
    }
  }
  for (let round = 1; round <= timing.rounds; round++) {
    for (const side of order) {
      phase.update(`round ${round}/${timing.rounds} ${side}`);
      const s = sides[side];
      const storeErrorsBefore = backend.larder.stats().errors;
      const result = await runRound(s.ops, timing.durationMs, s.outcomes);
      // The cache swallows store errors (ignoreErrors); its own counter says how many there were.
      if (side === 'larder') result.errors += backend.larder.stats().errors - storeErrorsBefore;
      s.rounds.push(result);
    }
  }
  const cpuAfter = sampleCpu(backend.serverPids());

  const summarize = (side: Side): SideResult => {
    const s = sides[side];
    const opsPerSec = spread(s.rounds.map((r) => r.opsPerSec));
    return {
      opsPerSec,
      keysPerSec: opsPerSec.median * workload.keysPerOp,
      p50Ms: median(s.rounds.map((r) => r.p50Ms)),
      p99Ms: median(s.rounds.map((r) => r.p99Ms)),
      errors: s.rounds.reduce((n, r) => n + r.errors, 0),
      failed: s.rounds.reduce((n, r) => n + r.failed, 0),
      rounds: s.rounds,
    };
  };
  const larder = summarize('larder');
  const raw = summarize('raw');
  const otherCores = otherCpuCores(cpuBefore, cpuAfter);
  return {
    workload: workload.id,
    concurrency,
    keysPerOp: workload.keysPerOp,
    larder,
    raw,
    ratio: ratio(larder.opsPerSec.median, raw.opsPerSec.median),
    otherCpuCores: otherCores,
    busy: otherCores > BUSY_CORES,
  };
}
