import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Bench } from 'tinybench';
import { type BenchBackend, type Driver, larderDriver } from './backends/backend.js';
import { BUSY_CORES, otherCpuCores, sampleCpu } from './cpu.js';
import type { Dataset } from './data.js';
import type { PhaseHandle } from './progress.js';
import type { Op, Workload } from './scenarios/workload.js';
import { type Gauge, type Reading, slowest } from './speed-gauge.js';
import { LatencyHistogram, median, pooledMedianError, ratio, spread } from './stats.js';
import type { CaseResult, RoundResult, Side, SideResult, WorkloadId } from './types.js';

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
  const startedAt = Date.now();
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
    startedAt,
    ops: succeeded,
    elapsedMs,
    opsPerSec: (succeeded / elapsedMs) * 1000,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: 0,
    failed: 0,
    machineSpeed: 1,
    counted: true,
  };
}

/**
 * Concurrency C (throughput): C async workers each loop `await op()` until the round's time
 * is up; ops/s = successful operations ÷ wall time until the last one finished.
 */
async function throughputRound(ops: Op[], durationMs: number, outcomes: Outcomes): Promise<RoundResult> {
  const histogram = new LatencyHistogram();
  let completed = 0;
  const startedAt = Date.now();
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
    startedAt,
    ops: completed,
    elapsedMs,
    opsPerSec: (completed / elapsedMs) * 1000,
    p50Ms: histogram.quantile(0.5),
    p99Ms: histogram.quantile(0.99),
    errors: 0,
    failed: 0,
    machineSpeed: 1,
    counted: true,
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

/** Below this many rounds timed at full speed, a case's medians use all its rounds. */
const MIN_COUNTED_ROUNDS = 3;

/**
 * What one process measured of one case, as plain data: the bench measures a backend's cases
 * in several processes and pools their records (`summarizeCase`).
 */
export interface CaseRecord {
  workload: WorkloadId;
  concurrency: number;
  /** Each side's rounds, one per recorded visit, in order. */
  larder: RoundResult[];
  raw: RoundResult[];
  /** The lowest gauge reading of each CPU around each recorded visit (empty readings without a gauge). */
  speeds: Reading[];
  /** Cores of other load seen during each recorded visit. */
  otherCores: number[];
}

/**
 * Which recorded visits count toward the medians: those timed at full speed by the gauge's
 * bests, or every one when fewer than `MIN_COUNTED_ROUNDS` were (or without a gauge).
 */
function countedVisits(speeds: readonly Reading[], gauge: Gauge | undefined): boolean[] {
  const full = speeds.map((speed) => gauge === undefined || gauge.isFull(speed));
  const fullCount = full.filter(Boolean).length;
  return fullCount < MIN_COUNTED_ROUNDS ? speeds.map(() => true) : full;
}

/**
 * The case's figures over the rounds that count, pooled from every record of it (one per
 * process that measured it): medians with min–max, every round listed. `gauge` judges which
 * visits ran at full speed, against its bests now.
 */
export function summarizeCase(records: readonly CaseRecord[], workload: Workload, gauge?: Gauge): CaseResult {
  const first = records[0];
  const visits = records.reduce((n, r) => n + r.larder.length, 0);
  if (first === undefined || visits === 0) {
    throw new Error(`${workload.id}: no round was recorded`);
  }
  const speeds = records.flatMap((r) => r.speeds);
  if (speeds.length !== visits) {
    throw new Error(`${workload.id}: ${speeds.length} gauge readings for ${visits} visits`);
  }
  const counted = countedVisits(speeds, gauge);
  const summarize = (side: Side): SideResult => {
    const rounds = records
      .flatMap((r) => r[side])
      .map((r, i) => ({
        ...r,
        counted: counted[i]!,
        machineSpeed: gauge === undefined ? 1 : gauge.relative(speeds[i]!),
      }));
    const kept = rounds.filter((r) => r.counted);
    const perRound = kept.map((r) => r.opsPerSec);
    const opsPerSec = spread(perRound);
    return {
      opsPerSec,
      medianError: pooledMedianError(kept),
      slowRounds: rounds.length - kept.length,
      keysPerSec: opsPerSec.median * workload.keysPerOp,
      p50Ms: median(kept.map((r) => r.p50Ms)),
      p99Ms: median(kept.map((r) => r.p99Ms)),
      errors: rounds.reduce((n, r) => n + r.errors, 0),
      failed: rounds.reduce((n, r) => n + r.failed, 0),
      rounds,
    };
  };
  const larder = summarize('larder');
  const raw = summarize('raw');
  const otherCoresSeen = records.flatMap((r) => r.otherCores);
  const otherCores = otherCoresSeen.reduce((a, b) => a + b, 0) / otherCoresSeen.length;
  return {
    workload: workload.id,
    concurrency: first.concurrency,
    keysPerOp: workload.keysPerOp,
    larder,
    raw,
    ratio: ratio(larder.opsPerSec.median, raw.opsPerSec.median),
    otherCpuCores: otherCores,
    busy: otherCores > BUSY_CORES,
  };
}

/**
 * One workload at one concurrency on one backend, measured over several visits. Each visit
 * warms both sides up, then times one round of each, Larder and raw back to back; the bench
 * spreads a case's visits over passes through all of a backend's cases (`WorkloadPasses`
 * in bench.ts), so that a slow drift of the machine touches every case alike instead of
 * shifting one case's rounds all together. With a speed gauge, each visit first waits
 * (within the budget it is given) for the machine to run at full speed, and the gauge is read
 * again after each timed round: a visit during which it read below `FULL_SPEED` is kept in
 * the results but left out of the medians.
 */
export class CaseRun {
  readonly backend: BenchBackend;
  readonly workload: Workload;
  readonly concurrency: number;
  readonly #sides: Record<Side, SideState>;
  readonly #gauge: Gauge | undefined;
  /** Cores of other load seen during each recorded visit. */
  readonly #otherCores: number[] = [];
  /** The lowest gauge reading of each CPU (operations per ms) around each recorded visit. */
  readonly #visitSpeeds: Reading[] = [];

  constructor(backend: BenchBackend, workload: Workload, concurrency: number, data: Dataset, gauge?: Gauge) {
    this.backend = backend;
    this.workload = workload;
    this.concurrency = concurrency;
    this.#gauge = gauge;
    const make = (driver: Driver): SideState => ({
      ops: Array.from({ length: concurrency }, (_, w) => workload.op(driver, data, w)),
      outcomes: { errors: 0, failed: 0 },
      rounds: [],
    });
    this.#sides = { larder: make(larderDriver(backend.larder)), raw: make(backend.raw) };
  }

  /** Rounds recorded so far, per side. */
  get rounds(): number {
    return this.#sides.larder.rounds.length;
  }

  /**
   * Warms each side up for `warmupMs`, then (unless `record` is false) times one round of each
   * in `order`. A warm-up-only visit lets the JIT see every case before any round counts.
   * Before a recorded visit it waits up to `speedWaitMs` for the gauge to read full speed;
   * resolves how long it waited, ms.
   */
  async visit(
    timing: Pick<CaseTiming, 'durationMs' | 'warmupMs'>,
    order: readonly Side[],
    phase: PhaseHandle,
    record = true,
    speedWaitMs = 0,
  ): Promise<number> {
    const { backend } = this;
    const gauge = record ? this.#gauge : undefined;
    let waitedMs = 0;
    let speed: Reading = [];
    if (gauge !== undefined) {
      if (speedWaitMs > 0) phase.update(`${this.#label()} speed gauge`);
      const reading = await gauge.waitForFullSpeed(speedWaitMs);
      waitedMs = reading.waitedMs;
      speed = reading.speed;
    }
    // The gauge's probes run on every CPU after each round: their time is ours, not a tenant's.
    const ours = () => [...backend.serverPids(), ...(gauge?.pids ?? [])];
    const cpuBefore = record ? sampleCpu(ours()) : undefined;
    if (timing.warmupMs > 0) {
      for (const side of order) {
        phase.update(`${this.#label()} warm-up ${side}`);
        await throughputRound(this.#sides[side].ops, timing.warmupMs, { errors: 0, failed: 0 });
      }
    }
    if (!record) return waitedMs;
    for (const side of order) {
      phase.update(`${this.#label()} ${side}`);
      const s = this.#sides[side];
      const storeErrorsBefore = backend.larder.stats().errors;
      const result = await runRound(s.ops, timing.durationMs, s.outcomes);
      // The cache swallows store errors (ignoreErrors); its own counter says how many there were.
      if (side === 'larder') result.errors += backend.larder.stats().errors - storeErrorsBefore;
      s.rounds.push(result);
      if (gauge !== undefined) speed = slowest(speed, await gauge.read());
    }
    this.#otherCores.push(otherCpuCores(cpuBefore, sampleCpu(ours())));
    this.#visitSpeeds.push(speed);
    return waitedMs;
  }

  /** What this process measured of the case, as plain data to pool with other processes' records. */
  record(): CaseRecord {
    return {
      workload: this.workload.id,
      concurrency: this.concurrency,
      larder: this.#sides.larder.rounds.map((r) => ({ ...r })),
      raw: this.#sides.raw.rounds.map((r) => ({ ...r })),
      speeds: [...this.#visitSpeeds],
      otherCores: [...this.#otherCores],
    };
  }

  /** The case's figures over the rounds that count (`summarizeCase` of this process's record alone). */
  result(): CaseResult {
    if (this.rounds === 0) throw new Error(`${this.#label()}: no round was recorded`);
    return summarizeCase([this.record()], this.workload, this.#gauge);
  }

  #label(): string {
    return `${this.backend.name} ${this.workload.id} c=${this.concurrency}`;
  }
}

/** Larder first on odd rounds, raw first on even ones (A B B A …), so neither side always goes first. */
export function sideOrder(round: number): Side[] {
  return round % 2 === 1 ? ['larder', 'raw'] : ['raw', 'larder'];
}

/** Measures one case on its own: `rounds` visits in a row (the bench itself spreads them over passes). */
export async function runCase(
  backend: BenchBackend,
  workload: Workload,
  concurrency: number,
  data: Dataset,
  timing: CaseTiming,
  phase: PhaseHandle,
): Promise<CaseResult> {
  const run = new CaseRun(backend, workload, concurrency, data);
  for (let round = 1; round <= timing.rounds; round++) await run.visit(timing, sideOrder(round), phase);
  return run.result();
}
